"""Gomoku (m,n,k-game): any square size, ``n_in_row`` stones in a line win; AlphaZero_Gomoku's encoding.

Boards are ``int8 [A]`` with ``A = size * size``, move index ``m = row * size + col`` (row 0 = the bottom row as
AZG prints it); 0 empty, 1 the first mover's stones, 2 the second's. The side to move is 1 when the stone count
is even. The hot paths of search (does the last stone complete a line, the net's input planes) are compiled
(numba) loops; ``winner`` of a whole board uses a precomputed table of all ``n_in_row`` windows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from boardnet.alphazero.game import Game
from boardnet.core.config import ComponentConfig

# The 4 line directions (d_row, d_col) a win can run along.
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))
_DIRS = np.array(DIRECTIONS, np.int64)


@njit(cache=True, nogil=True)
def completes_line(board: np.ndarray, move: int, size: int, n_in_row: int) -> bool:
    """Whether the stone on ``move`` lies on a line of ``n_in_row`` same-coloured stones (``board int8 [A(+1)]``)."""
    owner = board[move]
    if owner == 0:
        return False
    r0, c0 = move // size, move % size
    for k in range(4):
        dr, dc = _DIRS[k, 0], _DIRS[k, 1]
        count = 1
        for sgn in (1, -1):
            r, c = r0 + sgn * dr, c0 + sgn * dc
            while 0 <= r < size and 0 <= c < size and board[r * size + c] == owner:
                count += 1
                r += sgn * dr
                c += sgn * dc
        if count >= n_in_row:
            return True
    return False


@njit(cache=True, nogil=True)
def _wins(boards: np.ndarray, moves: np.ndarray, size: int, n_in_row: int, out: np.ndarray) -> None:
    for i in range(boards.shape[0]):
        out[i] = completes_line(boards[i], moves[i], size, n_in_row)


@njit(cache=True, nogil=True)
def _encode(boards: np.ndarray, last: np.ndarray, size: int, out: np.ndarray) -> None:
    """AZG planes into the zeroed ``out float32 [B, 4, size, size]`` (rows flipped)."""
    a = size * size
    for i in range(boards.shape[0]):
        count = 0
        for m in range(a):
            if boards[i, m] != 0:
                count += 1
        to_move = 1 if count % 2 == 0 else 2
        for m in range(a):
            v = boards[i, m]
            if v != 0:
                out[i, 0 if v == to_move else 1, size - 1 - m // size, m % size] = 1.0
        if last[i] >= 0:
            out[i, 2, size - 1 - last[i] // size, last[i] % size] = 1.0
        if count % 2 == 0:
            out[i, 3] = 1.0


class Gomoku(Game):
    """Gomoku on a ``size x size`` board. ``windows int [nW, n]``: every line of ``n_in_row`` cells.
    Boards may carry one extra always-empty sentinel cell ``A`` (``empty_boards``)."""

    class Config(ComponentConfig):
        type: Literal["gomoku"] = "gomoku"
        size: int = Field(8, ge=3, le=32, description="board side in points")
        n_in_row: int = Field(5, ge=2, description="stones in a line that win")

        @model_validator(mode="after")
        def _fits(self) -> Gomoku.Config:
            if self.n_in_row > self.size:
                # The YAML key path is prefixed by the caller (ConfigError(game.n_in_row, ...)).
                raise ValueError(f"n_in_row: {self.n_in_row} stones cannot fit on a {self.size}x{self.size} board")
            return self

    def __init__(self, size: int = 8, n_in_row: int = 5) -> None:
        if n_in_row > size or size < 2 or n_in_row < 2:
            raise ValueError(f"bad gomoku geometry: size {size}, n_in_row {n_in_row}")
        self.size = self.height = self.width = size
        self.n_in_row = n_in_row
        self.windows = _windows(size, n_in_row)

    @classmethod
    def from_config(cls, cfg: Gomoku.Config) -> Gomoku:
        return cls(cfg.size, cfg.n_in_row)

    def __repr__(self) -> str:
        return f"Gomoku(size={self.size}, n_in_row={self.n_in_row})"

    # ------------------------------------------------------------------ positions
    def empty_boards(self, n: int) -> np.ndarray:
        """``n`` empty boards, ``int8 [n, A + 1]`` (the extra cell is the always-empty sentinel)."""
        return np.zeros((n, self.action_size + 1), np.int8)

    def wins(self, boards: np.ndarray, moves: np.ndarray) -> np.ndarray:
        """Whether the stone just placed at ``moves [B]`` completes a line. ``boards int8 [B, A+1]`` -> ``bool [B]``."""
        out = np.empty(len(boards), bool)
        _wins(np.asarray(boards), np.asarray(moves, np.int64), self.size, self.n_in_row, out)
        return out

    def winner(self, board: np.ndarray) -> int:
        """Owner (1/2) of a completed line on one board ``[A]`` or ``[A+1]``, 0 if none."""
        cells = board[self.windows]
        full = (cells == cells[:, :1]).all(axis=1) & (cells[:, 0] != 0)
        return int(cells[np.argmax(full), 0]) if full.any() else 0

    # ------------------------------------------------------------------ encoding (spec alphazero.md §2)
    def encode(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """AZG's ``Board.current_state()`` for a batch.

        ``boards int8 [B, A(+1)]``, ``last int [B]`` (last move, -1 on the empty board) -> ``float32 [B,4,H,W]``:
        plane 0 stones of the side to move, 1 the opponent's, 2 one-hot last move, 3 all ones when the side to
        move is the first mover (even stone count). Rows are flipped (board row r lands at ``H-1-r``), as AZG does.
        """
        out = np.zeros((len(boards), 4, self.size, self.size), np.float32)
        _encode(np.asarray(boards), np.asarray(last, np.int64), self.size, out)
        return out


# ---------------------------------------------------------------------- symmetries
def symmetries(planes: np.ndarray, pi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 8 dihedral images of ``planes [..., C, H, W]`` (encoded, row-flipped) and ``pi [..., H*W]``.

    Each transform T (rot90 by k, optionally then fliplr) is applied to the planes as stored and to the policy
    in the same (row-flipped) image space: ``pi' = flipud(T(flipud(pi as H x W)))`` — AZG's augmentation.
    Identity first.
    """
    h, w = planes.shape[-2:]
    img = np.flip(pi.reshape(*pi.shape[:-1], h, w), axis=-2)
    out = []
    for flip in (False, True):
        for k in range(4):
            p, q = np.rot90(planes, k, axes=(-2, -1)), np.rot90(img, k, axes=(-2, -1))
            if flip:
                p, q = np.flip(p, axis=-1), np.flip(q, axis=-1)
            q = np.flip(q, axis=-2).reshape(*pi.shape[:-1], h * w)
            out.append((np.ascontiguousarray(p), np.ascontiguousarray(q)))
    return out


def _windows(size: int, n: int) -> np.ndarray:
    """All lines of ``n`` cells, ``int32 [nW, n]`` of move indices."""
    out = []
    for r in range(size):
        for c in range(size):
            for dr, dc in DIRECTIONS:
                er, ec = r + dr * (n - 1), c + dc * (n - 1)
                if 0 <= er < size and 0 <= ec < size:
                    out.append([(r + dr * i) * size + c + dc * i for i in range(n)])
    return np.asarray(out, np.int32).reshape(-1, n)
