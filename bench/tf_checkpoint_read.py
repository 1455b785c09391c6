"""Read speed and peak memory of boardnet's TF tensor-bundle reader vs raw file read (100 MB checkpoint).

Writes a synthetic V2 checkpoint (one SSTable data block, index block, footer) with its own small writer,
then times ``read_variables`` against ``Path.read_bytes`` of the data shard. Run: python bench/tf_checkpoint_read.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from boardnet.formats.tf_checkpoint import _CRC_MASK_DELTA, _TABLE_MAGIC, crc32c, read_variables


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint(num << 3 | wire) + payload


def _block(records: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in records)
    return body + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")  # one restart point at 0


def write_bundle(prefix: Path, tensors: dict[str, np.ndarray]) -> None:
    """Minimal tensor-bundle writer (float32, one shard); enough for the reader's checks."""
    records = [(b"", _field(1, 0, _varint(1)))]
    offset = 0
    with open(f"{prefix}.data-00000-of-00001", "wb") as f:
        for name in sorted(tensors):
            a = np.ascontiguousarray(tensors[name], np.float32)
            f.write(a.tobytes())
            shape = b"".join(_field(2, 2, _varint(len(d)) + d) for d in
                             (_field(1, 0, _varint(s)) for s in a.shape))
            entry = (_field(1, 0, _varint(1)) + _field(2, 2, _varint(len(shape)) + shape)
                     + _field(4, 0, _varint(offset)) + _field(5, 0, _varint(a.nbytes))
                     + _field(6, 5, _mask(crc32c(a.tobytes())).to_bytes(4, "little")))
            records.append((name.encode(), entry))
            offset += a.nbytes
    out = bytearray()

    def put(block: bytes) -> bytes:
        handle = _varint(len(out)) + _varint(len(block))
        out.extend(block + b"\0" + _mask(crc32c(block + b"\0")).to_bytes(4, "little"))
        return handle

    data_handle = put(_block(records))
    index_handle = put(_block([(records[-1][0] + b"\xff", data_handle)]))
    meta_handle = put(_block([]))
    footer = (meta_handle + index_handle).ljust(40, b"\0") + _TABLE_MAGIC.to_bytes(8, "little")
    Path(f"{prefix}.index").write_bytes(bytes(out) + footer)


def main() -> int:
    rng = np.random.default_rng(0)
    tensors = {f"layer{i:02d}/kernel": rng.standard_normal((1024, 1024), np.float32) for i in range(25)}
    nbytes = sum(a.nbytes for a in tensors.values())
    with tempfile.TemporaryDirectory() as d:
        prefix = Path(d) / "big.ckpt"
        write_bundle(prefix, tensors)
        shard = Path(f"{prefix}.data-00000-of-00001")
        shard.read_bytes()  # warm the page cache for both
        t = time.perf_counter()
        shard.read_bytes()
        raw = time.perf_counter() - t
        t = time.perf_counter()
        got = read_variables(prefix)
        ours = time.perf_counter() - t
        assert all(np.array_equal(got[k], tensors[k]) for k in tensors)
        del got
        tracemalloc.start()
        got = read_variables(prefix)
        assert len(got) == len(tensors)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    mb = nbytes / 1e6
    print(f"tensor bytes {mb:.1f} MB")
    print(f"raw read      {mb / raw:8.0f} MB/s (baseline)")
    print(f"read_variables{mb / ours:8.0f} MB/s  ratio {raw / ours:.2f} (target >= 0.5)")
    print(f"peak traced memory {peak / 1e6:.1f} MB = {peak / nbytes:.2f}x tensor bytes (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
