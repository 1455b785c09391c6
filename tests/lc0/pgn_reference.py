"""The python-chess reference path of ``lc0 pgn2chunks`` (boardnet before issue 15's fast reader), kept as the
test oracle and the bench baseline: python-chess's PGN reader parses and plays every move (``parse_san``,
``push``), the acceptance rule is checked on its boards, and each record is built from one board with its move
stack (``planes.encode``, ``planes.policy_index`` over ``board.legal_moves``). Not used by boardnet itself."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chess
import chess.pgn
import numpy as np

from boardnet.core.pgn import GAME_OVER_RULES, RESULTS
from boardnet.lc0.chunks import BIT_PLANES, CLASSICAL_INPUT, V6_DTYPE, V6_VERSION, pack_bit_planes
from boardnet.lc0.planes import encode, policy_index
from boardnet.lc0.policy_map import POLICY_SIZE


@dataclass
class RefGame:
    """One game as python-chess reads it: mainline ``moves`` as python-chess plays them."""

    headers: dict[str, str]
    start: chess.Board | None
    moves: list[chess.Move]
    result: str
    why: str | None

    def replay(self) -> Iterator[tuple[chess.Board, chess.Move]]:
        board = self.start.copy() if self.start is not None else chess.Board()
        for move in self.moves:
            yield board, move
            board.push(move)


class Collector(chess.pgn.BaseVisitor[RefGame]):
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

    def result(self) -> RefGame:
        why = self.why
        result = self.headers.get("Result", self.result_token).strip()
        if why is None and self.start is None:
            why = "illegal or unreadable moves"
        if why is None and result not in RESULTS:
            why = f"unfinished (result {result or '*'})"
        if why is None and not self.moves:
            why = "no moves"
        return RefGame(self.headers, self.start, self.moves, result, why)



def iter_games(path: str | Path) -> Iterator[RefGame]:
    """Every game of a PGN file, used or not."""
    with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as fh:
        while (game := chess.pgn.read_game(fh, Visitor=Collector)) is not None:
            yield game


def make_record(board: Any, played: Any, result_q: float, result_d: float, plies_left: int) -> np.ndarray:
    """One V6 record for ``board`` (python-chess, with its move stack) before ``played`` was made.

    The policy target is the played move as one-hot (other legal moves 0, illegal −1); without a search,
    root/best/played q, d are the game result and m the plies left.
    """
    rec = np.zeros((), V6_DTYPE)
    rec["version"], rec["input_format"] = V6_VERSION, CLASSICAL_INPUT
    probs = np.full(POLICY_SIZE, -1.0, np.float32)
    for move in board.legal_moves:
        probs[policy_index(board, move)] = 0.0
    idx = policy_index(board, played)
    probs[idx] = 1.0
    rec["probabilities"] = probs
    planes = encode(board)
    rec["planes"] = pack_bit_planes(planes[:BIT_PLANES])
    for i, name in enumerate(("castling_us_ooo", "castling_us_oo", "castling_them_ooo", "castling_them_oo",
                              "side_to_move_or_enpassant")):
        rec[name] = int(planes[BIT_PLANES + i, 0, 0])
    rec["rule50_count"] = min(board.halfmove_clock, 255)
    for prefix in ("root", "best", "played"):
        rec[f"{prefix}_q"], rec[f"{prefix}_d"] = result_q, result_d
    for name in ("root_m", "best_m", "played_m", "plies_left"):
        rec[name] = plies_left
    rec["result_q"], rec["result_d"] = result_q, result_d
    rec["orig_q"] = rec["orig_d"] = rec["orig_m"] = np.nan  # §12: NaN if unknown
    rec["played_idx"] = rec["best_idx"] = idx
    return rec


def game_records(game: RefGame) -> np.ndarray:
    """V6 records of every position of a used game, one python-chess board at a time."""
    white = float(RESULTS[game.result])
    records = np.zeros(len(game.moves), V6_DTYPE)
    for ply, (board, move) in enumerate(game.replay()):
        q = white if board.turn else -white  # result from the side to move
        records[ply] = make_record(board, move, q, 1.0 if white == 0 else 0.0, len(game.moves) - ply)
    return records
