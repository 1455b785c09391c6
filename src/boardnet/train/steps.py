"""A training step: one optimizer, its injectors and its weighted losses (DL-Art-School's ConfigurableStep).

``run(batch)`` does, for each of ``accumulate`` micro-batches: state = batch slice; each injector adds keys;
each loss adds ``weight * term``; backward (DDP syncs only on the last micro-batch). Then: a non-finite total
on any rank skips the update on every rank; gradient-norm clipping; optimizer step; ``clip_weights()`` on
nets that define it (NNUE weight clipping). Returns the logged figures: each loss term by name (unweighted),
``loss`` (weighted total), ``lr`` and ``grad_norm``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from boardnet.core import registry
from boardnet.core.config import StepConfig
from boardnet.core.errors import ConfigError
from boardnet.train.context import TrainContext
from boardnet.train.optim import build_optimizer
from boardnet.train.schedules import Schedule


class Step:
    """One configured step of a run (``steps.<index>`` of the config)."""

    def __init__(self, cfg: StepConfig, index: int, ctx: TrainContext) -> None:
        self.cfg = cfg
        self.index = index
        self.name = cfg.name or f"step{index}"
        self.injectors = [registry.INJECTORS.get(c.type)(c) for c in cfg.injectors]
        self.losses = {name: registry.LOSSES.get(c.type)(c, name) for name, c in cfg.losses.items()}
        self.net_names = cfg.nets or sorted({n for inj in self.injectors for n in inj.nets()})
        params = [p for n in self.net_names for p in ctx.raw_nets[n].parameters() if p.requires_grad]
        if not params:
            raise ConfigError(f"steps.{index}", "trains no parameters: no injector of the step runs a network "
                              "(add a forward injector, or name the networks in nets)")
        self.params = params
        self.optimizer = build_optimizer(cfg.optimizer, params, f"steps.{index}.optimizer")
        self.schedule = Schedule(cfg.schedule, cfg.optimizer.lr, ctx.cfg.train.iterations)

    def due(self, iteration: int) -> bool:
        return iteration % self.cfg.every == 0

    def set_lr(self, iteration: int) -> float:
        lr = self.schedule.lr(iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def forward(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> dict[str, torch.Tensor]:
        """Run the injectors on ``state`` (a new dict; the batch is not modified)."""
        state = dict(state)
        for inj in self.injectors:
            for key, value in inj(state, ctx).items():
                if key in state:
                    from boardnet.core.errors import TrainingError

                    raise TrainingError(f"step '{self.name}': injector {type(inj).__name__} overwrites key {key!r}")
                state[key] = value
        return state

    @torch.no_grad()
    def peek(self, batch: dict[str, torch.Tensor], key: str, ctx: TrainContext) -> torch.Tensor:
        """``state[key]`` after the injectors, without gradients (for the KL of ``kl_adaptive``)."""
        return self.forward(batch, ctx)[key].detach()

    def run(self, batch: dict[str, torch.Tensor], ctx: TrainContext, amp: bool) -> dict[str, float] | None:
        """One optimizer update on ``batch``; None when it was skipped for a non-finite loss."""
        for name in self.net_names:
            ctx.raw_nets[name].train()
        self.optimizer.zero_grad(set_to_none=True)
        n_micro = self.cfg.accumulate
        size = next(iter(batch.values())).shape[0]
        bounds = [round(i * size / n_micro) for i in range(n_micro + 1)]
        sums: dict[str, float] = {}
        finite = True
        for i in range(n_micro):
            micro = {k: v[bounds[i]:bounds[i + 1]] for k, v in batch.items()}
            last = i == n_micro - 1
            with self._no_sync(ctx, last), self._autocast(ctx, amp):
                state = self.forward(micro, ctx)
                total = torch.zeros((), device=ctx.device)
                for name, loss in self.losses.items():
                    term = loss(state, ctx)
                    total = total + loss.cfg.weight * term
                    sums[name] = sums.get(name, 0.0) + float(term.detach()) / n_micro
            finite = finite and bool(torch.isfinite(total.detach()))
            if _all_finite(finite, ctx):
                (total / n_micro).backward()
            else:
                finite = False
                break
            sums["loss"] = sums.get("loss", 0.0) + float(total.detach()) / n_micro
        if not finite:
            self.optimizer.zero_grad(set_to_none=True)
            return None
        grad_norm = self._grad_norm()
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
        self.optimizer.step()
        for name in self.net_names:
            clip = getattr(ctx.raw_nets[name], "clip_weights", None)
            if clip is not None:
                clip()
        sums["grad_norm"] = grad_norm
        sums["lr"] = self.optimizer.param_groups[0]["lr"]
        return sums

    def _grad_norm(self) -> float:
        grads = [p.grad.detach().norm() for p in self.params if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else 0.0

    def _no_sync(self, ctx: TrainContext, last: bool) -> contextlib.AbstractContextManager[Any]:
        """Skip DDP's gradient all-reduce on all but the last micro-batch."""
        stack = contextlib.ExitStack()
        if not last:
            for name in self.net_names:
                net = ctx.nets[name]
                if isinstance(net, nn.parallel.DistributedDataParallel):
                    stack.enter_context(net.no_sync())
        return stack

    @staticmethod
    def _autocast(ctx: TrainContext, amp: bool) -> contextlib.AbstractContextManager[Any]:
        if amp and ctx.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])


def _all_finite(finite: bool, ctx: TrainContext) -> bool:
    """True when the loss is finite on every rank (so all ranks skip or step together)."""
    if ctx.world_size == 1:
        return finite
    flag = torch.tensor([0.0 if finite else 1.0], device=ctx.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag.item() == 0.0
