"""Gomoku: AZG's encoding (against the fixture's states), win detection, the 8 symmetries, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.core.config import load_config
from boardnet.core.errors import ConfigError
from tests.alphazero.helpers import line_owner
from tests.conftest import fixture_path


def _position(game: Gomoku, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    b, last = game.initial_state(1)
    for m in history:
        b, last = game.play(b, last, np.array([m]))
    return b, last


def test_encoding_reproduces_azg_states():
    data = np.load(fixture_path("azg", "io_6_6_4.npz"))
    game = Gomoku(6, 4)
    for i in range(len(data["states"])):
        hist = data["move_histories"][i]
        b, last = _position(game, hist[hist >= 0])
        np.testing.assert_array_equal(game.encode(b, last)[0], data["states"][i], err_msg=f"position {i}")
        np.testing.assert_array_equal(b[0, :36] == 0, data["legal"][i])


def test_fixture_wins_match_line_scan():
    data = np.load(fixture_path("azg", "io_6_6_4.npz"))
    game = Gomoku(6, 4)
    found = 0
    for hist in data["move_histories"]:
        hist = hist[hist >= 0]
        if not len(hist):
            continue
        b, last = _position(game, hist)
        found += int(line_owner(game, b[0]) != 0)
    assert found == 66  # README: 66 of the 200 positions contain a completed line of 4


@pytest.mark.parametrize("size,n", [(6, 4), (8, 5), (15, 5), (3, 3)])
def test_win_detection_all_directions(size, n):
    game = Gomoku(size, n)
    rng = np.random.default_rng(size)
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r0 = int(rng.integers(0, size - (n - 1) * dr))
        c0 = int(rng.integers((n - 1) if dc < 0 else 0, size - (n - 1) * max(dc, 0)))
        cells = [(r0 + i * dr) * size + c0 + i * dc for i in range(n)]
        b, _ = game.initial_state(1)
        b[0, cells[:-1]] = 2
        assert np.isnan(game.outcome(b, np.array([cells[-2]]))[0])
        b[0, cells[-1]] = 2
        for m in cells:  # the line is found from any of its stones: the side to move has lost
            assert game.outcome(b, np.array([m]))[0] == -1
        assert line_owner(game, b[0]) == 2
        b[0, cells[n // 2]] = 1  # broken line
        assert np.isnan(game.outcome(b, np.array([cells[-1]]))[0])


def test_symmetries_keep_planes_and_policy_consistent():
    """Each image is the encoding of a legal transformed position and its policy mass sits on its last move."""
    game = Gomoku(6, 4)
    rng = np.random.default_rng(0)
    hist = rng.permutation(36)[:9]
    b, last = _position(game, hist)
    planes = game.encode(b, last)
    pi = np.zeros((1, 36), np.float32)
    pi[0, last[0]] = 1.0
    images = game.symmetries(planes, pi)
    assert len(images) == 8
    seen = set()
    for p, q in images:
        m = int(q[0].argmax())
        r, c = m // 6, m % 6
        assert p[0, 2, 5 - r, c] == 1.0  # AZG's row flip: move m lives at [5 - m // 6, m % 6]
        assert p[0, 2].sum() == 1.0 and p[0, :2].sum() == 9
        np.testing.assert_array_equal(p[0, 3], planes[0, 3])
        seen.add(p.tobytes())
    assert len(seen) == 8  # an asymmetric position has 8 distinct images


def test_symmetries_equivariant_net_outputs():
    """A net whose policy is computed pointwise from plane 2 is equivariant; its outputs must transform like pi."""
    game = Gomoku(8, 5)
    rng = np.random.default_rng(1)
    b, last = _position(game, rng.permutation(64)[:11])
    planes = game.encode(b, last)

    def policy(x: np.ndarray) -> np.ndarray:  # logits over move index from the row-flipped planes
        img = x[:, 0] * 0.3 + x[:, 2] * 2.0 - x[:, 1]
        return np.flip(img, axis=-2).reshape(len(x), -1)

    base = policy(planes)
    for p, q in game.symmetries(planes, base):
        np.testing.assert_allclose(policy(p), q)


def test_config_validation():
    with pytest.raises(ConfigError, match="n_in_row"):
        load_config("gomoku-6x6", ["game.n_in_row=7"])
    cfg = load_config("gomoku-6x6")
    g = Gomoku.from_config(cfg.game)
    assert (g.size, g.n_in_row, g.action_size) == (6, 4, 36)


def test_rules_play_legal_outcome_and_a_full_board_draw():
    game = Gomoku(3, 3)
    b, last = game.initial_state(2)
    assert b.shape == (2, 10) and (last == -1).all() and np.isnan(game.outcome(b, last)).all()
    nb, nl = game.play(b, last, np.array([4, 0]))
    assert (b == 0).all()  # inputs untouched
    assert nb[0, 4] == 1 and nb[1, 0] == 1 and list(nl) == [4, 0]
    nb, nl = game.play(nb, nl, np.array([0, 4]))
    assert nb[0, 0] == 2 and nb[1, 4] == 2
    np.testing.assert_array_equal(game.legal_actions(nb)[0], nb[0, :9] == 0)
    # X O X / X O O / O X X: full, no line -> draw (0 for the side to move)
    draw = np.array([[1, 2, 1, 1, 2, 2, 2, 1, 1, 0]], np.int8)
    assert game.outcome(draw, np.array([8]))[0] == 0.0 and line_owner(game, draw[0]) == 0


def test_text_moves_read_back():
    g = Gomoku(8, 5)
    empty = g.initial_state(1)[0][0]
    assert g.parse_action(" c4 ", empty) == 26 and g.parse_action("d3", empty) == 19
    assert g.parse_action("H8", empty) == 63
    for bad in ("", "3", "c", "c0", "i1", "-1,2", "a,b", "2,3"):  # one convention: the board's labels
        with pytest.raises(ValueError):
            g.parse_action(bad, empty)
    assert all(g.parse_action(g.action_name(m), empty) == m for m in range(64))  # names read back
    assert g.action_name(26) == "c4"
    taken = empty.copy()
    taken[26] = 1
    with pytest.raises(ValueError, match="'c4' is taken"):
        g.parse_action("c4", taken)
