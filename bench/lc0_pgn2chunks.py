"""``lc0 pgn2chunks`` positions/s: PGN -> V6 chunk files (one gzip file per game), end to end, wall and CPU.

Corpus: tests/lc0/fixtures/games/stockfish-selfplay.pgn (300 Stockfish self-play games, 31,237 positions), or a
PGN named on the command line. Every path writes a folder of chunk files swapped in whole
(:func:`boardnet.core.io.atomic_folder`), rerun into the same folder (so replacing the earlier chunks counts).
Rows, all in this run:

- ``pgn2chunks``: the command's path (compiled reader and encoder, one fsync pass before the swap);
- ``per-file atomic writes``: the same encoding, each chunk written through a temp file, fsync and rename (the
  writer before the fsync pass);
- ``baseline: python-chess``: python-chess's reader plays every move, one record per board
  (tests/lc0/pgn_reference.py), on the first ``BASELINE_GAMES`` games.

Each row gives positions per second of wall time and per CPU second (this process, all threads), and splits the
wall time of the main thread (Linux ``/proc/thread-self/schedstat``) into running, waiting for a CPU (other
processes on a shared machine) and blocked (disk I/O, fsync). Target: >= 20,000 positions/s.
Usage: python bench/lc0_pgn2chunks.py [games.pgn]
"""

from __future__ import annotations

import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reference path lives with the tests

from boardnet.core.io import atomic_folder  # noqa: E402
from boardnet.core.pgn import GameStats, read_games  # noqa: E402
from boardnet.lc0.chunks import (  # noqa: E402
    CHUNK_COMPRESSION,
    chunk_bytes,
    chunk_name,
    game_records,
    pgn_to_chunks,
    write_chunk,
)
from tests.lc0 import pgn_reference as ref  # noqa: E402

DEFAULT_PGN = ROOT / "tests" / "lc0" / "fixtures" / "games" / "stockfish-selfplay.pgn"
BASELINE_GAMES = 60


def _schedstat() -> tuple[float, float]:
    """(running s, waiting-for-a-CPU s) of the calling thread; (nan, nan) where the kernel does not say."""
    try:
        run, wait, _ = Path("/proc/thread-self/schedstat").read_text().split()
    except (OSError, ValueError):
        return float("nan"), float("nan")
    return int(run) / 1e9, int(wait) / 1e9


def _row(name: str, fn: Callable[[], int]) -> str:
    """One line: ``fn() -> positions`` per wall second and per CPU second, and where its wall time went."""
    c0, w0, (r0, q0) = time.process_time(), time.perf_counter(), _schedstat()
    n = fn()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    r1, q1 = _schedstat()
    run, queued = r1 - r0, q1 - q0
    return (f"{name:28s} {n / wall:8,.0f}/s wall {n / cpu:8,.0f}/s CPU  ({n} positions; wall {wall:5.2f} s = "
            f"running {run:5.2f} + waiting for a CPU {queued:5.2f} + blocked {wall - run - queued:5.2f})")


def _per_file_atomic(pgn: Path, out: Path) -> int:
    """The fast encoding, each chunk written atomically on its own (temp file, fsync, rename, folder fsync)."""
    def fill(tmp: Path) -> int:
        n, stats = 0, GameStats()
        for game in read_games(pgn, stats):
            records = game_records(game)
            write_chunk(tmp / chunk_name(stats.used), records)
            n += len(records)
        return n
    return atomic_folder(out, fill)


def _baseline(pgn: Path, out: Path) -> int:
    """The python-chess path: read, replay and encode board by board; the same chunk files and folder swap."""
    def fill(tmp: Path) -> int:
        n = 0
        for i, game in enumerate(g for g in ref.iter_games(pgn) if g.why is None):
            if i == BASELINE_GAMES:
                break
            records = ref.game_records(game)
            (tmp / chunk_name(i + 1)).write_bytes(chunk_bytes(records))
            n += len(records)
        return n
    return atomic_folder(out, fill)


def main() -> None:
    pgn = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PGN
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:  # the disk the chunks of a real run go to
        out = Path(tmp) / "chunks"
        pgn_to_chunks(pgn, out)  # numba's cache loads (or compiles) once; later rows replace this folder
        rows = [_row("pgn2chunks", lambda: pgn_to_chunks(pgn, out)[1]),
                _row("per-file atomic writes", lambda: _per_file_atomic(pgn, out)),
                _row("baseline: python-chess", lambda: _baseline(pgn, out))]
    print("\n".join(rows))
    print("target >= 20,000 positions/s; gzip level "
          f"{CHUNK_COMPRESSION}; zlib alone on chunk records here: {_zlib_rates()}")


def _zlib_rates() -> str:
    """Positions/s zlib alone reaches on V6 records at levels 1 and 6 (why chunks are written at level 1)."""
    games = read_games(DEFAULT_PGN, GameStats())
    data = b"".join(game_records(next(games)).tobytes() for _ in range(20))
    out = []
    for level in (1, 6):
        c0 = time.process_time()
        zlib.compress(data, level)
        out.append(f"level {level} {len(data) / 8356 / (time.process_time() - c0):,.0f} positions/s")
    return ", ".join(out)


if __name__ == "__main__":
    main()
