"""A step: injectors + weighted losses + one optimizer; accumulation, clipping, non-finite skipping."""

from __future__ import annotations

import numpy as np
import torch

from boardnet.alphazero.net import PolicyValueNet
from boardnet.core.config import StepConfig, resolve
from boardnet.train.context import TrainContext
from boardnet.train.steps import Step
from tests.conftest import fixture_path


def make_ctx(seed: int = 0) -> TrainContext:
    torch.manual_seed(seed)
    net = PolicyValueNet(6, 6, channels=[8, 8])
    cfg = resolve({"networks": {"net": {"type": "policy_value", "board_size": 6}}, "train": {"iterations": 10}})
    return TrainContext(cfg=cfg, run_dir=fixture_path("azg"), device=torch.device("cpu"), nets={"net": net},
                        raw_nets={"net": net})


def step_cfg(**extra: object) -> StepConfig:
    raw = {
        "networks": {"net": {"type": "policy_value", "board_size": 6}},
        "steps": [{
            "optimizer": {"type": "sgd", "lr": 0.1},
            "injectors": [{"type": "forward", "net": "net", "in": "planes", "out": ["logp", "v"]}],
            "losses": {"value": {"type": "mse", "pred": "v", "target": "z", "weight": 2.0},
                       "policy": {"type": "cross_entropy", "pred": "logp", "target": "pi"}},
            **extra,
        }],
    }
    return resolve(raw).steps[0]


def batch(n: int = 16) -> dict[str, torch.Tensor]:
    data = np.load(fixture_path("azg", "io_6_6_4.npz"))
    return {"planes": torch.from_numpy(data["states"][:n]), "pi": torch.from_numpy(data["act_probs"][:n]),
            "z": torch.from_numpy(data["values"][:n, 0])}


def test_step_logs_each_term_unweighted_and_the_weighted_total() -> None:
    ctx = make_ctx()
    result = Step(step_cfg(), 0, ctx).run(batch(), ctx, amp=False)
    assert result is not None
    assert abs(result["loss"] - (2 * result["value"] + result["policy"])) < 1e-5
    assert result["lr"] == 0.1 and result["grad_norm"] > 0


def test_accumulation_gives_the_same_update_as_one_batch() -> None:
    ctx_a, ctx_b = make_ctx(1), make_ctx(1)
    Step(step_cfg(), 0, ctx_a).run(batch(16), ctx_a, amp=False)
    Step(step_cfg(accumulate=4), 0, ctx_b).run(batch(16), ctx_b, amp=False)
    for (name, a), b in zip(ctx_a.raw_nets["net"].named_parameters(), ctx_b.raw_nets["net"].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_gradient_clipping_bounds_the_update() -> None:
    ctx = make_ctx(2)
    before = [p.detach().clone() for p in ctx.raw_nets["net"].parameters()]
    Step(step_cfg(grad_clip=1e-3), 0, ctx).run(batch(), ctx, amp=False)
    moved = torch.cat([(p.detach() - b).flatten() for p, b in zip(ctx.raw_nets["net"].parameters(), before)])
    assert moved.norm() <= 0.1 * 1e-3 * 1.0001  # lr * clip


def test_non_finite_loss_skips_the_update() -> None:
    ctx = make_ctx(3)
    b = batch()
    b["z"][0] = float("nan")
    before = [p.detach().clone() for p in ctx.raw_nets["net"].parameters()]
    assert Step(step_cfg(), 0, ctx).run(b, ctx, amp=False) is None
    assert all(torch.equal(p, q) for p, q in zip(ctx.raw_nets["net"].parameters(), before))


def test_every_selects_iterations() -> None:
    ctx = make_ctx()
    step = Step(step_cfg(every=3), 0, ctx)
    assert [i for i in range(1, 10) if step.due(i)] == [3, 6, 9]
