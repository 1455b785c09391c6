"""HalfKP^ block (spec ``nnue.md`` §6.2): HalfKP + virtual HalfK (64) and P (640) factors, 41,728 rows in training.

Virtual features per perspective: ``HalfK[orient(king)]`` with value = number of non-king pieces, and
``P[64*p_idx + orient(sq)]`` value 1 per non-king piece. Both follow from gathering the factor map over the
active real features (each real feature adds its HalfK row once and its P row once).
"""

from __future__ import annotations

import chess
import numpy as np

from boardnet.nnue.features import halfkp
from boardnet.nnue.features.block import FeatureBlock

NAME = "HalfKP^"
NUM_HALFK = 64
NUM_P = 640
NUM_VIRTUAL = NUM_HALFK + NUM_P  # 704


def factors() -> np.ndarray:
    """``int64 [41024, 2]`` block-local virtual index of each real feature: ``[HalfK k, 64 + P q]``.

    ``k = idx // 641``, ``q = idx % 641 - 1``; the dead slot ``641*k`` (q = -1) maps to HalfK[63] as in
    nnue-pytorch (never active, but its exported row then holds HalfK[k] + HalfK[63]).
    """
    idx = np.arange(halfkp.NUM_FEATURES, dtype=np.int64)
    return np.stack([idx // 641, NUM_HALFK + idx % 641 - 1], 1)


def virtual_features(board: chess.Board, perspective: chess.Color) -> dict[int, int]:
    """Block-local virtual index -> value, straight from the board (§6.2), for checking :func:`factors`."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKP^ needs both kings on the board")
    out: dict[int, int] = {}
    pieces = [(sq, p) for sq, p in board.piece_map().items() if p.piece_type != chess.KING]
    if pieces:
        out[halfkp.orient(perspective, king)] = len(pieces)
    for sq, piece in pieces:
        p_idx = 2 * (piece.piece_type - 1) + (piece.color != perspective)
        key = NUM_HALFK + 64 * p_idx + halfkp.orient(perspective, sq)
        out[key] = out.get(key, 0) + 1
    return out


BLOCK = FeatureBlock(NAME, halfkp.HASH, halfkp.NUM_FEATURES, NUM_VIRTUAL, halfkp.active_features, factors,
                     plain=halfkp.NAME)
