"""LEB128-compressed feature transformers in ``.nnue`` files (spec ``nnue.md`` §5; SF16+, nnue-pytorch since 2023-06).

A compressed file is the plain layout (§3, §4) except that the FT bias, FT weight and PSQT tensors are each stored as
``b"COMPRESSED_LEB128"`` + u32 byte count + that many signed-LEB128 bytes. The dense layer stacks stay raw.

Here: the pure codec, vectorized numpy signed-LEB128 :func:`encode` / :func:`decode`. Reading and writing
compressed files (same header, hashes and tensors as the plain file; only the FT encoding differs) is in
:mod:`boardnet.nnue.file`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from boardnet.core.errors import FormatError

LEB128_MAGIC = b"COMPRESSED_LEB128"  # §5, SF16+; not produced by the supported architectures

# Values per step: bounds the int64 temporaries (a few x 8 bytes per value) to tens of MiB.
CHUNK = 1 << 21


def max_bytes(dtype: np.dtype) -> int:
    """Longest signed-LEB128 encoding of a value of ``dtype``: ceil(bits / 7) (int16: 3, int32: 5)."""
    return -(-np.dtype(dtype).itemsize * 8 // 7)


def encode(values: np.ndarray) -> bytes:
    """Signed LEB128 of a flat integer array (§5): minimal length per value, 0x80 on all but the last byte.

    Per chunk: byte counts ``n`` from the signed 7k-bit ranges, each value's first byte scattered to its start,
    then byte j of only the values longer than j (few: real nets are mostly 1-2 bytes per value).
    """
    v_all = np.asarray(values).reshape(-1)
    wide = np.int32 if v_all.dtype.itemsize <= 2 else np.int64
    out = []
    for s in range(0, v_all.size, CHUNK):
        v = v_all[s:s + CHUNK].astype(wide)
        n = np.ones(v.shape, np.int64)
        for k in range(1, 10):  # a value needs more than k bytes when it lies outside the signed 7k-bit range
            lim = 1 << (7 * k - 1)
            more = (v < -lim) | (v >= lim)
            if not more.any():
                break
            n += more
        starts = np.cumsum(n) - n
        buf = np.empty(int(n.sum()), np.uint8)
        idx = np.arange(v.size)
        j = 0
        while idx.size:
            vj, nj = v[idx], n[idx]
            cont = np.where(nj > j + 1, 0x80, 0).astype(np.uint8)
            buf[starts[idx] + j] = ((vj >> (7 * j)) & 0x7F).astype(np.uint8) | cont
            idx = idx[nj > j + 1]
            j += 1
        out.append(buf.tobytes())
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
        idx = np.flatnonzero(n > 1)
        for j in range(1, limit):  # byte j of only the values longer than j (few in real nets)
            if not idx.size:
                break
            vals[idx] |= (seg[first[idx] + j] & 0x7F).astype(acc) << seven[j]
            idx = idx[n[idx] > j + 1]
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
