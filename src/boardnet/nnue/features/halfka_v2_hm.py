"""HalfKAv2_hm feature block (spec ``nnue.md`` §6.3) and its factorized form HalfKAv2_hm^ (§6.4).

HalfKAv2_hm: 32 king buckets x 11 planes x 64 = 22,528 inputs; files mirrored so the own king is on files e-h,
ranks flipped for black; both kings share plane 10; at most 32 active.
HalfKAv2_hm^: + virtual A (768 = 12 planes x 64), 23,296 rows. The A factor has separate planes for the own king
(10) and the opponent king (11); the factor map recovers which king a real plane-10 feature is.
Export: coalescing only (real rows are the file rows). PSQT init: nnue-pytorch's material values (§6.4).
"""

from __future__ import annotations

from typing import Any

import chess
import numpy as np

from boardnet.nnue.features.block import (
    FeatureBlock,
    no_factors,
    piece_plane,
    piece_square_batch,
    piece_square_grid,
)

NAME = "HalfKAv2_hm"
HASH = 0x7F234CB8  # §2, same for HalfKAv2_hm^
PLANES = 11  # 5 piece types x 2 colours + one plane shared by both kings
KING_PLANE = 10
PER_BUCKET = 64 * PLANES  # 704
NUM_FEATURES = 32 * PER_BUCKET  # 22,528
NUM_VIRTUAL = 768  # A: 12 planes x 64
# §6.4 NP PSQT init in internal units: P, N, B, R, Q, K
PSQT_PIECE_VALUES = (126, 781, 825, 1276, 2538, 0)


def flip_mask(black: Any, king: Any) -> Any:
    """XOR mask (ints or numpy arrays alike; ``black`` 1 for the black perspective, ``king`` its king square):
    mirror files so the king is on files e-h, plus a rank flip for black (§6.3)."""
    return (7 * (king % 8 < 4)) ^ (56 * black)


def king_bucket(oriented_king: Any) -> Any:
    """Bucket of an oriented king square: e1 -> 31, h1 -> 28, e8 -> 3, h8 -> 0."""
    return 4 * (7 - oriented_king // 8) + (7 - oriented_king % 8)


def feature_index(oriented_king: Any, p_idx: Any, oriented_sq: Any) -> Any:
    """Index formula (ints or numpy arrays alike), §6.3: ``oriented_sq + 64*p_idx + 704*bucket``."""
    return oriented_sq + 64 * p_idx + PER_BUCKET * king_bucket(oriented_king)


def active_features(board: chess.Board, perspective: chess.Color) -> list[int]:
    """Sorted active HalfKAv2_hm indexes from ``perspective`` (at most 32, kings included)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKAv2_hm needs both kings on the board")
    flip = flip_mask(int(perspective == chess.BLACK), king)
    return sorted(feature_index(king ^ flip, KING_PLANE if p.piece_type == chess.KING else piece_plane(p, perspective),
                                sq ^ flip) for sq, p in board.piece_map().items())


def index_table() -> np.ndarray:
    """``int32 [2, 64, 13, 64]`` index by (perspective 0 white / 1 black, king square, piece code, square)."""
    persp, king, code, sq, p_idx = piece_square_grid()
    p_idx = np.where(code % 6 == 0, KING_PLANE, p_idx)  # both kings (6, 12) share one plane
    flip = flip_mask(persp, king)
    idx = feature_index(king ^ flip, p_idx, sq ^ flip)
    return np.where(code > 0, idx, -1).astype(np.int32)


def psqt_values() -> np.ndarray:
    """``float32 [22528]`` §6.4 initial PSQT per real feature, internal units: material value of the piece,
    negated for the opponent's pieces; kings 0."""
    plane = (np.arange(NUM_FEATURES) % PER_BUCKET) // 64  # 0..10
    value = np.array(PSQT_PIECE_VALUES, np.float32)[plane // 2]
    return np.where(plane % 2 == 1, -value, value).astype(np.float32)


def factors() -> np.ndarray:
    """``int64 [22528, 1]`` A index of each real feature: ``a = idx % 704`` (+64 for the opponent king).

    A plane-10 feature is the own king iff its square is the oriented own-king square of bucket
    ``k = idx // 704`` (rank ``7 - k // 4``, file ``7 - k % 4``, the inverse of ``king_bucket``).
    """
    idx = np.arange(NUM_FEATURES, dtype=np.int64)
    k, a = idx // PER_BUCKET, idx % PER_BUCKET
    own_king_sq = 8 * (7 - k // 4) + (7 - k % 4)
    theirs = (a // 64 == KING_PLANE) & (a % 64 != own_king_sq)
    return (a + 64 * theirs)[:, None]


def virtual_features(board: chess.Board, perspective: chess.Color) -> dict[int, int]:
    """Block-local A index -> value (1 per piece, kings included), straight from the board (§6.4)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKAv2_hm^ needs both kings on the board")
    flip = flip_mask(int(perspective == chess.BLACK), king)
    out: dict[int, int] = {}
    for sq, piece in board.piece_map().items():
        key = 64 * piece_plane(piece, perspective) + (sq ^ flip)
        out[key] = out.get(key, 0) + 1
    return out


BLOCK = FeatureBlock(NAME, HASH, NUM_FEATURES, 0, active_features, no_factors(NUM_FEATURES), plain=NAME,
                     batch=piece_square_batch(index_table), psqt=psqt_values)
FACTORIZED = BLOCK.factorized(NUM_VIRTUAL, factors)
