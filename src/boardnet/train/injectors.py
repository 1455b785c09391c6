"""Injectors: read keys from the step state, write new keys (DL-Art-School's injector idea).

The state is a ``dict[str, Tensor]`` that starts as the batch. Writing a key that exists is an error
(keeps a config from silently overwriting a target).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import TrainingError
from boardnet.train.context import TrainContext


class Injector:
    """Base: ``__call__(state, ctx) -> dict`` of new keys."""

    Config = ComponentConfig

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    def nets(self) -> list[str]:
        """Names of the networks this injector runs (the step trains them unless it says otherwise)."""
        return []

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class ForwardInjector(Injector):
    """Run network ``net`` on ``state[in]`` (one key or a list, passed positionally); store its outputs.

    ``out`` names the outputs in order (a single name if the net returns one tensor; a net returning a dict
    gives its values in insertion order).
    """

    class Config(ComponentConfig):
        type: Literal["forward"] = "forward"
        net: str
        in_: str | list[str] = Field("planes", alias="in")
        out: str | list[str]

        model_config = ComponentConfig.model_config | {"populate_by_name": True}

    def nets(self) -> list[str]:
        return [self.cfg.net]

    def __call__(self, state: dict[str, torch.Tensor], ctx: TrainContext) -> dict[str, torch.Tensor]:
        keys = [self.cfg.in_] if isinstance(self.cfg.in_, str) else self.cfg.in_
        missing = [k for k in keys if k not in state]
        if missing:
            raise TrainingError(f"forward injector for '{self.cfg.net}': no state key {missing[0]!r} "
                                f"(have: {', '.join(state)})")
        outputs = ctx.nets[self.cfg.net](*(state[k] for k in keys))
        names = [self.cfg.out] if isinstance(self.cfg.out, str) else self.cfg.out
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        elif isinstance(outputs, dict):  # e.g. Lc0Net's {"policy", "value", "mlh"}: in the net's order
            outputs = tuple(outputs.values())
        if len(outputs) != len(names):
            raise TrainingError(f"network '{self.cfg.net}' returned {len(outputs)} outputs; "
                                f"the injector names {len(names)}: {names}")
        return dict(zip(names, outputs))
