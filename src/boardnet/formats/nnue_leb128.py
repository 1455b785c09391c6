"""LEB128-compressed feature transformers in ``.nnue`` files (spec ``nnue.md`` §5; SF16+, nnue-pytorch since 2023-06).

A compressed file is the plain layout (§3, §4) except that the FT bias, FT weight and PSQT tensors are each stored as
``b"COMPRESSED_LEB128"`` + u32 byte count + that many signed-LEB128 bytes. The dense layer stacks stay raw.

Here: vectorized numpy signed-LEB128 :func:`encode` / :func:`decode`, and :func:`read_net` / :func:`write_net` for
compressed files of the architectures :mod:`boardnet.formats.nnue` knows (same header, hashes and tensors as the
plain file; only the FT encoding differs). :func:`is_compressed` tells the two layouts apart from the header.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch

from boardnet.errors import FormatError
from boardnet.formats.nnue import (
    LEB128_MAGIC,
    MAX_DESCRIPTION,
    Arch,
    check_ft_hash,
    file_parts,
    plain_tensor,
    read_plain_block,
    read_preamble,
    write_parts,
)
from boardnet.spec import ModelSpec, NetFile

# Values per step: bounds the int64 temporaries (a few x 8 bytes per value) to tens of MiB.
CHUNK = 1 << 21
_FT_TENSORS = ("ft.bias", "ft.weight", "ft.psqt")


def max_bytes(dtype: np.dtype) -> int:
    """Longest signed-LEB128 encoding of a value of ``dtype``: ceil(bits / 7) (int16: 3, int32: 5)."""
    return -(-np.dtype(dtype).itemsize * 8 // 7)


def encode(values: np.ndarray) -> bytes:
    """Signed LEB128 of a flat integer array (§5): minimal length per value, 0x80 on all but the last byte."""
    v_all = np.asarray(values).reshape(-1)
    out = []
    for s in range(0, v_all.size, CHUNK):
        v = v_all[s:s + CHUNK].astype(np.int64)
        # a value needs more than k bytes when it lies outside the signed 7k-bit range
        n = np.ones(v.shape, np.int64)
        for k in range(1, 10):
            lim = 1 << (7 * k - 1)
            more = (v < -lim) | (v >= lim)
            if not more.any():
                break
            n += more
        width = int(n.max(initial=1))
        cols = np.arange(width)
        groups = ((v[:, None] >> (7 * cols)) & 0x7F).astype(np.uint8)
        groups |= np.where(cols < n[:, None] - 1, 0x80, 0).astype(np.uint8)
        out.append(groups[cols < n[:, None]].tobytes())  # row-major: each value's bytes in order
    return b"".join(out)


def decode(buf: np.ndarray, count: int, dtype: np.dtype, *, path: Path, offset: int, field: str) -> np.ndarray:
    """Decode exactly ``count`` signed-LEB128 values of ``dtype`` from all of ``buf`` (uint8 ``[L]``).

    Every byte must be used, no value may be longer than :func:`max_bytes` or outside ``dtype``; otherwise one
    FormatError with the file offset (``offset`` = file offset of ``buf[0]``) of the offending byte.
    """
    dtype = np.dtype(dtype)
    buf = np.asarray(buf, np.uint8)
    if buf.size and buf[-1] >= 0x80:
        raise FormatError(path, "LEB128 data ends inside a value", offset=offset + buf.size - 1, field=field)
    total = int(np.count_nonzero(buf < 0x80))  # the final byte of each value has no continuation bit
    if total != count:
        raise FormatError(path, f"{total} LEB128 values; expected {count}", offset=offset, field=field)
    limit = max_bytes(dtype)
    info = np.iinfo(dtype)
    acc = np.int32 if limit * 7 < 31 else np.int64  # int16: 21 bits
    seven = np.arange(limit + 1, dtype=acc) * 7
    out = np.empty(count, dtype)
    pos = k = 0
    # byte chunks cut after a value's last byte; chunk-sized temporaries are reused by the allocator
    while pos < buf.size:
        seg = buf[pos:pos + CHUNK]
        last = np.flatnonzero(seg < 0x80)
        first = np.concatenate(([0], last[:-1] + 1)) if last.size else np.zeros(1, np.int64)
        n = (last - first + 1) if last.size else np.array([seg.size + 1])
        if n.max() > limit:
            bad = int(np.argmax(n > limit))
            raise FormatError(path, f"value {k + bad} is {'over ' * (not last.size)}{int(n[bad])} LEB128 bytes; "
                              f"{dtype.name} needs at most {limit}", offset=offset + pos + int(first[bad]),
                              field=field)
        vals = (seg[first] & 0x7F).astype(acc)
        for j in range(1, limit):  # byte j of every value at once; bytes past a value's end are masked out
            more = n > j
            if not more.any():
                break
            byte = seg[np.minimum(first + j, seg.size - 1)] & 0x7F
            vals |= np.where(more, byte.astype(acc) << seven[j], 0).astype(acc)
        neg = (seg[last] & 0x40) != 0  # sign bit = bit 6 of the last byte
        vals -= np.where(neg, np.left_shift(acc(1), seven[n]), 0).astype(acc)
        bad = (vals < info.min) | (vals > info.max)
        if bad.any():
            i = int(np.argmax(bad))
            raise FormatError(path, f"value {k + i} = {int(vals[i])} does not fit {dtype.name}",
                              offset=offset + pos + int(first[i]), field=field)
        out[k:k + vals.size] = vals
        k += vals.size
        pos += int(last[-1]) + 1
    return out


def is_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether the FT bias of this ``.nnue`` file starts with the LEB128 magic (False on any unreadable header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return False
            (n,) = struct.unpack_from("<I", head, 8)
            if n > MAX_DESCRIPTION:
                return False
            fh.seek(12 + n + 4)
            return fh.read(len(LEB128_MAGIC)) == LEB128_MAGIC
    except OSError:
        return False


def max_file_size(arch: Arch, description_len: int) -> int:
    """Largest valid compressed file: header + FT hash + worst-case LEB128 FT + raw dense stacks."""
    size = 12 + description_len + 4
    for name, dt, shape in arch.blocks():
        count = int(np.prod(shape))
        if name in _FT_TENSORS:
            size += len(LEB128_MAGIC) + 4 + count * max_bytes(dt)
        else:
            size += count * dt.itemsize
    return size


def read_net(path: str | os.PathLike[str]) -> NetFile:
    """Read a LEB128-compressed ``.nnue`` into the same quantized NetFile :func:`boardnet.formats.nnue.read_net`
    gives for the plain file (``meta["compression"] = "leb128"``)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        arch, description, off = read_preamble(fh, path, size)
    bound = max_file_size(arch, off - 12)
    if size > bound:
        raise FormatError(path, f"file is {size} bytes; a compressed {arch.name} is at most {bound}",
                          offset=bound, field="file size")
    data = np.fromfile(path, dtype=np.uint8, offset=off)  # bounded just above

    def need(pos: int, n: int, field: str) -> None:
        if pos + n > data.size:
            raise FormatError(path, f"truncated: {field} needs {n} bytes, {data.size - pos} left",
                              offset=off + data.size, field=field)

    need(0, 4, "ft hash")
    check_ft_hash(path, data, arch, off)
    pos = 4
    state: dict[str, torch.Tensor] = {}
    for name, dt, shape in arch.blocks():
        count = int(np.prod(shape))
        if name in _FT_TENSORS:
            need(pos, len(LEB128_MAGIC) + 4, name)
            if data[pos:pos + len(LEB128_MAGIC)].tobytes() != LEB128_MAGIC:
                raise FormatError(path, f"expected the {LEB128_MAGIC.decode()} magic", offset=off + pos, field=name)
            pos += len(LEB128_MAGIC)
            (nbytes,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if not count <= nbytes <= count * max_bytes(dt):
                raise FormatError(path, f"LEB128 byte count {nbytes} impossible for {count} {dt.name} values",
                                  offset=off + pos - 4, field=name)
            need(pos, nbytes, name)
            arr = decode(data[pos:pos + nbytes], count, dt, path=path, offset=off + pos, field=name)
            state[name] = torch.from_numpy(arr.astype(dt.newbyteorder("=")).reshape(shape))
            pos += nbytes
            continue
        need(pos, count * dt.itemsize, name)
        pos = read_plain_block(path, data, pos, off, arch, name, dt, shape, state)
    if pos != data.size:
        raise FormatError(path, f"{data.size - pos} trailing bytes after the last layer stack", offset=off + pos,
                          field="file size")
    spec = ModelSpec("nnue", {"arch": arch.name, "features": arch.features},
                     {"version": arch.version, "description": description, "quantized": True,
                      "header_hash": arch.header_hash, "compression": "leb128"})
    return NetFile(spec, state)


def write_net(net: NetFile, path: str | os.PathLike[str]) -> None:
    """Write a quantized NetFile as a ``.nnue`` with LEB128-compressed FT tensors (bias, weight, PSQT), atomically."""
    path = Path(path)

    def leb128_ft(name: str, arr: np.ndarray, dt: np.dtype) -> list[bytes]:
        if name not in _FT_TENSORS:
            return plain_tensor(name, arr, dt)
        payload = encode(arr)
        return [LEB128_MAGIC, struct.pack("<I", len(payload)), payload]

    write_parts(path, file_parts(net, path, leb128_ft))
