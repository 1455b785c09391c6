"""Batched PUCT tree search on an lc0 net, following lc0's search (v0.31 defaults).

- Selection: ``score = Q + U``, ``U = cpuct(N) · sqrt(max(N − 1, 1)) · P / (1 + n + in_flight)`` with lc0's
  growing ``cpuct(N) = CPuct + CPuctFactor · ln((N + CPuctBase) / CPuctBase)``; unvisited children get lc0's
  FPU reduction ``Q_fpu = Q_parent − FpuValue · sqrt(Σ P of visited children)`` (or an absolute value).
- Priors: softmax of the net's legal-move logits divided by the policy temperature (PolicySoftmaxTemp 1.359).
- Value: Q = W − L of the WDL head (D kept for ``info wdl``); all Q are from the side to move at the parent.
- Batching: leaves are gathered with virtual loss (the in-flight count in U's denominator), so one net call
  evaluates a minibatch; a leaf picked twice is a collision, and gathering stops after lc0's collision budget.
- Terminals: checkmate, stalemate, insufficient material, rule 50, threefold repetition and (below the root)
  a twofold repetition inside the tree score exactly; proven wins/losses/draws propagate up ("sticky endgames").

Nodes keep per-child numpy arrays (see :meth:`Node.expand`); the search pushes and pops moves on one board.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import chess
import numpy as np

from boardnet.lc0.planes import encode
from boardnet.lc0.policy_map import move_index

Evaluate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]  # planes -> logits, q, d

WIN, DRAW, LOSS = 1, 0, -1  # proven results for the side to move at a node


@dataclass
class SearchParams:
    """lc0's search options (their UCI names in the comments) and their v0.31 defaults."""

    cpuct: float = 1.745  # CPuct
    cpuct_base: float = 38739.0  # CPuctBase
    cpuct_factor: float = 3.894  # CPuctFactor
    fpu_value: float = 0.330  # FpuValue
    fpu_absolute: bool = False  # FpuStrategy = absolute (default: reduction)
    policy_temperature: float = 1.359  # PolicyTemperature (lc0: PolicySoftmaxTemp)
    temperature: float = 0.0  # Temperature: 0 plays the most visited move, > 0 samples visits^(1/T)
    minibatch: int = 32  # MinibatchSize (lc0: backend-dependent; 32 measured best here, see bench/lc0_uci.py)
    max_collision_events: int = 917  # MaxCollisionEvents
    max_collision_visits: int = 80000  # MaxCollisionVisits, scaled with tree size as lc0 does:
    collision_scaling_start: int = 28  # MaxCollisionVisitsScalingStart
    collision_scaling_end: int = 145000  # MaxCollisionVisitsScalingEnd
    collision_scaling_power: float = 1.25  # MaxCollisionVisitsScalingPower
    two_fold_draws: bool = True  # TwoFoldDraws
    overlap: bool = True  # gather the next minibatch while the net evaluates this one (lc0: 2 search threads)


class Node:
    """A position in the tree. Before expansion ``moves`` is None; after it, per-child arrays in move order."""

    __slots__ = ("moves", "p", "n", "w", "d", "qv", "unvisited", "den", "visited_p", "children", "visits", "wsum",
                 "dsum", "proven", "plies", "pending", "twofold")

    def __init__(self) -> None:
        self.moves: list[chess.Move] | None = None
        self.children: list[Node | None] = []
        self.visits = 0  # lc0's N: this node's own evaluation + its children's visits
        self.wsum = 0.0  # Σ values (W − L) from the side to move here
        self.dsum = 0.0  # Σ draw probabilities
        self.proven: int | None = None  # WIN / DRAW / LOSS for the side to move here, when known exactly
        self.plies = 0  # plies to the end of the game when proven
        self.pending = False  # in the minibatch being evaluated
        self.twofold = False  # a draw by a repetition inside the tree (depends on where the root is)

    def expand(self, moves: list[chess.Move], priors: np.ndarray) -> None:
        """Children for ``moves`` with ``priors [M]`` (sum 1).

        Per child: visits ``n``, value sums ``w``/``d`` (side to move here), ``qv`` = w/n (or the exact value of
        a proven child; 0 while unvisited), ``unvisited`` 1.0/0.0 (where FPU applies), ``den`` = 1 + n + virtual
        loss (U's denominator); ``visited_p`` = Σ priors of visited children.
        """
        m = len(moves)
        self.moves = moves
        self.p = priors.astype(np.float64)
        self.n = np.zeros(m, np.int64)
        self.w = np.zeros(m, np.float64)
        self.d = np.zeros(m, np.float64)
        self.qv = np.zeros(m, np.float64)
        self.unvisited = np.ones(m, np.float64)
        self.den = np.ones(m, np.float64)
        self.visited_p = 0.0
        self.children = [None] * m

    @property
    def q(self) -> float:
        """Mean value for the side to move here (0 before any visit)."""
        return self.wsum / self.visits if self.visits else 0.0


