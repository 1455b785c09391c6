"""What every trainer plug-in (data source, injector, loss, evaluator) is handed: the :class:`TrainContext`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class TrainContext:
    """The shared state of one training run.

    Attributes:
        cfg: the resolved :class:`boardnet.core.config.Config`.
        run_dir: the run directory (``checkpoints/``, ``metrics.csv``, ``plots/`` ...).
        device: where the nets live.
        nets: name -> module being trained (wrapped in DDP when distributed; call these in injectors).
        raw_nets: name -> the unwrapped module (for state dicts, specs, self-play inference).
        ema_nets: name -> EMA copy, for the nets that have one.
        game: the game object when the config has ``game``, else None.
        rng: numpy generator for data sampling (its state is checkpointed).
        rank, world_size: DDP rank and number of processes (0 and 1 when not distributed).
        iteration: the iteration being run (1-based once training starts; 0 before).
        data: the run's data source (set once built).
        steps: the run's :class:`~boardnet.train.steps.Step` objects (set once built).
    """

    cfg: Any
    run_dir: Path
    device: torch.device
    nets: dict[str, nn.Module] = field(default_factory=dict)
    raw_nets: dict[str, nn.Module] = field(default_factory=dict)
    ema_nets: dict[str, nn.Module] = field(default_factory=dict)
    game: Any = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    rank: int = 0
    world_size: int = 1
    iteration: int = 0
    data: Any = None
    steps: list[Any] = field(default_factory=list)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def eval_net(self, name: str) -> nn.Module:
        """The weights to evaluate or play with: the EMA copy if there is one, else the trained net."""
        return self.ema_nets.get(name, self.raw_nets[name])
