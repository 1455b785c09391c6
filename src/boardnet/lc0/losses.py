"""lc0's loss terms (lczero-training ``tf/tfprocess.py``): policy over legal moves, moves-left Huber.

The WDL term is the plain ``cross_entropy`` loss with ``logits: true`` (softmax cross-entropy against the
``wdl [B,3]`` target), as tfprocess computes it.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from boardnet.core.config import LossConfig
from boardnet.core.errors import TrainingError
from boardnet.train.context import TrainContext
from boardnet.train.losses import Loss, _get, soft_cross_entropy


class Lc0PolicyLoss(Loss):
    """Softmax cross-entropy of policy logits ``pred [B,1858]`` against ``target [B,1858]`` (V6 visit
    fractions, −1 = illegal).

    Illegal moves get logit −inf before the softmax (``mask_illegal``, tfprocess's ``-1e10`` option), so the
    loss is over legal moves only; negative targets count as 0 (tfprocess applies ReLU to the targets).
    """

    class Config(LossConfig):
        type: Literal["lc0_policy"] = "lc0_policy"
        pred: str
        target: str
        mask_illegal: bool = True

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        logits = _get(state, self.cfg.pred, self.name).float()
        target = _get(state, self.cfg.target, self.name).float()
        if logits.shape != target.shape:
            raise TrainingError(f"loss '{self.name}': pred {list(logits.shape)} vs target {list(target.shape)}")
        if self.cfg.mask_illegal:
            logits = logits.masked_fill(target < 0, float("-inf"))
        return soft_cross_entropy(torch.log_softmax(logits, dim=-1), target, self.name)  # targets < 0 count 0


class Lc0MovesLeftLoss(Loss):
    """Huber loss of moves-left ``pred [B,1]`` vs ``target [B]`` (plies), both divided by ``scale``, with
    threshold ``delta/scale`` (tfprocess: scale 20, delta 10 plies)."""

    class Config(LossConfig):
        type: Literal["lc0_mlh"] = "lc0_mlh"
        pred: str
        target: str
        scale: float = Field(20.0, gt=0)
        delta: float = Field(10.0, gt=0)

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        pred = _get(state, self.cfg.pred, self.name).float().reshape(-1)
        target = _get(state, self.cfg.target, self.name).float().reshape(-1)
        if pred.shape != target.shape:
            raise TrainingError(f"loss '{self.name}': pred has {pred.numel()} values, target {target.numel()}")
        s = self.cfg.scale
        return F.huber_loss(pred / s, target / s, delta=self.cfg.delta / s)
