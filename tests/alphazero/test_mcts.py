"""Batched PUCT MCTS vs the reference algorithm, batching, tree reuse, pure MCTS rollouts, players."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from boardnet.alphazero.game import Game
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.inference import net_evaluator
from boardnet.alphazero.mcts import Forest, MctsSettings, search
from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.players import MCTSPlayer, play_match
from boardnet.alphazero.pure_mcts import rollout_evaluator
from boardnet.alphazero.reference import reference_search
from boardnet.alphazero.selfplay import self_play
from tests.alphazero.helpers import line_owner


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    game = Gomoku(6, 4)
    net = PolicyValueNet(6, 6).eval()
    return game, net_evaluator(net, game)


def _positions(game: Gomoku, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    boards, last = game.initial_state(n)
    for i in range(1, n):
        for k, m in enumerate(rng.permutation(game.action_size)[: 2 * i]):
            boards[i, m] = 1 + k % 2
            last[i] = m
        if line_owner(game, boards[i]):
            boards[i], last[i] = 0, -1
    return boards, last


def test_batched_equals_reference_search(setup):
    game, ev = setup
    boards, last = _positions(game, 4)
    forest = Forest(game, 4, capacity=16)  # small capacity: exercises growth
    search(forest, np.arange(4), boards, last, ev, MctsSettings(playouts=120))
    for i in range(4):
        ref = reference_search(game, ev, boards[i], int(last[i]), 120)
        np.testing.assert_array_equal(forest.N[i, 0], ref)


class _GenericGomoku(Gomoku):
    """Gomoku without its compiled fast paths: the protocol's generic defaults replay the search paths."""

    play_paths = Game.play_paths
    rollout_values = Game.rollout_values


def test_generic_protocol_path_equals_gomoku_fast_path(setup):
    game, ev = setup
    boards, last = _positions(game, 4, seed=4)
    counts = []
    for g in (game, _GenericGomoku(6, 4)):
        forest = Forest(g, 4)
        search(forest, np.arange(4), boards, last, ev, MctsSettings(playouts=150))
        counts.append(forest.N[:, 0].copy())
    np.testing.assert_array_equal(counts[0], counts[1])
    assert counts[0].sum() == 4 * 149  # the first playout expands the root


def test_one_evaluation_per_round(setup):
    game, ev = setup
    calls = []

    def counting(b, lm):
        calls.append(len(b))
        return ev(b, lm)

    boards, last = _positions(game, 6)
    search(Forest(game, 6), np.arange(6), boards, last, counting, MctsSettings(playouts=50))
    assert len(calls) <= 50 and max(calls) == 6


def test_tree_reuse_keeps_subtree(setup):
    game, ev = setup
    boards, last = _positions(game, 1)
    forest = Forest(game, 1)
    search(forest, np.array([0]), boards, last, ev, MctsSettings(playouts=200))
    move = int(forest.N[0, 0].argmax())
    child = int(forest.child[0, 0, move])
    row, visits = forest.N[0, child].copy(), forest.visits[0, child]
    forest.advance(0, move)
    np.testing.assert_array_equal(forest.N[0, 0], row)
    assert forest.visits[0, 0] == visits and forest.size[0] == visits
    boards[0, move], last[0] = 1, move
    search(forest, np.array([0]), boards, last, ev, MctsSettings(playouts=50))
    assert forest.N[0, 0].sum() == row.sum() + 50


def test_search_finds_immediate_win(setup):
    game, ev = setup
    b, _ = game.initial_state(2)
    b[0, [0, 1, 2, 30, 31, 32]] = [1, 1, 1, 2, 2, 2]  # X to move, wins at 3
    b[1, [0, 6, 12, 30, 31, 19]] = [1, 2, 1, 2, 2, 1]
    b[1, 19] = 0
    b[1, [5, 11]] = [2, 1]  # 7 stones, O to move, nothing forced: any empty point
    moves = MCTSPlayer(game, ev, MctsSettings(playouts=200)).moves(b, np.array([32, 11]))
    assert moves[0] == 3
    assert b[1, moves[1]] == 0


def _sequential_rollout(game: Gomoku, board: np.ndarray, rng: np.random.Generator) -> float:
    b = board.copy()
    count = int((b != 0).sum())
    me = 1 if count % 2 == 0 else 2
    for m in rng.permutation(np.nonzero(b == 0)[0]):
        b[m] = 1 if count % 2 == 0 else 2
        count += 1
        full = np.concatenate([b, [0]]).astype(np.int8)[None]
        if game.outcome(full, np.array([m]))[0] == -1:  # the stone just placed completed a line
            return 1.0 if b[m] == me else -1.0
    return 0.0


def test_vectorised_rollouts_match_sequential_distribution():
    game = Gomoku(5, 4)
    board = np.zeros(25, np.int8)
    board[[6, 7, 12]] = [1, 1, 2]
    rng = np.random.default_rng(0)
    vec = game.rollout_values(np.repeat(board[None], 4000, 0), np.full(4000, 12), rng)
    seq = np.array([_sequential_rollout(game, board, rng) for _ in range(1500)])
    generic = Game.rollout_values(game, np.repeat(board[None], 4000, 0), np.full(4000, 12), rng)  # protocol default
    for outcome in (-1.0, 0.0, 1.0):
        assert abs((vec == outcome).mean() - (seq == outcome).mean()) < 0.05
        assert abs((generic == outcome).mean() - (seq == outcome).mean()) < 0.05
    # A forced position: one empty cell completing the mover's line.
    forced = np.array([1, 1, 1, 0, 2, 2, 2, 1, 2], np.int8)  # 3x3, 3 in a row; 8 stones -> X to move
    assert Gomoku(3, 3).rollout_values(forced[None], np.array([7]), rng)[0] == 1.0


def test_pure_mcts_beats_tiny_pure_mcts():
    game = Gomoku(6, 4)
    rng = np.random.default_rng(3)
    strong = MCTSPlayer(game, rollout_evaluator(game, rng), MctsSettings(playouts=400))
    weak = MCTSPlayer(game, rollout_evaluator(game, rng), MctsSettings(playouts=5))
    res = play_match(game, strong, weak, 4)
    assert res.winners.count(1) >= 3


def test_self_play_examples(setup):
    game, ev = setup
    res = self_play(game, ev, 3, MctsSettings(playouts=30), np.random.default_rng(0))
    n = len(res.z)
    assert res.planes.shape == (n, 4, 6, 6) and res.pi.shape == (n, 36) and res.moves == n
    np.testing.assert_allclose(res.pi.sum(axis=1), 1.0, atol=1e-5)
    assert (res.pi * res.planes[:, :2].sum(axis=1)[:, ::-1].reshape(n, 36) == 0).all()  # no mass on stones
    assert res.playouts == 30 * n
    start = 0
    for w in res.winners:  # z alternates sign along a decided game and ends +1 for the winner's last move
        length = int((res.planes[start:, :2].sum(axis=(1, 2, 3)) == 0).nonzero()[0][1]) if start + 1 < n and \
            (res.planes[start + 1:, :2].sum(axis=(1, 2, 3)) == 0).any() else n - start
        z = res.z[start:start + length]
        if w:
            assert z[-1] == 1.0 and (z[:-1] * z[1:] == -1).all()
        start += length
    assert start == n
