"""TensorFlow V2 tensor bundles (SSTable index, CRC32C, protobuf wire), read and written without TensorFlow.

A checkpoint ``PREFIX`` is ``PREFIX.index`` (a LevelDB-style SSTable mapping variable names to
``BundleEntryProto``) plus shards ``PREFIX.data-SSSSS-of-NNNNN`` holding raw little-endian tensor bytes.
Spec: /work/shared/specs/tf-conversion.md (tensor bundle section). Every size, offset, CRC and dtype is
checked before any allocation; every defect raises one :class:`FormatError` naming file and offset/field.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from boardnet.core.errors import FormatError

# SSTable footer: two varint BlockHandles padded to 40 bytes + 8-byte magic (leveldb table/format.h).
_FOOTER_LEN = 48
_TABLE_MAGIC = 0xDB4775248B80FB57
_BLOCK_TRAILER = 5  # 1 byte compression type + 4 bytes masked CRC32C
_CRC_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto DataType -> numpy dtype (little-endian).
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 4: np.dtype("u1"), 5: np.dtype("<i2"),
    6: np.dtype("i1"), 9: np.dtype("<i8"), 10: np.dtype("?"), 17: np.dtype("<u2"), 19: np.dtype("<f2"),
    22: np.dtype("<u4"), 23: np.dtype("<u8"),
}
# Optimizer slot / bookkeeping names skipped unless asked for (TF1 Saver and TF2 object graph styles).
_SLOT_SUFFIXES = ("/Adam", "/Adam_1", "/Momentum", "/RMSProp", "/RMSProp_1")
_BOOKKEEPING = ("beta1_power", "beta2_power", "global_step", "_CHECKPOINTABLE_OBJECT_GRAPH")


def _crc_table() -> list[int]:
    """Castagnoli (reflected 0x82F63B78) byte table."""
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


try:  # C implementation (a dependency); the table loop below is the fallback (~1 MB/s)
    import google_crc32c as _gcrc  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    _gcrc = None


def crc32c(data: bytes | memoryview) -> int:
    """CRC32C (Castagnoli) of ``data``."""
    if _gcrc is not None:
        # the C API takes only read-only bytes: one transient copy per tensor (peak = total + largest tensor)
        return int(_gcrc.value(data if isinstance(data, bytes) else bytes(data)))
    crc = 0xFFFFFFFF
    t = _TABLE
    for b in bytes(data):
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """Inverse of LevelDB's CRC mask ``rot15(crc) + 0xa282ead8``."""
    rot = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def read_varint(buf: bytes, pos: int, path: Path) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, new_pos)."""
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise FormatError(path, "truncated or overlong varint", offset=pos)
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def proto_fields(buf: bytes, path: Path, name: str) -> list[tuple[int, int | bytes]]:
    """Split a protobuf message into (field_number, value) pairs (varint, fixed32/64, bytes)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos, path)
        fnum, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = read_varint(buf, pos, path)
            out.append((fnum, val))
        elif wire == 1 or wire == 5:
            n = 8 if wire == 1 else 4
            if pos + n > len(buf):
                raise FormatError(path, "truncated fixed field in entry proto", field=name)
            out.append((fnum, int.from_bytes(buf[pos:pos + n], "little")))
            pos += n
        elif wire == 2:
            ln, pos = read_varint(buf, pos, path)
            if pos + ln > len(buf):
                raise FormatError(path, "truncated bytes field in entry proto", field=name)
            out.append((fnum, buf[pos:pos + ln]))
            pos += ln
        else:
            raise FormatError(path, f"unsupported protobuf wire type {wire}", field=name)
    return out


