"""Read speed and peak memory of boardnet's TF tensor-bundle reader vs raw file read (100 MB checkpoint).

Writes a synthetic V2 checkpoint (one SSTable data block, index block, footer) with write_variables,
then times ``read_variables`` against ``Path.read_bytes`` of the data shard. Run: python bench/tf_checkpoint_read.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from boardnet.tfimport.bundle import read_variables, write_variables


def main() -> int:
    rng = np.random.default_rng(0)
    tensors = {f"layer{i:02d}/kernel": rng.standard_normal((1024, 1024), np.float32) for i in range(25)}
    nbytes = sum(a.nbytes for a in tensors.values())
    with tempfile.TemporaryDirectory() as d:
        prefix = Path(d) / "big.ckpt"
        write_variables(prefix, tensors)
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
