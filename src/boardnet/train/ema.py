"""Exponential moving average of a network's weights.

``ema = d * ema + (1 - d) * w`` with ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early
averages are not dominated by the random initial weights. Buffers (BatchNorm statistics) are copied.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class Ema:
    """An EMA copy of ``net`` (kept on the same device, in eval mode, without gradients)."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(net).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for ema_p, p in zip(self.module.parameters(), net.parameters()):
            ema_p.mul_(d).add_(p.detach(), alpha=1 - d)
        for ema_b, b in zip(self.module.buffers(), net.buffers()):
            ema_b.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "weights": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["weights"])
