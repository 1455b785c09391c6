"""Vectorized feature indices / in-check equal the per-position python-chess functions."""

from __future__ import annotations

import chess
import numpy as np
import pytest

from boardnet.nnue.data.bin import read_bin, write_bin
from boardnet.nnue.data.features import in_check, sparse_batch
from boardnet.nnue.features import halfka_v2_hm, halfkp
from tests.nnue.data.test_bin import random_positions


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    recs = random_positions(2000, seed=11)
    path = tmp_path_factory.mktemp("f") / "f.bin"
    write_bin(path, recs)
    dec, _ = read_bin(path)
    return dec, [r[0] for r in recs]


@pytest.mark.parametrize("block", [halfka_v2_hm, halfkp])
def test_indices_match_python(decoded, block):
    dec, boards = decoded
    batch = sparse_batch(dec.list_sq, dec.list_code, dec.turn, block.NAME)
    assert batch["indices"].shape == (len(boards), 2, 32)
    for i, board in enumerate(boards):
        for j, persp in enumerate((board.turn, not board.turn)):
            row = batch["indices"][i, j]
            assert sorted(row[row >= 0].tolist()) == block.active_features(board, persp)
            assert (row[len(block.active_features(board, persp)) :] == -1).all()
        assert batch["bucket"][i] == (len(board.piece_map()) - 1) // 4


def test_in_check_matches_python(decoded):
    dec, boards = decoded
    expected = np.array([b.is_check() for b in boards])
    assert expected.sum() > 50
    assert np.array_equal(in_check(dec.pieces, dec.turn), expected)


def test_in_check_sliders_blocked():
    boards = [
        chess.Board(f)
        for f in (
            "4k3/8/8/8/8/8/4R3/4K3 b - - 0 1",
            "4k3/8/8/8/4p3/8/4R3/4K3 b - - 0 1",
            "4k3/8/8/8/B7/8/8/4K3 b - - 0 1",
            "4k3/3P4/8/8/8/8/8/4K3 b - - 0 1",
        )
    ]
    pieces = np.zeros((4, 64), np.int8)
    for i, b in enumerate(boards):
        for sq, p in b.piece_map().items():
            pieces[i, sq] = p.piece_type + 6 * (p.color == chess.BLACK)
    assert (
        in_check(pieces, np.ones(4, np.int8)).tolist()
        == [b.is_check() for b in boards]
        == [True, False, True, True]
    )
