"""Networks. Each is built from a :class:`~boardnet.core.spec.ModelSpec` and loads a plain ``state_dict``."""

from __future__ import annotations

from typing import Any

from torch import nn

from boardnet.core import registry
from boardnet.core.spec import ModelSpec, NetFile


def build_network(cfg: Any, game: Any = None) -> nn.Module:
    """A network from its typed config (``networks.<name>`` of a training config)."""
    cls = registry.NETWORKS.get(cfg.type)
    if hasattr(cls, "from_config"):
        return cls.from_config(cfg, game)
    return cls(**cfg.model_dump(exclude={"type"}))


def build_from_spec(spec: ModelSpec) -> nn.Module:
    """A network from a :class:`ModelSpec` (as a format reader returns it)."""
    cls = registry.NETWORKS.get(spec.family, "family")
    if hasattr(cls, "from_spec"):
        return cls.from_spec(spec)
    return cls(**spec.config)


def load_net(netfile: NetFile) -> nn.Module:
    """The network a NetFile describes, with its weights loaded, in eval mode (for inference and checks)."""
    net = build_from_spec(netfile.spec)
    net.load_state_dict(netfile.state_dict)
    return net.eval()
