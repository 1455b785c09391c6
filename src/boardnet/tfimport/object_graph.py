"""TF2 object-based checkpoints: decode ``_CHECKPOINTABLE_OBJECT_GRAPH`` without TensorFlow.

``tf.train.Checkpoint`` stores, next to the tensors, a serialized ``TrackableObjectGraph`` proto in the string
tensor ``_CHECKPOINTABLE_OBJECT_GRAPH`` (tf-conversion.md §1.3, §2.3). Its wire layout
(tensorflow/core/protobuf/trackable_object_graph.proto):

- ``TrackableObjectGraph``: 1 ``nodes`` (repeated TrackableObject; node 0 is the root);
- ``TrackableObject``: 1 ``children`` (ObjectReference), 2 ``attributes`` (SerializedTensor),
  3 ``slot_variables`` (SlotVariableReference), 4 has_checkpoint_values, 5 dependencies (ignored here);
- ``ObjectReference``: 1 ``node_id`` (int32), 2 ``local_name`` (string);
- ``SerializedTensor``: 1 ``name`` (e.g. ``VARIABLE_VALUE``), 2 ``full_name`` (the variable's own name,
  e.g. ``conv1/kernel``), 3 ``checkpoint_key`` (the tensor's key in the bundle);
- ``SlotVariableReference`` (on the optimizer node): 1 ``original_variable_node_id``, 2 ``slot_name``
  (``m``, ``v``, ``momentum`` ...), 3 ``slot_variable_node_id``.

Decoded by the small wire-format reader of :mod:`boardnet.tfimport.checkpoint`; every defect is one
FormatError naming the file and the field.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from boardnet.core.errors import FormatError
from boardnet.tfimport.bundle import (
    crc32c,
    index_path,
    proto_fields,
    read_index,
    read_varint,
    shard_path,
    unmask_crc,
)

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_MAX_GRAPH_BYTES = 256 << 20  # an object graph is metadata; refuse absurd sizes before reading
_SLOT_MARK = ".OPTIMIZER_SLOT"


@dataclass(frozen=True)
class Attribute:
    """One ``SerializedTensor``: ``name`` (e.g. VARIABLE_VALUE), ``full_name``, ``checkpoint_key``."""

    name: str
    full_name: str
    checkpoint_key: str


@dataclass(frozen=True)
class SlotRef:
    """One ``SlotVariableReference``: slot ``slot_name`` of variable node ``original`` lives in node ``slot``."""

    original: int
    slot_name: str
    slot: int


@dataclass
class TrackableNode:
    """One ``TrackableObject``: children as (node_id, local_name), tensor attributes, slot references."""

    children: list[tuple[int, str]] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    slot_variables: list[SlotRef] = field(default_factory=list)


def _text(v: int | bytes, path: Path, where: str) -> str:
    if not isinstance(v, bytes):
        raise FormatError(path, "expected a string field, got a number", field=where)
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(path, "string field is not UTF-8", field=where) from None


def _int(v: int | bytes, path: Path, where: str) -> int:
    if not isinstance(v, int):
        raise FormatError(path, "expected an integer field, got bytes", field=where)
    return v


def _message(v: int | bytes, path: Path, where: str) -> list[tuple[int, int | bytes]]:
    if not isinstance(v, bytes):
        raise FormatError(path, "expected a sub-message, got a number", field=where)
    return proto_fields(v, path, where)


def parse_object_graph(data: bytes, path: str | os.PathLike[str] = "<object graph>") -> list[TrackableNode]:
    """Serialized ``TrackableObjectGraph`` -> its nodes (index = node id); node ids are range-checked."""
    p = Path(path)
    nodes: list[TrackableNode] = []
    for fnum, raw in proto_fields(data, p, OBJECT_GRAPH_KEY):
        if fnum != 1:
            continue
        where = f"{OBJECT_GRAPH_KEY}.nodes[{len(nodes)}]"
        node = TrackableNode()
        for nf, val in _message(raw, p, where):
            if nf == 1:
                ref = dict(_message(val, p, f"{where}.children"))
                node.children.append((_int(ref.get(1, 0), p, f"{where}.children.node_id"),
                                      _text(ref.get(2, b""), p, f"{where}.children.local_name")))
            elif nf == 2:
                att = dict(_message(val, p, f"{where}.attributes"))
                node.attributes.append(Attribute(*(_text(att.get(i, b""), p, f"{where}.attributes")
                                                   for i in (1, 2, 3))))
            elif nf == 3:
                sv = dict(_message(val, p, f"{where}.slot_variables"))
                node.slot_variables.append(SlotRef(_int(sv.get(1, 0), p, f"{where}.slot_variables"),
                                                   _text(sv.get(2, b""), p, f"{where}.slot_variables"),
                                                   _int(sv.get(3, 0), p, f"{where}.slot_variables")))
        nodes.append(node)
    n = len(nodes)
    for i, node in enumerate(nodes):
        ids = [c for c, _ in node.children] + [x for s in node.slot_variables for x in (s.original, s.slot)]
        bad = [c for c in ids if not 0 <= c < n]
        if bad:
            raise FormatError(p, f"node reference {bad[0]} outside 0..{n - 1}", field=f"{OBJECT_GRAPH_KEY}.nodes[{i}]")
    return nodes


def node_paths(nodes: list[TrackableNode]) -> dict[int, str]:
    """Shortest ``local_name`` path from the root (node 0) to every reachable node, e.g. ``model/_operations/2``."""
    paths: dict[int, str] = {0: ""} if nodes else {}
    queue = deque([0] if nodes else [])
    while queue:
        i = queue.popleft()
        for child, name in nodes[i].children:
            if child not in paths:
                paths[child] = f"{paths[i]}/{name}" if paths[i] else name
                queue.append(child)
    return paths


def readable_names(nodes: list[TrackableNode]) -> dict[str, str]:
    """checkpoint_key -> readable name.

    A variable is named by its ``full_name`` (the Keras/TF variable name, e.g. ``conv1/kernel``), else by its
    object path (``model/layer_with_weights-0/kernel``); a non-VARIABLE_VALUE attribute gets ``/<attr name>``
    appended. A slot variable is named ``<its variable's name>/.OPTIMIZER_SLOT/<optimizer path>/<slot name>``
    (e.g. ``conv1/kernel/.OPTIMIZER_SLOT/optimizer/m``), so it stays tied to the variable it belongs to.
    """
    paths = node_paths(nodes)

    def base(i: int, att: Attribute) -> str:
        name = att.full_name or paths.get(i, f"<node {i}>")
        return name if att.name == "VARIABLE_VALUE" else f"{name}/{att.name}"

    out: dict[str, str] = {}
    for i, node in enumerate(nodes):
        for att in node.attributes:
            out[att.checkpoint_key] = base(i, att)
    for i, node in enumerate(nodes):  # slots second: they override the plain names of slot nodes
        for s in node.slot_variables:
            var = nodes[s.original].attributes
            var_name = base(s.original, var[0]) if var else paths.get(s.original, f"<node {s.original}>")
            for att in nodes[s.slot].attributes:
                out[att.checkpoint_key] = f"{var_name}/{_SLOT_MARK}/{paths.get(i, f'<node {i}>')}/{s.slot_name}"
    return out


def _string_scalar(raw: bytes, path: Path, masked_crc: int) -> bytes:
    """Decode a scalar DT_STRING tensor: varint length, masked CRC32C of the length as u32, then the bytes.

    The entry's CRC covers (length as u32 LE) + that checksum + the bytes (tf-conversion.md §1.3).
    """
    n, pos = read_varint(raw, 0, path)
    if pos + 4 + n != len(raw):
        raise FormatError(path, f"string tensor length {n} does not fit its {len(raw)} bytes", field=OBJECT_GRAPH_KEY)
    if n > 0xFFFFFFFF:
        raise FormatError(path, "string tensor longer than 4 GiB", field=OBJECT_GRAPH_KEY)
    len_u32 = n.to_bytes(4, "little")
    len_crc = raw[pos:pos + 4]
    if unmask_crc(int.from_bytes(len_crc, "little")) != crc32c(len_u32):
        raise FormatError(path, "string length CRC32C mismatch", field=OBJECT_GRAPH_KEY)
    body = raw[pos + 4:]
    if unmask_crc(masked_crc) != crc32c(len_u32 + len_crc + body):
        raise FormatError(path, "tensor CRC32C mismatch", field=OBJECT_GRAPH_KEY)
    return body


def read_object_graph(prefix: str | os.PathLike[str]) -> list[TrackableNode] | None:
    """The checkpoint's object graph, or None for a TF1 (name-based) checkpoint that has none."""
    num_shards, entries = read_index(prefix)
    e = entries.get(OBJECT_GRAPH_KEY)
    if e is None:
        return None
    ip = index_path(prefix)
    if e.dtype != 7 or e.shape != ():
        raise FormatError(ip, "object graph must be a scalar string tensor", field=OBJECT_GRAPH_KEY)
    if e.size > _MAX_GRAPH_BYTES or not 0 <= e.shard_id < num_shards:
        raise FormatError(ip, f"implausible object graph entry (size {e.size}, shard {e.shard_id})",
                          field=OBJECT_GRAPH_KEY)
    sp = shard_path(prefix, e.shard_id, num_shards)
    try:
        with sp.open("rb") as fh:
            fh.seek(e.offset)
            raw = fh.read(e.size)
    except OSError as err:
        raise FormatError(sp, f"missing or unreadable checkpoint shard: {err.strerror}") from None
    if len(raw) != e.size:
        raise FormatError(sp, f"object graph bytes [{e.offset}, +{e.size}] past end of shard", offset=e.offset,
                          field=OBJECT_GRAPH_KEY)
    return parse_object_graph(_string_scalar(raw, sp, e.crc), sp)


def checkpoint_readable_names(prefix: str | os.PathLike[str]) -> dict[str, str]:
    """checkpoint_key -> readable name for a TF2 checkpoint; empty for TF1 checkpoints."""
    nodes = read_object_graph(prefix)
    return readable_names(nodes) if nodes is not None else {}


def slot_keys(nodes: list[TrackableNode]) -> dict[str, tuple[str, str]]:
    """slot checkpoint_key -> (its variable's checkpoint_key, ``<optimizer path>/<slot name>``)."""
    paths = node_paths(nodes)
    out = {}
    for i, node in enumerate(nodes):
        for s in node.slot_variables:
            var = [a.checkpoint_key for a in nodes[s.original].attributes if a.name == "VARIABLE_VALUE"]
            for att in nodes[s.slot].attributes:
                if var:
                    out[att.checkpoint_key] = (var[0], f"{paths.get(i, f'<node {i}>')}/{s.slot_name}")
    return out
