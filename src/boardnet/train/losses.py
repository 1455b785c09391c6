"""Loss terms. Each returns an unweighted scalar; the step multiplies by its ``weight`` and logs it by name.

Shapes: ``pred``/``target`` keys name tensors of the step state. Reductions are means over the batch.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from boardnet.core.config import LossConfig
from boardnet.core.errors import TrainingError
from boardnet.train.context import TrainContext


def _get(state: dict[str, torch.Tensor], key: str, loss: str) -> torch.Tensor:
    if key not in state:
        raise TrainingError(f"loss '{loss}': no state key {key!r} (have: {', '.join(state)})")
    return state[key]


class Loss:
    """Base: ``__call__(state, ctx) -> scalar tensor`` (unweighted)."""

    Config = LossConfig

    def __init__(self, cfg: Any, name: str = "") -> None:
        self.cfg = cfg
        self.name = name or cfg.type

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        raise NotImplementedError


class MSELoss(Loss):
    """``mean((pred - target)^2)``. Both are flattened to ``[B]`` first, so ``[B,1]`` vs ``[B]`` cannot
    broadcast to ``[B,B]`` (the classic AlphaZero_Gomoku pitfall)."""

    class Config(LossConfig):
        type: Literal["mse"] = "mse"
        pred: str
        target: str

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        pred = _get(state, self.cfg.pred, self.name)
        target = _get(state, self.cfg.target, self.name)
        if pred.numel() != target.numel():
            raise TrainingError(f"loss '{self.name}': pred has {pred.numel()} values, target {target.numel()}")
        return torch.mean((pred.reshape(-1).float() - target.reshape(-1).float()) ** 2)


class CrossEntropyLoss(Loss):
    """Cross-entropy with soft targets: ``-mean_b sum_a target[b,a] * logp[b,a]``.

    ``pred`` holds log-probabilities ``[B, A]`` (``logits: true`` applies log_softmax first); ``target``
    holds probabilities ``[B, A]`` (e.g. MCTS visit distributions), or class indices ``[B]`` (int64).
    """

    class Config(LossConfig):
        type: Literal["cross_entropy"] = "cross_entropy"
        pred: str
        target: str
        logits: bool = False

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        pred = _get(state, self.cfg.pred, self.name).float()
        target = _get(state, self.cfg.target, self.name)
        logp = torch.log_softmax(pred, dim=-1) if self.cfg.logits else pred
        if target.dtype in (torch.int64, torch.int32):
            return -logp.gather(-1, target.long().unsqueeze(-1)).mean()
        return soft_cross_entropy(logp, target, self.name)


def soft_cross_entropy(logp: torch.Tensor, target: torch.Tensor, name: str) -> torch.Tensor:
    """``-mean_b sum_a target * logp`` for ``logp``, ``target [B, A]``; entries with ``target <= 0`` count 0
    (so ``0 * -inf`` at masked moves is 0, not NaN). ``name``: the loss, for the shape error."""
    if target.shape != logp.shape:
        raise TrainingError(f"loss '{name}': pred {list(logp.shape)} vs target {list(target.shape)}")
    terms = torch.where(target > 0, target.float() * logp, torch.zeros_like(logp))
    return -terms.sum(-1).mean()


class L2Loss(Loss):
    """L2 penalty on the weights of network ``net``, times ``coeff``.

    - ``semantics: tf1``: ``coeff * sum(w^2) / 2`` over non-bias weights, as TF1 ``tf.nn.l2_loss``;
    - ``semantics: keras``: ``coeff * sum(w^2)`` over non-bias weights, as Keras ``l2(coeff)``;
    - ``semantics: all``: ``coeff * sum(w^2)`` over all parameters, biases included (Theano/Lasagne AZG).

    A parameter is a bias when its name ends in ``bias`` (``val_fc1.bias``); BatchNorm weights count as
    non-bias weights, as in TF1 where their names carry no "bias" (``gamma``).
    """

    class Config(LossConfig):
        type: Literal["l2"] = "l2"
        net: str
        coeff: float = Field(1e-4, ge=0)
        semantics: Literal["tf1", "keras", "all"] = "tf1"

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> torch.Tensor:
        return l2_penalty(ctx.raw_nets[self.cfg.net], self.cfg.coeff, self.cfg.semantics)


def l2_penalty(net: torch.nn.Module, coeff: float, semantics: str) -> torch.Tensor:
    """The L2 term of :class:`L2Loss` for ``net`` (a scalar tensor that carries gradients)."""
    include_bias = semantics == "all"
    terms = [p.pow(2).sum() for n, p in net.named_parameters() if p.requires_grad and
             (include_bias or not n.endswith("bias"))]
    total = torch.stack(terms).sum() if terms else torch.zeros(())
    return coeff * (total / 2 if semantics == "tf1" else total)
