"""HalfKAv2_hm feature block (spec ``nnue.md`` §6.3): 32 king buckets x 11 planes x 64 = 22,528 inputs."""

from __future__ import annotations

import chess
import numpy as np

from boardnet.nnue.features.block import FeatureBlock

NAME = "HalfKAv2_hm"
HASH = 0x7F234CB8  # §2, same for HalfKAv2_hm^
NUM_FEATURES = 22528
PLANES = 11  # 5 piece types x 2 colours + one plane shared by both kings


def flip_mask(perspective: chess.Color, king: int) -> int:
    """XOR mask: mirror files so the king is on files e-h, plus a rank flip for black (§6.3)."""
    return (7 if chess.square_file(king) < 4 else 0) ^ (0 if perspective == chess.WHITE else 56)


def king_bucket(oriented_king: int) -> int:
    """Bucket of an oriented king square: e1 -> 31, h1 -> 28, e8 -> 3, h8 -> 0."""
    return 4 * (7 - chess.square_rank(oriented_king)) + (7 - chess.square_file(oriented_king))


def active_features(board: chess.Board, perspective: chess.Color) -> list[int]:
    """Sorted active HalfKAv2_hm indexes from ``perspective`` (at most 32, kings included)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("HalfKAv2_hm needs both kings on the board")
    flip = flip_mask(perspective, king)
    base = 64 * PLANES * king_bucket(king ^ flip)
    out = []
    for sq, piece in board.piece_map().items():
        if piece.piece_type == chess.KING:
            p_idx = 10
        else:
            p_idx = 2 * (piece.piece_type - 1) + (piece.color != perspective)
        out.append(base + (sq ^ flip) + 64 * p_idx)
    return sorted(out)


def sparse_batch(boards: list[chess.Board], max_active: int = 32) -> tuple[list[list[list[int]]], list[int]]:
    """Per board ``[stm, nstm]`` index lists padded with -1 to ``max_active``, and the layer-stack bucket."""
    indices, buckets = [], []
    for board in boards:
        pair = []
        for p in (board.turn, not board.turn):
            idx = active_features(board, p)
            pair.append(idx + [-1] * (max_active - len(idx)))
        indices.append(pair)
        buckets.append((len(board.piece_map()) - 1) // 4)
    return indices, buckets


BLOCK = FeatureBlock(NAME, HASH, NUM_FEATURES, 0, active_features, lambda: np.zeros((NUM_FEATURES, 0), np.int64),
                     plain=NAME)
