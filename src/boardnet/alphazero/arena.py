"""``evaluators: [{type: arena}]``: the net vs pure MCTS, AZG's protocol; keeps the best net in ``best.pt``."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from boardnet.alphazero.mcts import MctsSettings
from boardnet.core.config import EvaluatorConfig
from boardnet.train.context import TrainContext
from boardnet.train.evaluators import Evaluator

# AZG raises the opponent's playouts by this after a perfect score, up to this cap (spec alphazero.md §6).
OPPONENT_STEP = 1000
OPPONENT_CAP = 5000


class OpponentOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["pure_mcts"] = "pure_mcts"
    playouts: int = Field(1000, gt=0, le=100_000)


class ArenaEvaluator(Evaluator):
    """``games`` games (first player alternating) of the net (search settings ``mcts``, most-visited move) vs
    pure MCTS (``opponent.playouts``, the same ``c_puct``).

    ``eval/win_rate = (wins + ties / 2) / games``; ``eval/elo`` with its 95% interval ``eval/elo_low``,
    ``eval/elo_high`` (pentanomial over the colour-alternated pairs for an even number of games, else game by
    game; Elo against the opponent of ``eval/opponent_playouts``, so a change of opponent shifts it). A score of
    0 or 1 has no finite Elo (nor a finite bound when every pair scored alike): only finite figures are logged.
    A new best saves ``<run_dir>/best.pt``; a perfect score with
    the opponent under 5000 playouts raises its playouts by 1000 and resets the best (AZG).
    """

    class Config(EvaluatorConfig):
        type: Literal["arena"] = "arena"
        net: str = "net"
        games: int = Field(10, gt=0)
        mcts: MctsSettings = MctsSettings()
        opponent: OpponentOptions = OpponentOptions()

    def __init__(self, cfg: Config, ctx: TrainContext) -> None:
        super().__init__(cfg, ctx)
        self.opponent_playouts = cfg.opponent.playouts
        self.best = 0.0

    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        from boardnet.alphazero.inference import net_evaluator
        from boardnet.alphazero.players import MCTSPlayer, play_match
        from boardnet.alphazero.pure_mcts import rollout_evaluator
        from boardnet.core.io import write_pt
        from boardnet.core.spec import NetFile

        net = ctx.eval_net(self.cfg.net)
        was_training = net.training
        net.eval()
        rng = np.random.default_rng([ctx.iteration, 7])  # own stream: the trainer's ctx.rng stays untouched
        try:
            me = MCTSPlayer(ctx.game, net_evaluator(net, ctx.game, ctx.device), self.cfg.mcts)
            opp_settings = self.cfg.mcts.model_copy(update={"playouts": self.opponent_playouts})
            opp = MCTSPlayer(ctx.game, rollout_evaluator(ctx.game, rng), opp_settings)
            res = play_match(ctx.game, me, opp, self.cfg.games)
        finally:
            net.train(was_training)
        wins, ties = res.winners.count(1), res.winners.count(0)
        rate = (wins + 0.5 * ties) / self.cfg.games
        metrics = {"eval/win_rate": rate, "eval/opponent_playouts": float(self.opponent_playouts)}
        metrics.update(elo_metrics(res.winners))
        if rate > self.best:
            self.best = rate
            write_pt(NetFile(net.spec(), net.state_dict()), ctx.run_dir / "best.pt")
            if rate == 1.0 and self.opponent_playouts < OPPONENT_CAP:
                self.opponent_playouts += OPPONENT_STEP
                self.best = 0.0
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "opponent_playouts": self.opponent_playouts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.opponent_playouts = int(state["opponent_playouts"])


def elo_metrics(winners: list[int]) -> dict[str, float]:
    """``eval/elo``, ``eval/elo_low``, ``eval/elo_high`` of the net (player 1 in ``winners``), the finite ones."""
    from boardnet.core.match import MatchReport

    est = MatchReport(winners=list(winners)).elo
    figures = {"eval/elo": est.elo, "eval/elo_low": est.low, "eval/elo_high": est.high}
    return {k: float(v) for k, v in figures.items() if np.isfinite(v)}