@dataclass(frozen=True)
class Entry:
    """One ``BundleEntryProto``: where a tensor lives and how to check it."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc: int  # masked CRC32C of the raw bytes
    # a partitioned variable: the extents (start, length; length -1 = the whole dimension) of each saved slice;
    # its bytes live in the slice entries (see :func:`_parse_slice_key`), not at offset/size
    slices: tuple[tuple[tuple[int, int], ...], ...] = ()


def _parse_extents(msg: bytes, path: Path, name: str) -> tuple[tuple[int, int], ...]:
    """TensorSliceProto (repeated Extent 1 {start 1, length 2}) -> ((start, length or -1), ...)."""
    out = []
    for fnum, extent in proto_fields(msg, path, name):
        if fnum != 1 or not isinstance(extent, bytes):
            raise FormatError(path, "malformed tensor slice", field=name)
        ext = dict(proto_fields(extent, path, name))
        start, length = ext.get(1, 0), ext.get(2, -1)
        if not isinstance(start, int) or not isinstance(length, int):
            raise FormatError(path, "malformed tensor slice extent", field=name)
        out.append((start, length))
    return tuple(out)


def _parse_entry(name: str, value: bytes, path: Path) -> Entry:
    """Decode BundleEntryProto fields: 1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size, 6 crc32c, 7 slices."""
    fields = proto_fields(value, path, name)
    f = dict(fields)
    slices = tuple(_parse_extents(v, path, name) for k, v in fields if k == 7 and isinstance(v, bytes))
    shape: list[int] = []
    shape_msg = f.get(2, b"")
    for fnum, dim in proto_fields(shape_msg if isinstance(shape_msg, bytes) else b"", path, name):
        if fnum == 3 and dim:
            raise FormatError(path, "tensor of unknown rank", field=name)
        if fnum == 2 and isinstance(dim, bytes):
            size = dict(proto_fields(dim, path, name)).get(1, 0)
            assert isinstance(size, int)
            shape.append(size)
    ints = {k: (v if isinstance(v, int) else -1) for k, v in f.items() if k != 2}
    return Entry(name, ints.get(1, 0), tuple(shape), ints.get(3, 0), ints.get(4, 0), ints.get(5, 0),
                 ints.get(6, 0), slices)


# Slice entries are keyed by TF's ``EncodeTensorNameSlice`` (strings::OrderedCode): unsigned 0, the escaped
# name, the rank, then per dimension start and length as order-preserving signed numbers (-1, -1 = whole).
def _ordered_unsigned(key: bytes, pos: int) -> tuple[int, int]:
    """OrderedCode ``WriteNumIncreasing``: a byte count then that many big-endian bytes."""
    n = key[pos]
    if pos + 1 + n > len(key):
        raise ValueError("truncated number")
    return int.from_bytes(key[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def _ordered_string(key: bytes, pos: int) -> tuple[bytes, int]:
    """OrderedCode ``WriteString``: 0x00 escaped as 00 ff, 0xff as ff 00, terminated by 00 01."""
    out = bytearray()
    while pos + 1 < len(key):
        b, nxt = key[pos], key[pos + 1]
        if b == 0 and nxt == 1:
            return bytes(out), pos + 2
        if b in (0, 0xFF):
            if nxt != (0xFF if b == 0 else 0):
                raise ValueError("bad string escape")
            pos += 2
        else:
            pos += 1
        out.append(b)
    raise ValueError("unterminated string")


def _ordered_signed(key: bytes, pos: int) -> tuple[int, int]:
    """OrderedCode ``WriteSignedNumIncreasing``: the count of leading header bits (inverted for negative
    numbers) is the length in bytes; the rest is the big-endian two's complement value."""
    if pos >= len(key):
        raise ValueError("truncated number")
    mask = 0 if key[pos] & 0x80 else 0xFF
    head = ((key[pos] ^ mask) << 8) | ((key[pos + 1] ^ mask) if pos + 1 < len(key) else 0)
    length = 0
    while length < 16 and head & (0x8000 >> length):
        length += 1
    if not 1 <= length <= 10 or pos + length > len(key):
        raise ValueError("bad signed number")
    header = ((1 << length) - 1) << (8 * length - length)
    raw = int.from_bytes(key[pos:pos + length], "big") ^ header
    return int.from_bytes(raw.to_bytes(length, "big"), "big", signed=True), pos + length


def _parse_slice_key(key: bytes, path: Path) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``(variable name, ((start, length or -1), ...))`` of a slice entry's key."""
    try:
        zero, pos = _ordered_unsigned(key, 0)
        name, pos = _ordered_string(key, pos)
        rank, pos = _ordered_unsigned(key, pos)
        extents = []
        for _ in range(rank):
            start, pos = _ordered_signed(key, pos)
            length, pos = _ordered_signed(key, pos)
            extents.append((max(start, 0), length))
        if zero != 0 or pos != len(key):
            raise ValueError("trailing bytes")
    except (ValueError, IndexError) as err:
        raise FormatError(path, f"malformed tensor-slice key {key[:40]!r}: {err}") from None
    return name.decode("utf-8", "replace"), tuple(extents)


