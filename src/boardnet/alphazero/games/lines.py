"""The k-in-a-row rule shared by Gomoku and Connect Four (does the stone just placed complete a line?) and their
text board.

Compiled (numba): it runs on every leaf of every search round. Cells are ``row * width + col``.
"""

from __future__ import annotations

from collections.abc import Collection

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


def line_cells(board: np.ndarray, cell: int, height: int, width: int, n_in_row: int) -> list[int]:
    """The cells of the longest run of same-coloured stones through ``cell`` along one direction, if it has at
    least ``n_in_row`` stones (the winning line the stone on ``cell`` completed), else ``[]``. For display: plain
    Python, called once a game."""
    owner = int(board[cell])
    best: list[int] = []
    if owner == 0:
        return best
    r0, c0 = divmod(cell, width)
    for dr, dc in DIRECTIONS:
        run = [cell]
        for sgn in (1, -1):
            r, c = r0 + sgn * dr, c0 + sgn * dc
            while 0 <= r < height and 0 <= c < width and board[r * width + c] == owner:
                run.append(r * width + c)
                r, c = r + sgn * dr, c + sgn * dc
        if len(run) >= n_in_row and len(run) > len(best):
            best = sorted(run)
    return best


def grid_rows(board: np.ndarray, height: int, width: int, mark: int = -1, line: Collection[int] = ()) -> list[str]:
    """Text rows of a ``height x width`` board (cells row-major, row 0 at the bottom), top row first, three
    characters a cell: the cell ``mark`` (the last move) in parentheses, the cells of ``line`` (a winning line)
    in brackets, ``[X]``."""
    rows = []
    for r in range(height - 1, -1, -1):
        cells = (STONES[int(board[r * width + c])] for c in range(width))
        rows.append("".join(f"[{ch}]" if r * width + c in line else f"({ch})" if r * width + c == mark
                            else f" {ch} " for c, ch in enumerate(cells)))
    return rows
