"""Batched PUCT MCTS: many game trees searched in lock-step, every round's leaves evaluated in ONE call.

Layout (why): each tree lives in preallocated numpy arrays indexed ``[game, node, action]`` (edge statistics
``N`` visits, ``W`` value sums, ``P`` priors, ``child`` node index or -1, ``legal`` mask), so one selection step
for all games is one compiled (numba) loop over the games' rows (score ``Q + U`` in float32, first argmax)
instead of Python child objects, and backup walks each game's path in the same kernel style. Games in parallel
fill the net's batch exactly (no virtual loss, so the search is the reference algorithm per game). Values are from the view of the side to move
at the node owning the edge; the backup negates per ply (spec alphazero.md §5).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field

from boardnet.alphazero.cache import DEFAULT_CAPACITY
from boardnet.alphazero.game import Game, LeafEvaluator


class MctsSettings(BaseModel):
    """The MCTS settings, everywhere: ``data.mcts`` of a self-play config, the arena's ``mcts``, players,
    ``boardnet selfplay`` (spec alphazero.md §5, AlphaZero_Gomoku's defaults).

    The search uses ``playouts`` and ``c_puct``; self-play also samples its moves from the visit policy at
    ``temperature`` mixed with Dirichlet noise, and caches leaf evaluations (players pick the most-visited move).
    """

    model_config = ConfigDict(extra="forbid")
    playouts: int = Field(400, gt=0, description="simulations per move")
    c_puct: float = Field(5.0, gt=0, description="exploration constant of PUCT")
    dirichlet_alpha: float = Field(0.3, gt=0, description="self-play: Dirichlet noise concentration")
    noise_fraction: float = Field(0.25, ge=0, le=1, description="self-play: share of noise in the move sampling")
    temperature: float = Field(1.0, gt=0, description="self-play: visit-count temperature of the move sampling")
    eval_cache: int = Field(DEFAULT_CAPACITY, ge=0, description="self-play: evaluation-cache entries per "
                            "generation (cache.py); 0: off")


class Forest:
    """The search trees of ``G`` games (root = node 0 of each), grown on demand."""

    def __init__(self, game: Game, n_games: int, capacity: int = 512) -> None:
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

    def grow(self, need: int) -> None:
        """Room for at least ``need`` nodes per tree (at least doubles), statistics kept."""
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


def search(forest: Forest, games: np.ndarray, boards: np.ndarray, last: np.ndarray, evaluate: LeafEvaluator,
           cfg: MctsSettings) -> None:
    """Run ``cfg.playouts`` simulations in each tree of ``games`` (``int [g]``) from root states
    ``boards int8 [g, S]`` / ``last int [g]``; every round evaluates all new leaves in one ``evaluate`` call.

    A round: select one path per tree (compiled, tree statistics only), replay it on a copy of the roots
    (``game.play_paths``), ask the game whether each leaf is over (``game.outcome``, remembered per node),
    evaluate the other leaves and expand them on ``game.legal_actions``, back the values up.
    """
    game = forest.game
    g_idx = np.asarray(games)
    n = len(g_idx)
    if n == 0:
        return
    c_puct = np.float32(cfg.c_puct)  # numpy's float32 arithmetic of the reference formula
    path_nodes = path_acts = np.zeros((0, 0), np.int64)
    for _ in range(cfg.playouts):
        if int(forest.size[g_idx].max()) + 1 >= forest.cap:
            forest.grow(forest.cap * 2)
        if path_nodes.shape[1] <= forest.cap:  # a path never holds more edges than its tree has nodes
            path_nodes = np.zeros((n, forest.cap + 1), np.int64)  # only [:depth] of a row is read
            path_acts = np.zeros((n, forest.cap + 1), np.int64)
        b = boards.copy()
        lm = last.copy()
        cur = np.zeros(n, np.int64)
        depth = np.zeros(n, np.int64)
        _descend(forest.N, forest.W, forest.P, forest.child, forest.legal, forest.visits, forest.expanded,
                 forest.terminal, forest.size, g_idx, c_puct, path_nodes, path_acts, cur, depth)
        game.play_paths(b, lm, path_acts, depth)
        # Leaves: terminal (known or newly found) or unexpanded -> value for the side to move at the leaf.
        value = forest.terminal[g_idx, cur]
        todo = np.nonzero(np.isnan(value))[0]
        if len(todo):
            out = game.outcome(b[todo], lm[todo])
            over = ~np.isnan(out)
            forest.terminal[g_idx[todo[over]], cur[todo[over]]] = out[over]
            value[todo[over]] = out[over]
            ei = todo[~over]
            if len(ei):
                priors, v = evaluate(b[ei], lm[ei])
                _expand(forest.P, forest.legal, forest.expanded, g_idx, cur, ei, game.legal_actions(b[ei]),
                        np.asarray(priors), np.asarray(v), value)
        # Backup: edge at depth d gets value * (-1)^(L - d) (its owner is L - d plies before the leaf).
        _backup(forest.N, forest.W, forest.visits, g_idx, cur, depth, path_nodes, path_acts, value)


@njit(cache=True, nogil=True)
def _descend(N, W, P, child, legal, visits, expanded, terminal, size, g_idx, c_puct,  # noqa: ANN001
             path_nodes, path_acts, cur, depth) -> None:
    """Select one path per game ``g_idx[r]`` from the root by PUCT (reference arithmetic: float32
    ``W / max(N, 1) + c * P * sqrt(visits) / (1 + N)``, first maximum) until a new edge or a terminal node;
    allocates the new node, records the path's nodes and actions, sets ``cur``/``depth``.
    Rows whose root is unexpanded or terminal keep ``cur = depth = 0``."""
    one = np.float32(1.0)
    for r in range(g_idx.shape[0]):
        g = g_idx[r]
        if not expanded[g, 0] or not np.isnan(terminal[g, 0]):
            continue
        nd = 0
        level = 0
        while True:
            sq = np.sqrt(visits[g, nd])
            best = -np.inf
            act = 0
            for a in range(N.shape[2]):
                if legal[g, nd, a]:
                    n_a = N[g, nd, a]
                    score = W[g, nd, a] / max(n_a, one) + c_puct * P[g, nd, a] * sq / (one + n_a)
                    if score > best:
                        best = score
                        act = a
            path_nodes[r, level] = nd
            path_acts[r, level] = act
            nxt = child[g, nd, act]
            level += 1
            if nxt < 0:
                nxt = size[g]
                size[g] += 1
                child[g, nd, act] = nxt
                cur[r] = nxt
                depth[r] = level
                break
            if not np.isnan(terminal[g, nxt]):
                cur[r] = nxt
                depth[r] = level
                break
            nd = nxt


@njit(cache=True, nogil=True)
def _expand(P, legal, expanded, g_idx, cur, rows, legal_rows, priors, v, value) -> None:  # noqa: ANN001
    """Expand the evaluated leaves ``cur[rows[j]]``: priors on the legal actions ``legal_rows[j]`` (0 elsewhere,
    not renormalised: AZG), value ``v[j]``."""
    for j in range(rows.shape[0]):
        r = rows[j]
        g, c = g_idx[r], cur[r]
        for a in range(P.shape[2]):
            lg = legal_rows[j, a]
            legal[g, c, a] = lg
            P[g, c, a] = priors[j, a] if lg else 0.0
        expanded[g, c] = True
        value[r] = v[j]


@njit(cache=True, nogil=True)
def _backup(N, W, visits, g_idx, cur, depth, path_nodes, path_acts, value) -> None:  # noqa: ANN001
    """Add one visit along each row's path: the edge at depth ``d`` of a path of length ``L`` gets
    ``value * (-1)^(L - d)`` (its owner moved ``L - d`` plies before the leaf); node visit counts + 1."""
    for r in range(g_idx.shape[0]):
        g = g_idx[r]
        visits[g, cur[r]] += 1
        L = depth[r]
        for d in range(L):
            nd, a = path_nodes[r, d], path_acts[r, d]
            sign = np.float32(-1.0) if (L - d) % 2 == 1 else np.float32(1.0)
            N[g, nd, a] += 1
            W[g, nd, a] += sign * value[r]
            visits[g, nd] += 1


def visit_policy(forest: Forest, games: np.ndarray, temperature: float) -> np.ndarray:
    """AZG's move probabilities ``softmax(log(N + 1e-10) / T)`` over legal root moves, ``float64 [g, A]``."""
    n = forest.N[games, 0].astype(np.float64)
    legal = forest.legal[games, 0]
    logits = np.where(legal, np.log(n + 1e-10) / max(temperature, 1e-6), -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
