"""Test oracle: a whole-board line scan, independent of the games' last-move check."""

from __future__ import annotations

import numpy as np

from boardnet.alphazero.games.gomoku import Gomoku


def line_owner(game: Gomoku, board: np.ndarray) -> int:
    """Owner (1/2) of a completed line of ``n_in_row`` on one Gomoku board ``[A]`` or ``[A+1]``, 0 if none."""
    cells = board[game.windows]
    full = (cells == cells[:, :1]).all(axis=1) & (cells[:, 0] != 0)
    return int(cells[np.argmax(full), 0]) if full.any() else 0
