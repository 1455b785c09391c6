"""Score positions with a UCI engine and write Stockfish ``.bin`` training data (``boardnet nnue label``).

Inputs: ``.pgn`` (every position of every game boardnet learns from, by the one rule of
:mod:`boardnet.core.pgn`: other games are skipped and counted; result from the ``Result`` header), or text files
with one position per line: a FEN, an EPD (first four fields), or ``fen | score | result`` (score ignored,
result kept). Each position gets the engine's score (side to move) and its best move. Scores are stored in the
labelling engine's internal units: its UCI ``score cp`` converted back with that engine's own rule
(:mod:`boardnet.nnue.units`, picked from its ``id name``: SF15.1 361 per pawn, SF16 328, SF17+ the WDL model's
material-dependent ``a``; an unknown engine needs ``cp_scale``); mates -> +-(32000 - plies). Illegal positions and
lines that are no position are skipped and counted.

Every position is searched from a fresh engine state (``ucinewgame`` before it: Stockfish clears its hash and
histories), so a label does not depend on the positions searched before it. With ``jobs`` engines searching in
parallel the records keep the input order, and with a ``depth`` or ``nodes`` limit and one thread per engine
(Stockfish's default) the output is byte for byte that of one engine; a ``movetime`` limit is never repeatable.
"""

from __future__ import annotations

import io
import os
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import chess
import chess.engine

from boardnet.core.errors import BoardnetError, ConfigError, FormatError
from boardnet.core.io import open_user_file
from boardnet.core.pgn import GameStats, read_games
from boardnet.nnue.data.bin import write_bin
from boardnet.nnue.units import EngineUnits, units_for_engine

VALUE_MATE = 32000
MAX_SCORE = 32000


@dataclass
class LabelStats:
    """Positions written and skipped (by reason), and the PGN games used and skipped (:class:`GameStats`)."""

    positions: int = 0
    skipped: int = 0
    units: str = ""  # the engine whose centipawn rule converted the scores
    reasons: dict[str, int] = field(default_factory=dict)
    games: GameStats = field(default_factory=GameStats)

    def skip(self, why: str) -> None:
        self.skipped += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1


def _result_for(result: str, turn: chess.Color) -> int:
    """Game result from the side to move: 1 win, 0 draw/unknown, -1 loss."""
    white = {"1-0": 1, "0-1": -1}.get(result.strip(), 0)
    return white if turn == chess.WHITE else -white


def parse_line(line: str) -> tuple[chess.Board, int] | None:
    """``(board, result_stm)`` of a text line (FEN, EPD, or ``fen | score | result``); None if empty/comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    parts = [p.strip() for p in text.split("|")]
    fields = parts[0].split()
    fen = " ".join(fields[:6]) if len(fields) >= 6 and fields[4].isdigit() else " ".join(fields[:4]) + " 0 1"
    board = chess.Board(fen)  # ValueError on a bad FEN
    result = 0
    if len(parts) >= 3:
        result = int(float(parts[2]))
        if result not in (-1, 0, 1):
            raise ValueError(f"result {parts[2]!r} not in -1, 0, 1")
    return board, result


def iter_positions(path: str | os.PathLike[str], stats: LabelStats) -> Iterator[tuple[chess.Board, int]]:
    """Positions and side-to-move results of a PGN or text file."""
    p = Path(path)
    if p.suffix.lower() == ".pgn":
        for game in read_games(p, stats.games):
            for board, _ in game.replay():
                yield board.copy(), _result_for(game.result, board.turn)
        return
    with open_user_file(p) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                parsed = parse_line(line)
            except ValueError:
                stats.skip("illegal or unreadable FEN")
                continue
            if parsed is not None:
                yield parsed


def engine_score(score: chess.engine.PovScore, board: chess.Board, units: EngineUnits) -> int:
    """UCI score -> the engine's internal units from the side to move, clamped to int16 range."""
    s = score.pov(board.turn)
    if s.is_mate():
        m = s.mate()
        return VALUE_MATE - abs(2 * m) if m > 0 else -(VALUE_MATE - abs(2 * m))
    return max(-MAX_SCORE, min(MAX_SCORE, units.from_cp(s.score(), board)))


def search_limit(depth: int | None = None, nodes: int | None = None, movetime: float | None = None) -> chess.engine.Limit:
    """The engine's search limit per position (``movetime`` in seconds); depth 8 when nothing is given."""
    if depth is None and nodes is None and movetime is None:
        depth = 8
    return chess.engine.Limit(depth=depth, nodes=nodes, time=movetime)


