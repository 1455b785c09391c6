"""Gomoku (m,n,k-game): any square size, ``n_in_row`` stones in a line win; AlphaZero_Gomoku's encoding.

Boards are ``int8 [A]`` with ``A = size * size``, move index ``m = row * size + col`` (row 0 = the bottom row as
AZG prints it); 0 empty, 1 the first mover's stones, 2 the second's. The side to move is 1 when the stone count
is even. The hot paths of search (is the game over, replaying selected paths, the net's input planes) are compiled
(numba) loops; the vectorised rollouts use a precomputed table of all ``n_in_row`` windows.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from boardnet.alphazero.game import Game
from boardnet.alphazero.games.lines import DIRECTIONS, completes_line, grid_rows, line_cells
from boardnet.core.config import ComponentConfig


@njit(cache=True, nogil=True)
def _outcomes(boards: np.ndarray, last: np.ndarray, size: int, n_in_row: int, out: np.ndarray) -> None:
    """``out[i]``: -1 when the last stone completed a line (the side to move lost), 0 on a full board, else NaN."""
    area = size * size
    for i in range(boards.shape[0]):
        if last[i] >= 0 and completes_line(boards[i], last[i], size, size, n_in_row):
            out[i] = -1.0
            continue
        out[i] = 0.0
        for m in range(area):
            if boards[i, m] == 0:
                out[i] = np.nan
                break


@njit(cache=True, nogil=True)
def _play_paths(boards: np.ndarray, last: np.ndarray, actions: np.ndarray, depth: np.ndarray, area: int) -> None:
    """Place the stones of ``actions[r, :depth[r]]`` on ``boards[r]`` in place, colours alternating."""
    for r in range(boards.shape[0]):
        count = 0
        for m in range(area):
            if boards[r, m] != 0:
                count += 1
        mover = 1 if count % 2 == 0 else 2
        for d in range(depth[r]):
            boards[r, actions[r, d]] = mover
            last[r] = actions[r, d]
            mover = 3 - mover


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

    State rows are ``int8 [A + 1]``: the ``A`` points, then one always-empty sentinel cell (kept so the
    evaluation cache's keys and the search's arrays stay those of the measured, published runs).
    """

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

    planes = 4

    def __init__(self, size: int = 8, n_in_row: int = 5) -> None:
        if n_in_row > size or size < 2 or n_in_row < 2:
            raise ValueError(f"bad gomoku geometry: size {size}, n_in_row {n_in_row}")
        self.size = self.height = self.width = size
        self.n_in_row = n_in_row
        self.action_size = size * size
        self.state_size = self.action_size + 1
        self.windows = _windows(size, n_in_row)

    @classmethod
    def from_config(cls, cfg: Gomoku.Config) -> Gomoku:
        return cls(cfg.size, cfg.n_in_row)

    def __repr__(self) -> str:
        return f"Gomoku(size={self.size}, n_in_row={self.n_in_row})"

    # ------------------------------------------------------------------ rules
    def legal_actions(self, boards: np.ndarray) -> np.ndarray:
        """The empty points: ``bool [B, A]``."""
        return np.asarray(boards)[:, : self.action_size] == 0

    def play(self, boards: np.ndarray, last: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = np.array(boards, np.int8)
        acts = np.array(actions, np.int64)
        count = (b[:, : self.action_size] != 0).sum(axis=1)
        b[np.arange(len(b)), acts] = np.where(count % 2 == 0, 1, 2)
        return b, acts

    def outcome(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """-1 when the last stone completed ``n_in_row`` (the side to move lost), 0 on a full board, else NaN."""
        out = np.empty(len(boards), np.float32)
        _outcomes(np.asarray(boards), np.asarray(last, np.int64), self.size, self.n_in_row, out)
        return out

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

    def symmetries(self, planes: np.ndarray, pi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
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

    # ------------------------------------------------------------------ fast paths (compiled / vectorised)
    def play_paths(self, boards: np.ndarray, last: np.ndarray, actions: np.ndarray, depth: np.ndarray) -> None:
        _play_paths(boards, last, actions, depth, self.action_size)

    def rollout_values(self, boards: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Random playouts, vectorised: each fills the empty points in a random order (alternating colours), then
        the first completed line is found over all windows at once (its completion time = the latest placement in
        it), so one rollout costs a few numpy ops instead of a Python loop of moves with a win check per move. Same
        result distribution as playing the random moves one by one and stopping at the first win."""
        boards = np.asarray(boards)[:, : self.action_size]
        B, A = boards.shape
        empty = boards == 0
        count = A - empty.sum(axis=1)
        to_move = np.where(count % 2 == 0, 1, 2).astype(np.int8)
        keys = np.where(empty, rng.random((B, A)), 2.0)
        order = np.argsort(keys, axis=1)
        times = np.empty((B, A), np.int64)
        np.put_along_axis(times, order, np.arange(A)[None, :].repeat(B, 0), axis=1)
        times = np.where(empty, times, -1)                     # existing stones count as placed before time 0
        other = (3 - to_move).astype(np.int8)
        placed = np.where(times % 2 == 0, to_move[:, None], other[:, None]).astype(np.int8)
        final = np.where(empty, placed, boards)
        cells = final[:, self.windows]                          # [B, nW, n]
        done = (cells == cells[:, :, :1]).all(axis=2)
        t = np.where(done, times[:, self.windows].max(axis=2), A + 1)
        first = t.argmin(axis=1)
        winner = np.where(t[np.arange(B), first] <= A, cells[np.arange(B), first, 0], 0)
        return np.where(winner == 0, 0.0, np.where(winner == to_move, 1.0, -1.0)).astype(np.float32)

    # ------------------------------------------------------------------ text
    @property
    def move_help(self) -> str:  # type: ignore[override]
        return f"type moves as the board labels them, like c4 ({self._ranges})"

    @property
    def _ranges(self) -> str:
        return f"column a-{self._letter(self.size - 1)}, row 1-{self.size}"

    @staticmethod
    def _letter(col: int) -> str:
        return chr(ord("a") + col)

    def render(self, board: np.ndarray, last: int = -1, line: Collection[int] = ()) -> str:
        """Top row first; columns a, b, c... under the board, rows numbered 1.. from the bottom (row index 0) on
        the left: the names :meth:`parse_action` reads. The last move in (), a winning ``line`` in []."""
        s = self.size
        lines = [f"{s - i:>2} {row}" for i, row in enumerate(grid_rows(board, s, s, last, line))]
        lines.append("   " + "".join(f" {self._letter(c)} " for c in range(s)))
        return "\n".join(lines)

    def winning_line(self, board: np.ndarray, last: int) -> list[int]:
        return line_cells(board, last, self.size, self.size, self.n_in_row) if last >= 0 else []

    def action_name(self, action: int) -> str:
        """The point as the board labels it: column letter, row number from the bottom (``c4``)."""
        r, c = divmod(action, self.size)
        return f"{self._letter(c)}{r + 1}"

    def parse_action(self, text: str, board: np.ndarray) -> int:
        """A point as the board labels it, ``c4``: column letter, then row number (1 = the bottom row)."""
        t = text.strip().lower().replace(" ", "")
        s = self.size
        if not (len(t) >= 2 and t[0].isalpha() and t[0].isascii() and t[1:].isdigit()):
            raise ValueError(f"cannot read '{text.strip()}': type a point like c4 ({self._ranges})")
        c, r = ord(t[0]) - ord("a"), int(t[1:]) - 1
        if not (0 <= r < s and 0 <= c < s):
            raise ValueError(f"'{text.strip()}' is off the {s}x{s} board ({self._ranges})")
        if board[r * s + c] != 0:
            raise ValueError(f"'{text.strip()}' is taken")
        return r * s + c




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
