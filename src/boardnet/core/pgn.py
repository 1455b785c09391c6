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

Reading is linear in the game length: python-chess splits the movetext (headers, comments, side lines) and
checks the start position; the mainline is played by the compiled :mod:`boardnet.core.chess_moves`, which
resolves SAN as python-chess's ``parse_san`` does and counts repetitions since the last irreversible move.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import chess
import chess.pgn
import numpy as np

from boardnet.core.chess_moves import (
    CASTLE_LONG,
    CASTLE_SHORT,
    GAME_OVER,
    ILLEGAL,
    INVALID,
    NULL,
    NULL_MOVE,
    SAN,
    SQUARES,
    play_game,
)
from boardnet.core.errors import FormatError
from boardnet.core.io import open_user_file

RESULTS = {"1-0": 1, "0-1": -1, "1/2-1/2": 0}  # white's score
GAME_OVER_RULES = "moves after the game ended (75-move rule or fivefold repetition)"


@dataclass
class Plies:
    """A game's mainline as :mod:`boardnet.core.chess_moves` plays it: ``pos [n+1, 9]`` uint64 bitboards and
    ``state [n+1, 3]`` int64 (colour to move, ep square or -1, halfmove clock) of every position, start first;
    ``legal`` packed moves, those of position ``i`` at ``legal_start[i]:legal_start[i+1]``; ``played [n]`` the
    packed moves played."""

    pos: np.ndarray
    state: np.ndarray
    legal: np.ndarray
    legal_start: np.ndarray
    played: np.ndarray


@dataclass
class PgnGame:
    """One game as read: ``start`` position (python-chess board, no history), its mainline as ``plies`` (the
    moves up to the first refused one; None when the game was refused before its moves), the ``Result`` header's
    ``result`` and ``why`` it is skipped (None: used)."""

    headers: dict[str, str]
    start: chess.Board | None
    plies: Plies | None
    result: str
    why: str | None

    @property
    def moves(self) -> list[chess.Move]:
        """The mainline moves (python-chess), up to the first refused one."""
        if self.plies is None:
            return []
        return [chess.Move(m & 63, (m >> 6) & 63, (m >> 12) & 7 or None) for m in self.plies.played.tolist()]

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


CASTLING_TOKENS = {"O-O": CASTLE_SHORT, "O-O+": CASTLE_SHORT, "O-O#": CASTLE_SHORT, "0-0": CASTLE_SHORT,
                   "0-0+": CASTLE_SHORT, "0-0#": CASTLE_SHORT, "O-O-O": CASTLE_LONG, "O-O-O+": CASTLE_LONG,
                   "O-O-O#": CASTLE_LONG, "0-0-0": CASTLE_LONG, "0-0-0+": CASTLE_LONG, "0-0-0#": CASTLE_LONG}
NULL_TOKENS = ("--", "Z0", "0000", "@@@@")  # python-chess reads these as a null move
WHY = {ILLEGAL: "illegal or unreadable moves", NULL_MOVE: "null move", GAME_OVER: GAME_OVER_RULES}


@lru_cache(maxsize=1 << 16)
def san_descriptor(token: str) -> tuple[int, int, int, int, int, int]:
    """A movetext token as :func:`boardnet.core.chess_moves.play_game` resolves it, split the way python-chess's
    ``Board.parse_san`` reads it: ``(kind, piece row or -1, from file or -1, from rank or -1, to square,
    promotion piece type or 0)``; ``kind`` SAN, SQUARES (file and rank, no piece: python-chess's fully specified
    move), CASTLE_SHORT / CASTLE_LONG, NULL or INVALID (a drop, anything ``SAN_REGEX`` refuses)."""
    if token in CASTLING_TOKENS:
        return CASTLING_TOKENS[token], -1, -1, -1, 0, 0
    match = chess.SAN_REGEX.match(token)
    if not match:
        return (NULL if token in NULL_TOKENS else INVALID), -1, -1, -1, 0, 0
    piece, file, rank, to, promo = match.groups()
    return (SQUARES if not piece and file and rank else SAN,
            chess.PIECE_SYMBOLS.index(piece.lower()) - 1 if piece else -1,
            chess.FILE_NAMES.index(file) if file else -1,
            int(rank) - 1 if rank else -1,
            chess.SQUARE_NAMES.index(to),
            chess.PIECE_SYMBOLS.index(promo[-1].lower()) if promo else 0)


def play(start: chess.Board, tokens: list[str]) -> tuple[str | None, Plies]:
    """Play mainline SAN ``tokens`` from ``start`` (standard chess, a valid position): the first refusal (or
    None) and the plies played before it."""
    sans = np.array([san_descriptor(t) for t in tokens], np.int64).reshape(len(tokens), 6)
    row = np.array([start.pawns, start.knights, start.bishops, start.rooks, start.queens, start.kings,
                    start.occupied_co[chess.WHITE], start.occupied_co[chess.BLACK], start.castling_rights], np.uint64)
    state = np.array([0 if start.turn else 1, -1 if start.ep_square is None else start.ep_square,
                      start.halfmove_clock], np.int64)
    why, n, pos, states, legal, legal_start = play_game(row, state, sans)
    plies = Plies(pos, states, legal[: legal_start[n + 1]], legal_start, legal[legal_start[n + 1]:])
    return WHY.get(why), plies


class _Collector(chess.pgn.BaseVisitor[PgnGame]):
    """Visitor that keeps headers, the start position and the mainline move tokens, checking the start; the
    moves are played afterwards, all at once, by :func:`play` (python-chess only splits the movetext)."""

    def begin_game(self) -> None:
        self.headers: dict[str, str] = {}
        self.start: chess.Board | None = None
        self.tokens: list[str] = []
        self.why: str | None = None
        self.result_token = "*"

    def visit_header(self, tagname: str, tagvalue: str) -> None:
        self.headers[tagname] = tagvalue

    def begin_variation(self) -> Any:
        return chess.pgn.SKIP  # side lines are not part of the game

    def visit_board(self, board: chess.Board) -> None:
        """Called with the start position, then after every move token."""
        if self.start is None:
            self.start = board.copy(stack=False)
            if type(board) is not chess.Board or board.chess960:
                self._skip(f"variant {self.headers.get('Variant') or 'Chess960'}")
            elif board.status() != chess.STATUS_VALID:
                self._skip("illegal start position")

    def begin_parse_san(self, board: chess.Board, san: str) -> Any:
        """Keep the token unparsed. python-chess opens a side line at "(" only once its board has a move, so
        the first token pushes a null move onto the reader's board (never the game's: that is ``start``)."""
        if not self.tokens:
            board.push(chess.Move.null())
        self.tokens.append(san)
        return chess.pgn.SKIP

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
        why, plies = self.why, None
        if why is None and self.start is not None:
            why, plies = play(self.start, self.tokens)
        result = self.headers.get("Result", self.result_token).strip()
        if why is None and self.start is None:
            why = "illegal or unreadable moves"
        if why is None and result not in RESULTS:
            why = f"unfinished (result {result or '*'})"
        if why is None and not len(plies.played):
            why = "no moves"
        return PgnGame(self.headers, self.start, plies, result, why)


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
