"""``lc0 pgn2chunks`` positions/s on one core: PGN -> V6 chunk files (one gzip file per game), end to end.

Corpus: tests/lc0/fixtures/games/stockfish-selfplay.pgn (300 Stockfish self-play games, 31,237 positions), or a
PGN named on the command line. Baseline in the same run: the python-chess path (python-chess's reader plays
every move; one record per board, tests/lc0/pgn_reference.py) writing through the same chunk writer, on the
first ``BASELINE_GAMES`` games. Figures are CPU seconds of this process (the machine is shared; wall time is
printed too). Target: >= 20,000 positions/s.
Usage: python bench/lc0_pgn2chunks.py [games.pgn]
"""

from __future__ import annotations

import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reference path lives with the tests

from boardnet.core.pgn import GameStats, read_games  # noqa: E402
from boardnet.lc0.chunks import CHUNK_COMPRESSION, game_records, pgn_to_chunks, write_chunk  # noqa: E402
from tests.lc0 import pgn_reference as ref  # noqa: E402

DEFAULT_PGN = ROOT / "tests" / "lc0" / "fixtures" / "games" / "stockfish-selfplay.pgn"
BASELINE_GAMES = 60


def _timed(fn) -> tuple[int, float, float]:
    """``(positions, cpu s, wall s)`` of ``fn() -> positions``."""
    c0, w0 = time.process_time(), time.perf_counter()
    n = fn()
    return n, time.process_time() - c0, time.perf_counter() - w0


def _baseline(pgn: Path, out: Path) -> int:
    """The python-chess path: read, replay and encode board by board, write the same chunk files."""
    n = 0
    for i, game in enumerate(g for g in ref.iter_games(pgn) if g.why is None):
        if i == BASELINE_GAMES:
            break
        records = ref.game_records(game)
        write_chunk(out / f"g-{i + 1:06d}.gz", records)
        n += len(records)
    return n


def main() -> None:
    pgn = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PGN
    with tempfile.TemporaryDirectory() as tmp:
        pgn_to_chunks(pgn, Path(tmp) / "warm")  # numba's cache loads (or compiles) once
        n, cpu, wall = _timed(lambda: pgn_to_chunks(pgn, Path(tmp) / "fast")[1])
        bn, bcpu, bwall = _timed(lambda: _baseline(pgn, Path(tmp)))
    fast, base = n / cpu, bn / bcpu
    print(f"pgn2chunks (fast path)         {fast:10,.0f} positions/s CPU  ({n / wall:,.0f}/s wall; {n} positions)"
          "  target >= 20,000")
    print(f"baseline: python-chess path    {base:10,.0f} positions/s CPU  ({bn / bwall:,.0f}/s wall; {bn} positions)"
          f"  ratio {fast / base:.1f}x")
    print(f"gzip level {CHUNK_COMPRESSION}; zlib alone on chunk records here: " + _zlib_rates())


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
