"""The data-source contract of the trainer (``data:`` in a config)."""

from __future__ import annotations

from typing import Any

import torch

from boardnet.core.config import ComponentConfig
from boardnet.train.context import TrainContext


class DataSource:
    """Produces one training batch per iteration.

    Subclasses define ``Config`` (a :class:`ComponentConfig`) and implement :meth:`next_batch`. A batch is a
    dict of tensors on CPU (the trainer moves them to the device); its keys are what injectors and losses
    read (e.g. ``planes [B,4,H,W]``, ``pi [B,A]``, ``z [B]``). Under DDP each rank has its own source,
    seeded by rank; a source reading files shards them by ``ctx.rank``/``ctx.world_size``.
    """

    Config = ComponentConfig

    def __init__(self, cfg: Any, ctx: TrainContext) -> None:
        self.cfg = cfg
        self.ctx = ctx

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor] | None:
        """The next batch, or None when there is not enough data yet (the iteration then trains nothing)."""
        raise NotImplementedError

    def validation_batches(self) -> list[dict[str, torch.Tensor]]:
        """Held-out batches for the validation-loss evaluator (empty if the source has none)."""
        return []

    def stats(self) -> dict[str, float]:
        """Throughput figures for the progress bar and metrics (e.g. ``games_per_s``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (replay buffer, file positions); tensors/plain types only."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        del state

    def close(self) -> None:
        """Stop workers, close files."""
