"""lc0's 1858-move policy index and the conv-policy gather (shared/specs/lc0.md §7, §8).

Squares are ``file + 8·rank`` (a1 = 0, h8 = 63) in the side-to-move frame (black's moves are mirrored by rank).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

POLICY_SIZE = 1858
CONV_POLICY_CHANNELS = 80
# §8: queen-line directions (Δfile, Δrank) in channel order N, NE, E, SE, S, SW, W, NW.
QUEEN_DIRS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
# §8: knight (Δfile, Δrank) in channel order 56..63.
KNIGHT_DELTAS = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
# §7: promotion suffixes in index order; §8: their order inside a promotion channel triple.
INDEX_PROMOS = ("q", "r", "b")
CONV_PROMOS = ("r", "b", "q")
FILES = "abcdefgh"


def square_name(sq: int) -> str:
    """``0 -> "a1"``."""
    return FILES[sq % 8] + str(sq // 8 + 1)


def _targets(sq: int) -> list[int]:
    """Every square a queen or a knight reaches from ``sq`` on an empty board."""
    f, r = sq % 8, sq // 8
    out = []
    for df, dr in QUEEN_DIRS:
        for dist in range(1, 8):
            nf, nr = f + df * dist, r + dr * dist
            if 0 <= nf < 8 and 0 <= nr < 8:
                out.append(nr * 8 + nf)
    for df, dr in KNIGHT_DELTAS:
        nf, nr = f + df, r + dr
        if 0 <= nf < 8 and 0 <= nr < 8:
            out.append(nr * 8 + nf)
    return out


@lru_cache(maxsize=1)
def policy_moves() -> tuple[str, ...]:
    """The 1858 UCI moves of lc0's policy, in index order (§7): "a1b1" = 0, "e2e4" = 322, "h7h8b" = 1857."""
    moves = [square_name(a) + square_name(b) for a in range(64) for b in sorted(_targets(a))]
    promos = []
    for a in range(48, 56):
        for b in range(56, 64):
            if abs(b % 8 - a % 8) <= 1:
                promos += [square_name(a) + square_name(b) + p for p in INDEX_PROMOS]
    return tuple(moves + promos)


@lru_cache(maxsize=1)
def move_index() -> dict[str, int]:
    """UCI move (side-to-move frame) -> policy index."""
    return {m: i for i, m in enumerate(policy_moves())}


def _conv_channel(frm: int, to: int, promo: str) -> int:
    """The conv-policy channel of a move (§8); knight promotions use the plain queen-move channel."""
    df, dr = to % 8 - frm % 8, to // 8 - frm // 8
    if promo in CONV_PROMOS:
        return 64 + 3 * (df + 1) + CONV_PROMOS.index(promo)
    if (df, dr) in KNIGHT_DELTAS:
        return 56 + KNIGHT_DELTAS.index((df, dr))
    dist = max(abs(df), abs(dr))
    return QUEEN_DIRS.index((int(np.sign(df)), int(np.sign(dr)))) * 7 + dist - 1


@lru_cache(maxsize=1)
def conv_policy_gather() -> np.ndarray:
    """``g [1858] int64`` with ``logits = flat[:, g]`` for the conv head's output flattened as ``[B, 80·64]``."""
    g = np.empty(POLICY_SIZE, dtype=np.int64)
    for i, move in enumerate(policy_moves()):
        frm = FILES.index(move[0]) + 8 * (int(move[1]) - 1)
        to = FILES.index(move[2]) + 8 * (int(move[3]) - 1)
        g[i] = _conv_channel(frm, to, move[4:]) * 64 + frm
    return g


ATTENTION_POLICY_SIZE = 64 * 64 + 8 * 24  # §9: Q·K logits, then promotion logits [from_file, to_file, q/r/b]


@lru_cache(maxsize=1)
def attention_policy_gather() -> np.ndarray:
    """``g [1858] int64`` with ``logits = flat[:, g]`` for the attention head's ``[B, 64·64 + 8·24]`` vector (§9).

    Plain moves (and knight promotions, which have no suffix) read the Q·K entry ``from·64 + to``; q/r/b
    promotions read ``4096 + from_file·24 + to_file·3 + p`` with p = 0 q, 1 r, 2 b (lc0 ``kAttnPolicyMap``).
    """
    g = np.empty(POLICY_SIZE, dtype=np.int64)
    for i, move in enumerate(policy_moves()):
        frm = FILES.index(move[0]) + 8 * (int(move[1]) - 1)
        to = FILES.index(move[2]) + 8 * (int(move[3]) - 1)
        if move[4:]:
            g[i] = 64 * 64 + (frm % 8) * 24 + (to % 8) * 3 + INDEX_PROMOS.index(move[4:])
        else:
            g[i] = frm * 64 + to
    return g


@lru_cache(maxsize=1)
def position_encoding() -> np.ndarray:
    """``[64, 64] float32``: lc0's PE_MAP table (``kPosEncoding``): row ``s``, column ``t`` is −1 on ``t = s``,
    1 where a queen or a knight moves from ``s`` to ``t`` on an empty board, else 0 (checked equal to lc0
    v0.31.2's ``attention_policy_map.h`` table, all 4096 entries)."""
    table = np.zeros((64, 64), np.float32)
    for sq in range(64):
        table[sq, _targets(sq)] = 1.0
        table[sq, sq] = -1.0
    return table
