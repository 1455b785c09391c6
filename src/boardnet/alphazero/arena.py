"""``evaluators: [{type: arena}]``: the net vs pure MCTS (AZG's protocol), a Gomocup engine or a fixed model
file; keeps the best net in ``best.pt``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from boardnet.alphazero.mcts import MctsSettings
from boardnet.core.config import EvaluatorConfig
from boardnet.core.errors import BoardnetError, ConfigError
from boardnet.train.context import TrainContext
from boardnet.train.evaluators import Evaluator

# AZG raises the opponent's playouts by this after a perfect score, up to this cap (spec alphazero.md §6).
OPPONENT_STEP = 1000
OPPONENT_CAP = 5000


class OpponentOptions(BaseModel):
    """The arena's opponent (``type``):

    - ``pure_mcts``: pure MCTS with ``playouts`` (raised after a perfect score, AZG);
    - ``pbrain``: a Gomocup engine, ``command`` its command line (split like a shell's), ``timeout_ms`` a move;
    - ``checkpoint``: a fixed model file ``path`` (an earlier checkpoint, a converted net) searched with
      ``playouts`` playouts.

    A missing key, or ``command`` / ``timeout_ms`` / ``path`` given to a type that does not use them, is a
    ConfigError naming ``opponent.<key>`` (``playouts`` is ignored by ``pbrain``).
    """

    model_config = ConfigDict(extra="forbid")
    type: Literal["pure_mcts", "pbrain", "checkpoint"] = "pure_mcts"
    playouts: int = Field(1000, gt=0, le=100_000)
    command: str | None = None
    timeout_ms: int = Field(1000, gt=0)
    path: str | None = None

    @model_validator(mode="after")
    def _keys_of_the_type(self) -> OpponentOptions:
        import shlex
        import shutil

        from boardnet.core.io import check_user_file

        wanted = {"pure_mcts": set(), "pbrain": {"command", "timeout_ms"}, "checkpoint": {"path"}}
        for key in ("command", "timeout_ms", "path"):  # (playouts stays: the shipped configs set it)
            given = key in self.model_fields_set and getattr(self, key) != type(self).model_fields[key].default
            if given and key not in wanted[self.type]:  # (a resolved config.yaml spells out the defaults)
                raise ConfigError(f"opponent.{key}", f"a {self.type} opponent does not take it")
        if self.type == "pbrain":
            try:
                argv = shlex.split(self.command or "")
            except ValueError as e:
                raise ConfigError("opponent.command", f"cannot split {self.command!r}: {e}") from None
            if not argv:
                raise ConfigError("opponent.command", "a pbrain opponent needs the engine's command line")
            if shutil.which(argv[0]) is None:
                raise ConfigError("opponent.command", f"no program '{argv[0]}' (not a path to an executable, "
                                  "nor on PATH)")
        if self.type == "checkpoint":
            if not self.path:
                raise ConfigError("opponent.path", "a checkpoint opponent needs a model file")
            try:
                check_user_file(self.path)
            except BoardnetError as e:
                raise ConfigError("opponent.path", str(e)) from None
        return self


class ArenaEvaluator(Evaluator):
    """``games`` games (first player alternating) of the net (search settings ``mcts``, most-visited move) vs
    the opponent (:class:`OpponentOptions`; pure MCTS uses the same ``c_puct``).

    ``eval/win_rate = (wins + ties / 2) / games``; ``eval/elo`` with its 95% interval ``eval/elo_low``,
    ``eval/elo_high`` (pentanomial over the colour-alternated pairs for an even number of games, else game by
    game; Elo against the opponent of ``eval/opponent_playouts``, so a change of opponent shifts it). A score of
    0 or 1 has no finite Elo (nor a finite bound when every pair scored alike): only finite figures are logged.
    A new best saves ``<run_dir>/best.pt``; against pure MCTS a perfect score with
    the opponent under 5000 playouts raises its playouts by 1000 and resets the best (AZG). A fixed opponent
    (pbrain, checkpoint) keeps its strength, and ``eval/opponent_playouts`` is not logged.
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
        self._fixed = self._fixed_opponent(cfg.opponent, ctx)

    def _fixed_opponent(self, opp: OpponentOptions, ctx: TrainContext) -> Callable[[Any], Any] | None:
        """A factory of the pbrain or checkpoint opponent (the model file read and checked against the game
        now, so a wrong file stops the run before it starts), None for pure MCTS."""
        from boardnet.alphazero.games.gomoku import Gomoku
        from boardnet.alphazero.loading import make_player, pbrain_player_factory

        key = f"{_key_path(self.cfg, ctx)}.opponent"
        if opp.type == "pbrain":
            if not isinstance(ctx.game, Gomoku):
                raise ConfigError(f"{key}.type", f"pbrain engines play Gomoku, not {ctx.game}")
            return pbrain_player_factory(f"pbrain:{opp.command}:{opp.timeout_ms}")
        if opp.type == "checkpoint":
            try:
                make, _ = make_player(str(opp.path), ctx.game, opp.playouts, np.random.default_rng(0))
            except BoardnetError as e:
                raise ConfigError(f"{key}.path", str(e)) from None
            return make
        return None

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
            if self._fixed is not None:
                opp = self._fixed(ctx.game)
            else:
                opp_settings = self.cfg.mcts.model_copy(update={"playouts": self.opponent_playouts})
                opp = MCTSPlayer(ctx.game, rollout_evaluator(ctx.game, rng), opp_settings)
            try:
                res = play_match(ctx.game, me, opp, self.cfg.games)
            finally:
                if hasattr(opp, "close"):
                    opp.close()
        finally:
            net.train(was_training)
        wins, ties = res.winners.count(1), res.winners.count(0)
        rate = (wins + 0.5 * ties) / self.cfg.games
        metrics = {"eval/win_rate": rate}
        if self._fixed is None:
            metrics["eval/opponent_playouts"] = float(self.opponent_playouts)
        metrics.update(elo_metrics(res.winners))
        if rate > self.best:
            self.best = rate
            write_pt(NetFile(net.spec(), net.state_dict()), ctx.run_dir / "best.pt")
            if rate == 1.0 and self._fixed is None and self.opponent_playouts < OPPONENT_CAP:
                self.opponent_playouts += OPPONENT_STEP
                self.best = 0.0
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "opponent_playouts": self.opponent_playouts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.opponent_playouts = int(state["opponent_playouts"])


def elo_metrics(winners: list[int]) -> dict[str, float]:
    """``eval/elo``, ``eval/elo_low``, ``eval/elo_high`` of the net (player 1 in ``winners``), the finite ones; a
    shut-out logs the Elo of the score clipped half a game from the sweep, as the gauntlet does
    (:func:`boardnet.core.elo.clip_shutout`), so a 10:0 evaluation is a point on the curve, not a gap."""
    from boardnet.core.elo import clip_shutout
    from boardnet.core.match import MatchReport

    est = clip_shutout(MatchReport(winners=list(winners)).elo, len(winners))
    figures = {"eval/elo": est.elo, "eval/elo_low": est.low, "eval/elo_high": est.high}
    return {k: float(v) for k, v in figures.items() if np.isfinite(v)}


def _key_path(cfg: Any, ctx: TrainContext) -> str:
    """``evaluators.<i>``: where ``cfg`` sits in the run's config (for errors found after validation)."""
    for i, ev in enumerate(getattr(ctx.cfg, "evaluators", None) or []):
        if ev is cfg:
            return f"evaluators.{i}"
    return "evaluators"
