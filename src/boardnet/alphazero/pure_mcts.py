"""Pure MCTS (AZG's ``mcts_pure``): uniform priors, leaf value from a uniformly random rollout to the end.

The rollouts are the game's :meth:`~boardnet.alphazero.game.Game.rollout_values` (batched over the leaves of a
search round; Gomoku's are vectorised over all its line windows at once).
"""

from __future__ import annotations

import numpy as np

from boardnet.alphazero.game import Game, LeafEvaluator


def rollout_evaluator(game: Game, rng: np.random.Generator) -> LeafEvaluator:
    """Leaf evaluator for :func:`boardnet.alphazero.mcts.search`: uniform priors over legal moves, random-rollout
    value (+1 / -1 / 0 for the side to move at the leaf)."""

    def evaluate(boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        legal = game.legal_actions(boards)
        priors = legal / np.maximum(legal.sum(axis=1, keepdims=True), 1)
        return priors.astype(np.float32), game.rollout_values(boards, last, rng)

    return evaluate
