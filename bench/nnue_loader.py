"""Loader throughput: ``.bin`` -> ready sparse HalfKAv2_hm batches (batch 16384), one core.

Measures our vectorized pipeline (decode + filters + shuffle + features, ``NnueData`` with no workers) and,
in the same run, a straightforward python-chess loop (decode each record to a Board via FEN, filter with
``is_capture``/``is_check``, ``FeatureSet.board_batch``) on a subset, and prints the ratio.

    python bench/nnue_loader.py [--positions 200000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import chess  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from boardnet.nnue.data.bin import RECORD_SIZE, decode_move, pack_record, read_bin  # noqa: E402
from boardnet.nnue.data.loader import NnueData  # noqa: E402
from boardnet.nnue.features import get_feature_set  # noqa: E402
from boardnet.train.context import TrainContext  # noqa: E402

BATCH = 16384
TARGET = 1_000_000  # issue 4 loader target, records/s on one core (stretch 3M/s)


def make_file(path: Path, n: int) -> None:
    """``n`` records: distinct random-game positions tiled to size (decode cost does not depend on repeats)."""
    rng = np.random.default_rng(0)
    recs = []
    while len(recs) < 4096:
        board = chess.Board()
        for ply in range(int(rng.integers(10, 160))):
            moves = list(board.legal_moves)
            if not moves:
                break
            move = moves[int(rng.integers(len(moves)))]
            recs.append(
                pack_record(board, int(rng.integers(-2000, 2000)), move, ply, int(rng.integers(-1, 2)))
            )
            board.push(move)
    blob = b"".join(recs)
    path.write_bytes((blob * (n * RECORD_SIZE // len(blob) + 1))[: n * RECORD_SIZE])


def python_chess_loop(path: Path, n: int) -> float:
    """Positions/s of the naive per-record loop (decode via our reader's FEN, python-chess filters/features)."""
    dec, _ = read_bin(path, count=n)
    t0 = time.perf_counter()
    boards = []
    for i in range(len(dec)):
        board = chess.Board(dec.fen(i))
        move = decode_move(int(dec.move[i]), board.turn)
        if board.is_capture(move) or board.is_check():
            continue
        boards.append(board)
    get_feature_set("HalfKAv2_hm").board_batch(boards)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", type=int, default=400_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        make_file(path, args.positions)
        cfg = NnueData.Config(type="nnue", paths=[str(path)], chunk_size=BATCH * 4)
        src = NnueData(cfg, TrainContext(cfg=None, run_dir=Path(tmp), device="cpu"))
        src.next_batch(BATCH)  # warm up
        t0 = time.perf_counter()
        served = 0
        while served < args.positions:
            served += len(src.next_batch(BATCH)["bucket"])
        dt = time.perf_counter() - t0
        # positions read from disk per second: served / kept fraction
        dec, _ = read_bin(path, count=BATCH)
        from boardnet.nnue.data.loader import Filters, keep_mask

        kept = keep_mask(dec, Filters(), np.random.default_rng(0)).mean()
        ours_served = served / dt
        ours_read = ours_served / kept
        base = python_chess_loop(path, 4000)
    print(
        f"ours: {ours_served:,.0f} batched positions/s ({ours_read:,.0f} records/s read, {kept:.0%} kept by filters)"
    )
    print(f"python-chess loop: {base:,.0f} records/s")
    print(f"ratio (records/s): {ours_read / base:.1f}x")
    print(f"target (issue 4): {TARGET:,.0f} records/s on one core -> {ours_read / TARGET:.0%} of target")


if __name__ == "__main__":
    main()