def _read_block(data: bytes, offset: int, size: int, path: Path) -> bytes:
    """Return block contents at a BlockHandle after checking bounds, compression type and masked CRC."""
    if offset + size + _BLOCK_TRAILER > len(data):
        raise FormatError(path, f"block [{offset}, +{size}] runs past end of file ({len(data)} bytes)",
                          offset=offset)
    block = data[offset:offset + size]
    ctype = data[offset + size]
    if ctype != 0:
        raise FormatError(path, f"compressed SSTable block (type {ctype}) not supported", offset=offset + size)
    stored = int.from_bytes(data[offset + size + 1:offset + size + 5], "little")
    if unmask_crc(stored) != crc32c(data[offset:offset + size + 1]):
        raise FormatError(path, "SSTable block CRC32C mismatch", offset=offset)
    return block


def _block_entries(block: bytes, path: Path, base: int) -> list[tuple[bytes, bytes]]:
    """Decode prefix-compressed (key, value) records of one block (restart array ignored)."""
    if len(block) < 4:
        raise FormatError(path, "block too short for restart count", offset=base)
    nrest = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 - 4 * nrest
    if end < 0:
        raise FormatError(path, f"restart count {nrest} exceeds block size", offset=base)
    out: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = read_varint(block, pos, path)
        unshared, pos = read_varint(block, pos, path)
        vlen, pos = read_varint(block, pos, path)
        if shared > len(key) or pos + unshared + vlen > end:
            raise FormatError(path, "corrupt SSTable record", offset=base + pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def index_path(prefix: str | os.PathLike[str]) -> Path:
    """``PREFIX`` or ``PREFIX.index`` or ``PREFIX.data-*`` -> the ``.index`` path."""
    p = Path(prefix)
    if p.name.endswith(".index"):
        return p
    if ".data-" in p.name:
        return p.with_name(p.name.split(".data-")[0] + ".index")
    return p.with_name(p.name + ".index")


def read_index(prefix: str | os.PathLike[str]) -> tuple[int, dict[str, Entry]]:
    """Parse ``PREFIX.index``. Returns (num_shards, {name: Entry}) in the file's (sorted) order; the slice
    entries of partitioned variables are left out (see :func:`read_index_slices`)."""
    num_shards, entries, _ = read_index_slices(prefix)
    return num_shards, entries


SliceKey = tuple[str, tuple[tuple[int, int], ...]]


def read_index_slices(prefix: str | os.PathLike[str]) -> tuple[int, dict[str, Entry], dict[SliceKey, Entry]]:
    """:func:`read_index` plus the slice entries of partitioned variables, keyed by (name, extents) with the
    whole-dimension extents resolved to ``(0, dim)``. Every slice a partitioned variable lists must exist, lie
    inside it, match its dtype, and the slices must tile it without overlap."""
    from boardnet.core.io import read_user_bytes

    path = index_path(prefix)
    data = read_user_bytes(path)
    if len(data) < _FOOTER_LEN:
        raise FormatError(path, f"file of {len(data)} bytes is shorter than the SSTable footer", offset=0)
    foot = len(data) - _FOOTER_LEN
    if int.from_bytes(data[-8:], "little") != _TABLE_MAGIC:
        raise FormatError(path, "bad SSTable magic (not a TF V2 checkpoint index)", offset=len(data) - 8)
    moff, pos = read_varint(data, foot, path)
    msize, pos = read_varint(data, pos, path)
    _read_block(data, moff, msize, path)  # the (empty) metaindex: unused, but its CRC is checked like the rest
    ioff, pos = read_varint(data, pos, path)
    isize, _ = read_varint(data, pos, path)
    num_shards = 1
    entries: dict[str, Entry] = {}
    raw_slices: dict[SliceKey, Entry] = {}
    for _, handle in _block_entries(_read_block(data, ioff, isize, path), path, ioff):
        boff, hp = read_varint(handle, 0, path)
        bsize, _ = read_varint(handle, hp, path)
        for key, value in _block_entries(_read_block(data, boff, bsize, path), path, boff):
            if key == b"":
                hdr = dict(proto_fields(value, path, "<header>"))
                ns = hdr.get(1, 1)
                num_shards = ns if isinstance(ns, int) else 1
                if hdr.get(2, 0) != 0:
                    raise FormatError(path, "big-endian bundle not supported", field="<header>")
                continue
            if key[0] == 0:  # a slice of a partitioned variable
                sk = _parse_slice_key(key, path)
                raw_slices[sk] = _parse_entry(f"{sk[0]} slice {list(sk[1])}", value, path)
                continue
            name = key.decode("utf-8", "replace")
            entries[name] = _parse_entry(name, value, path)
    for e in entries.values():
        if not e.slices:
            _check_entry(e, num_shards, path)
    for e in raw_slices.values():
        _check_entry(e, num_shards, path)
    return num_shards, entries, _resolve_slices(entries, raw_slices, path)


def _whole(extents: tuple[tuple[int, int], ...], shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((0, d) if length < 0 else (start, length) for (start, length), d in zip(extents, shape))


def _resolve_slices(entries: dict[str, Entry], raw: dict[SliceKey, Entry], path: Path) -> dict[SliceKey, Entry]:
    """Slice entries keyed with resolved extents, checked against their partitioned variables."""
    out: dict[SliceKey, Entry] = {}
    for (name, extents), e in raw.items():
        full = entries.get(name)
        if full is None or not full.slices:
            raise FormatError(path, "slice of a variable that is not partitioned", field=e.name)
        if len(extents) != len(full.shape):
            raise FormatError(path, f"slice rank {len(extents)} != variable rank {len(full.shape)}", field=e.name)
        out[(name, _whole(extents, full.shape))] = e
    for full in entries.values():
        if not full.slices:
            continue
        if full.dtype not in DTYPES:
            raise FormatError(path, f"unsupported dtype enum {full.dtype}", field=full.name)
        boxes = []
        for extents in full.slices:
            if len(extents) != len(full.shape):
                raise FormatError(path, f"slice {list(extents)} does not match rank {len(full.shape)}", field=full.name)
            box = _whole(extents, full.shape)
            if any(s < 0 or n < 0 or s + n > d for (s, n), d in zip(box, full.shape)):
                raise FormatError(path, f"slice {list(box)} outside shape {list(full.shape)}", field=full.name)
            part = out.get((full.name, box))
            if part is None:
                raise FormatError(path, f"slice {list(box)} has no saved entry", field=full.name)
            if part.dtype != full.dtype or part.shape != tuple(n for _, n in box):
                raise FormatError(path, f"slice {list(box)} entry has dtype {part.dtype} shape {list(part.shape)}",
                                  field=full.name)
            if any(all(s < t + m and t < s + n for (s, n), (t, m) in zip(box, other)) for other in boxes):
                raise FormatError(path, f"slice {list(box)} overlaps another slice", field=full.name)
            boxes.append(box)
        covered = sum(math.prod(n for _, n in b) for b in boxes)
        if covered != math.prod(full.shape):
            raise FormatError(path, f"slices cover {covered} of {math.prod(full.shape)} elements", field=full.name)
    return out


def _check_entry(e: Entry, num_shards: int, path: Path) -> None:
    """Reject entries whose dtype, shard or byte size are inconsistent."""
    if e.dtype == 7:  # DT_STRING (object graph proto): variable-length, never returned as a tensor
        return
    if e.dtype not in DTYPES:
        raise FormatError(path, f"unsupported dtype enum {e.dtype}", field=e.name)
    if not 0 <= e.shard_id < num_shards:
        raise FormatError(path, f"shard id {e.shard_id} outside 0..{num_shards - 1}", field=e.name)
    if any(d < 0 for d in e.shape):
        raise FormatError(path, f"negative dimension in shape {e.shape}", field=e.name)
    want = math.prod(e.shape) * DTYPES[e.dtype].itemsize  # Python ints: 2**32 x 2**32 must not wrap to 0
    if want != e.size or e.offset < 0:
        raise FormatError(path, f"size {e.size} bytes does not match shape {list(e.shape)}", field=e.name)


def shard_path(prefix: str | os.PathLike[str], shard: int, num_shards: int) -> Path:
    """``PREFIX.data-00000-of-00001`` style shard file name."""
    ip = index_path(prefix)
    base = ip.name[: -len(".index")]
    return ip.with_name(f"{base}.data-{shard:05d}-of-{num_shards:05d}")


def is_slot(name: str) -> bool:
    """True for optimizer slots and bookkeeping (TF1 ``x/Adam``; TF2 ``.OPTIMIZER_SLOT`` / ``optimizer/``)."""
    return (name.endswith(_SLOT_SUFFIXES) or name in _BOOKKEEPING or ".OPTIMIZER_SLOT" in name
            or name.startswith("optimizer/") or name.startswith("save_counter"))


def read_variables(prefix: str | os.PathLike[str], *, slots: bool = False,
                   verify_crc: bool = True) -> dict[str, np.ndarray]:
    """Read all tensors of a checkpoint as numpy arrays (shapes as stored, e.g. conv HWIO).

    Args:
        prefix: checkpoint prefix, or its ``.index`` / ``.data-*`` file.
        slots: also return optimizer slots and bookkeeping variables.
        verify_crc: check each tensor's masked CRC32C.
    """
    num_shards, entries, slices = read_index_slices(prefix)
    out: dict[str, np.ndarray | None] = {}
    by_shard: dict[int, list[Entry]] = {}
    for e in entries.values():
        if e.dtype == 7 or (not slots and is_slot(e.name)):
            continue
        if e.slices:
            out[e.name] = None  # allocated once every slice is known to lie in its shard
            for extents in e.slices:
                box = _whole(extents, e.shape)
                part = slices[(e.name, box)]
                by_shard.setdefault(part.shard_id, []).append(part)
        else:
            by_shard.setdefault(e.shard_id, []).append(e)
    targets = {part.name: (name, tuple(slice(s, s + n) for s, n in box)) for (name, box), part in slices.items()}
    shards = {shard: shard_path(prefix, shard, num_shards) for shard in by_shard}
    sizes = {shard: _shard_size(sp) for shard, sp in shards.items()}
    for shard, ents in by_shard.items():  # every byte a tensor claims is in its shard, before allocating
        for e in ents:
            if e.offset + e.size > sizes[shard]:
                raise FormatError(shards[shard], f"tensor bytes [{e.offset}, +{e.size}] past end of shard "
                                  f"({sizes[shard]})", offset=e.offset, field=e.name)
    for e in entries.values():
        if e.name in out:  # a partitioned variable: its slices (checked above) tile it exactly
            out[e.name] = np.empty(e.shape, dtype=DTYPES[e.dtype])
    for shard, ents in sorted(by_shard.items()):
        from boardnet.core.io import open_user_file

        with open_user_file(shards[shard]) as fh:
            for e in sorted(ents, key=lambda x: x.offset):
                arr = _read_tensor(fh, sizes[shard], shards[shard], e, verify_crc)
                if e.name in targets:  # one slice: into its place in the partitioned variable
                    name, where = targets[e.name]
                    out[name][where] = arr
                else:
                    out[e.name] = arr
    return {n: a for n in entries if (a := out.get(n)) is not None}


def _shard_size(sp: Path) -> int:
    """Size of a data shard (a regular file; missing or unreadable is one FormatError)."""
    from boardnet.core.io import check_user_file

    try:
        return check_user_file(sp).stat().st_size
    except FormatError as err:
        raise FormatError(sp, f"missing or unreadable checkpoint shard: {err.message}") from None


def _read_tensor(fh: BinaryIO, fsize: int, sp: Path, e: Entry, verify_crc: bool) -> np.ndarray:
    """The tensor of entry ``e`` from the open shard ``fh`` (``fsize`` bytes), bounds- and CRC-checked."""
    if e.offset + e.size > fsize:
        raise FormatError(sp, f"tensor bytes [{e.offset}, +{e.size}] past end of shard ({fsize})",
                          offset=e.offset, field=e.name)
    arr = np.empty(e.shape, dtype=DTYPES[e.dtype])
    fh.seek(e.offset)
    if fh.readinto(memoryview(arr.reshape(-1).view(np.uint8))) != e.size:
        raise FormatError(sp, "short read", offset=e.offset, field=e.name)
    if verify_crc and unmask_crc(e.crc) != crc32c(arr.reshape(-1).view(np.uint8).data):
        raise FormatError(sp, "tensor CRC32C mismatch", offset=e.offset, field=e.name)
    return arr


# ---------------------------------------------------------------------------------------------- writing
def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mask_crc(crc: int) -> int:
    """LevelDB's CRC mask ``rot15(crc) + 0xa282ead8`` (inverse of :func:`unmask_crc`)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _enc_field(num: int, wire: int, payload: bytes) -> bytes:
    return encode_varint(num << 3 | wire) + payload


def _enc_block(records: list[tuple[bytes, bytes]]) -> bytes:
    """Uncompressed SSTable block, keys stored whole (shared = 0) with a single restart point."""
    body = b"".join(encode_varint(0) + encode_varint(len(k)) + encode_varint(len(v)) + k + v for k, v in records)
    return body + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")


def _string_scalar_bytes(value: bytes) -> tuple[bytes, int]:
    """DT_STRING scalar as stored (§1.3): varint length, masked CRC32C of the length as u32, bytes; + entry CRC."""
    len_u32 = len(value).to_bytes(4, "little")
    len_crc = mask_crc(crc32c(len_u32)).to_bytes(4, "little")
    return encode_varint(len(value)) + len_crc + value, mask_crc(crc32c(len_u32 + len_crc + value))


def write_variables(prefix: str | os.PathLike[str], tensors: dict[str, np.ndarray | bytes]) -> None:
    """Write a one-shard V2 checkpoint (``PREFIX.index`` + ``PREFIX.data-00000-of-00001``) TF can read.

    Numeric dtypes of ``DTYPES``, or ``bytes`` for a scalar string (e.g. a serialized object graph under
    ``_CHECKPOINTABLE_OBJECT_GRAPH``); tensors in key order (as TF1's Saver). Used to build test and bench
    checkpoints; both files are written atomically, the data shard first.
    """
    from boardnet.core.io import atomic_write

    enums = {v: k for k, v in DTYPES.items()}
    records = [(b"", _enc_field(1, 0, encode_varint(1)))]  # BundleHeaderProto: num_shards 1, little-endian
    offset = 0
    arrays = []
    for name in sorted(tensors):
        value = tensors[name]
        if isinstance(value, bytes):
            raw, crc = _string_scalar_bytes(value)
            entry = (_enc_field(1, 0, encode_varint(7)) + _enc_field(2, 2, encode_varint(0))
                     + _enc_field(4, 0, encode_varint(offset)) + _enc_field(5, 0, encode_varint(len(raw)))
                     + _enc_field(6, 5, crc.to_bytes(4, "little")))
            records.append((name.encode(), entry))
            arrays.append(np.frombuffer(raw, np.uint8))
            offset += len(raw)
            continue
        a = np.asarray(value, order="C")  # not ascontiguousarray: it turns 0-d into 1-d
        if a.dtype.newbyteorder("<") not in enums:
            raise ValueError(f"{name}: dtype {a.dtype} cannot be written to a TF checkpoint")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        dims = b"".join(_enc_field(2, 2, encode_varint(len(d)) + d) for d in
                        (_enc_field(1, 0, encode_varint(s)) for s in a.shape))
        entry = (_enc_field(1, 0, encode_varint(enums[a.dtype])) + _enc_field(2, 2, encode_varint(len(dims)) + dims)
                 + _enc_field(4, 0, encode_varint(offset)) + _enc_field(5, 0, encode_varint(a.nbytes))
                 + _enc_field(6, 5, mask_crc(crc32c(a.tobytes())).to_bytes(4, "little")))
        records.append((name.encode(), entry))
        arrays.append(a)
        offset += a.nbytes

    def write_data(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            for a in arrays:
                f.write(memoryview(a.reshape(-1).view(np.uint8)))

    out = bytearray()

    def put(block: bytes) -> bytes:
        handle = encode_varint(len(out)) + encode_varint(len(block))
        out.extend(block + b"\0" + mask_crc(crc32c(block + b"\0")).to_bytes(4, "little"))
        return handle

    data_handle = put(_enc_block(records))
    index_handle = put(_enc_block([(records[-1][0] + b"\xff", data_handle)]))
    meta_handle = put(_enc_block([]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + _TABLE_MAGIC.to_bytes(8, "little")
    atomic_write(shard_path(prefix, 0, 1), write_data)
    atomic_write(index_path(prefix), lambda tmp: Path(tmp).write_bytes(bytes(out) + footer))
