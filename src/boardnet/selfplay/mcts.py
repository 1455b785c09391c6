"""Batched PUCT MCTS: many game trees searched in lock-step, every round's leaves evaluated in ONE call.

Layout (why): each tree lives in preallocated numpy arrays indexed ``[game, node, action]`` (edge statistics
``N`` visits, ``W`` value sums, ``P`` priors, ``child`` node index or -1, ``legal`` mask), so one selection step
for all games is a handful of vectorised numpy ops (gather rows, score ``Q + U``, argmax) instead of a Python
loop over child objects, and backup is one ``np.add.at``. Games in parallel fill the net's batch exactly (no
virtual loss, so the search is the reference algorithm per game). Values are from the view of the side to move
at the node owning the edge; the backup negates per ply (spec alphazero.md §5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from boardnet.games.gomoku import Gomoku

# evaluate(boards int8 [B, A+1], last int [B]) -> (priors float32 [B, A], values float32 [B], side to move's view)
Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class SearchConfig:
    playouts: int = 400
    c_puct: float = 5.0


def net_evaluator(net: torch.nn.Module, game: Gomoku, device: str | torch.device = "cpu") -> Evaluator:
    """Evaluator running a policy-value net on AZG's encoding under ``torch.inference_mode`` (one forward)."""
    dev = torch.device(device)

    def evaluate(boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(game.encode(boards, last)).to(dev)
        with torch.inference_mode():
            logp, v = net(x)
        return logp.exp().float().cpu().numpy(), v.float().cpu().numpy().reshape(-1)

    return evaluate


class Forest:
    """The search trees of ``G`` games (root = node 0 of each), grown on demand."""

    def __init__(self, game: Gomoku, n_games: int, capacity: int = 512) -> None:
        self.game = game
        self.G, self.A = n_games, game.action_size
        self._alloc(capacity)
        self.size = np.zeros(n_games, np.int64)  # nodes in use per tree
        self.reset(np.arange(n_games))

    def _alloc(self, cap: int) -> None:
        g, a = self.G, self.A
        self.cap = cap
        self.N = np.zeros((g, cap, a), np.float32)
        self.W = np.zeros((g, cap, a), np.float32)
        self.P = np.zeros((g, cap, a), np.float32)
        self.child = np.full((g, cap, a), -1, np.int32)
        self.legal = np.zeros((g, cap, a), bool)
        self.visits = np.zeros((g, cap), np.float32)     # node visit count (AZG's parent n_visits)
        self.expanded = np.zeros((g, cap), bool)
        self.terminal = np.full((g, cap), np.nan, np.float32)  # exact value for the side to move, NaN if not

    def _grow(self, need: int) -> None:
        old = (self.N, self.W, self.P, self.child, self.legal, self.visits, self.expanded, self.terminal)
        self._alloc(max(need, 2 * self.cap))
        for new, arr in zip((self.N, self.W, self.P, self.child, self.legal, self.visits, self.expanded,
                             self.terminal), old):
            new[:, : arr.shape[1]] = arr

    def reset(self, games: np.ndarray) -> None:
        """Fresh single-node trees for ``games``."""
        for g in np.atleast_1d(games):
            n = int(self.size[g]) if self.size[g] else self.cap
            self.N[g, :n] = 0
            self.W[g, :n] = 0
            self.P[g, :n] = 0
            self.child[g, :n] = -1
            self.legal[g, :n] = False
            self.visits[g, :n] = 0
            self.expanded[g, :n] = False
            self.terminal[g, :n] = np.nan
            self.size[g] = 1

    def advance(self, g: int, move: int) -> None:
        """Tree reuse: make the subtree under ``move`` game ``g``'s tree (compacted to nodes 0..k-1)."""
        root = int(self.child[g, 0, move])
        if root < 0:
            self.reset(np.array([g]))
            return
        order, frontier = [np.array([root])], np.array([root])
        while True:  # breadth-first, one level per numpy gather
            kids = self.child[g, frontier]
            frontier = kids[kids >= 0]
            if not len(frontier):
                break
            order.append(frontier)
        nodes = np.concatenate(order)
        remap = np.full(self.cap, -1, np.int32)
        remap[nodes] = np.arange(len(nodes), dtype=np.int32)
        k = len(nodes)
        for arr in (self.N, self.W, self.P, self.legal, self.visits, self.expanded, self.terminal):
            arr[g, :k] = arr[g, nodes]
        ch = self.child[g, nodes]
        self.child[g, :k] = np.where(ch >= 0, remap[np.maximum(ch, 0)], -1)
        old = int(self.size[g])
        self.size[g] = k
        if old > k:  # clear the freed slots so new nodes start empty
            self.N[g, k:old] = 0
            self.W[g, k:old] = 0
            self.child[g, k:old] = -1
            self.legal[g, k:old] = False
            self.visits[g, k:old] = 0
            self.expanded[g, k:old] = False
            self.terminal[g, k:old] = np.nan


def search(forest: Forest, games: np.ndarray, boards: np.ndarray, last: np.ndarray, evaluate: Evaluator,
           cfg: SearchConfig) -> None:
    """Run ``cfg.playouts`` simulations in each tree of ``games`` (``int [g]``) from root positions
    ``boards int8 [g, A+1]`` / ``last int [g]``; every round evaluates all new leaves in one ``evaluate`` call."""
    game, A = forest.game, forest.A
    g_idx = np.asarray(games)
    n = len(g_idx)
    if n == 0:
        return
    root_count = (boards[:, :A] != 0).sum(axis=1)
    path_nodes = np.zeros((n, A + 1), np.int64)  # only [:depth] of a row is read
    path_acts = np.zeros((n, A + 1), np.int64)
    for _ in range(cfg.playouts):
        if int(forest.size[g_idx].max()) + 1 >= forest.cap:
            forest._grow(forest.cap * 2)
        b = boards.copy()
        lm = last.copy()
        cur = np.zeros(n, np.int64)
        depth = np.zeros(n, np.int64)
        # Descend all trees in lock-step: the rows still descending all sit at the same depth `level`, so their
        # state is kept compacted (rows, gi, nd, mover) instead of re-gathered from full-size arrays each level.
        rows = np.nonzero(forest.expanded[g_idx, 0] & np.isnan(forest.terminal[g_idx, 0]))[0]
        gi, nd = g_idx[rows], np.zeros(len(rows), np.int64)
        mover = np.where(root_count[rows] % 2 == 0, 1, 2).astype(np.int8)
        level = 0
        while len(rows):
            Nrow = forest.N[gi, nd]
            q = forest.W[gi, nd] / np.maximum(Nrow, 1.0)  # W is 0 on unvisited edges: Q = 0 there
            u = cfg.c_puct * forest.P[gi, nd] * np.sqrt(forest.visits[gi, nd])[:, None] / (1.0 + Nrow)
            act = np.where(forest.legal[gi, nd], q + u, -np.inf).argmax(axis=1)
            path_nodes[rows, level] = nd
            path_acts[rows, level] = act
            b[rows, act] = mover
            lm[rows] = act
            nxt = forest.child[gi, nd, act].astype(np.int64)
            new = nxt < 0
            if new.any():
                gn = gi[new]  # one row per game: no repeated index in these updates
                slots = forest.size[gn].copy()
                forest.size[gn] += 1
                forest.child[gn, nd[new], act[new]] = slots
                nxt[new] = slots
            level += 1
            stop = new | ~np.isnan(forest.terminal[gi, nxt])
            if stop.any():
                cur[rows[stop]] = nxt[stop]
                depth[rows[stop]] = level
                keep = ~stop
                rows, gi, nd, mover = rows[keep], gi[keep], nxt[keep], 3 - mover[keep]
            else:
                nd, mover = nxt, 3 - mover
        # Leaves: terminal (known or newly found) or unexpanded -> value for the side to move at the leaf.
        gl = g_idx
        value = np.zeros(n, np.float32)
        known = ~np.isnan(forest.terminal[gl, cur])
        value[known] = forest.terminal[gl[known], cur[known]]
        fresh = ~known
        if fresh.any():
            fi = np.nonzero(fresh)[0]
            won = np.zeros(len(fi), bool)
            has = lm[fi] >= 0
            if has.any():
                won[has] = game.wins(b[fi[has]], lm[fi[has]])
            full = (b[fi, :A] != 0).all(axis=1)
            term = won | full
            ti = fi[term]
            tv = np.where(won[term], -1.0, 0.0).astype(np.float32)  # the previous mover just won
            forest.terminal[gl[ti], cur[ti]] = tv
            value[ti] = tv
            ei = fi[~term]
            if len(ei):
                priors, v = evaluate(b[ei], lm[ei])
                legal = b[ei, :A] == 0
                forest.P[gl[ei], cur[ei]] = np.where(legal, priors, 0.0)
                forest.legal[gl[ei], cur[ei]] = legal
                forest.expanded[gl[ei], cur[ei]] = True
                value[ei] = v
        # Backup: edge at depth d gets value * (-1)^(L - d) (its owner is L - d plies before the leaf).
        forest.visits[gl, cur] += 1
        # Each (game, node) appears once (one path per game, no node twice on a path): plain fancy `+=` is exact.
        L = depth
        dmask = np.arange(int(L.max()))[None, :] < L[:, None]
        if dmask.any():
            rr, dd = np.nonzero(dmask)
            sign = np.where((L[rr] - dd) % 2 == 1, -1.0, 1.0).astype(np.float32)
            gg, nn, aa = gl[rr], path_nodes[rr, dd], path_acts[rr, dd]
            forest.N[gg, nn, aa] += 1.0
            forest.W[gg, nn, aa] += sign * value[rr]
            forest.visits[gg, nn] += 1.0


def visit_policy(forest: Forest, games: np.ndarray, temperature: float) -> np.ndarray:
    """AZG's move probabilities ``softmax(log(N + 1e-10) / T)`` over legal root moves, ``float64 [g, A]``."""
    n = forest.N[games, 0].astype(np.float64)
    legal = forest.legal[games, 0]
    logits = np.where(legal, np.log(n + 1e-10) / max(temperature, 1e-6), -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