@dataclass
class Limits:
    """When to stop: node count (root visits), wall-clock deadline (``time.monotonic()``), or only on stop()."""

    nodes: int | None = None
    deadline: float | None = None
    depth: int | None = None  # stop once the mean playout depth reaches it (lc0's ``go depth``)
    infinite: bool = False


@dataclass
class Info:
    """What a UCI ``info`` line reports, for the best move so far."""

    depth: int
    seldepth: int
    nodes: int
    nps: int
    time_ms: int
    q: float  # W − L of the best move, root side to move
    wdl: tuple[int, int, int]  # per mille
    mate: int | None  # moves to mate (> 0: we mate, < 0: we are mated), when proven
    pv: list[chess.Move] = field(default_factory=list)


def priors(logits: np.ndarray, indices: list[int], temperature: float) -> np.ndarray:
    """``softmax(logits[indices] / temperature)`` in float64, ``[M]``."""
    z = logits[indices].astype(np.float64) / temperature
    z = np.exp(z - z.max())
    return z / z.sum()


@lru_cache(maxsize=1)
def _index_table() -> dict[tuple[int, int, int | None], int]:
    """``(from, to, promotion piece type)`` in the side-to-move frame -> lc0 policy index, from
    :func:`~boardnet.lc0.policy_map.move_index` (knight promotions share the plain move's index)."""
    table = {}
    for uci, i in move_index().items():
        move = chess.Move.from_uci(uci)
        table[(move.from_square, move.to_square, move.promotion)] = i
        if move.promotion == chess.QUEEN:
            table[(move.from_square, move.to_square, chess.KNIGHT)] = move_index()[uci[:4]]
    return table


def policy_indices(board: chess.Board, moves: list[chess.Move]) -> list[int]:
    """lc0 policy indices of legal ``moves`` (same as :func:`boardnet.lc0.planes.policy_index`, table-driven):
    castling as king takes rook, black's moves mirrored by rank."""
    table, flip = _index_table(), 56 if board.turn == chess.BLACK else 0
    kings = board.kings
    out = []
    for m in moves:
        frm, to = m.from_square, m.to_square
        if kings >> frm & 1 and abs((to & 7) - (frm & 7)) > 1:  # castling: the king goes to its rook
            to = (to & 56) | (7 if to & 7 > frm & 7 else 0)
        out.append(table[(frm ^ flip, to ^ flip, m.promotion)])
    return out


def reuse_tree(old_board: chess.Board, old_root: Node, board: chess.Board) -> Node | None:
    """The node of ``old_root``'s finished tree (searched from ``old_board``) that ``board`` reached by more
    moves, ready to be a new root, or None. Results proven through the tree are forgotten (they are proven again
    when visited) and twofold-repetition draws turn back into positions to evaluate, since both depend on where
    the root is (lc0 resets them the same way)."""
    old_moves, moves = old_board.move_stack, board.move_stack
    if len(moves) < len(old_moves) or moves[: len(old_moves)] != old_moves or board.root() != old_board.root():
        return None
    node: Node | None = old_root
    for move in moves[len(old_moves):]:
        if node is None or not node.moves or move not in node.moves:
            return None
        node = node.children[node.moves.index(move)]
    if node is None or node.moves is None:
        return None
    stack = [node]
    while stack:
        n = stack.pop()
        if n.moves:
            n.proven = None
            stack.extend(c for c in n.children if c is not None)
        elif n.twofold:  # a twofold draw below the old root: evaluate it afresh
            n.moves, n.proven, n.twofold = None, None, False
    if node.moves == [] or node.proven is not None:
        return None
    return node


def q_to_cp(q: float) -> int:
    """lc0's centipawn score of a Q in [-1, 1]: ``90 · tan(1.5637541897 · Q)``."""
    return int(round(90.0 * math.tan(1.5637541897 * max(-1.0, min(1.0, q)))))


def _terminal(board: chess.Board, moves: list[chess.Move], in_tree_repetition: bool) -> int | None:
    """The exact result for the side to move, or None when the game goes on (lc0's rules)."""
    if not moves:
        return LOSS if board.is_check() else DRAW
    if board.halfmove_clock >= 100 or board.is_insufficient_material() or in_tree_repetition:
        return DRAW
    if board.halfmove_clock >= 4 and board.is_repetition(3):
        return DRAW
    return None


