"""The k-in-a-row rule shared by Gomoku and Connect Four (does the stone just placed complete a line?) and their
text board.

Compiled (numba): it runs on every leaf of every search round. Cells are ``row * width + col``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The 4 line directions (d_row, d_col) a win can run along.
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))
_DIRS = np.array(DIRECTIONS, np.int64)


@njit(cache=True, nogil=True)
def completes_line(board: np.ndarray, cell: int, height: int, width: int, n_in_row: int) -> bool:
    """Whether the stone on ``cell`` lies on a line of ``n_in_row`` same-coloured stones.

    ``board int8 [>= height * width]`` (0 empty, 1/2 the players' stones; cells past ``height * width`` are ignored).
    """
    owner = board[cell]
    if owner == 0:
        return False
    r0, c0 = cell // width, cell % width
    for k in range(4):
        dr, dc = _DIRS[k, 0], _DIRS[k, 1]
        count = 1
        for sgn in (1, -1):
            r, c = r0 + sgn * dr, c0 + sgn * dc
            while 0 <= r < height and 0 <= c < width and board[r * width + c] == owner:
                count += 1
                r += sgn * dr
                c += sgn * dc
        if count >= n_in_row:
            return True
    return False


STONES = {0: ".", 1: "X", 2: "O"}  # X moves first


def grid_rows(board: np.ndarray, height: int, width: int, mark: int = -1) -> list[str]:
    """Text rows of a ``height x width`` board (cells row-major, row 0 at the bottom), top row first; the cell
    ``mark`` (the last move) is shown in parentheses."""
    rows = []
    for r in range(height - 1, -1, -1):
        cells = (STONES[int(board[r * width + c])] for c in range(width))
        rows.append("".join(f"({ch})" if r * width + c == mark else f" {ch} " for c, ch in enumerate(cells)))
    return rows
