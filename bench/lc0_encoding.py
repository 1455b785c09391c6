"""lc0 input encoding: positions/s from python-chess boards (with history) to 112 planes, on one core.

Figures for ``encode`` (one board per call) and ``encode_batch`` (256 per call). Baseline in the same run:
python-chess's own cost of producing the boards (copying a board with its move stack), so the ratio shows what
the encoding adds. Target: >= 20,000 positions/s.
"""

from __future__ import annotations

import random
import time

import chess
import torch

from boardnet.lc0.planes import encode, encode_batch


def _positions(n: int, seed: int = 0) -> list[chess.Board]:
    rng = random.Random(seed)
    out: list[chess.Board] = []
    while len(out) < n:
        board = chess.Board()
        for _ in range(rng.randint(1, 60)):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(rng.choice(moves))
        out.append(board)
    return out


def main() -> None:
    torch.set_num_threads(1)
    boards = _positions(4000)
    t0 = time.perf_counter()
    for b in boards:
        encode(b)
    enc = len(boards) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(0, len(boards), 256):
        encode_batch(boards[i:i + 256])
    batch = len(boards) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for b in boards:
        b.copy()
    base = len(boards) / (time.perf_counter() - t0)
    print(f"encode (112 planes, 8-ply history)  {enc:10,.0f} positions/s  (target >= 20,000)")
    print(f"encode_batch (256 boards per call)  {batch:10,.0f} positions/s  (target >= 20,000)")
    print(f"baseline: board.copy() with stack   {base:10,.0f} positions/s  ratio {enc / base:.2f} / {batch / base:.2f}")


if __name__ == "__main__":
    main()
