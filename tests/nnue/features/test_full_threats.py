"""Full_Threats (SF18): table sizes, hand-counted threats, colour-mirror symmetry, registry.

The index formula itself is proven by the SF18 engine evals (tests/nnue/test_eval_modern.py): with the threat
rows of the real net, all 72 printed evaluations match.
"""

from __future__ import annotations

import chess
import numpy as np

from boardnet.nnue.features import full_threats as ft
from boardnet.nnue.features import get_feature_set
from tests.conftest import random_boards


def test_sizes_and_registry() -> None:
    fs = get_feature_set("Full_Threats")
    assert (fs.num_real, fs.num_virtual, fs.hash) == (79856, 0, 0x8F234CB8)
    # pairs per piece (empty board, pawns from ranks 2-7): P 84, N 336, B 560, R 896, Q 1456, K 420
    pairs = [int(ft.OFFSET[pc, 63] + chess.popcount(ft.pseudo_attacks(pc, 63)) * (pc & 7 != chess.PAWN))
             for pc in (1, 2, 3, 4, 5, 6)]
    assert pairs == [84, 336, 560, 896, 1456, 420]
    assert sum(t * p for t, p in zip(ft.TARGETS[1:7], pairs, strict=True)) * 2 == ft.NUM_FEATURES
    live = ft.LUT1[ft.LUT1 < ft.NUM_FEATURES]
    assert live.min() == 0 and live.max() < ft.NUM_FEATURES


def test_start_position_threats() -> None:
    # per side: Nb1-d2, Ng1-e2, Bc1-b2/d2, Bf1-e2/g2, Ra1-a2/b1, Rh1-h2/g1, Qd1-c1/e1/c2/d2/e2,
    # Ke1-d1/f1/d2/e2/f2 = 20 threats; king attacking queen is not a feature -> 19 per side
    board = chess.Board()
    assert len(ft.threats(board)) == 40
    for color in chess.COLORS:
        idx = ft.active_features(board, color)
        assert len(idx) == 38 and len(set(idx)) == 38 and max(idx) < ft.NUM_FEATURES


def test_same_type_mutual_threats_count_once() -> None:
    board = chess.Board("4k3/8/8/3n4/8/4N3/8/4K3 w - - 0 1")  # Ne3 and Nd5 attack each other
    rows = ft.threats(board)
    assert len(rows) == 2
    for color in chess.COLORS:
        assert len(ft.active_features(board, color)) == 1


def test_colour_mirror_symmetry() -> None:
    for board in random_boards(40, seed=3):
        mirrored = board.mirror()  # ranks flipped, colours swapped
        for color in chess.COLORS:
            assert ft.active_features(board, color) == ft.active_features(mirrored, not color)


def test_index_is_unique_per_threat() -> None:
    for board in random_boards(20, seed=5):
        for color in chess.COLORS:
            rows = ft.threats(board)
            idx = ft.make_index(color, rows, board.king(color))
            live = idx[idx < ft.NUM_FEATURES]
            assert len(np.unique(live)) == len(live)
