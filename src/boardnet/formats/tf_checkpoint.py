"""TensorFlow V2 checkpoint (tensor bundle) reader, without TensorFlow.

A checkpoint ``PREFIX`` is ``PREFIX.index`` (a LevelDB-style SSTable mapping variable names to
``BundleEntryProto``) plus shards ``PREFIX.data-SSSSS-of-NNNNN`` holding raw little-endian tensor bytes.
Spec: /work/shared/specs/tf-conversion.md (tensor bundle section). Every size, offset, CRC and dtype is
checked before any allocation; every defect raises one :class:`FormatError` naming file and offset/field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boardnet.errors import FormatError

# SSTable footer: two varint BlockHandles padded to 40 bytes + 8-byte magic (leveldb table/format.h).
_FOOTER_LEN = 48
_TABLE_MAGIC = 0xDB4775248B80FB57
_BLOCK_TRAILER = 5  # 1 byte compression type + 4 bytes masked CRC32C
_CRC_MASK_DELTA = 0xA282EAD8

# tensorflow/core/framework/types.proto DataType -> numpy dtype (little-endian).
_DTYPES: dict[int, np.dtype] = {
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


def _varint(buf: bytes, pos: int, path: Path) -> tuple[int, int]:
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


def _proto_fields(buf: bytes, path: Path, name: str) -> list[tuple[int, int | bytes]]:
    """Split a protobuf message into (field_number, value) pairs (varint, fixed32/64, bytes)."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, path)
        fnum, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos, path)
            out.append((fnum, val))
        elif wire == 1 or wire == 5:
            n = 8 if wire == 1 else 4
            if pos + n > len(buf):
                raise FormatError(path, "truncated fixed field in entry proto", field=name)
            out.append((fnum, int.from_bytes(buf[pos:pos + n], "little")))
            pos += n
        elif wire == 2:
            ln, pos = _varint(buf, pos, path)
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


def _parse_entry(name: str, value: bytes, path: Path) -> Entry:
    """Decode BundleEntryProto fields: 1 dtype, 2 shape, 3 shard_id, 4 offset, 5 size, 6 crc32c, 7 slices."""
    f = dict(_proto_fields(value, path, name))
    if 7 in f:
        raise FormatError(path, "partitioned (sliced) variables are not supported", field=name)
    shape: list[int] = []
    shape_msg = f.get(2, b"")
    for fnum, dim in _proto_fields(shape_msg if isinstance(shape_msg, bytes) else b"", path, name):
        if fnum == 3 and dim:
            raise FormatError(path, "tensor of unknown rank", field=name)
        if fnum == 2 and isinstance(dim, bytes):
            size = dict(_proto_fields(dim, path, name)).get(1, 0)
            assert isinstance(size, int)
            shape.append(size)
    ints = {k: (v if isinstance(v, int) else -1) for k, v in f.items() if k != 2}
    return Entry(name, ints.get(1, 0), tuple(shape), ints.get(3, 0), ints.get(4, 0), ints.get(5, 0),
                 ints.get(6, 0))


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
        shared, pos = _varint(block, pos, path)
        unshared, pos = _varint(block, pos, path)
        vlen, pos = _varint(block, pos, path)
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
    """Parse ``PREFIX.index``. Returns (num_shards, {name: Entry}) in the file's (sorted) order."""
    path = index_path(prefix)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read checkpoint index: {e.strerror}") from None
    if len(data) < _FOOTER_LEN:
        raise FormatError(path, f"file of {len(data)} bytes is shorter than the SSTable footer", offset=0)
    foot = len(data) - _FOOTER_LEN
    if int.from_bytes(data[-8:], "little") != _TABLE_MAGIC:
        raise FormatError(path, "bad SSTable magic (not a TF V2 checkpoint index)", offset=len(data) - 8)
    _, pos = _varint(data, foot, path)  # metaindex offset
    _, pos = _varint(data, pos, path)  # metaindex size
    ioff, pos = _varint(data, pos, path)
    isize, _ = _varint(data, pos, path)
    num_shards = 1
    entries: dict[str, Entry] = {}
    for _, handle in _block_entries(_read_block(data, ioff, isize, path), path, ioff):
        boff, hp = _varint(handle, 0, path)
        bsize, _ = _varint(handle, hp, path)
        for key, value in _block_entries(_read_block(data, boff, bsize, path), path, boff):
            if key == b"":
                hdr = dict(_proto_fields(value, path, "<header>"))
                ns = hdr.get(1, 1)
                num_shards = ns if isinstance(ns, int) else 1
                if hdr.get(2, 0) != 0:
                    raise FormatError(path, "big-endian bundle not supported", field="<header>")
                continue
            name = key.decode("utf-8", "replace")
            entries[name] = _parse_entry(name, value, path)
    for e in entries.values():
        _check_entry(e, num_shards, path)
    return num_shards, entries


