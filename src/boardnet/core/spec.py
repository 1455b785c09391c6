"""The hand-over between format readers, writers and models: a :class:`ModelSpec` plus a state dict.

Every conversion is ``read -> NetFile -> write``. A format reader never builds a model; a model is built
from ``spec`` by :func:`boardnet.core.build.build_model` and loads ``state_dict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

BATCHNORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")  # state-dict suffixes: not learned

@dataclass
class ModelSpec:
    """What a network is, independent of any file format.

    Attributes:
        family: registered network type, e.g. ``"policy_value"``, ``"lc0"``, ``"nnue"``.
        config: keyword arguments of that network's constructor (JSON-serialisable).
        meta: free-form facts from the source file (description, training params, hashes...).
    """

    family: str
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class NetFile:
    """A network as read from (or to be written to) a file: its spec and its tensors."""

    spec: ModelSpec
    state_dict: dict[str, torch.Tensor]

    @property
    def n_parameters(self) -> int:
        """Learned values in :attr:`state_dict`: every tensor but batch-norm statistics (running mean/var,
        batch counters), the count ``inspect`` and ``convert`` print."""
        return sum(t.numel() for k, t in self.state_dict.items() if not k.endswith(BATCHNORM_STATISTICS))
