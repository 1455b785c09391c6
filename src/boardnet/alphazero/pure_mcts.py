"""Pure MCTS (AZG's ``mcts_pure``): uniform priors, leaf value from a uniformly random rollout to the end.

Rollouts are vectorised: each fills the empty cells in a random order (alternating colours), then the game's
first completed line is found over all windows at once (its completion time = the latest placement in it), so
one rollout costs a few numpy ops instead of a Python loop of moves with a win check per move. Same result
distribution as playing the random moves one by one and stopping at the first win.
"""

from __future__ import annotations

import numpy as np

from boardnet.alphazero.games.gomoku import Gomoku


def rollout_evaluator(game: Gomoku, rng: np.random.Generator):
    """Evaluator for :func:`boardnet.alphazero.mcts.search`: uniform priors over legal moves, random-rollout value
    (+1 / -1 / 0 for the side to move at the leaf)."""
    A = game.action_size

    def evaluate(boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = boards[:, :A]
        empty = b == 0
        priors = empty / np.maximum(empty.sum(axis=1, keepdims=True), 1)
        return priors.astype(np.float32), rollout_values(game, b, rng)

    return evaluate


def rollout_values(game: Gomoku, boards: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random playouts from ``boards int8 [B, A]`` (no line yet): value for the side to move, ``float32 [B]``."""
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
    cells = final[:, game.windows]                          # [B, nW, n]
    done = (cells == cells[:, :, :1]).all(axis=2)
    t = np.where(done, times[:, game.windows].max(axis=2), A + 1)
    first = t.argmin(axis=1)
    winner = np.where(t[np.arange(B), first] <= A, cells[np.arange(B), first, 0], 0)
    return np.where(winner == 0, 0.0, np.where(winner == to_move, 1.0, -1.0)).astype(np.float32)
