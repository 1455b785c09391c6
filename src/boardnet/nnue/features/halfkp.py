"""HalfKP feature block (spec ``nnue.md`` §6.1) and its factorized form HalfKP^ (§6.2).

HalfKP: 41,024 inputs per perspective (64 own-king squares x 641), kings are not features; at most 30 active.
HalfKP^: + virtual HalfK (64) and P (640) factors, 41,728 rows in training. Its virtual features per
perspective: ``HalfK[orient(king)]`` with value = number of non-king pieces, and ``P[64*p_idx + orient(sq)]``
value 1 per non-king piece. Both follow from gathering the factor map over the active real features (each real
feature adds its HalfK row once and its P row once). Export: coalescing only (real rows are the file rows); no
PSQT (the SF12 net has none).
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

NAME = "HalfKP"
HASH = 0x5D69D5B8  # §2, same for HalfKP^
PLANE_SLOTS = 641  # 1 dead "no piece" slot + 10 planes x 64 squares, per own-king square
NUM_FEATURES = 64 * PLANE_SLOTS  # 41,024
NUM_HALFK = 64
NUM_P = 640
NUM_VIRTUAL = NUM_HALFK + NUM_P  # 704


def orient(perspective: chess.Color, square: int) -> int:
    """180-degree rotation for black (§6.1), not a vertical flip."""
    return square ^ (0 if perspective == chess.WHITE else 63)


def feature_index(oriented_king: Any, p_idx: Any, oriented_sq: Any) -> Any:
    """Index formula (ints or numpy arrays alike), §6.1: ``1 + oriented_sq + 64*p_idx + 641*oriented_king``."""
    return 1 + oriented_sq + 64 * p_idx + PLANE_SLOTS * oriented_king


def active_features(board: chess.Board, perspective: chess.Color) -> list[int]:
    """Sorted active HalfKP indexes of ``board`` seen from ``perspective`` (at most 30)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKP needs both kings on the board")
    ok = orient(perspective, king)
    return sorted(feature_index(ok, piece_plane(p, perspective), orient(perspective, sq))
                  for sq, p in board.piece_map().items() if p.piece_type != chess.KING)


def index_table() -> np.ndarray:
    """``int32 [2, 64, 13, 64]`` index by (perspective 0 white / 1 black, king square, piece code, square)."""
    persp, king, code, sq, p_idx = piece_square_grid()
    rot = 63 * persp
    idx = feature_index(king ^ rot, p_idx, sq ^ rot)
    return np.where((code > 0) & (code % 6 != 0), idx, -1).astype(np.int32)  # kings (6, 12) are no features


def factors() -> np.ndarray:
    """``int64 [41024, 2]`` block-local virtual index of each real feature: ``[HalfK k, 64 + P q]``.

    ``k = idx // 641``, ``q = idx % 641 - 1``; the dead slot ``641*k`` (q = -1) maps to HalfK[63] as in
    nnue-pytorch (never active, but its exported row then holds HalfK[k] + HalfK[63]).
    """
    idx = np.arange(NUM_FEATURES, dtype=np.int64)
    return np.stack([idx // PLANE_SLOTS, NUM_HALFK + idx % PLANE_SLOTS - 1], 1)


def virtual_features(board: chess.Board, perspective: chess.Color) -> dict[int, int]:
    """Block-local virtual index -> value, straight from the board (§6.2), for checking :func:`factors`."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKP^ needs both kings on the board")
    out: dict[int, int] = {}
    pieces = [(sq, p) for sq, p in board.piece_map().items() if p.piece_type != chess.KING]
    if pieces:
        out[orient(perspective, king)] = len(pieces)
    for sq, piece in pieces:
        key = NUM_HALFK + 64 * piece_plane(piece, perspective) + orient(perspective, sq)
        out[key] = out.get(key, 0) + 1
    return out


BLOCK = FeatureBlock(NAME, HASH, NUM_FEATURES, 0, active_features, no_factors(NUM_FEATURES), plain=NAME,
                     batch=piece_square_batch(index_table))
FACTORIZED = BLOCK.factorized(NUM_VIRTUAL, factors)
