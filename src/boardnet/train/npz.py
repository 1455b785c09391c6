"""Train from arrays in an ``.npz`` file (e.g. games saved by ``boardnet selfplay --out games.npz``).

Each epoch visits every sample once in an order drawn from the run's generator; ``keys`` maps batch keys to
array names (default: every array, under its own name). All arrays must have the same first dimension.
``max_bytes`` and ``max_ratio`` bound what the file may inflate to (:func:`boardnet.core.io.read_npz`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import FormatError
from boardnet.core.io import NPZ_MAX_BYTES, NPZ_MAX_RATIO, read_npz
from boardnet.train.context import TrainContext
from boardnet.train.data import DataSource


def load_npz_arrays(path: str, names: dict[str, str] | None, max_bytes: int = NPZ_MAX_BYTES,
                    max_ratio: float = NPZ_MAX_RATIO) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (no pickles), renamed by ``names`` ``{batch_key: array_name}``; size limits as
    :func:`~boardnet.core.io.read_npz`."""
    loaded = read_npz(path, list(names.values()) if names else None, max_bytes, max_ratio)
    arrays = {key: loaded[name] for key, name in (names or {k: k for k in loaded}).items()}
    if not arrays:
        raise FormatError(path, "holds no arrays")
    if any(a.ndim == 0 for a in arrays.values()):
        raise FormatError(path, "a training array must have a first (sample) dimension")
    sizes = {k: len(a) for k, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise FormatError(path, f"arrays differ in length: {sizes}")
    return arrays


class NpzData(DataSource):
    """Batches sampled without replacement from fixed arrays, epoch after epoch; sharded by DDP rank."""

    class Config(ComponentConfig):
        type: Literal["npz"] = "npz"
        path: str
        keys: dict[str, str] | None = None
        validation_fraction: float = Field(0.0, ge=0, lt=1)
        max_bytes: int = Field(NPZ_MAX_BYTES, gt=0)  # all arrays, decompressed (read_npz's limits)
        max_ratio: float = Field(NPZ_MAX_RATIO, gt=0)  # decompressed : compressed, members above 64 MiB

    def __init__(self, cfg: Any, ctx: TrainContext) -> None:
        super().__init__(cfg, ctx)
        arrays = load_npz_arrays(cfg.path, cfg.keys, cfg.max_bytes, cfg.max_ratio)
        n = len(next(iter(arrays.values())))
        n_val = int(n * cfg.validation_fraction)
        self.val = {k: torch.from_numpy(np.ascontiguousarray(a[:n_val])) for k, a in arrays.items()}
        own = slice(n_val + ctx.rank, None, ctx.world_size)
        self.arrays = {k: torch.from_numpy(np.ascontiguousarray(a[own])) for k, a in arrays.items()}
        self.size = len(next(iter(self.arrays.values())))
        if self.size == 0:
            raise FormatError(cfg.path, "no training samples")
        self.order = ctx.rng.permutation(self.size)
        self.cursor = 0
        self.epoch = 0

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        take: list[np.ndarray] = []
        need = min(batch_size, self.size)
        while need > 0:
            if self.cursor >= self.size:
                self.order = self.ctx.rng.permutation(self.size)
                self.cursor = 0
                self.epoch += 1
            chunk = self.order[self.cursor:self.cursor + need]
            self.cursor += len(chunk)
            need -= len(chunk)
            take.append(chunk)
        idx = torch.from_numpy(np.concatenate(take))
        return {k: a[idx] for k, a in self.arrays.items()}

    def validation_batches(self) -> list[dict[str, torch.Tensor]]:
        return [self.val] if self.val and len(next(iter(self.val.values()))) else []

    def stats(self) -> dict[str, float]:
        return {"epoch": self.epoch + self.cursor / self.size}

    def state_dict(self) -> dict[str, Any]:
        return {"order": torch.from_numpy(self.order.astype(np.int64)), "cursor": self.cursor, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].numpy()
        self.cursor = int(state["cursor"])
        self.epoch = int(state["epoch"])


def inspect_file(path: str) -> str:
    """``boardnet inspect`` for ``.npz`` files (self-play games, reference outputs): arrays, shapes, dtypes."""
    arrays = load_npz_arrays(path, None)
    n = len(next(iter(arrays.values()))) if arrays else 0
    lines = [f"npz {path}: {len(arrays)} arrays, {n} rows"]
    lines += [f"{k} [{','.join(map(str, a.shape))}] {a.dtype}" for k, a in arrays.items()]
    return "\n".join(lines)
