"""Evaluators: called every ``every`` iterations on rank 0; return metrics logged like losses."""

from __future__ import annotations

from typing import Any, Literal

import torch

from boardnet.core.config import EvaluatorConfig
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


class ValidationLossEvaluator(Evaluator):
    """Each step's weighted losses on the data source's held-out batches (no gradients, eval mode).

    Returns ``val/<loss name>`` and ``val/loss`` (the weighted total), averaged over the batches.
    """

    class Config(EvaluatorConfig):
        type: Literal["validation_loss"] = "validation_loss"

    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        batches = ctx.data.validation_batches() if ctx.data is not None else []
        if not batches:
            return {}
        sums: dict[str, float] = {}
        nets = [ctx.raw_nets[n] for step in ctx.steps for n in step.net_names]
        modes = [net.training for net in nets]
        for net in nets:
            net.eval()
        try:
            with torch.no_grad():
                for batch in batches:
                    batch = {k: v.to(ctx.device) for k, v in batch.items()}
                    for step in ctx.steps:
                        state = step.forward(batch, _eval_ctx(ctx))
                        prefix = f"val/{step.name}/" if len(ctx.steps) > 1 else "val/"
                        total = 0.0
                        for name, loss in step.losses.items():
                            term = float(loss(state, ctx))
                            total += loss.cfg.weight * term
                            sums[prefix + name] = sums.get(prefix + name, 0.0) + term / len(batches)
                        sums[prefix + "loss"] = sums.get(prefix + "loss", 0.0) + total / len(batches)
        finally:
            for net, mode in zip(nets, modes):
                net.train(mode)
        return sums


def _eval_ctx(ctx: TrainContext) -> TrainContext:
    """The context with unwrapped nets (no DDP hooks outside the training step)."""
    from dataclasses import replace

    return replace(ctx, nets=dict(ctx.raw_nets))
