"""Vectorized feature indices / in-check equal the per-position python-chess functions."""

from __future__ import annotations

import chess
import numpy as np
import pytest

from boardnet.nnue.data.bin import read_bin, write_bin
from boardnet.nnue.data.features import in_check, sparse_batch
from boardnet.nnue.features import get_block, get_feature_set
from boardnet.nnue.features.block import block_names
from tests.nnue.data.test_bin import random_positions


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    recs = random_positions(2000, seed=11)
    path = tmp_path_factory.mktemp("f") / "f.bin"
    write_bin(path, recs)
    dec, _ = read_bin(path)
    return dec, [r[0] for r in recs]


@pytest.mark.parametrize("name", [n for n in block_names() if get_block(n).batch is not None])
def test_indices_match_python(decoded, name):
    """Every registered block's vectorized builder gives its per-position index function's indices."""
    dec, boards = decoded
    fs = get_feature_set(name)
    batch = sparse_batch(dec.list_sq, dec.list_code, dec.turn, name)
    assert batch["indices"].shape == (len(boards), 2, fs.max_active)
    for i, board in enumerate(boards):
        for j, persp in enumerate((board.turn, not board.turn)):
            row = batch["indices"][i, j]
            active = fs.active_features(board, persp)
            assert sorted(row[row >= 0].tolist()) == active
            assert (row[len(active) :] == -1).all()
        assert batch["bucket"][i] == (len(board.piece_map()) - 1) // 4


def test_multi_block_indices_follow_each_other(decoded):
    dec, boards = decoded
    fs = get_feature_set("HalfKP^+HalfKAv2_hm")
    batch = sparse_batch(dec.list_sq[:300], dec.list_code[:300], dec.turn[:300], fs.name)
    assert batch["indices"].shape == (300, 2, 64)
    for i, board in enumerate(boards[:300]):
        for j, persp in enumerate((board.turn, not board.turn)):
            row = batch["indices"][i, j]
            assert sorted(row[row >= 0].tolist()) == fs.active_features(board, persp)
            assert (row[:32][row[:32] >= 0] < 41024).all() and (row[32:][row[32:] >= 0] >= 41024).all()


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
