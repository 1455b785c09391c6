"""Reference-style PUCT MCTS (AZG's ``mcts_alphaZero`` algorithm): Python node objects, one position per net
call. The baseline of ``bench/selfplay.py`` and the oracle the batched search is tested against; not used in
training."""

from __future__ import annotations

import math

import numpy as np

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.mcts import Evaluator


class Node:
    __slots__ = ("parent", "children", "n", "w", "p")

    def __init__(self, parent: Node | None, prior: float) -> None:
        self.parent, self.children = parent, {}
        self.n, self.w, self.p = 0, 0.0, prior

    def q(self) -> float:
        return self.w / self.n if self.n else 0.0


def reference_search(game: Gomoku, evaluate: Evaluator, board: np.ndarray, last: int, playouts: int,
                     c_puct: float = 5.0) -> np.ndarray:
    """``playouts`` simulations from ``board int8 [A+1]``; returns the root's child visit counts ``[A]``."""
    A = game.action_size
    root = Node(None, 1.0)
    for _ in range(playouts):
        node, b, lm = root, board.copy(), last
        count = int((b[:A] != 0).sum())
        while node.children:
            parent_n = node.n
            best, best_score = -1, -math.inf
            for a, ch in node.children.items():  # ascending move order: first maximum wins, like np.argmax
                s = ch.q() + c_puct * ch.p * math.sqrt(parent_n) / (1 + ch.n)
                if s > best_score:
                    best, best_score = a, s
            b[best] = 1 if count % 2 == 0 else 2
            count += 1
            lm = best
            node = node.children[best]
        won = lm >= 0 and bool(game.wins(b[None], np.array([lm]))[0])
        if won or count == A:
            value = -1.0 if won else 0.0
        else:
            priors, v = evaluate(b[None], np.array([lm]))
            for a in np.nonzero(b[:A] == 0)[0]:
                node.children[int(a)] = Node(node, float(priors[0, a]))
            value = float(v[0])
        while node is not None:  # value is for the side to move at `node`; the edge into it belongs to the parent
            node.n += 1
            node.w += -value
            value = -value
            node = node.parent
    out = np.zeros(A)
    for a, ch in root.children.items():
        out[a] = ch.n
    return out
