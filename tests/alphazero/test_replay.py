"""SelfPlayData: batch keys/shapes, 8x augmentation, exact state round trip; ArenaEvaluator state and best.pt."""

from __future__ import annotations

import numpy as np
import torch

from boardnet.alphazero.arena import ArenaEvaluator
from boardnet.alphazero.replay import SelfPlayData
from boardnet.core import registry
from boardnet.core.build import build_network
from boardnet.core.config import load_config
from boardnet.core.io import read_pt
from boardnet.train.context import TrainContext

OVERRIDES = ["data.mcts.playouts=12", "data.games_per_iteration=2", "data.buffer_size=300",
             "evaluators.0.games=2", "evaluators.0.playouts=8", "evaluators.0.opponent.playouts=8"]


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


def test_arena_evaluator(tmp_path):
    cfg, ctx = _ctx(tmp_path)
    ctx.iteration = 50
    ev = ArenaEvaluator(cfg.evaluators[0], ctx)
    out = ev.evaluate(ctx)
    assert 0.0 <= out["eval/win_rate"] <= 1.0
    if out["eval/win_rate"] > 0:
        nf = read_pt(tmp_path / "best.pt")
        assert nf.spec.family == "policy_value"
    ev2 = ArenaEvaluator(cfg.evaluators[0], ctx)
    ev2.load_state_dict(ev.state_dict())
    assert ev2.state_dict() == ev.state_dict()
