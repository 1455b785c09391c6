"""Adam exactly as TF1 ``tf.compat.v1.train.AdamOptimizer`` computes it (tf-conversion.md §6).

TF1 folds bias correction into the step size and adds epsilon to the *uncorrected* ``sqrt(v)``
("epsilon hat")::

    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
    w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)

torch.optim.Adam adds eps to the corrected ``sqrt(v_hat)``; for tiny gradients the two differ by
orders of magnitude more than float rounding, so continuing a TF1 run needs this form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


class TF1Adam(torch.optim.Optimizer):
    """Adam with TF1 epsilon placement; ``weight_decay`` is added to the gradient (L2, as in torch Adam)."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid TF1Adam hyper-parameters lr={lr} betas={betas} eps={eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # noqa: ANN401 - torch's Optimizer.step signature
        """One update of every parameter that has a gradient."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                st = self.state[p]
                if not st:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                st["step"] += 1
                t = st["step"]
                st["exp_avg"].mul_(b1).add_(g, alpha=1 - b1)
                st["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1 - b2)
                lr_t = group["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                p.addcdiv_(st["exp_avg"], st["exp_avg_sq"].sqrt().add_(group["eps"]), value=-lr_t)
        return loss
