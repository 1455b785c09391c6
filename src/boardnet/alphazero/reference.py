"""Reference-style PUCT MCTS (AZG's ``mcts_alphaZero`` algorithm): Python node objects, one position per net
call. The baseline of ``bench/selfplay.py`` and the oracle the batched search is tested against; not used in
training."""

from __future__ import annotations

import math

import numpy as np

from boardnet.alphazero.game import Game, LeafEvaluator


class Node:
    __slots__ = ("parent", "children", "n", "w", "p")

    def __init__(self, parent: Node | None, prior: float) -> None:
        self.parent, self.children = parent, {}
        self.n, self.w, self.p = 0, 0.0, prior

    def q(self) -> float:
        return self.w / self.n if self.n else 0.0


def reference_search(game: Game, evaluate: LeafEvaluator, board: np.ndarray, last: int, playouts: int,
                     c_puct: float = 5.0) -> np.ndarray:
    """``playouts`` simulations from one state ``board int8 [S]``, ``last``; returns the root's child visit
    counts ``[A]``."""
    root = Node(None, 1.0)
    for _ in range(playouts):
        node, b, lm = root, board[None].copy(), np.array([last], np.int64)
        while node.children:
            parent_n = node.n
            best, best_score = -1, -math.inf
            for a, ch in node.children.items():  # ascending move order: first maximum wins, like np.argmax
                s = ch.q() + c_puct * ch.p * math.sqrt(parent_n) / (1 + ch.n)
                if s > best_score:
                    best, best_score = a, s
            b, lm = game.play(b, lm, np.array([best]))
            node = node.children[best]
        value = float(game.outcome(b, lm)[0])
        if math.isnan(value):
            priors, v = evaluate(b, lm)
            for a in np.nonzero(game.legal_actions(b)[0])[0]:
                node.children[int(a)] = Node(node, float(priors[0, a]))
            value = float(v[0])
        while node is not None:  # value is for the side to move at `node`; the edge into it belongs to the parent
            node.n += 1
            node.w += -value
            value = -value
            node = node.parent
    out = np.zeros(game.action_size)
    for a, ch in root.children.items():
        out[a] = ch.n
    return out