def _check_entry(e: Entry, num_shards: int, path: Path) -> None:
    """Reject entries whose dtype, shard or byte size are inconsistent."""
    if e.dtype == 7:  # DT_STRING (object graph proto): variable-length, never returned as a tensor
        return
    if e.dtype not in _DTYPES:
        raise FormatError(path, f"unsupported dtype enum {e.dtype}", field=e.name)
    if not 0 <= e.shard_id < num_shards:
        raise FormatError(path, f"shard id {e.shard_id} outside 0..{num_shards - 1}", field=e.name)
    if any(d < 0 for d in e.shape):
        raise FormatError(path, f"negative dimension in shape {e.shape}", field=e.name)
    want = int(np.prod(e.shape, dtype=np.int64)) * _DTYPES[e.dtype].itemsize
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
    num_shards, entries = read_index(prefix)
    out: dict[str, np.ndarray] = {}
    by_shard: dict[int, list[Entry]] = {}
    for e in entries.values():
        if e.dtype == 7 or (not slots and is_slot(e.name)):
            continue
        by_shard.setdefault(e.shard_id, []).append(e)
    for shard, ents in sorted(by_shard.items()):
        sp = shard_path(prefix, shard, num_shards)
        try:
            fh = sp.open("rb")  # noqa: SIM115 - closed by the with below; open errors need their own message
            fsize = sp.stat().st_size
        except OSError as err:
            raise FormatError(sp, f"missing or unreadable checkpoint shard: {err.strerror}") from None
        with fh:
            for e in sorted(ents, key=lambda x: x.offset):
                if e.offset + e.size > fsize:
                    raise FormatError(sp, f"tensor bytes [{e.offset}, +{e.size}] past end of shard ({fsize})",
                                      offset=e.offset, field=e.name)
                arr = np.empty(e.shape, dtype=_DTYPES[e.dtype])
                fh.seek(e.offset)
                if fh.readinto(memoryview(arr.reshape(-1).view(np.uint8))) != e.size:
                    raise FormatError(sp, "short read", offset=e.offset, field=e.name)
                if verify_crc and unmask_crc(e.crc) != crc32c(arr.reshape(-1).view(np.uint8).data):
                    raise FormatError(sp, "tensor CRC32C mismatch", offset=e.offset, field=e.name)
                out[e.name] = arr
    return {n: out[n] for n in entries if n in out}


def inspect_file(path: str | os.PathLike[str]) -> str:
    """One line per checkpoint entry: ``name [shape] dtype`` (slots included, marked)."""
    num_shards, entries = read_index(path)
    names = {v: k for k, v in {"float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6,
                                "string": 7, "int64": 9, "bool": 10, "uint16": 17, "float16": 19,
                                "uint32": 22, "uint64": 23}.items()}
    lines = [f"TensorFlow checkpoint {index_path(path)}: {len(entries)} entries, {num_shards} shard(s)"]
    for e in entries.values():
        mark = "  (slot)" if is_slot(e.name) else ""
        lines.append(f"{e.name} [{','.join(map(str, e.shape))}] {names.get(e.dtype, e.dtype)}{mark}")
    return "\n".join(lines)


def read_net(path: str | os.PathLike[str], mapping: str | None = None,
             model: str | None = None):  # noqa: ANN201 - NetFile (lazy import keeps this module light)
    """Checkpoint -> NetFile via a mapping (file or built-in name; default: the built-in that fits)."""
    from boardnet.errors import ConversionError
    from boardnet.mapping import builtin_for, load_mapping, to_netfile

    variables = read_variables(path)
    m = load_mapping(mapping) if mapping else builtin_for(set(variables))
    if m is None:
        raise ConversionError(f"{path}: no built-in mapping fits these variables; pass --mapping FILE.yaml")
    return to_netfile(variables, m, model)
