"""Chess matches for ``boardnet arena``: lc0 nets on boardnet's own search and any UCI engine, in
colour-alternated pairs from an opening set, W/D/L, Elo with a 95% interval and the SPRT (core/match.py).

Players on the command line:

- an lc0 net file (``.pb.gz``, ``.pt``, ``.safetensors``, an lc0 ``.onnx`` export): :class:`NetPlayer`, lc0's
  PUCT search (lc0/search.py) at ``--playouts`` nodes a move;
- ``uci:CMD[:LIMIT]``: :class:`UciPlayer`, a UCI engine through python-chess (``CMD`` split like a shell
  line, so ``uci:python -m boardnet uci net.pb.gz`` works); ``LIMIT`` is ``nodes=N``, ``depth=N``,
  ``movetime=MS`` or a bare ``MS`` as ``pbrain:CMD[:ms]`` takes it (default ``movetime=1000``).

A game is adjudicated by python-chess's rules alone (checkmate, stalemate, insufficient material, the 75-move
rule, fivefold repetition: the automatic ends, no claims) plus a cap: a game still going after ``max_plies``
plies is a draw. A player's illegal move, crash or silence is an :class:`ArenaError` naming the player.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import chess
import chess.engine
import chess.pgn
import numpy as np

from boardnet.core.elo import Sprt
from boardnet.core.errors import BoardnetError, ConfigError, FormatError
from boardnet.core.match import MatchReport, check_match_options, match_progress, parse_sprt, play_pairs
from boardnet.lc0.evaluator import LC0_FAMILIES

DEFAULT_MOVETIME_MS = 1000
DEFAULT_MAX_PLIES = 400
START_TIMEOUT_S = 180.0  # a UCI engine's handshake (boardnet's own needs to import torch on a busy machine)
MAX_OPENINGS_BYTES = 64 << 20
NET_SUFFIXES = (".pb.gz", ".pb", ".onnx")  # files only lc0 nets come in (others are read to see the family)


class ArenaError(BoardnetError):
    """A chess player failed: did not start, crashed, answered too late or played an illegal move."""


class ChessPlayer(Protocol):
    """Picks a move in a position (``board`` with its move stack, game not over)."""

    name: str

    def new_game(self) -> None: ...

    def move(self, board: chess.Board) -> chess.Move: ...

    def close(self) -> None: ...


# --- players ---------------------------------------------------------------------------------------------

class NetPlayer:
    """An lc0 net searched by boardnet (lc0/search.py) for ``nodes`` root visits a move, the most visited move
    played (temperature 0: the same position gives the same move)."""

    def __init__(self, path: str, nodes: int, backend: str | None = None, name: str | None = None) -> None:
        from boardnet.lc0.evaluator import Evaluator

        self.name, self.nodes = name or path, nodes
        self.evaluate = Evaluator(path, backend).prepare()

    def new_game(self) -> None:
        """Nothing carries over between moves (each search starts from a fresh tree)."""

    def move(self, board: chess.Board) -> chess.Move:
        from boardnet.lc0.search import Limits, Search

        move = Search(board, self.evaluate).run(Limits(nodes=self.nodes))
        if move is None:
            raise ArenaError(f"{self.name}: no move in {board.fen()}")
        return move

    def close(self) -> None:
        """Nothing to release."""


def parse_uci_spec(spec: str) -> tuple[list[str], chess.engine.Limit]:
    """``uci:CMD[:LIMIT]`` -> ``(command argv, limit)``; ConfigError naming the spec when it is malformed."""
    body = spec.removeprefix("uci:")
    head, _, tail = body.rpartition(":")
    key, eq, value = tail.partition("=")
    if head and (tail.isdigit() or (eq and key in ("nodes", "depth", "movetime"))):
        cmd, key, value = head, ("movetime" if tail.isdigit() else key), (tail if tail.isdigit() else value)
    else:
        cmd, key, value = body, "movetime", str(DEFAULT_MOVETIME_MS)
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(spec, f"expected {key}=N with N > 0 (uci:CMD[:nodes=N|depth=N|movetime=MS])")
    try:
        argv = shlex.split(cmd)
    except ValueError as e:
        raise ConfigError(spec, f"cannot split the command: {e}") from None
    if not argv:
        raise ConfigError(spec, "expected uci:CMD[:nodes=N|depth=N|movetime=MS] with a command")
    n = int(value)
    limit = {"nodes": chess.engine.Limit(nodes=n), "depth": chess.engine.Limit(depth=n),
             "movetime": chess.engine.Limit(time=n / 1000.0)}[key]
    return argv, limit


class UciPlayer:
    """A UCI engine process (python-chess's client) playing at ``limit``; ``ucinewgame`` before each game."""

    def __init__(self, command: list[str], limit: chess.engine.Limit, name: str) -> None:
        self.name, self.limit = name, limit
        self._game = object()
        try:
            self.engine = chess.engine.SimpleEngine.popen_uci(command, timeout=START_TIMEOUT_S,
                                                              stderr=subprocess.DEVNULL)
        except (OSError, chess.engine.EngineError, chess.engine.EngineTerminatedError, TimeoutError) as e:
            raise ArenaError(f"{name}: cannot start {command[0]}: {e}") from None

    def new_game(self) -> None:
        self._game = object()  # a new game key: python-chess sends ucinewgame

    def move(self, board: chess.Board) -> chess.Move:
        try:
            result = self.engine.play(board, self.limit, game=self._game)
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, TimeoutError) as e:
            raise ArenaError(f"{self.name}: failed in {board.fen()}: {e or type(e).__name__}") from None
        if result.move is None or result.move not in board.legal_moves:
            raise ArenaError(f"{self.name}: no legal move ({result.move}) in {board.fen()}")
        return result.move

    def close(self) -> None:
        """``quit``; a process that does not leave is killed (python-chess's close)."""
        try:
            self.engine.quit()
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, TimeoutError):
            self.engine.close()


