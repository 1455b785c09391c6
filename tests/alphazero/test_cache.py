"""Evaluation cache and onnxruntime evaluator: exact results with and without the cache, hit counting, bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from boardnet.alphazero.cache import EvalCache
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.inference import (
    NetPayload,
    make_evaluator,
    net_evaluator,
    onnx_evaluator,
    onnx_model_bytes,
    resolve_backend,
)
from boardnet.alphazero.mcts import Forest, MctsSettings, search
from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.selfplay import self_play
from boardnet.core.errors import ConfigError


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    game = Gomoku(6, 4)
    net = PolicyValueNet(6, 6).eval()
    return game, net, onnx_evaluator(onnx_model_bytes(net), game, threads=1)


def _boards(game: Gomoku, n: int, stones: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    boards, last = game.initial_state(n)
    for i in range(n):
        cells = rng.permutation(game.action_size)[:stones]
        boards[i, cells] = np.tile([1, 2], stones)[:stones]
        last[i] = cells[-1]
    return boards, last


def test_onnx_evaluator_matches_torch_and_is_batch_invariant(setup):
    game, net, onnx_ev = setup
    boards, last = _boards(game, 9, 6)
    p_t, v_t = net_evaluator(net, game)(boards, last)
    p_o, v_o = onnx_ev(boards, last)
    np.testing.assert_allclose(p_o, p_t, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(v_o, v_t, atol=1e-5)
    for i in range(9):  # one position alone gives bitwise the row it got in the batch
        p1, v1 = onnx_ev(boards[i:i + 1], last[i:i + 1])
        assert np.array_equal(p1[0], p_o[i]) and v1[0] == v_o[i]


def test_cache_hits_repeats_and_dedupes_within_a_batch(setup):
    game, _, onnx_ev = setup
    calls = []

    def counting(b, lm):
        calls.append(len(b))
        return onnx_ev(b, lm)

    boards, last = _boards(game, 4, 5)
    cache = EvalCache(counting, capacity=100)
    dup_b, dup_l = boards[[0, 1, 0, 2, 1]], last[[0, 1, 0, 2, 1]]
    p, v = cache(dup_b, dup_l)
    assert calls == [3] and (cache.lookups, cache.evaluations, cache.hits) == (5, 3, 2)
    p_ref, v_ref = onnx_ev(dup_b, dup_l)
    assert np.array_equal(p, p_ref) and np.array_equal(v, v_ref)
    other = boards[[3, 2]].copy(), last[[3, 2]].copy()
    p2, v2 = cache(*other)
    assert calls == [3, 1] and cache.hits == 3
    assert np.array_equal(p2, onnx_ev(*other)[0]) and np.array_equal(v2, onnx_ev(*other)[1])
    moved = boards[[2]].copy(), np.array([int(np.nonzero(boards[2, :36])[0][0])])  # same stones, other last move
    if moved[1][0] != last[2]:
        cache(*moved)
        assert calls[-1] == 1  # the last-move plane is part of the key


def test_cache_is_bounded_and_can_be_off(setup):
    game, _, onnx_ev = setup
    boards, last = _boards(game, 20, 4, seed=1)
    cache = EvalCache(onnx_ev, capacity=3)
    for i in range(20):
        cache(boards[i:i + 1], last[i:i + 1])
    assert len(cache.young) + len(cache.old) <= 6
    off = EvalCache(onnx_ev, capacity=0)
    off(boards[:4], last[:4])
    off(boards[:4], last[:4])
    assert (off.lookups, off.evaluations, off.hits) == (8, 8, 0)


def test_search_with_cache_gives_identical_visit_counts(setup):
    game, _, onnx_ev = setup
    boards, last = _boards(game, 3, 4, seed=2)
    counts = []
    for cap in (0, 10_000):
        forest = Forest(game, 3)
        cache = EvalCache(onnx_ev, cap)
        search(forest, np.arange(3), boards, last, cache, MctsSettings(playouts=300))
        counts.append(forest.N[:, 0].copy())
    np.testing.assert_array_equal(counts[0], counts[1])


def test_self_play_with_cache_is_identical_and_hits(setup):
    game, _, onnx_ev = setup
    out = [self_play(game, onnx_ev, 4, MctsSettings(playouts=60, eval_cache=cap), np.random.default_rng(5))
           for cap in (0, 10_000)]
    off, on = out
    assert off.winners == on.winners and off.moves == on.moves and off.playouts == on.playouts
    for k in ("planes", "pi", "z"):
        np.testing.assert_array_equal(getattr(off, k), getattr(on, k))
    assert off.cache_hits == 0 and off.evaluations == off.lookups
    # All 4 games search the same empty board first: at least 3 x 60 lookups of move 1 are hits.
    assert on.cache_hits >= 3 * 60 and on.evaluations + on.cache_hits == off.evaluations


def test_backends_and_payload(setup):
    game, net, _ = setup
    assert resolve_backend("auto", "cpu") == "onnx" and resolve_backend("torch", "cpu") == "torch"
    assert resolve_backend("auto", "cuda") == "torch"
    with pytest.raises(ConfigError, match="inference"):
        resolve_backend("tensorrt")
    with pytest.raises(ConfigError, match="CPU only"):
        resolve_backend("onnx", "cuda")
    with pytest.raises(ConfigError, match="CPU only"):
        resolve_backend("onnx-direct", "cuda")
    rebuilt = NetPayload.of(net).build()
    boards, last = _boards(game, 5, 6, seed=3)
    p1, v1 = make_evaluator(net, game, "torch")(boards, last)
    p2, v2 = make_evaluator(rebuilt, game, "torch")(boards, last)
    assert np.array_equal(p1, p2) and np.array_equal(v1, v2)


def test_winograd_and_direct_onnx_graphs_agree() -> None:
    """``onnx`` (Winograd trunk on an 8x8 board) and ``onnx-direct`` (plain convolutions) give the same outputs
    up to rounding, and the Winograd graph is batch-invariant too; it has no Conv node left; on 6x6, where it does not pay, ``onnx`` keeps the
    convolutions."""
    import onnx

    torch.manual_seed(3)
    game, net = Gomoku(8, 5), PolicyValueNet(8, 8).eval()
    boards, last = _boards(game, 12, 8, seed=5)
    winograd = make_evaluator(net, game, "onnx", threads=1)
    p_w, v_w = winograd(boards, last)
    p_d, v_d = make_evaluator(net, game, "onnx-direct", threads=1)(boards, last)
    np.testing.assert_allclose(p_w, p_d, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v_w, v_d, atol=1e-6)
    for i in range(12):  # batch-invariant like the direct graph: the evaluation cache stays exact
        p1, v1 = winograd(boards[i:i + 1], last[i:i + 1])
        assert np.array_equal(p1[0], p_w[i]) and v1[0] == v_w[i]

    def ops(model: torch.nn.Module, winograd: bool) -> set[str]:
        return {n.op_type for n in onnx.load_from_string(onnx_model_bytes(model, winograd)).graph.node}

    assert "Conv" not in ops(net, True) and "Conv" in ops(net, False)
    assert "Conv" in ops(PolicyValueNet(6, 6).eval(), True)


def test_refilled_slots_keep_the_batch_full(setup):
    game, _, onnx_ev = setup
    sizes = []

    def counting(b, lm):
        sizes.append(len(b))
        return onnx_ev(b, lm)

    res = self_play(game, counting, 5, MctsSettings(playouts=8, eval_cache=0), np.random.default_rng(1),
                    concurrency=2)
    assert len(res.winners) == 5 and -1 not in res.winners and res.playouts == 8 * res.moves
    starts = np.nonzero(res.planes[:, :3].sum(axis=(1, 2, 3)) == 0)[0]  # empty boards: a game's first position
    assert len(starts) == 5 and starts[0] == 0
    assert max(sizes) == 2 and sizes.count(2) > 0.6 * len(sizes)  # only the last game runs alone
    same = [self_play(game, onnx_ev, 3, MctsSettings(playouts=8), np.random.default_rng(2), concurrency=c)
            for c in (None, 3, 7)]
    for r in same[1:]:
        np.testing.assert_array_equal(r.pi, same[0].pi)



def test_onnx_evaluator_leaves_the_net_and_torch_rng_alone(setup):
    game, _, _ = setup
    net = PolicyValueNet(6, 6).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng_state = torch.get_rng_state()
    self_play(game, make_evaluator(net, game, "onnx"), 2, MctsSettings(playouts=5), np.random.default_rng(0))
    assert torch.equal(rng_state, torch.get_rng_state())  # the trainer's RNG stream (and its resume) is untouched
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
