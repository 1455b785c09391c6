""".binpack read/write throughput, with the same positions read from ``.bin`` as the same-run baseline.

Writes random-game positions (or reads the ``.binpack`` given) with ``write_binpack``, times
``read_binpack`` (the compiled chunk decoder, and its Python reader for comparison) and ``read_bin`` of the same
positions written as ``.bin``, and prints positions/s, bytes/position and the ratio. Writing: the compiled
encoder (``compiled_chunks`` from ``.bin`` records, what ``boardnet nnue data X.bin Y.binpack`` runs) against the
Python writer (``encode_binpack`` from python-chess entries), both checked to give the same bytes. With ``--binpack FILE``
(e.g. nnue-pytorch's ``.pgo/small.binpack``, written by Stockfish's tools) it also checks that every position
is valid, every move legal, and that re-encoding all positions reproduces the file byte for byte.

    python bench/nnue_binpack.py [--games 300] [--binpack FILE]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import chess

from boardnet.nnue.data.bin import decode_move, read_bin, write_bin
from boardnet.nnue.data.binpack import (
    compiled_chunks,
    encode_binpack,
    iter_entries,
    read_binpack,
    write_binpack,
)


def random_entries(games: int) -> list[tuple[chess.Board, int, chess.Move, int, int]]:
    rng = random.Random(0)
    out = []
    for _ in range(games):
        board, result = chess.Board(), rng.choice([-1, 0, 1])
        for ply in range(rng.randrange(20, 200)):
            moves = list(board.legal_moves)
            if not moves:
                break
            move = rng.choice(moves)
            out.append((board.copy(stack=False), rng.randint(-400, 400), move, ply, result * (-1) ** ply))
            board.push(move)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=300)
    ap.add_argument("--binpack", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pack = args.binpack or Path(tmp) / "d.binpack"
        if args.binpack is None:
            write_binpack(pack, random_entries(args.games))
        entries = [(b.copy(stack=False), s, decode_move(m, b.turn) if m else None, p, r)
                   for b, s, m, p, r in iter_entries(pack)]
        t0 = time.perf_counter()
        encoded = encode_binpack(entries)
        t_write = time.perf_counter() - t0
        if args.binpack is not None:
            legal = all(b.is_valid() and (m is None or b.is_legal(m)) for b, _, m, _, _ in entries)
            same = encoded == pack.read_bytes()
            print(f"{pack}: {len(entries)} positions, all valid and legal: {legal}; re-encoded identical: {same}")
        recs = read_binpack(pack)  # also the warm-up: loads the compiled kernels
        b"".join(compiled_chunks([recs[:100]]))
        t0 = time.perf_counter()
        compiled = b"".join(compiled_chunks(recs[i:i + 65536] for i in range(0, len(recs), 65536)))
        t_compiled = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = read_binpack(pack)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        read_binpack(pack, compiled=False)
        t_python = time.perf_counter() - t0
        binf = Path(tmp) / "d.bin"
        write_bin(binf, entries)
        t0 = time.perf_counter()
        read_bin(binf)
        t_bin = time.perf_counter() - t0
        size = pack.stat().st_size
    n = len(recs)
    print(f"positions: {n}, binpack {size} bytes = {size / n:.2f} B/position (.bin: 40)")
    print(f"read_binpack: {n / t_read:,.0f} pos/s (compiled kernel); Python reader {n / t_python:,.0f} pos/s "
          f"({t_python / t_read:.0f}x slower)")
    print(f"write: compiled encoder {n / t_compiled:,.0f} pos/s, Python writer (encode_binpack) {n / t_write:,.0f} "
          f"pos/s ({t_write / t_compiled:.0f}x slower); same bytes: {compiled == encoded}")
    print(f"baseline read_bin of the same positions: {n / t_bin:,.0f} pos/s; "
          f"binpack/bin read speed ratio {t_bin / t_read:.3f}")


if __name__ == "__main__":
    main()
