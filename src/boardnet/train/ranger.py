"""Ranger: RAdam with Lookahead, the optimizer nnue-pytorch trains with (``ranger.Ranger``, no gradient
centralization: ``use_gc=False``; betas (0.9, 0.999), eps 1e-7 there).

Lookahead (Zhang et al. 2019): every ``k`` RAdam steps the slow weights move ``alpha`` of the way to the fast
weights, and the fast weights restart from them. The slow weights and the step count live in the optimizer
state, so a checkpoint resumes exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Ranger(torch.optim.RAdam):
    """``torch.optim.RAdam`` + Lookahead(``k``, ``alpha``); other arguments as RAdam's."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7, weight_decay: float = 0.0, k: int = 6, alpha: float = 0.5) -> None:
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError(f"lookahead needs k >= 1 and 0 < alpha <= 1 (got k={k}, alpha={alpha})")
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        for group in self.param_groups:
            group.setdefault("lookahead_k", k)
            group.setdefault("lookahead_alpha", alpha)
            group.setdefault("lookahead_step", 0)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        # slow weights start as the weights before the first step (RAdam creates its own state in that step)
        first = {p: p.detach().clone() for g in self.param_groups for p in g["params"]
                 if p.grad is not None and "slow" not in self.state[p]}
        loss = super().step(closure)
        for p, w in first.items():
            self.state[p]["slow"] = w
        for group in self.param_groups:
            group["lookahead_step"] += 1
            if group["lookahead_step"] % group["lookahead_k"]:
                continue
            for p in group["params"]:
                slow = self.state[p].get("slow")
                if slow is None:  # never had a gradient
                    continue
                slow.add_(p - slow, alpha=group["lookahead_alpha"])
                p.copy_(slow)
        return loss
