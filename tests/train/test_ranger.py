"""Ranger (RAdam + Lookahead): the lookahead arithmetic, exact resume from a state dict, config wiring."""

from __future__ import annotations

import pytest
import torch

from boardnet.core.config import OptimizerConfig, load_config
from boardnet.core.errors import ConfigError
from boardnet.train.optim import build_optimizer
from boardnet.train.ranger import Ranger


def _loss(w: torch.Tensor, step: int) -> torch.Tensor:
    x = torch.linspace(-1, 1, 12).reshape(3, 4) * (1 + step % 3)
    return ((x @ w).tanh() - 0.3).pow(2).sum()


def _run(opt: torch.optim.Optimizer, w: torch.nn.Parameter, steps: range) -> None:
    for t in steps:
        opt.zero_grad()
        _loss(w, t).backward()
        opt.step()


def test_lookahead_is_radam_with_slow_weight_sync() -> None:
    torch.manual_seed(0)
    w0 = torch.randn(4, 2)
    w = torch.nn.Parameter(w0.clone())
    _run(Ranger([w], lr=0.05, k=3, alpha=0.5), w, range(7))
    # the same by hand: RAdam on the fast weights, every 3 steps slow += 0.5 (fast - slow), fast = slow
    fast = torch.nn.Parameter(w0.clone())
    radam = torch.optim.RAdam([fast], lr=0.05, eps=1e-7)
    slow = w0.clone()
    for t in range(7):
        _run(radam, fast, range(t, t + 1))
        if (t + 1) % 3 == 0:
            with torch.no_grad():
                slow += 0.5 * (fast - slow)
                fast.copy_(slow)
    assert torch.equal(w.detach(), fast.detach())
    assert not torch.equal(w.detach(), w0)


def test_resume_from_state_dict_is_exact() -> None:
    torch.manual_seed(1)
    w0 = torch.randn(4, 2)
    a = torch.nn.Parameter(w0.clone())
    _run(Ranger([a], lr=0.05), a, range(10))  # uninterrupted (k = 6: a sync at step 6, mid-cycle at 10)
    b = torch.nn.Parameter(w0.clone())
    opt = Ranger([b], lr=0.05)
    _run(opt, b, range(4))
    saved_w, saved_state = b.detach().clone(), opt.state_dict()
    c = torch.nn.Parameter(saved_w)
    resumed = Ranger([c], lr=0.05)
    resumed.load_state_dict(saved_state)
    _run(resumed, c, range(4, 10))
    assert torch.equal(a.detach(), c.detach())


def test_config_builds_ranger_and_checks_lookahead() -> None:
    cfg = OptimizerConfig(type="ranger", lr=1e-3, eps=1e-7, lookahead_k=4)
    opt = build_optimizer(cfg, [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, Ranger) and opt.param_groups[0]["lookahead_k"] == 4
    with pytest.raises(ConfigError, match=r"steps\.0\.optimizer\.lookahead_k"):
        load_config("nnue-halfkav2hm", ["steps.0.optimizer.type=ranger", "steps.0.optimizer.lookahead_k=0"])
