"""SelfPlayData: batch keys/shapes, 8x augmentation, exact state round trip; ArenaEvaluator state and best.pt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from boardnet.alphazero.arena import ArenaEvaluator
from boardnet.alphazero.replay import SelfPlayData
from boardnet.core import registry
from boardnet.core.build import build_network
from boardnet.core.config import load_config
from boardnet.core.elo import elo_from_score
from boardnet.core.io import read_pt
from boardnet.train.context import TrainContext

# In-process self-play (data.workers=0): the shipped config's 2 worker processes cost seconds per test to start.
OVERRIDES = ["data.workers=0", "data.mcts.playouts=12", "data.games_per_iteration=2", "data.buffer_size=300",
             "evaluators.0.games=2", "evaluators.0.mcts.playouts=64", "evaluators.0.opponent.playouts=1"]


def _ctx(tmp_path, seed=0):
    cfg = load_config("gomoku-6x6", OVERRIDES)
    game = registry.GAMES.get("gomoku").from_config(cfg.game)
    torch.manual_seed(seed)
    net = build_network(cfg.networks["net"], game)
    return cfg, TrainContext(cfg=cfg, run_dir=tmp_path, device=torch.device("cpu"), nets={"net": net},
                             raw_nets={"net": net}, game=game, rng=np.random.default_rng(seed))


def test_batches_and_augmentation(tmp_path):
    cfg, ctx = _ctx(tmp_path)
    data = SelfPlayData(cfg.data, ctx)
    assert data.next_batch(10_000) is None  # AZG trains only once the buffer holds more than a batch
    added = data.buffer.len
    assert added == 8 * data.positions
    batch = data.next_batch(64)
    assert batch["planes"].shape == (64, 4, 6, 6) and batch["planes"].dtype == torch.float32
    assert batch["pi"].shape == (64, 36) and batch["z"].shape == (64,)
    torch.testing.assert_close(batch["pi"].sum(1), torch.ones(64))
    assert set(batch["z"].unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert data.buffer.len == min(300, 8 * data.positions)  # FIFO capped at buffer_size
    s = data.stats()
    assert s["games_per_s"] > 0 and s["playouts_per_s"] > 0


def test_state_round_trip_is_exact(tmp_path):
    cfg, ctx = _ctx(tmp_path)
    data = SelfPlayData(cfg.data, ctx)
    data.next_batch(32)
    data.next_batch(32)
    state = data.state_dict()
    rng_state = ctx.rng.bit_generator.state
    b1 = data.next_batch(32)

    cfg2, ctx2 = _ctx(tmp_path)
    data2 = SelfPlayData(cfg2.data, ctx2)
    data2.load_state_dict(state)
    ctx2.rng.bit_generator.state = rng_state
    assert (data2.games, data2.positions, data2.buffer.len) == (4, state["positions"], len(state["z"]))
    b2 = data2.next_batch(32)
    for k in ("planes", "pi", "z"):
        torch.testing.assert_close(b1[k], b2[k], rtol=0, atol=0)


def test_data_source_plays_in_process(tmp_path):
    cfg, ctx = _ctx(tmp_path)
    assert cfg.data.workers == 0
    data = SelfPlayData(cfg.data, ctx)
    data.next_batch(32)
    assert data._pool is None and data.games == 2


def test_arena_evaluator(tmp_path):
    # The net searching 64 playouts against pure MCTS with a single playout (a random mover that still takes an
    # immediate win): the net scores, so best.pt is written and holds exactly the evaluated weights.
    cfg, ctx = _ctx(tmp_path)
    ctx.iteration = 50
    ev = ArenaEvaluator(cfg.evaluators[0], ctx)
    out = ev.evaluate(ctx)
    rate = out["eval/win_rate"]
    assert rate > 0  # 2 games: a win counts 1, a draw 1/2
    nf = read_pt(tmp_path / "best.pt")
    assert nf.spec == ctx.raw_nets["net"].spec()
    for k, v in ctx.raw_nets["net"].state_dict().items():
        assert torch.equal(nf.state_dict[k], v)
    if rate == 1.0:  # AZG: a perfect score raises the opponent by 1000 playouts and resets the best
        assert ev.state_dict() == {"best": 0.0, "opponent_playouts": 1001}
    else:
        assert ev.state_dict() == {"best": rate, "opponent_playouts": 1}
    assert out["eval/opponent_playouts"] == 1.0
    # Elo of the one colour-alternated pair: the pair's score through the logistic curve; a shut-out (2:0 or
    # 0:2) the score clipped half a game from the sweep (the gauntlet's convention).
    clipped = min(max(rate, 0.5 / 2), 1 - 0.5 / 2)
    assert out["eval/elo"] == pytest.approx(elo_from_score(clipped))
    ev2 = ArenaEvaluator(cfg.evaluators[0], ctx)
    ev2.load_state_dict(ev.state_dict())
    assert ev2.state_dict() == ev.state_dict()
