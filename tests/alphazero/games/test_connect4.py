"""Connect Four: gravity, legal columns, wins in every direction, draws, encoding, the mirror symmetry, rollouts,
and MCTS finding the right move in tactical positions."""

from __future__ import annotations

import numpy as np
import pytest

from boardnet.alphazero.game import Game
from boardnet.alphazero.games.connect4 import ConnectFour
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.players import MCTSPlayer
from boardnet.alphazero.pure_mcts import rollout_evaluator
from boardnet.core import registry
from boardnet.core.config import load_config

GAME = ConnectFour()


def _after(columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The state after playing ``columns`` (1-based, as a player names them) from the start."""
    b, last = GAME.initial_state(1)
    for col in columns:
        assert np.isnan(GAME.outcome(b, last)[0])
        b, last = GAME.play(b, last, np.array([col - 1]))
    return b, last


def test_stones_fall_and_full_columns_are_illegal():
    b, last = _after([4, 4, 4, 4, 4, 4])
    column = b[0].reshape(6, 7)[:, 3]
    np.testing.assert_array_equal(column, [1, 2, 1, 2, 1, 2])  # bottom first, alternating, X first
    assert last[0] == 3 and (b[0].reshape(6, 7)[:, [0, 1, 2, 4, 5, 6]] == 0).all()
    assert GAME.legal_actions(b)[0].tolist() == [True, True, True, False, True, True, True]
    with pytest.raises(ValueError, match="column 4 is full"):
        GAME.parse_action("4", b[0])
    assert GAME.parse_action(" 7 ", b[0]) == 6 and GAME.parse_action("column 1", b[0]) == 0


@pytest.mark.parametrize("moves,name", [
    ([1, 1, 2, 2, 3, 3, 4], "row"),
    ([1, 2, 1, 2, 1, 2, 1], "column"),
    ([1, 2, 2, 3, 3, 4, 3, 4, 4, 7, 4], "rising diagonal"),
    ([7, 6, 6, 5, 5, 4, 5, 4, 4, 1, 4], "falling diagonal"),
])
def test_four_in_a_line_wins(moves, name):
    b, last = _after(moves[:-1])
    assert np.isnan(GAME.outcome(b, last)[0]), name
    b, last = GAME.play(b, last, np.array([moves[-1] - 1]))
    assert GAME.outcome(b, last)[0] == -1.0, name  # X just completed 4: the side to move (O) lost


def test_full_board_without_a_line_is_a_draw():
    # Columns filled in the order 1,2,3 / 5,6,7 / 4 pairs stack X,O alternately: no line of four anywhere.
    order = [1, 2, 1, 2, 1, 2, 2, 1, 2, 1, 2, 1, 3, 4, 3, 4, 3, 4, 4, 3, 4, 3, 4, 3,
             5, 6, 5, 6, 5, 6, 6, 5, 6, 5, 6, 5, 7, 7, 7, 7, 7, 7]
    b, last = _after(order)
    assert (b[0] != 0).all() and not GAME.legal_actions(b).any()
    assert GAME.outcome(b, last)[0] == 0.0


def test_encoding_and_mirror():
    b, last = _after([4, 3, 4])  # X: d1 d2, O: c1; O to move
    x = GAME.encode(b, last)
    assert x.shape == (1, 3, 6, 7) and x.dtype == np.float32
    assert x[0, 0].sum() == 1 and x[0, 0, 0, 2] == 1  # plane 0: the side to move's (O) stones
    assert x[0, 1].sum() == 2 and x[0, 1, 0, 3] == x[0, 1, 1, 3] == 1
    assert (x[0, 2] == 0).all()  # the second mover is to move
    pi = np.arange(7, dtype=np.float32)[None] / 21
    images = GAME.symmetries(x, pi)
    assert len(images) == 2 and images[0][0] is x
    (mp, mpi) = images[1]
    mirrored, _ = _after([4, 5, 4])  # the mirror image played out: c1 -> e1
    np.testing.assert_array_equal(mp, GAME.encode(mirrored, np.array([3])))
    np.testing.assert_array_equal(mpi[0], pi[0, ::-1])


def test_fast_rollouts_match_the_generic_protocol_rollouts():
    b, last = _after([4, 4, 3])
    n = 3000
    boards, lasts = np.repeat(b, n, 0), np.repeat(last, n)
    fast = GAME.rollout_values(boards, lasts, np.random.default_rng(0))
    generic = Game.rollout_values(GAME, boards, lasts, np.random.default_rng(1))
    for outcome in (-1.0, 0.0, 1.0):
        assert abs((fast == outcome).mean() - (generic == outcome).mean()) < 0.04
    assert set(np.unique(fast)) <= {-1.0, 0.0, 1.0} and len(np.unique(fast)) >= 2


TACTICS = [
    # (moves played, the winning moves for the side to move, what it is)
    ([1, 1, 2, 2, 3, 3], {4}, "X wins at once: a1 b1 c1 + d1"),
    ([1, 4, 7, 4, 1, 4], {4}, "X must block O's d1-d2-d3 column, every other move loses"),
    ([3, 3, 4, 4], {2, 5}, "X makes an open three on the bottom row: two threats, O can stop one"),
]


@pytest.mark.slow
def test_mcts_finds_the_tactical_moves():
    """Pure MCTS with enough playouts (uniform priors, random rollouts, exact terminal values) finds the only
    moves that win or do not lose; all three positions searched as one batch."""
    states = [_after(moves) for moves, _, _ in TACTICS]
    boards = np.concatenate([s[0] for s in states])
    last = np.concatenate([s[1] for s in states])
    assert all(np.isnan(GAME.outcome(boards, last)))
    player = MCTSPlayer(GAME, rollout_evaluator(GAME, np.random.default_rng(0)), MctsSettings(playouts=3000))
    chosen = player.moves(boards, last)
    for (_, winning, what), move in zip(TACTICS, chosen):
        assert int(move) + 1 in winning, f"{what}: chose column {int(move) + 1}"


def test_registered_and_bundled_config():
    cfg = load_config("connect4")
    game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
    assert isinstance(game, ConnectFour) and (game.action_size, game.planes, game.height, game.width) == (7, 3, 6, 7)
    assert cfg.networks["net"].in_planes == game.planes
