"""HalfKP feature block (spec ``nnue.md`` §6.1): 41,024 inputs per perspective, kings are not features."""

from __future__ import annotations

import chess
import numpy as np

from boardnet.nnue.features.block import FeatureBlock

NAME = "HalfKP"
HASH = 0x5D69D5B8  # §2, same for HalfKP^
NUM_FEATURES = 41024  # 64 king squares x 641 (= 1 dead "no piece" slot + 10 planes x 64)


def orient(perspective: chess.Color, square: int) -> int:
    """180-degree rotation for black (§6.1), not a vertical flip."""
    return square ^ (0 if perspective == chess.WHITE else 63)


def active_features(board: chess.Board, perspective: chess.Color) -> list[int]:
    """Sorted active HalfKP indexes of ``board`` seen from ``perspective`` (at most 30)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKP needs both kings on the board")
    base = 1 + 641 * orient(perspective, king)
    out = []
    for sq, piece in board.piece_map().items():
        if piece.piece_type == chess.KING:
            continue
        p_idx = 2 * (piece.piece_type - 1) + (piece.color != perspective)
        out.append(base + orient(perspective, sq) + 64 * p_idx)
    return sorted(out)


BLOCK = FeatureBlock(NAME, HASH, NUM_FEATURES, 0, active_features, lambda: np.zeros((NUM_FEATURES, 0), np.int64),
                     plain=NAME)
