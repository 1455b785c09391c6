"""Networks. Each is built from a :class:`~boardnet.core.spec.ModelSpec` and loads a plain ``state_dict``.

Untrusted specs (a mapping file's ``config``, a ``.pt``/``.safetensors`` file's spec) are checked first:
:func:`check_spec_config` names an unknown or a missing option, and :func:`expected_tensors` builds the
network on the ``meta`` device (no memory) so that declared shapes are compared with the tensors a file
really holds before anything of that size is allocated.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from boardnet.core import registry
from boardnet.core.errors import ConfigError
from boardnet.core.spec import ModelSpec, NetFile

MAX_PARAMETERS = 1 << 31  # a declared network larger than this (8 GiB of float32) is refused
MAX_OPTION = 1 << 16  # documented bound of every integer option of a network spec (widths, sizes)
MAX_DEPTH_OPTION = 1024  # ... of options counting blocks or layers, and of list lengths (module count)


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


def check_spec_config(spec: ModelSpec, key_path: str = "config") -> None:
    """The spec's config must name the constructor options of its family: no unknown, none missing.

    Raises:
        ConfigError: ``<key_path>.<option>: unknown option of <family> (options: ...)`` or ``missing option``.
    """
    family_path = key_path.rsplit(".", 1)[0] + ".family" if "." in key_path else "family"
    cls = registry.NETWORKS.get(spec.family, family_path)
    if not isinstance(spec.config, dict):
        raise ConfigError(key_path, f"expected a mapping of options, got {type(spec.config).__name__}")
    params = {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"
              and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for key in spec.config:
        if key not in params:
            raise ConfigError(f"{key_path}.{key}", f"unknown option of network '{spec.family}' "
                              f"(options: {', '.join(params)})")
    for name, p in params.items():
        if p.default is p.empty and name not in spec.config:
            raise ConfigError(f"{key_path}.{name}", f"missing option of network '{spec.family}'")
    for key, value in spec.config.items():
        _check_option_size(f"{key_path}.{key}", key, value)


def _check_option_size(path: str, key: str, value: Any) -> None:
    """Bound an option before anything is built: a few bytes must not declare a network of millions of modules."""
    counts_modules = key.endswith(("blocks", "layers"))
    limit = MAX_DEPTH_OPTION if counts_modules else MAX_OPTION
    if isinstance(value, int) and not isinstance(value, bool) and not -limit <= value <= limit:
        raise ConfigError(path, f"{value:,} is beyond the limit of {limit:,}")
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_DEPTH_OPTION:
            raise ConfigError(path, f"{len(value):,} entries; at most {MAX_DEPTH_OPTION:,}")
        for i, v in enumerate(value):
            _check_option_size(f"{path}.{i}", key, v)


def expected_tensors(spec: ModelSpec, key_path: str = "config") -> dict[str, torch.Tensor]:
    """The state dict the spec's network has, as ``meta`` tensors (shapes and dtypes, no memory)."""
    check_spec_config(spec, key_path)
    try:
        with torch.device("meta"):
            net = build_from_spec(spec)
    except ConfigError:
        raise
    except (TypeError, ValueError, RuntimeError, KeyError, IndexError, OverflowError) as err:
        raise ConfigError(key_path, f"network '{spec.family}' cannot be built: {err}") from None
    tensors = net.state_dict()
    total = sum(t.numel() for t in tensors.values())
    if total > MAX_PARAMETERS:
        raise ConfigError(key_path, f"declares {total:,} parameters; at most {MAX_PARAMETERS:,} are accepted")
    return tensors


def check_state_dict(spec: ModelSpec, state_dict: dict[str, torch.Tensor], where: str) -> None:
    """``state_dict`` must be exactly the tensors (names, shapes) of the spec's network.

    Raises:
        ConfigError naming ``where`` and the first unknown, missing or mis-shaped tensor.
    """
    target = expected_tensors(spec, f"{where}.config")
    unknown = sorted(set(state_dict) - set(target))
    absent = sorted(k for k in target if k not in state_dict and not k.endswith("num_batches_tracked"))
    if unknown or absent:
        raise ConfigError(f"{where}.state_dict", f"tensors do not fit network '{spec.family}': unknown "
                          f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''}; missing {absent[:5]}"
                          f"{' ...' if len(absent) > 5 else ''}")
    for k, t in state_dict.items():
        if tuple(t.shape) != tuple(target[k].shape):
            raise ConfigError(f"{where}.state_dict.{k}", f"shape {list(t.shape)}; network '{spec.family}' "
                              f"has {list(target[k].shape)}")


def load_net(netfile: NetFile) -> nn.Module:
    """The network a NetFile describes, with its weights loaded, in eval mode (for inference and checks)."""
    net = build_from_spec(netfile.spec)
    net.load_state_dict(netfile.state_dict)
    return net.eval()
