"""NNUE WDL loss (nnue-pytorch 2022 form) and the NNUE validation evaluator.

Both the net output and the engine score are mapped to an expected game result in [0, 1]:
``wdl(x, offset, scaling) = (1 + sigmoid((x - offset)/scaling) - sigmoid((-x - offset)/scaling)) / 2``,
with the net output first converted to internal score units (``x * nnue2score``). The target blends the
score's WDL with the game outcome: ``pt = lambda * wdl(score) + (1 - lambda) * outcome``, ``lambda`` going
linearly from ``start_lambda`` to ``end_lambda`` over ``train.iterations``. Loss: ``mean(|pt - qf|^pow_exp)``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from boardnet.core.config import EvaluatorConfig, LossConfig
from boardnet.nnue.quantize import NNUE2SCORE
from boardnet.nnue.units import PAWN_UNITS
from boardnet.train.context import TrainContext
from boardnet.train.evaluators import Evaluator, _eval_ctx
from boardnet.train.losses import Loss, _get

# nnue-pytorch 2022 WDL model (nnue.md §11): offset and scaling of the net side (in) and the score side (out)
IN_OFFSET, IN_SCALING = 270.0, 340.0
OUT_OFFSET, OUT_SCALING = 270.0, 380.0


def wdl(x: torch.Tensor, offset: float, scaling: float) -> torch.Tensor:
    """Expected result in [0, 1] of scores ``x`` (internal units), symmetric in ``x -> -x``."""
    return 0.5 * (1.0 + torch.sigmoid((x - offset) / scaling) - torch.sigmoid((-x - offset) / scaling))


def scheduled_lambda(start: float, end: float, ctx: TrainContext | None) -> float:
    """``start`` at iteration 0 to ``end`` at ``train.iterations``, linearly."""
    if ctx is None or ctx.cfg is None:
        return start
    total = max(1, int(ctx.cfg.train.iterations))
    return start + (end - start) * min(1.0, ctx.iteration / total)


class NnueWdlLoss(Loss):
    """``|lambda*wdl_out(score) + (1-lambda)*outcome - wdl_in(pred*nnue2score)|^pow_exp``, batch mean.

    ``pred [B]`` net output (units of ``nnue2score``), ``score [B]`` engine score (internal units, side to
    move), ``outcome [B]`` game result for the side to move (0, 0.5, 1).
    """

    class Config(LossConfig):
        type: Literal["nnue_wdl"] = "nnue_wdl"
        pred: str = "eval"
        score: str = "score"
        outcome: str = "outcome"
        nnue2score: float = NNUE2SCORE
        in_offset: float = IN_OFFSET
        out_offset: float = OUT_OFFSET
        in_scaling: float = IN_SCALING
        out_scaling: float = OUT_SCALING
        start_lambda: float = Field(1.0, ge=0, le=1)
        end_lambda: float = Field(1.0, ge=0, le=1)
        pow_exp: float = Field(2.5, gt=0)
        qp_asymmetry: float = 0.0

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        c = self.cfg
        pred = _get(state, c.pred, self.name).reshape(-1).float() * c.nnue2score
        score = _get(state, c.score, self.name).reshape(-1).float()
        outcome = _get(state, c.outcome, self.name).reshape(-1).float()
        qf = wdl(pred, c.in_offset, c.in_scaling)
        pf = wdl(score, c.out_offset, c.out_scaling)
        lam = scheduled_lambda(c.start_lambda, c.end_lambda, ctx)
        pt = lam * pf + (1.0 - lam) * outcome
        loss = torch.abs(pt - qf) ** c.pow_exp
        if c.qp_asymmetry:
            loss = loss * ((qf > pt).float() * c.qp_asymmetry + 1.0)
        return loss.mean()


class NnueAgreementEvaluator(Evaluator):
    """Agreement of the net with the engine scores on the validation batches.

    Returns ``val/nnue_sign_agree`` (fraction of positions where net and engine agree on the sign, engine
    scores of exactly 0 skipped), ``val/nnue_mae_cp`` (mean |net - engine| in internal units / ``cp_unit``,
    i.e. centipawns of the engine that labelled the data: 3.61 for Stockfish 15.1 (``NormalizeToPawnValue``
    361 / 100, what ``boardnet nnue label`` stores with Debian's stockfish), 3.28 for SF16, 3.56 for SF16.1, 2.08
    for SF12-15.0; SF17+ is material-dependent, about 3.5-4.2, see :mod:`boardnet.nnue.units`),
    ``val/nnue_wdl_mae``.
    """

    class Config(EvaluatorConfig):
        type: Literal["nnue_agreement"] = "nnue_agreement"
        net: str = "net"
        indices: str = "indices"
        bucket: str = "bucket"
        nnue2score: float = NNUE2SCORE
        cp_unit: float = Field(PAWN_UNITS["15.1"] / 100, gt=0)

    def evaluate(self, ctx: TrainContext) -> dict[str, float]:
        batches = ctx.data.validation_batches() if ctx.data is not None else []
        if not batches:
            return {}
        net = _eval_ctx(ctx).nets[self.cfg.net]
        mode = net.training
        net.eval()
        agree = counted = 0.0
        abs_err = wdl_err = 0.0
        n = 0
        try:
            with torch.no_grad():
                for batch in batches:
                    idx = batch[self.cfg.indices].to(ctx.device)
                    bucket = batch[self.cfg.bucket].to(ctx.device)
                    pred = net(idx, bucket).reshape(-1).float().cpu() * self.cfg.nnue2score
                    score = batch["score"].reshape(-1).float()
                    nonzero = score != 0
                    agree += float(((pred > 0) == (score > 0))[nonzero].sum())
                    counted += float(nonzero.sum())
                    abs_err += float((pred - score).abs().sum()) / self.cfg.cp_unit
                    wdl_err += float((wdl(pred, IN_OFFSET, IN_SCALING) - wdl(score, OUT_OFFSET, OUT_SCALING)).abs().sum())
                    n += len(score)
        finally:
            net.train(mode)
        return {
            "val/nnue_sign_agree": agree / max(counted, 1.0),
            "val/nnue_mae_cp": abs_err / max(n, 1),
            "val/nnue_wdl_mae": wdl_err / max(n, 1),
        }

    def state_dict(self) -> dict[str, Any]:
        return {}
