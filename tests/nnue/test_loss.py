"""NnueWdlLoss equals the nnue-pytorch 2022 formula; lambda schedule; agreement evaluator on real data."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import chess
import pytest
import torch

from boardnet.nnue.data.bin import write_bin
from boardnet.nnue.data.loader import NnueData
from boardnet.nnue.loss import NnueAgreementEvaluator, NnueWdlLoss
from boardnet.nnue.net import NnueNet
from boardnet.train.context import TrainContext


def _ctx(iteration: int, total: int) -> TrainContext:
    ctx = TrainContext(
        cfg=SimpleNamespace(train=SimpleNamespace(iterations=total)), run_dir=Path("."), device="cpu"
    )
    ctx.iteration = iteration
    return ctx


def test_formula_by_hand() -> None:
    pred = torch.tensor([0.5, -1.0, 0.0])  # net units (x600 -> 300, -600, 0 internal)
    score = torch.tensor([400.0, -100.0, 0.0])
    outcome = torch.tensor([1.0, 0.0, 0.5])
    cfg = NnueWdlLoss.Config(start_lambda=1.0, end_lambda=0.0)
    loss = NnueWdlLoss(cfg)
    got = loss({"eval": pred, "score": score, "outcome": outcome}, _ctx(250, 1000))

    def wdl(x: float, off: float, sc: float) -> float:
        sig = lambda v: 1 / (1 + torch.exp(torch.tensor(-v)).item())  # noqa: E731
        return 0.5 * (1 + sig((x - off) / sc) - sig((-x - off) / sc))

    lam = 0.75  # a quarter of the way from 1 to 0
    want = 0.0
    for p, s, t in zip(pred.tolist(), score.tolist(), outcome.tolist()):
        pt = lam * wdl(s, 270, 380) + (1 - lam) * t
        want += abs(pt - wdl(p * 600, 270, 340)) ** 2.5 / 3
    assert abs(got.item() - want) < 1e-6
    # symmetric: the same position seen from the other side gives the same loss
    flipped = loss({"eval": -pred, "score": -score, "outcome": 1 - outcome}, _ctx(250, 1000))
    assert abs(flipped.item() - got.item()) < 1e-6
    # lambda 1 at iteration 0 ignores the outcome
    a = loss({"eval": pred, "score": score, "outcome": outcome}, _ctx(0, 1000))
    b = loss({"eval": pred, "score": score, "outcome": 1 - outcome}, _ctx(0, 1000))
    assert a.item() == b.item()


def test_agreement_evaluator_on_data(tmp_path: Path) -> None:
    boards = [
        chess.Board(),
        chess.Board("4k3/8/8/8/8/8/8/QQQQK3 w - - 0 1"),
        chess.Board("qqqqk3/8/8/8/8/8/8/4K3 w - - 0 1"),
    ]
    recs = [(b, s, next(iter(b.legal_moves)), 20, 0) for b, s in zip(boards, [10, 3000, -3000])]
    write_bin(tmp_path / "v.bin", recs)
    cfg = NnueData.Config(
        type="nnue",
        paths=[str(tmp_path / "v.bin")],
        validation_path=str(tmp_path / "v.bin"),
        skip_captures=False,
        skip_in_check=False,
    )
    ctx = TrainContext(cfg=None, run_dir=tmp_path, device="cpu")
    ctx.data = NnueData(cfg, ctx)
    torch.manual_seed(0)
    net = NnueNet(l1=32)
    ctx.raw_nets = ctx.nets = {"net": net}
    out = NnueAgreementEvaluator(NnueAgreementEvaluator.Config(type="nnue_agreement"), ctx).evaluate(ctx)
    batch = ctx.data.validation_batches()[0]
    with torch.no_grad():
        pred = net(batch["indices"], batch["bucket"]) * 600
    assert abs(out["val/nnue_mae_cp"] - float((pred - batch["score"]).abs().mean()) / 3.61) < 1e-3  # SF15.1 units
    assert out["val/nnue_sign_agree"] == pytest.approx(
        float(((pred > 0) == (batch["score"] > 0)).float().mean())
    )
