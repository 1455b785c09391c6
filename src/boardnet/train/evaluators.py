"""Evaluators: called every ``every`` iterations on rank 0; return metrics logged like losses."""

from __future__ import annotations

from typing import Any

from boardnet.config import EvaluatorConfig
from boardnet.train.context import TrainContext


class Evaluator:
    """Base: ``evaluate(ctx) -> {metric: value}``; its state (e.g. best win rate) is checkpointed."""

    Config = EvaluatorConfig

    def __init__(self, cfg: Any, ctx: TrainContext) -> None:
        self.cfg = cfg

    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state
