"""Chess games from PGN files, and the one rule for which games boardnet learns from.

Used by every PGN reader (``lc0 pgn2chunks``, lc0 PGN training data, ``nnue label``, ``lc0 eval --pgn``).
A game is **used** when all of these hold, else it is **skipped** and its reason counted in :class:`GameStats`:

- standard chess: no ``Variant`` header other than standard / from-position (Crazyhouse drops, atomic,
  Chess960 ... are skipped as ``variant <name>``);
- a legal start position (two kings, at most 32 pieces, side not to move not in check ...);
- every mainline move parses and is legal (python-chess's complaints are counted, never printed);
- no null move (``--``, python-chess ``0000``);
- no move after the game ended by the 75-move rule or a fivefold repetition;
- a result ``1-0``, ``0-1`` or ``1/2-1/2`` (``*`` = unfinished) and at least one move.

Reading is linear in the game length: moves are collected by a light visitor (no game tree), and repetitions
are counted in a table of position keys cleared at each irreversible move.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import chess
import chess.pgn

from boardnet.core.errors import FormatError
from boardnet.core.io import open_user_file

RESULTS = {"1-0": 1, "0-1": -1, "1/2-1/2": 0}  # white's score
GAME_OVER_RULES = "moves after the game ended (75-move rule or fivefold repetition)"


@dataclass
class PgnGame:
    """One game as read: ``start`` position (python-chess board, no history), mainline ``moves``, the
    ``Result`` header's ``result`` and ``why`` it is skipped (None: used)."""

    headers: dict[str, str]
    start: chess.Board | None
    moves: list[chess.Move]
    result: str
    why: str | None

    @property
    def white_score(self) -> int:
        """1 / 0 / -1: the result from white's side (only for a used game)."""
        return RESULTS[self.result]

    def replay(self) -> Iterator[tuple[chess.Board, chess.Move]]:
        """``(board, move)`` for each mainline move: one live board (with its move stack), before ``move``;
        it is pushed once the caller resumes."""
        board = self.start.copy() if self.start is not None else chess.Board()
        for move in self.moves:
            yield board, move
            board.push(move)

    def board(self) -> chess.Board:
        """The final position, with every move on its stack."""
        board = self.start.copy() if self.start is not None else chess.Board()
        for move in self.moves:
            board.push(move)
        return board


@dataclass
class GameStats:
    """Used and skipped games of the PGN files read so far, skipped ones by reason."""

    used: int = 0
    skipped: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def count(self, game: PgnGame) -> None:
        if game.why is None:
            self.used += 1
        else:
            self.skipped += 1
            self.reasons[game.why] = self.reasons.get(game.why, 0) + 1

    def summary(self) -> str:
        """``"12 games used; 3 skipped (null move: 1, unfinished (*): 2)"``."""
        why = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items()))
        return f"{self.used} games used; {self.skipped} skipped" + (f" ({why})" if why else "")


class _Collector(chess.pgn.BaseVisitor[PgnGame]):
    """Visitor that keeps headers, the start position and the mainline moves, checking the rules above."""

    def begin_game(self) -> None:
        self.headers: dict[str, str] = {}
        self.start: chess.Board | None = None
        self.moves: list[chess.Move] = []
        self.why: str | None = None
        self.seen: dict[Any, int] = {}
        self.result_token = "*"

    def visit_header(self, tagname: str, tagvalue: str) -> None:
        self.headers[tagname] = tagvalue

    def begin_variation(self) -> Any:
        return chess.pgn.SKIP  # side lines are not part of the game

    def visit_board(self, board: chess.Board) -> None:
        """Called with the start position, then after every move (the move already pushed)."""
        if self.start is None:
            self.start = board.copy(stack=False)
            if type(board) is not chess.Board or board.chess960:
                self._skip(f"variant {self.headers.get('Variant') or 'Chess960'}")
            elif board.status() != chess.STATUS_VALID:
                self._skip("illegal start position")
        if self.why is None:
            self._remember(board)

    def visit_move(self, board: chess.Board, move: chess.Move) -> None:
        if self.why is not None:
            return
        if not move:
            self._skip("null move")
        elif board.halfmove_clock >= 150 or self.seen.get(board._transposition_key(), 0) >= 5:
            self._skip(GAME_OVER_RULES)
        else:
            self.moves.append(move)

    def _remember(self, board: chess.Board) -> None:
        """Count ``board`` for repetitions; positions before an irreversible move can never come back."""
        if board.halfmove_clock == 0:
            self.seen.clear()
        key = board._transposition_key()
        self.seen[key] = self.seen.get(key, 0) + 1

    def visit_result(self, result: str) -> None:
        self.result_token = result

    def handle_error(self, error: Exception) -> None:
        if self.start is not None:
            self._skip("illegal or unreadable moves")
        elif "variant" in str(error):  # before the start position: an unknown Variant header, or a bad FEN
            self._skip(f"variant {self.headers.get('Variant', '?')}")
        else:
            self._skip("illegal start position")

    def _skip(self, why: str) -> None:
        if self.why is None:
            self.why = why

    def result(self) -> PgnGame:
        why = self.why
        result = self.headers.get("Result", self.result_token).strip()
        if why is None and self.start is None:
            why = "illegal or unreadable moves"
        if why is None and result not in RESULTS:
            why = f"unfinished (result {result or '*'})"
        if why is None and not self.moves:
            why = "no moves"
        return PgnGame(self.headers, self.start, self.moves, result, why)



def iter_games(path: str | os.PathLike[str]) -> Iterator[PgnGame]:
    """Every game of a PGN file, used or not (see :attr:`PgnGame.why`); FormatError for an unreadable file or
    one without a single game."""
    with open_user_file(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as fh:
        n = 0
        while True:
            try:
                game = chess.pgn.read_game(fh, Visitor=_Collector)
            except OSError as err:
                raise FormatError(path, f"read failed: {err.strerror or err}") from None
            if game is None:
                break
            n += 1
            yield game
    if n == 0:
        raise FormatError(path, "no games in this PGN file" + (" (empty file)" if os.path.getsize(path) == 0 else ""))


def read_games(path: str | os.PathLike[str], stats: GameStats) -> Iterator[PgnGame]:
    """The used games of a PGN file; skipped ones are counted in ``stats``."""
    for game in iter_games(path):
        stats.count(game)
        if game.why is None:
            yield game
