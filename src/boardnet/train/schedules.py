"""Learning-rate schedules: ``lr(it) = base_lr * factor(it) * multiplier``.

``factor`` is a pure function of the iteration (warm-up, steps, cosine); ``multiplier`` is state, moved by
AlphaZero_Gomoku's KL rule (shared/specs/alphazero.md §6)::

    KL > 2 * kl_target and mult > min  ->  mult /= 1.5
    KL < kl_target / 2 and mult < max  ->  mult *= 1.5

Both are plain numbers, so resuming needs only ``state_dict()``.
"""

from __future__ import annotations

import math
from typing import Any

from boardnet.core.config import ScheduleConfig


def lr_factor(cfg: ScheduleConfig, iteration: int, total_iterations: int) -> float:
    """The schedule's factor at ``iteration`` (1-based), without the KL multiplier."""
    if cfg.warmup and iteration <= cfg.warmup:
        return iteration / cfg.warmup
    if cfg.type == "step":
        return cfg.gamma ** sum(1 for m in cfg.milestones if iteration >= m)
    if cfg.type == "cosine":
        total = cfg.total or total_iterations
        span = max(1, total - cfg.warmup)
        progress = min(1.0, max(0.0, (iteration - cfg.warmup) / span))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0


class Schedule:
    """The LR schedule of one step, with the adaptive multiplier of ``kl_adaptive``."""

    def __init__(self, cfg: ScheduleConfig, base_lr: float, total_iterations: int) -> None:
        self.cfg = cfg
        self.base_lr = base_lr
        self.total_iterations = total_iterations
        self.multiplier = 1.0

    @property
    def adaptive(self) -> bool:
        return self.cfg.type == "kl_adaptive"

    def lr(self, iteration: int) -> float:
        return self.base_lr * lr_factor(self.cfg, iteration, self.total_iterations) * self.multiplier

    def early_stop(self, kl: float) -> bool:
        """AZG stops the epochs on one batch when the policy moved too far: ``KL > 4 * kl_target``."""
        return self.adaptive and kl > 4 * self.cfg.kl_target

    def update(self, kl: float) -> None:
        """Move the multiplier after an update whose policy KL divergence was ``kl``."""
        if not self.adaptive:
            return
        if kl > 2 * self.cfg.kl_target and self.multiplier > self.cfg.min_multiplier:
            self.multiplier /= 1.5
        elif kl < self.cfg.kl_target / 2 and self.multiplier < self.cfg.max_multiplier:
            self.multiplier *= 1.5

    def state_dict(self) -> dict[str, Any]:
        return {"multiplier": self.multiplier}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.multiplier = float(state.get("multiplier", 1.0))
