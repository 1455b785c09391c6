"""The arena evaluator's opponents from the config: a Gomocup engine (boardnet's own pbrain, launched as a
command) and a fixed model file, and the key-path errors of bad opponent values."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from boardnet.alphazero.arena import ArenaEvaluator
from boardnet.core import registry
from boardnet.core.build import build_network
from boardnet.core.config import load_config
from boardnet.core.elo import elo_from_score
from boardnet.core.errors import ConfigError
from boardnet.core.io import read_pt
from boardnet.train.context import TrainContext
from tests.conftest import fixture_path

AZG6 = fixture_path("azg", "best_policy_6_6_4.model")  # a trained 6x6, 4-in-a-row net (AZG's)
BASE = ["data.workers=0", "evaluators.0.games=2", "evaluators.0.mcts.playouts=32"]


def _ctx(tmp_path, overrides, config="gomoku-6x6"):
    cfg = load_config(config, [*BASE, *overrides])
    game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
    torch.manual_seed(0)
    net = build_network(cfg.networks["net"], game)  # a fresh, untrained net
    return cfg, TrainContext(cfg=cfg, run_dir=tmp_path, device=torch.device("cpu"), nets={"net": net},
                             raw_nets={"net": net}, game=game, rng=np.random.default_rng(0))


@pytest.mark.parametrize(("overrides", "key", "why"), [
    (["evaluators.0.opponent.type=pbrain"], "evaluators.0.opponent.command", "needs the engine's command line"),
    (["evaluators.0.opponent.type=pbrain", "evaluators.0.opponent.command=/no/such/engine --x"],
     "evaluators.0.opponent.command", "no program '/no/such/engine'"),
    (["evaluators.0.opponent.type=pbrain", "evaluators.0.opponent.command=\"x 'unclosed\""],
     "evaluators.0.opponent.command", "cannot split"),
    (["evaluators.0.opponent.type=checkpoint"], "evaluators.0.opponent.path", "needs a model file"),
    (["evaluators.0.opponent.type=checkpoint", "evaluators.0.opponent.path=/no/such.pt"],
     "evaluators.0.opponent.path", "no such file"),
    (["evaluators.0.opponent.command=engine"], "evaluators.0.opponent.command", "pure_mcts opponent does not"),
    (["evaluators.0.opponent.type=rapfi"], "evaluators.0.opponent.type", "pure_mcts"),
    (["evaluators.0.opponent.type=pbrain", f"evaluators.0.opponent.command={sys.executable}",
      "evaluators.0.opponent.timeout_ms=0"], "evaluators.0.opponent.timeout_ms", "greater than 0"),
])
def test_bad_opponents_name_their_key(overrides, key, why):
    with pytest.raises(ConfigError, match=rf"config key '{key}': .*{why}"):
        load_config("gomoku-6x6", overrides)


def test_opponent_that_does_not_fit_the_game(tmp_path):
    cfg, ctx = _ctx(tmp_path, ["evaluators.0.opponent.type=checkpoint", f"evaluators.0.opponent.path={AZG6}"],
                    "gomoku-8x8")
    with pytest.raises(ConfigError, match=r"'evaluators.0.opponent.path': .*6x6 net .* does not fit"):
        ArenaEvaluator(cfg.evaluators[0], ctx)
    cfg, ctx = _ctx(tmp_path, ["evaluators.0.opponent.type=pbrain", f"evaluators.0.opponent.command={sys.executable}"],
                    "connect4")
    with pytest.raises(ConfigError, match=r"'evaluators.0.opponent.type': pbrain engines play Gomoku"):
        ArenaEvaluator(cfg.evaluators[0], ctx)


@pytest.mark.slow
def test_fixed_checkpoint_opponent(tmp_path):
    # The fresh net against AZG's trained 6x6 net (a fixed earlier checkpoint): all deterministic searches.
    cfg, ctx = _ctx(tmp_path, ["evaluators.0.opponent.type=checkpoint", f"evaluators.0.opponent.path={AZG6}",
                               "evaluators.0.opponent.playouts=40", "evaluators.0.mcts.playouts=16"])
    ctx.iteration = 25
    ev = ArenaEvaluator(cfg.evaluators[0], ctx)
    out = ev.evaluate(ctx)
    assert out["eval/win_rate"] < 0.5  # an untrained net does not outplay the trained one
    assert "eval/opponent_playouts" not in out  # a fixed opponent: no strength to mark
    assert ev.state_dict()["opponent_playouts"] == 40  # never raised
    if out["eval/win_rate"] > 0:
        assert (tmp_path / "best.pt").exists() and out["eval/elo"] == pytest.approx(elo_from_score(out["eval/win_rate"]))


@pytest.mark.slow
def test_pbrain_engine_opponent(tmp_path):
    # boardnet's own Gomocup engine (the trained AZG net) launched from the config's command line, 2 games.
    log = tmp_path / "engine.log"
    command = f"{sys.executable} -m boardnet pbrain {AZG6} --playouts 100 --log {log}"
    cfg, ctx = _ctx(tmp_path, ["evaluators.0.opponent.type=pbrain", f"evaluators.0.opponent.command={command}",
                               "evaluators.0.opponent.timeout_ms=500", "evaluators.0.mcts.playouts=16"])
    ctx.iteration = 25
    ev = ArenaEvaluator(cfg.evaluators[0], ctx)
    out = ev.evaluate(ctx)
    assert 0.0 <= out["eval/win_rate"] < 0.5 and "eval/opponent_playouts" not in out
    moves = log.read_text().splitlines()
    assert len(moves) >= 4 and all(" after " in m for m in moves)  # the engine answered every BOARD
    if out["eval/win_rate"] > 0:
        nf = read_pt(tmp_path / "best.pt")
        assert nf.spec == ctx.raw_nets["net"].spec()


def test_evaluator_elo_of_a_shut_out_is_the_clipped_score() -> None:
    """10:0 against the opponent logs a finite Elo (the gauntlet's convention) with an open upper bound."""
    from boardnet.alphazero.arena import elo_metrics
    from boardnet.core.elo import elo_from_score

    figures = elo_metrics([1] * 10)
    assert figures["eval/elo"] == pytest.approx(elo_from_score(1 - 0.5 / 10))
    assert figures["eval/elo_low"] < figures["eval/elo"] and "eval/elo_high" not in figures
    lost = elo_metrics([2] * 10)
    assert lost["eval/elo"] == pytest.approx(-figures["eval/elo"]) and "eval/elo_low" not in lost
    mixed = elo_metrics([1, 2, 1, 1, 2, 2, 1, 2, 1, 1, 2, 1])
    assert mixed["eval/elo_low"] < mixed["eval/elo"] < mixed["eval/elo_high"]
