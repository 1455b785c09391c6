"""Evaluation cache: leaf evaluations memoised by position, for one fixed set of weights.

Gomoku trees are full of transpositions (a-b-c-d and c-b-a-d reach the same net input), the parallel games of a
self-play batch all start from the empty board, and positions searched for one move come back in the next move's
search. The cache returns the stored ``(priors, value)`` instead of evaluating again.

Key: the exact net input, i.e. the board bytes (``int8 [S]``: stones of both sides) plus the last move
(AZG's plane 2); the side to move is implied by the stone count (plane 3). Python's dict hashes the bytes and
compares whole keys, so unlike a bare 64-bit Zobrist key there are no collisions: a hit returns what the net
would return for that input. (A numpy Zobrist hash with a board compare on hit was tried: 44-66 µs per batch of
16 against 32-41 µs for these bytes keys, so the simpler exact keys stay.) With a batch-invariant evaluator (onnxruntime) a search with the cache is bitwise
the search without it (test: root visit counts identical); PyTorch's CPU convs may change the last bit of a row
with the batch it is in, with or without the cache.

Memory is bounded by two generations of ``capacity`` entries (~650 bytes each on 8x8): when the young one is full
it becomes the old one and the previous old one is dropped; an old entry that is hit moves to the young one.
The cache must be dropped whenever the weights change (self-play makes one per call).
"""

from __future__ import annotations

import numpy as np

from boardnet.alphazero.game import LeafEvaluator

# Default entries per generation: 2 x 50k x ~650 B ≈ 65 MB at most per self-play process on 8x8.
DEFAULT_CAPACITY = 50_000


class EvalCache:
    """Wraps a :data:`~boardnet.alphazero.game.LeafEvaluator`; same call signature.

    Counters: ``lookups`` positions asked for, ``evaluations`` positions sent to the net (repeats inside one
    batch are evaluated once), ``hits = lookups - evaluations``. ``capacity`` 0 disables caching (counters kept).
    """

    def __init__(self, evaluate: LeafEvaluator, capacity: int = DEFAULT_CAPACITY) -> None:
        self.evaluate = evaluate
        self.capacity = capacity
        self.young: dict[bytes, tuple[np.ndarray, np.float32]] = {}
        self.old: dict[bytes, tuple[np.ndarray, np.float32]] = {}
        self.lookups = 0
        self.evaluations = 0

    @property
    def hits(self) -> int:
        return self.lookups - self.evaluations

    def __call__(self, boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``boards int8 [B, S]``, ``last int [B]`` -> ``(priors float32 [B, A], values float32 [B])``."""
        n = len(boards)
        self.lookups += n
        if self.capacity <= 0:
            self.evaluations += n
            return self.evaluate(boards, last)
        hit_rows: list[int] = []
        hit_entries: list[tuple[np.ndarray, np.float32]] = []
        todo: dict[bytes, int] = {}           # key -> row in the batch sent to the net
        first: list[int] = []                 # batch row of each key's first occurrence
        miss_rows: list[int] = []
        miss_slots: list[int] = []
        for i, key in enumerate(_keys(boards, last)):
            hit = self.young.get(key)
            if hit is None:
                hit = self.old.get(key)
                if hit is not None:
                    self._put(key, hit)
            if hit is None:
                slot = todo.get(key)
                if slot is None:
                    slot = todo[key] = len(first)
                    first.append(i)
                miss_rows.append(i)
                miss_slots.append(slot)
            else:
                hit_rows.append(i)
                hit_entries.append(hit)
        if len(first) == n:  # all new and distinct (the common case): no copies
            p, v = self.evaluate(boards, last)
            self.evaluations += n
            for key, j in todo.items():
                self._put(key, (p[j], v[j]))
            return p, v
        if first:
            p, v = self.evaluate(boards[first], last[first])
            self.evaluations += len(first)
            for key, j in todo.items():
                self._put(key, (p[j], v[j]))
        width = p.shape[1] if first else len(hit_entries[0][0])  # the game's action count
        priors = np.empty((n, width), np.float32)
        values = np.empty(n, np.float32)
        if hit_rows:
            priors[hit_rows] = np.stack([e[0] for e in hit_entries])
            values[hit_rows] = [e[1] for e in hit_entries]
        if first:
            priors[miss_rows], values[miss_rows] = p[miss_slots], v[miss_slots]
        return priors, values

    def _put(self, key: bytes, entry: tuple[np.ndarray, np.float32]) -> None:
        if len(self.young) >= self.capacity:
            self.old, self.young = self.young, {}
        self.young[key] = entry


def _keys(boards: np.ndarray, last: np.ndarray) -> list[bytes]:
    """One ``bytes`` key per row: the ``S`` board bytes then the last move as little-endian int16."""
    n = len(boards)
    raw = np.concatenate([np.ascontiguousarray(boards, np.int8).view(np.uint8),
                          np.asarray(last, "<i2").reshape(n, 1).view(np.uint8)], axis=1)
    w = raw.shape[1]
    flat = raw.tobytes()
    return [flat[i * w:(i + 1) * w] for i in range(n)]
