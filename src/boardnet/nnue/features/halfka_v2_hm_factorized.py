"""HalfKAv2_hm^ block (spec ``nnue.md`` §6.4): HalfKAv2_hm + virtual A (768 = 12 planes x 64), 23,296 rows.

The A factor has separate planes for the own king (10) and the opponent king (11), while the real block
shares plane 10 for both kings; the factor map recovers which king a real plane-10 feature is.
"""

from __future__ import annotations

import chess
import numpy as np

from boardnet.nnue.features import halfka_v2_hm
from boardnet.nnue.features.block import FeatureBlock

NAME = "HalfKAv2_hm^"
NUM_VIRTUAL = 768
_PER_BUCKET = 64 * halfka_v2_hm.PLANES  # 704


def factors() -> np.ndarray:
    """``int64 [22528, 1]`` A index of each real feature: ``a = idx % 704`` (+64 for the opponent king).

    A plane-10 feature is the own king iff its square is the oriented own-king square of bucket
    ``k = idx // 704`` (rank ``7 - k // 4``, file ``7 - k % 4``, the inverse of ``king_bucket``).
    """
    idx = np.arange(halfka_v2_hm.NUM_FEATURES, dtype=np.int64)
    k, a = idx // _PER_BUCKET, idx % _PER_BUCKET
    own_king_sq = 8 * (7 - k // 4) + (7 - k % 4)
    theirs = (a // 64 == 10) & (a % 64 != own_king_sq)
    return (a + 64 * theirs)[:, None]


def virtual_features(board: chess.Board, perspective: chess.Color) -> dict[int, int]:
    """Block-local A index -> value (1 per piece, kings included), straight from the board (§6.4)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKAv2_hm^ needs both kings on the board")
    flip = halfka_v2_hm.flip_mask(perspective, king)
    out: dict[int, int] = {}
    for sq, piece in board.piece_map().items():
        p_idx = 2 * (piece.piece_type - 1) + (piece.color != perspective)
        key = 64 * p_idx + (sq ^ flip)
        out[key] = out.get(key, 0) + 1
    return out


BLOCK = FeatureBlock(NAME, halfka_v2_hm.HASH, halfka_v2_hm.NUM_FEATURES, NUM_VIRTUAL,
                     halfka_v2_hm.active_features, factors, plain=halfka_v2_hm.NAME)