def label(
    inputs: list[str], out: str | os.PathLike[str], engine_path: str, depth: int | None = None,
    limit: int | None = None, *, nodes: int | None = None, movetime: float | None = None,
    options: dict[str, int] | None = None, cp_scale: float | None = None, jobs: int = 1,
    report: Callable[[LabelStats], None] | None = None,
) -> LabelStats:
    """Score every position of ``inputs`` with the engine (``depth`` / ``nodes`` / ``movetime`` seconds per
    position, UCI ``options`` such as Threads and Hash; ``jobs`` engine processes in parallel) and write ``out``
    (.bin) in the engine's own units, in input order. ``report(stats)`` is called after each position."""
    if Path(out).suffix.lower() != ".bin":
        raise FormatError(out, "label writes Stockfish .bin records; name the output *.bin (then `boardnet nnue "
                          "data OUT.bin OTHER` converts it)")
    if jobs < 1:
        raise ConfigError("--jobs", f"must be at least 1 (got {jobs})")
    stats = LabelStats()
    records: list[tuple[chess.Board, int, chess.Move, int, int]] = []
    search = search_limit(depth, nodes, movetime)
    with ExitStack() as stack:
        engines = [stack.enter_context(start_engine(engine_path)) for _ in range(jobs)]
        units = units_for_engine(engines[0].id.get("name", engine_path), cp_scale)
        stats.units = units.name
        for engine in engines:
            if options:
                engine.configure(options)

        def wanted(in_flight: int) -> bool:  # never searches a position one engine alone would not reach
            return limit is None or len(records) + in_flight < limit

        for board, result, info in analysed(engines, searchable(inputs, stats), search, wanted):
            move = info.get("pv", [None])[0]
            if move is None or "score" not in info:
                stats.skip("engine gave no move")
            else:
                ply = 2 * (board.fullmove_number - 1) + (board.turn == chess.BLACK)
                records.append((board, engine_score(info["score"], board, units), move, ply, result))
                stats.positions = len(records)
            if report is not None:
                report(stats)
            if limit is not None and len(records) >= limit:
                break
    stats.positions = write_bin(out, records)
    return stats


def start_engine(engine_path: str) -> chess.engine.SimpleEngine:
    """The UCI engine at ``engine_path``, started; one error naming it if it does not start or speak UCI."""
    try:
        return chess.engine.SimpleEngine.popen_uci(engine_path)
    except OSError as err:
        raise BoardnetError(f"engine {engine_path}: cannot start it ({err.strerror or err})") from None
    except chess.engine.EngineError as err:
        raise BoardnetError(f"engine {engine_path}: not a UCI engine ({err})") from None


def searchable(inputs: list[str], stats: LabelStats) -> Iterator[tuple[chess.Board, int]]:
    """The positions of ``inputs`` an engine can search (legal, not over) with their results; the others are
    skipped and counted in ``stats``."""
    for path in inputs:
        for board, result in iter_positions(path, stats):
            if not board.is_valid() or board.king(chess.WHITE) is None or board.king(chess.BLACK) is None:
                stats.skip("illegal position")
            elif board.is_game_over():
                stats.skip("game over (no move)")
            else:
                yield board, result


def analysed(
    engines: list[chess.engine.SimpleEngine], positions: Iterable[tuple[chess.Board, int]],
    search: chess.engine.Limit, wanted: Callable[[int], bool] = lambda _: True,
) -> Iterator[tuple[chess.Board, int, chess.engine.InfoDict]]:
    """``(board, result, engine info)`` of each position, in input order, with up to one search in flight per
    engine, each from a fresh engine state (``ucinewgame``). A next position is taken only while
    ``wanted(searches in flight)``."""
    free: queue.SimpleQueue[chess.engine.SimpleEngine] = queue.SimpleQueue()
    for engine in engines:
        free.put(engine)

    def search_one(board: chess.Board) -> chess.engine.InfoDict:
        engine = free.get()
        try:
            return engine.analyse(board, search, game=object())  # a new game: ucinewgame first
        finally:
            free.put(engine)

    pending: deque[tuple[chess.Board, int, Future[chess.engine.InfoDict]]] = deque()
    todo = iter(positions)
    with ThreadPoolExecutor(len(engines), thread_name_prefix="label") as pool:
        while True:
            while len(pending) < len(engines) and wanted(len(pending)):
                item = next(todo, None)
                if item is None:
                    break
                pending.append((*item, pool.submit(search_one, item[0])))
            if not pending:
                return
            board, result, future = pending.popleft()
            yield board, result, future.result()
