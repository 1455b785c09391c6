"""The board-game contract the self-play, arena and play code relies on."""

from __future__ import annotations

from typing import Any

import numpy as np


class Game:
    """A two-player, alternating, perfect-information board game on an ``height x width`` grid.

    Positions are ``int8 [A]`` boards (``A = height * width``; 0 empty, 1 the first mover, 2 the second);
    the side to move is derived from the stone count. Subclasses define ``Config`` and the methods below.
    """

    height: int
    width: int

    @property
    def action_size(self) -> int:
        return self.height * self.width

    @classmethod
    def from_config(cls, cfg: Any) -> Game:
        raise NotImplementedError

    def encode(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """``boards int8 [B, A]``, ``last int [B]`` (-1: none) -> net input ``float32 [B, C, H, W]``."""
        raise NotImplementedError
