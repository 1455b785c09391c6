"""Connect Four: 7 columns x 6 rows, stones drop to the lowest empty cell of a column, 4 in a line win.

State rows are ``int8 [42]``, cell ``row * 7 + col`` with row 0 the bottom; 0 empty, 1 the first mover's
stones (X), 2 the second's (O). Action = column ``0..6`` (legal while its top cell is empty); ``last`` is the
column last played. The side to move is 1 when the stone count is even. A full board without a line is a draw.

Net input ``float32 [3, 6, 7]`` (image row = board row): plane 0 the side to move's stones, 1 the opponent's,
2 all ones when the side to move is the first mover. The one symmetry is the left-right mirror (column c <->
6 - c), applied to the planes' last axis and to the policy over columns.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import numpy as np
from numba import njit

from boardnet.alphazero.game import Game
from boardnet.alphazero.games.lines import completes_line, grid_rows, line_cells
from boardnet.core.config import ComponentConfig

ROWS, COLUMNS, N_IN_ROW = 6, 7, 4


@njit(cache=True, nogil=True)
def _outcomes(boards: np.ndarray, last: np.ndarray, out: np.ndarray) -> None:
    """``out[i]``: -1 when the top stone of column ``last[i]`` completed a line, 0 on a full board, else NaN."""
    for i in range(boards.shape[0]):
        out[i] = np.nan
        col = last[i]
        if col >= 0:
            for r in range(ROWS - 1, -1, -1):  # the stone just dropped is the column's top one
                if boards[i, r * COLUMNS + col] != 0:
                    if completes_line(boards[i], r * COLUMNS + col, ROWS, COLUMNS, N_IN_ROW):
                        out[i] = -1.0
                    break
        if np.isnan(out[i]):
            full = True
            for c in range(COLUMNS):
                if boards[i, (ROWS - 1) * COLUMNS + c] == 0:
                    full = False
                    break
            if full:
                out[i] = 0.0


@njit(cache=True, nogil=True)
def _rollouts(boards: np.ndarray, uniform: np.ndarray, out: np.ndarray) -> None:
    """Random playouts from ``boards int8 [B, 42]`` (games not over): each ply drops a stone in a column drawn
    uniformly among the open ones (``uniform float64 [B, 42]`` in [0, 1)); ``out[i]`` +1 / -1 / 0 for the side
    to move at the start."""
    b = np.empty(ROWS * COLUMNS, np.int8)
    height = np.empty(COLUMNS, np.int64)
    open_cols = np.empty(COLUMNS, np.int64)
    for i in range(boards.shape[0]):
        b[:] = boards[i]
        count = 0
        for c in range(COLUMNS):
            height[c] = 0
            for r in range(ROWS):
                if b[r * COLUMNS + c] != 0:
                    height[c] = r + 1
                    count += 1
        starter = 1 if count % 2 == 0 else 2
        mover = starter
        out[i] = 0.0
        for ply in range(ROWS * COLUMNS - count):
            k = 0
            for c in range(COLUMNS):
                if height[c] < ROWS:
                    open_cols[k] = c
                    k += 1
            col = open_cols[int(uniform[i, ply] * k)]
            cell = height[col] * COLUMNS + col
            b[cell] = mover
            height[col] += 1
            if completes_line(b, cell, ROWS, COLUMNS, N_IN_ROW):
                out[i] = 1.0 if mover == starter else -1.0
                break
            mover = 3 - mover


class ConnectFour(Game):
    """Connect Four on the standard 7 x 6 board."""

    class Config(ComponentConfig):
        type: Literal["connect4"] = "connect4"

    height, width, action_size, planes, state_size = ROWS, COLUMNS, COLUMNS, 3, ROWS * COLUMNS
    move_help = "moves as a column number 1-7"

    @classmethod
    def from_config(cls, cfg: ConnectFour.Config) -> ConnectFour:
        return cls()

    def __repr__(self) -> str:
        return "ConnectFour(7x6)"

    # ------------------------------------------------------------------ rules
    def legal_actions(self, boards: np.ndarray) -> np.ndarray:
        """Columns whose top cell is empty: ``bool [B, 7]``."""
        return np.asarray(boards)[:, (ROWS - 1) * COLUMNS:] == 0

    def play(self, boards: np.ndarray, last: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = np.array(boards, np.int8)
        cols = np.array(actions, np.int64)
        stones = b.reshape(len(b), ROWS, COLUMNS) != 0
        rows = np.arange(len(b))
        height = stones[rows, :, cols].sum(axis=1)  # stones already in each chosen column
        b[rows, height * COLUMNS + cols] = np.where(stones.sum(axis=(1, 2)) % 2 == 0, 1, 2)
        return b, cols

    def outcome(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        out = np.empty(len(boards), np.float32)
        _outcomes(np.asarray(boards), np.asarray(last, np.int64), out)
        return out

    def encode(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """``boards int8 [B, 42]`` -> ``float32 [B, 3, 6, 7]`` (module docstring)."""
        b = np.asarray(boards).reshape(len(boards), ROWS, COLUMNS)
        first_to_move = (b != 0).sum(axis=(1, 2)) % 2 == 0
        mine = np.where(first_to_move, 1, 2)[:, None, None]
        out = np.empty((len(b), 3, ROWS, COLUMNS), np.float32)
        out[:, 0] = b == mine
        out[:, 1] = (b != 0) & (b != mine)
        out[:, 2] = first_to_move[:, None, None]
        return out

    def symmetries(self, planes: np.ndarray, pi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity and the left-right mirror."""
        mirror = np.ascontiguousarray(np.flip(planes, axis=-1)), np.ascontiguousarray(np.flip(pi, axis=-1))
        return [(planes, pi), mirror]

    def rollout_values(self, boards: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The protocol's random playouts as one compiled loop (same distribution as the generic default)."""
        out = np.empty(len(boards), np.float32)
        _rollouts(np.ascontiguousarray(boards, np.int8), rng.random((len(boards), ROWS * COLUMNS)), out)
        return out

    # ------------------------------------------------------------------ text
    def render(self, board: np.ndarray, last: int = -1, line: Collection[int] = ()) -> str:
        """Top row first, columns numbered 1-7 under the board (the numbers :meth:`parse_action` reads); the last
        stone dropped in (), a winning ``line`` in []."""
        lines = grid_rows(board, ROWS, COLUMNS, _top_cell(board, last), line)
        lines.append("".join(f" {c + 1} " for c in range(COLUMNS)))
        return "\n".join(lines)

    def winning_line(self, board: np.ndarray, last: int) -> list[int]:
        top = _top_cell(board, last)
        return line_cells(board, top, ROWS, COLUMNS, N_IN_ROW) if top >= 0 else []

    def action_name(self, action: int) -> str:
        return f"column {action + 1}"

    def parse_action(self, text: str, board: np.ndarray) -> int:
        """A column number 1-7 (``column 4`` also reads)."""
        t = text.strip().lower().removeprefix("column").strip()
        if not t.isdigit():
            raise ValueError(f"cannot read '{text.strip()}': type a column number 1-{COLUMNS}")
        col = int(t) - 1
        if not 0 <= col < COLUMNS:
            raise ValueError(f"'{text.strip()}' is off the board: columns are 1-{COLUMNS}")
        if board[(ROWS - 1) * COLUMNS + col] != 0:
            raise ValueError(f"column {col + 1} is full")
        return col


def _top_cell(board: np.ndarray, col: int) -> int:
    """The cell of the highest stone in column ``col`` of ``board int8 [42]`` (the stone dropped last there),
    -1 for an empty column or ``col < 0``."""
    if col < 0:
        return -1
    filled = np.nonzero(board[col::COLUMNS] != 0)[0]
    return int(filled[-1]) * COLUMNS + col if len(filled) else -1