class Search:
    """One search from ``board`` (with its move stack) on ``evaluate``; run :meth:`run` in any thread and
    :meth:`stop` from another. ``on_info`` is called at most every ``info_interval`` seconds and at the end."""

    def __init__(self, board: chess.Board, evaluate: Evaluate, params: SearchParams | None = None,
                 searchmoves: list[chess.Move] | None = None,
                 on_info: Callable[[Info], None] | None = None, info_interval: float = 1.0,
                 root: Node | None = None) -> None:
        self.board = board.copy()
        self.evaluate = evaluate
        self.params = params or SearchParams()
        self.searchmoves = searchmoves or None
        self.on_info = on_info
        self.info_interval = info_interval
        self.root = root if root is not None else Node()  # a subtree of an earlier search (see reuse_tree)
        self._stop = threading.Event()
        self.playouts = 0
        self._depth_sum = 0
        self.seldepth = 0
        self._start = time.monotonic()
        self._root_key = self.board._transposition_key()
        self._in_flight = 0  # leaves sent to the net, not yet backed up

    def stop(self) -> None:
        """Ask :meth:`run` to finish after the current minibatch."""
        self._stop.set()

    def wait_stopped(self) -> None:
        """Block until :meth:`stop` is called."""
        self._stop.wait()

    # ---- the loop ------------------------------------------------------------------------------------------
    def run(self, limits: Limits) -> chess.Move | None:
        """Search until ``limits`` (or :meth:`stop`); the move to play, None when the game is over.

        With ``params.overlap`` the next minibatch is gathered while the net evaluates the previous one in a
        worker thread (as lc0's two search threads do); its leaves keep their virtual loss until backed up.
        """
        self._start = time.monotonic()
        last_info, cycle, reported = self._start, 0.0, -1
        in_flight: tuple[Future, list] | None = None
        pool = ThreadPoolExecutor(1, thread_name_prefix="boardnet-net") if self.params.overlap else None
        try:
            while True:
                t0 = time.monotonic()
                gather = self._budget(limits, cycle)
                if gather is None and in_flight is None:
                    if not (limits.infinite and self.root.proven is not None) or self._stop.is_set():
                        break
                    self._stop.wait(0.01)  # infinite search of a proven root: wait for stop
                    continue
                leaves, planes = self._gather(gather) if gather else ([], [])
                if in_flight is not None:
                    self._apply(in_flight[1], in_flight[0].result())
                    in_flight = None
                if leaves:
                    batch = np.stack(planes)
                    self._in_flight += len(leaves)
                    if pool is not None:
                        in_flight = (pool.submit(self.evaluate, batch), leaves)
                    else:
                        self._apply(leaves, self.evaluate(batch))
                cycle = time.monotonic() - t0
                if self.on_info is not None and time.monotonic() - last_info >= self.info_interval:
                    last_info, reported = time.monotonic(), self.root.visits
                    self.on_info(self.info())
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if self.on_info is not None and self.root.visits and self.root.visits != reported:
            self.on_info(self.info())
        return self.best_move()

    def _budget(self, limits: Limits, cycle: float) -> int | None:
        """How many leaves to gather next, or None to gather no more (stop, limits, proven or final root).
        ``cycle``: the last loop's duration, so that a deadline is not overrun by a whole minibatch."""
        root = self.root
        if self._stop.is_set() or (root.moves is not None and (not root.moves or root.proven is not None)):
            return None
        timed = root.visits > 0 and limits.deadline is not None
        if timed and (time.monotonic() + 1.5 * cycle >= limits.deadline or len(root.moves or ()) == 1):
            return None  # out of time, or a forced move under the clock: answer at once (as lc0 does)
        if limits.depth is not None and self.playouts and self._depth_sum >= limits.depth * self.playouts:
            return None
        budget = self.params.minibatch
        if limits.nodes is not None:
            budget = min(budget, limits.nodes - root.visits - self._in_flight)
            if root.visits + self._in_flight >= limits.nodes:
                return None
        return max(0, budget)

    def _collision_limit(self) -> int:
        """lc0's MaxCollisionVisits scaled by tree size: 1 below the start size, growing (power curve) to the
        maximum at the end size."""
        p, size = self.params, self.root.visits
        if size <= p.collision_scaling_start or p.collision_scaling_end == 0:
            return 1 if size <= p.collision_scaling_start and p.collision_scaling_end else p.max_collision_visits
        frac = min(1.0, (size - p.collision_scaling_start) / (p.collision_scaling_end - p.collision_scaling_start))
        return max(1, int(1 + (p.max_collision_visits - 1) * frac**p.collision_scaling_power))

    def _gather(self, budget: int) -> tuple[list, list[np.ndarray]]:
        """Pick up to ``budget`` leaves by PUCT with virtual loss (terminal ones are backed up at once): the
        leaves ``(path, node, moves, policy indices)`` for the net and their planes ``[112, 8, 8]``."""
        leaves: list[tuple[list[tuple[Node, int]], Node, list[chess.Move], list[int]]] = []
        planes: list[np.ndarray] = []
        collisions, limit = 0, min(self._collision_limit(), self.params.max_collision_events)
        gathered = 0
        while gathered < budget and collisions < limit and self.root.proven is None:
            path, leaf, twofold = self._descend()
            if leaf.pending:  # picked twice in this minibatch: undo its virtual loss
                self._undo(path)
                collisions += 1
            else:
                gathered += 1
                if leaf.moves is None:
                    moves = list(self.board.legal_moves)
                    # The root is searched whenever it has moves (lc0: a draw by rule at the root is what the
                    # search is asked to think about; the game goes on until someone claims it).
                    result = _terminal(self.board, moves, twofold) if path or not moves else None
                    if result is None:
                        leaf.pending = True
                        leaves.append((path, leaf, moves, policy_indices(self.board, moves)))
                        planes.append(encode(self.board))
                    else:
                        leaf.expand([], np.zeros(0))
                        leaf.proven = result
                        leaf.twofold = twofold and result == DRAW  # a draw that depends on the path
                if leaf.proven is not None:
                    self._backup(path, leaf, float(leaf.proven), 1.0 if leaf.proven == DRAW else 0.0)
            for _ in path:
                self.board.pop()
        return leaves, planes

    def _apply(self, leaves: list, result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Expand the evaluated ``leaves`` with their priors and back up their values."""
        logits, q, d = result
        self._in_flight -= len(leaves)
        for i, (path, leaf, moves, idx) in enumerate(leaves):
            leaf.pending = False
            leaf.expand(moves, priors(logits[i], idx, self.params.policy_temperature))
            self._backup(path, leaf, float(q[i]), float(d[i]))

    def _descend(self) -> tuple[list[tuple[Node, int]], Node, bool]:
        """Walk from the root by PUCT, adding virtual loss, pushing the moves on the search board (the caller
        pops them): the path ``[(node, child index)]``, the leaf, and whether the leaf repeats a position of
        the path (a twofold repetition inside the tree)."""
        node, path = self.root, []
        keys = [self._root_key]
        while node.moves and node.proven is None:
            i = self._select(node, node is self.root)
            node.den[i] += 1.0  # virtual loss
            path.append((node, i))
            self.board.push(node.moves[i])
            child = node.children[i]
            if child is None:
                child = node.children[i] = Node()
            node = child
            keys.append(self.board._transposition_key())
        self.seldepth = max(self.seldepth, len(path))
        twofold = self.params.two_fold_draws and keys[-1] in keys[:-1]
        return path, node, twofold

    def _select(self, node: Node, is_root: bool) -> int:
        """The child maximising Q + U (lc0's PUCT with FPU); proven children use their exact value."""
        p = self.params
        cpuct = p.cpuct + p.cpuct_factor * math.log((node.visits + p.cpuct_base) / p.cpuct_base)
        puct = cpuct * math.sqrt(max(node.visits - 1, 1))
        fpu = p.fpu_value if p.fpu_absolute else node.q - p.fpu_value * math.sqrt(node.visited_p)
        score = node.p / node.den
        score *= puct
        score += node.qv
        score += node.unvisited * fpu
        if is_root and self.searchmoves is not None:
            score[~self._root_mask()] = -np.inf
        return int(score.argmax())

    def _root_mask(self) -> np.ndarray:
        """``[M]`` bool: the root moves ``go searchmoves`` allows."""
        if getattr(self, "_mask", None) is None:
            self._mask = np.array([m in self.searchmoves for m in self.root.moves], bool)
        return self._mask

    def _undo(self, path: list[tuple[Node, int]]) -> None:
        for node, i in path:
            node.den[i] -= 1.0

    def _backup(self, path: list[tuple[Node, int]], leaf: Node, v: float, d: float) -> None:
        """Add value ``v`` (leaf side to move) and draw ``d`` along the path, remove virtual loss, propagate
        proven results upward."""
        leaf.visits += 1
        leaf.wsum += v
        leaf.dsum += d
        self.playouts += 1
        self._depth_sum += len(path)
        child = leaf
        for node, i in reversed(path):
            v = -v
            node.n[i] += 1  # and the virtual loss goes: den unchanged
            node.w[i] += v
            node.d[i] += d
            node.visits += 1
            node.wsum += v
            node.dsum += d
            if node.unvisited[i]:
                node.unvisited[i] = 0.0
                node.visited_p += node.p[i]
            if child.proven is not None:
                node.qv[i] = -child.proven
                if node.proven is None:
                    self._prove(node)
            else:
                node.qv[i] = node.w[i] / node.n[i]
            child = node

    def _prove(self, node: Node) -> None:
        """Mark ``node`` proven if a child is a proven loss for its side to move, or all children are proven."""
        results = [(-c.proven, c.plies) if c is not None and c.proven is not None else None for c in node.children]
        if node is self.root and self.searchmoves is not None:
            results = [r for r, m in zip(results, node.moves) if m in self.searchmoves]
        wins = [plies for r in results if r is not None and r[0] == WIN for plies in (r[1],)]
        if wins:
            node.proven, node.plies = WIN, min(wins) + 1
        elif results and all(r is not None for r in results):
            best = max(r[0] for r in results)
            node.proven = best
            node.plies = 1 + (max(r[1] for r in results) if best == LOSS else min(r[1] for r in results if r[0] == best))

    # ---- results -------------------------------------------------------------------------------------------
    def _ranked(self, node: Node) -> list[int]:
        """Children best first, as lc0 picks the move to play: proven wins (fastest first), then by visits,
        Q and prior, proven losses last (slowest first)."""
        order = list(range(len(node.moves or [])))
        if node is self.root and self.searchmoves is not None:
            order = [i for i in order if node.moves[i] in self.searchmoves]

        def key(i: int) -> tuple:
            c = node.children[i]
            if c is not None and c.proven == LOSS:  # the opponent is mated / loses: we win
                return (2, -c.plies, 0.0, 0.0)
            if c is not None and c.proven == WIN:
                return (0, c.plies, 0.0, 0.0)
            q = node.w[i] / node.n[i] if node.n[i] else -2.0
            return (1, int(node.n[i]), q, float(node.p[i]))

        return sorted(order, key=key, reverse=True)

    def best_move(self) -> chess.Move | None:
        """The move to play: the best ranked child, or with Temperature > 0 a draw proportional to
        visits^(1/T) among unproven/winning children."""
        if not self.root.moves:
            return None
        order = self._ranked(self.root)
        t = self.params.temperature
        best = self.root.children[order[0]]
        if t > 0 and not (best is not None and best.proven == LOSS):
            cand = [i for i in order if self.root.n[i] > 0]
            if cand:
                weights = [float(self.root.n[i]) ** (1.0 / t) for i in cand]
                return self.root.moves[random.choices(cand, weights)[0]]
        return self.root.moves[order[0]]

    def pv(self) -> list[chess.Move]:
        """The principal variation: best ranked visited children from the root."""
        out, node = [], self.root
        while node is not None and node.moves:
            order = self._ranked(node)
            i = order[0]
            if node.n[i] == 0:
                break
            out.append(node.moves[i])
            node = node.children[i]
        return out

    def info(self) -> Info:
        """The figures of an ``info`` line for the best move so far."""
        root = self.root
        elapsed = max(time.monotonic() - self._start, 1e-9)
        if root.moves:
            i = self._ranked(root)[0]
            child = root.children[i]
            n = int(root.n[i])
            q = root.w[i] / n if n else root.q
            d = root.d[i] / n if n else (root.dsum / root.visits if root.visits else 0.0)
            if child is not None and child.proven is not None:
                q, d = float(-child.proven), float(child.proven == DRAW)
        else:
            q, d = root.q, root.dsum / root.visits if root.visits else 0.0
        w, loss = (1 + q - d) / 2, (1 - q - d) / 2
        wdl = [int(round(1000 * x)) for x in (w, d, loss)]
        wdl[1] = 1000 - wdl[0] - wdl[2]
        mate = None
        if root.proven == WIN:
            mate = (root.plies + 1) // 2
        elif root.proven == LOSS:
            mate = -(root.plies // 2)
        return Info(depth=max(1, round(self._depth_sum / self.playouts)) if self.playouts else 0,
                    seldepth=self.seldepth, nodes=root.visits, nps=int(self.playouts / elapsed),
                    time_ms=int(1000 * elapsed), q=q, wdl=(wdl[0], wdl[1], wdl[2]), mate=mate, pv=self.pv())
