"""LR schedules (AZG's KL-adaptive multiplier included) and the weight EMA."""

from __future__ import annotations

import pytest
import torch

from boardnet.core.config import ScheduleConfig
from boardnet.train.ema import Ema
from boardnet.train.schedules import Schedule, lr_factor


def test_step_cosine_and_warmup_factors() -> None:
    step = ScheduleConfig(type="step", milestones=[10, 20], gamma=0.5)
    assert [lr_factor(step, i, 100) for i in (1, 10, 19, 20)] == [1.0, 0.5, 0.5, 0.25]
    cos = ScheduleConfig(type="cosine", warmup=10, min_lr_ratio=0.1)
    assert lr_factor(cos, 5, 110) == 0.5
    assert lr_factor(cos, 10, 110) == 1.0
    assert lr_factor(cos, 60, 110) == pytest.approx(0.55)
    assert lr_factor(cos, 110, 110) == pytest.approx(0.1)


def test_kl_adaptive_multiplier_follows_alphazero_gomoku() -> None:
    sched = Schedule(ScheduleConfig(type="kl_adaptive", kl_target=0.02), base_lr=2e-3, total_iterations=10)
    sched.update(0.05)  # > 2 * target: slow down
    assert sched.multiplier == pytest.approx(1 / 1.5)
    sched.update(0.02)  # within band: unchanged
    assert sched.multiplier == pytest.approx(1 / 1.5)
    sched.update(0.001)  # < target / 2: speed up
    assert sched.multiplier == pytest.approx(1.0)
    assert sched.lr(3) == pytest.approx(2e-3)
    assert sched.early_stop(0.09) and not sched.early_stop(0.07)
    for _ in range(20):
        sched.update(0.0)
    assert sched.multiplier <= 10 * 1.5 and sched.multiplier >= 10
    restored = Schedule(ScheduleConfig(type="kl_adaptive"), 2e-3, 10)
    restored.load_state_dict(sched.state_dict())
    assert restored.multiplier == sched.multiplier


def test_ema_tracks_weights() -> None:
    net = torch.nn.Linear(3, 2)
    ema = Ema(net, decay=0.5)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    for _ in range(50):
        ema.update(net)
    for p in ema.module.parameters():
        torch.testing.assert_close(p, torch.ones_like(p), atol=1e-6, rtol=0)
    assert not any(p.requires_grad for p in ema.module.parameters())
