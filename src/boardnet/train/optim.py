"""Optimizers by name (``steps.N.optimizer.type``): ``adam``, ``adamw``, ``sgd``, ``ranger`` (RAdam + Lookahead,
nnue-pytorch's; ``lookahead_k``, ``lookahead_alpha``).

``eps_mode: tf1`` gives Adam with epsilon where TF1's ``AdamOptimizer`` puts it (``eps_hat``, added to
``sqrt(v)`` before bias correction is folded into the step size), see shared/specs/tf-conversion.md §6.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from boardnet.core.errors import ConfigError
from boardnet.core.registry import OPTIMIZERS


def build_optimizer(cfg: Any, params: Iterable[torch.nn.Parameter], key_path: str = "optimizer") -> torch.optim.Optimizer:
    """An optimizer for ``params`` from an :class:`~boardnet.core.config.OptimizerConfig`."""
    params = list(params)
    if cfg.type == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if cfg.eps_mode == "tf1":
        if cfg.type != "adam":
            raise ConfigError(f"{key_path}.eps_mode", "tf1 epsilon is only defined for type adam")
        from boardnet.train.tf1_adam import TF1Adam

        return TF1Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)
    cls = OPTIMIZERS.get(cfg.type, f"{key_path}.type")
    extra = {"k": cfg.lookahead_k, "alpha": cfg.lookahead_alpha} if cfg.type == "ranger" else {}
    return cls(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, **extra)
