"""Full_Threats (Stockfish 18) batch building for the data loader: positions/s, one thread.

Ours: ``full_threats.batch`` on decoded ``.bin`` piece lists (one compiled pass, no python-chess). Baseline in the
same run: python-chess boards -> ``full_threats.active_features`` per perspective (the index function), on a
slice of the same positions. Target (issue 14): >= 500,000 positions/s.

    python bench/nnue_full_threats.py [--n 200000] [--baseline 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for nnue_loader.make_file

import chess  # noqa: E402
import numpy as np  # noqa: E402
from nnue_loader import make_file  # noqa: E402

from boardnet.nnue.data.bin import read_bin  # noqa: E402
from boardnet.nnue.features import full_threats  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--baseline", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        make_file(path, args.n)
        dec, _ = read_bin(path)
    full_threats.batch(dec.list_sq[:64], dec.list_code[:64], dec.turn[:64])  # compile
    best = cpu = float("inf")  # wall and process CPU time: on a shared machine the CPU figure is the fair one
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        out = full_threats.batch(dec.list_sq, dec.list_code, dec.turn)
        best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    ours, ours_cpu = len(dec) / best, len(dec) / cpu
    boards = [chess.Board(dec.fen(i)) for i in range(args.baseline)]
    t0, c0 = time.perf_counter(), time.process_time()
    ref = [[full_threats.active_features(b, p) for p in (b.turn, not b.turn)] for b in boards]
    base, base_cpu = args.baseline / (time.perf_counter() - t0), args.baseline / (time.process_time() - c0)
    same = all(sorted(out[i, j][out[i, j] >= 0].tolist()) == ref[i][j] for i in range(args.baseline) for j in (0, 1))
    active = np.count_nonzero(out >= 0, axis=2).mean()
    print(f"ours: {ours:,.0f} positions/s wall, {ours_cpu:,.0f} per CPU second, Full_Threats batches "
          f"({len(dec):,} positions, {active:.1f} active threats per perspective; target 500,000)")
    print(f"python-chess index function: {base:,.0f} positions/s wall, {base_cpu:,.0f} per CPU second "
          f"({args.baseline:,} positions; same indices: {same})")
    print(f"ratio: {ours / base:.0f}x wall, {ours_cpu / base_cpu:.0f}x CPU")


if __name__ == "__main__":
    main()
