"""Loader throughput, one thread (batch 16384, ``NnueData`` without workers), each with a baseline in the same run.

``.bin`` -> HalfKAv2_hm batches with the default filters, against a straightforward python-chess loop (decode each
record to a Board via FEN, filter with ``is_capture``/``is_check``, ``FeatureSet.board_batch``) on a subset.

``.binpack`` (issue 14: >= 3M positions/s from .binpack, Full_Threats >= 500k), no filters: the one-pass path
(``read_chunk_lists``: movetext -> piece lists, labels and filters in one compiled pass, features per served batch)
for HalfKAv2_hm^ against the two-pass path (binpack -> ``.bin`` records -> decode, the path before the one-pass
reader, run by turning it off) and against python-chess (a Board per position from the records + the block's
``active_features``); and Full_Threats batches from the same file. Data: ``--binpack FILE`` repeated
``--repeat`` times (e.g. nnue-pytorch's small.binpack x 20), else random games as move chains. Rates are per CPU
second of this process (the machine is shared) and wall.

    python bench/nnue_loader.py [--positions 400000] [--binpack FILE --repeat 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for nnue_binpack.random_entries

import chess  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from nnue_binpack import random_entries  # noqa: E402

from boardnet.nnue.data import loader  # noqa: E402
from boardnet.nnue.data.bin import RECORD_SIZE, decode_move, decode_records, pack_record, read_bin  # noqa: E402
from boardnet.nnue.data.binpack import read_binpack, write_binpack, write_binpack_records  # noqa: E402
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


def bin_bench(positions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        make_file(path, positions)
        cfg = NnueData.Config(type="nnue", paths=[str(path)], chunk_size=BATCH * 4)
        src = NnueData(cfg, TrainContext(cfg=None, run_dir=Path(tmp), device="cpu"))
        src.next_batch(BATCH)  # warm up
        t0 = time.perf_counter()
        served = 0
        while served < positions:
            served += len(src.next_batch(BATCH)["bucket"])
        dt = time.perf_counter() - t0
        # positions read from disk per second: served / kept fraction
        dec, _ = read_bin(path, count=BATCH)
        kept = loader.keep_mask(dec, loader.Filters(), np.random.default_rng(0)).mean()
        ours_served = served / dt
        ours_read = ours_served / kept
        base = python_chess_loop(path, 4000)
    print(f".bin: {ours_served:,.0f} batched positions/s ({ours_read:,.0f} records/s read, {kept:.0%} kept by "
          "filters)")
    print(f"  python-chess loop: {base:,.0f} records/s; ratio (records/s): {ours_read / base:.1f}x; issue 4 target "
          f"{TARGET:,.0f} records/s -> {ours_read / TARGET:.0%}")


def binpack_file(tmp: Path, given: Path | None, repeat: int, games: int) -> Path:
    """``given`` (or random games as move chains) repeated ``repeat`` times, in Stockfish's 1 MiB chunks."""
    if given is None:
        given = tmp / "games.binpack"
        write_binpack(given, random_entries(games))
    out = tmp / "bench.binpack"
    write_binpack_records(out, [read_binpack(given)] * repeat)
    return out


def served_rate(path: Path, features: str, one_pass: bool, positions: int) -> tuple[float, float]:
    """(positions/s per CPU second, wall) served by ``NnueData`` over ``path`` without filters.

    A first source loads the compiled kernels; a fresh one is then timed from its first chunk, serving at least
    ``positions`` and on until less than a batch of its decoded chunks is left, so the time holds the decoding
    of (nearly) exactly the positions served."""
    saved = loader.read_chunk_lists
    if not one_pass:
        loader.read_chunk_lists = lambda *a: None  # every chunk takes the .bin-record path
    try:
        cfg = NnueData.Config(type="nnue", paths=[str(path)], features=features, skip_captures=False,
                              skip_in_check=False, early_ply_skip=0)
        ctx = TrainContext(cfg=None, run_dir=path.parent, device="cpu")
        NnueData(cfg, ctx).next_batch(BATCH)  # warm up (compiled kernels load from numba's cache)
        src = NnueData(cfg, ctx)
        t0, c0 = time.perf_counter(), time.process_time()
        served = 0
        while served < positions or src.n_pending >= BATCH:
            served += len(src.next_batch(BATCH)["score"])
        return served / (time.process_time() - c0), served / (time.perf_counter() - t0)
    finally:
        loader.read_chunk_lists = saved


def python_chess_features(path: Path, n: int, features: str) -> float:
    """Positions/s of a python-chess board per record plus the block's ``active_features`` (both perspectives)."""
    dec, _ = decode_records(read_binpack(path)[:n])
    fs = get_feature_set(features)
    c0 = time.process_time()
    for i in range(len(dec)):
        fs.active_pair(dec.board(i))
    return len(dec) / (time.process_time() - c0)


def binpack_bench(given: Path | None, repeat: int, games: int, positions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = binpack_file(Path(tmp), given, repeat, games)
        n = len(read_binpack(path))
        positions = min(positions, n)
        print(f".binpack: {n:,} positions, {path.stat().st_size / n:.2f} bytes/position, no filters; "
              f"at least {positions:,} served per figure (whole chunks, from a fresh source)")
        one, one_wall = served_rate(path, "HalfKAv2_hm^", True, positions)
        two, two_wall = served_rate(path, "HalfKAv2_hm^", False, positions)
        base = python_chess_features(path, 3000, "HalfKAv2_hm^")
        threats, threats_wall = served_rate(path, "Full_Threats", True, positions)
        tbase = python_chess_features(path, 1000, "Full_Threats")
    print(f"  HalfKAv2_hm^ one pass: {one:,.0f} positions/s per CPU s ({one_wall:,.0f} wall); target 3,000,000 -> "
          f"{one / 3e6:.0%}")
    print(f"  HalfKAv2_hm^ two pass (.bin records): {two:,.0f} per CPU s ({two_wall:,.0f} wall); one/two pass: "
          f"{one / two:.2f}x")
    print(f"  HalfKAv2_hm^ python-chess board + active_features: {base:,.0f} per CPU s; one pass / python-chess: "
          f"{one / base:.0f}x")
    print(f"  Full_Threats one pass: {threats:,.0f} positions/s per CPU s ({threats_wall:,.0f} wall); target 500,000 "
          f"-> {threats / 5e5:.0%}; python-chess {tbase:,.0f} per CPU s ({threats / tbase:.0f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", type=int, default=400_000)
    ap.add_argument("--binpack", type=Path, help="a real .binpack to repeat (e.g. nnue-pytorch's small.binpack)")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--games", type=int, default=400, help="random games when no --binpack is given")
    ap.add_argument("--skip-bin", action="store_true", help="only the .binpack figures")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.skip_bin:
        bin_bench(args.positions)
    binpack_bench(args.binpack, args.repeat, args.games, max(args.positions, 1_000_000))


if __name__ == "__main__":
    main()