def make_player(spec: str, nodes: int, backend: str | None = None) -> ChessPlayer:
    """A player from its command-line spec: ``uci:CMD[:LIMIT]`` or an lc0 net file (``nodes`` a move)."""
    if spec.startswith("uci:"):
        command, limit = parse_uci_spec(spec)
        return UciPlayer(command, limit, spec)
    if not claims(spec):
        raise ConfigError(spec, "not a chess player: expected an lc0 net file or uci:CMD[:nodes=N|depth=N|"
                          "movetime=MS]")
    return NetPlayer(spec, nodes, backend, spec)


def claims(spec: str) -> bool:
    """Whether a player spec is a chess player: ``uci:...`` or an lc0 net file (by suffix, else by the family
    its file holds; an unreadable file is left to the other arenas to report)."""
    if spec.startswith("uci:"):
        return True
    if spec.startswith(("pure:", "pbrain:")) or spec == "pure":
        return False
    if spec.endswith(NET_SUFFIXES):
        return True
    from boardnet.core.convert import read_net

    try:
        return read_net(spec).spec.family in LC0_FAMILIES
    except BoardnetError:
        return False


# --- openings --------------------------------------------------------------------------------------------

def read_openings(path: str | Path) -> list[chess.Board]:
    """Start positions from a text file, one a line: a FEN, or an EPD line (4 fields, then operations such as
    ``bm e4; id "x";``); blank lines and ``#`` comments skipped. A line that is not a legal position, or one
    whose game is already over, is a FormatError naming the file and line."""
    from boardnet.core.io import read_user_text

    boards = []
    for lineno, line in enumerate(read_user_text(path, MAX_OPENINGS_BYTES).splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = text.split()
        try:
            if len(fields) == 6 and fields[4].isdigit() and fields[5].isdigit():
                board = chess.Board(text)
            else:
                board, _ = chess.Board.from_epd(text)
        except ValueError as e:
            raise FormatError(path, f"line {lineno}: not a FEN or EPD position ({e})") from None
        if not board.is_valid():
            raise FormatError(path, f"line {lineno}: not a legal position ({board.status()!r})")
        if board.is_game_over():
            raise FormatError(path, f"line {lineno}: the game is already over in {board.fen()}")
        boards.append(board)
    if not boards:
        raise FormatError(path, "no positions in the file")
    return boards


def random_openings(n: int, plies: int, rng: np.random.Generator) -> list[chess.Board]:
    """``n`` positions after ``plies`` uniformly random legal moves from the start (any that ends the game is
    redrawn); the boards keep their moves, so the games' PGN shows the opening."""
    out: list[chess.Board] = []
    while len(out) < n:
        board = chess.Board()
        for _ in range(plies):
            moves = list(board.legal_moves)
            board.push(moves[int(rng.integers(len(moves)))])
            if board.is_game_over():
                break
        else:
            out.append(board)
    return out


# --- games and matches -----------------------------------------------------------------------------------

@dataclass
class GameRecord:
    """One finished game: the final board (its move stack from the opening), who played white, the result."""

    board: chess.Board
    white: str
    black: str
    winner: chess.Color | None  # None: a draw
    termination: str  # checkmate, stalemate, insufficient_material, seventyfive_moves, fivefold_repetition, max_plies

    @property
    def result(self) -> str:
        return "1/2-1/2" if self.winner is None else "1-0" if self.winner == chess.WHITE else "0-1"


def play_game(white: ChessPlayer, black: ChessPlayer, start: chess.Board, max_plies: int) -> GameRecord:
    """Play from ``start`` until python-chess's rules end the game or ``max_plies`` plies are played (a
    draw); every move is checked legal."""
    board = start.copy()
    for player in (white, black):
        player.new_game()
    for _ in range(max_plies):
        outcome = board.outcome(claim_draw=False)
        if outcome is not None:
            return GameRecord(board, white.name, black.name, outcome.winner, outcome.termination.name.lower())
        player = white if board.turn == chess.WHITE else black
        move = player.move(board)
        if move not in board.legal_moves:
            raise ArenaError(f"{player.name}: illegal move {move} in {board.fen()}")
        board.push(move)
    outcome = board.outcome(claim_draw=False)
    if outcome is not None:
        return GameRecord(board, white.name, black.name, outcome.winner, outcome.termination.name.lower())
    return GameRecord(board, white.name, black.name, None, "max_plies")


def run_match(a: ChessPlayer, b: ChessPlayer, games: int, openings: list[chess.Board], sprt: Sprt | None = None,
              max_plies: int = DEFAULT_MAX_PLIES, on_game: Callable[[int, int], None] | None = None
              ) -> tuple[MatchReport, list[GameRecord]]:
    """Up to ``games`` games of A vs B in colour-alternated pairs: pair ``k`` starts twice from opening
    ``k % len(openings)``, A the side to move in the first game, B in the second. With ``sprt`` the match
    stops after the pair in which the test decides. ``on_game(games finished, winner)`` (1 = A, 2 = B, 0 =
    draw) follows the games. Returns the report and every game."""
    records: list[GameRecord] = []

    def play_round(first: int, n: int) -> list[int]:
        winners = []
        for k in range(first, first + n):
            start = openings[k % len(openings)]
            for a_moves_first in (True, False):
                a_white = a_moves_first == (start.turn == chess.WHITE)
                white, black = (a, b) if a_white else (b, a)
                rec = play_game(white, black, start, max_plies)
                records.append(rec)
                winners.append(0 if rec.winner is None else 1 if (rec.winner == chess.WHITE) == a_white else 2)
                if on_game is not None:
                    on_game(len(records), winners[-1])
        return winners

    report = play_pairs(play_round, games, sprt, pairs_per_round=1)
    report.moves = sum(len(r.board.move_stack) for r in records)
    return report, records


def write_pgn(path: str, records: list[GameRecord]) -> None:
    """The games as PGN (headers White, Black, Result, Termination; a FEN header for a set-up start)."""
    from boardnet.core.io import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for i, rec in enumerate(records, 1):
                game = chess.pgn.Game.from_board(rec.board)
                game.headers.update(Event="boardnet arena", Round=str(i), White=rec.white, Black=rec.black,
                                    Result=rec.result, Termination=rec.termination)
                print(game, file=fh, end="\n\n")

    atomic_write(Path(path), write)


# --- the verb --------------------------------------------------------------------------------------------

class ChessArena:
    """``boardnet arena`` when a player is a chess player (:func:`claims`) or ``--game chess``."""

    claims = staticmethod(claims)

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        check_match_options(args.games, args.openings, args.random_openings)
        if args.playouts <= 0:
            raise ConfigError("--playouts", f"must be positive (got {args.playouts})")
        if args.size or args.n_in_row:
            raise ConfigError("--size/--n-in-row", "chess has no board size or line length")
        if args.pairs_per_round:
            raise ConfigError("--pairs-per-round", "chess games are played one at a time")
        max_plies = DEFAULT_MAX_PLIES if args.max_plies is None else args.max_plies
        if max_plies <= 0:
            raise ConfigError("--max-plies", f"must be positive (got {max_plies})")
        sprt = parse_sprt(args.sprt) if args.sprt else None
        rng = np.random.default_rng(args.seed)
        openings = (read_openings(args.openings) if args.openings else
                    random_openings(args.games // 2, args.random_openings, rng) if args.random_openings
                    else [chess.Board()])
        players: list[ChessPlayer] = []
        try:
            for spec in (args.a, args.b):
                players.append(make_player(spec, args.playouts))
            t0 = time.perf_counter()
            with match_progress(args.games, enabled=not args.no_progress) as on_game:
                report, records = run_match(players[0], players[1], args.games, openings, sprt, max_plies,
                                            on_game)
        finally:
            for p in players:
                p.close()
        print(f"chess: {len(records)} games, {report.moves} plies in {time.perf_counter() - t0:.1f} s, "
              f"openings: {len(openings)}")
        for line in report.lines(args.a, args.b):
            print(line)
        ends = Counter(r.termination for r in records)
        print("endings: " + ", ".join(f"{name} {n}" for name, n in sorted(ends.items())))
        if args.pgn:
            write_pgn(args.pgn, records)
            print(f"wrote {len(records)} games to {args.pgn}")
        return 0
