"""``networks.<name>: {type: lc0_train, ...}``: an lc0 SE-ResNet described by a training config.

The net is a plain :class:`~boardnet.lc0.net.Lc0Net` (its spec family stays ``lc0``, so checkpoints convert
to ``.pb.gz``); this module only adds the typed config. ``init_from: NET.pb.gz`` (set by ``boardnet train
--init`` for this type) takes the architecture and the weights from an existing lc0 net, e.g. to fine-tune
maia; a moves-left head the net lacks but the config asks for is added with fresh weights.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from pydantic import Field

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import ConversionError
from boardnet.lc0.net import Lc0Net

ARCH_KEYS = ("blocks", "filters", "se_channels", "policy", "value", "activation", "policy_channels",
             "value_channels", "value_hidden", "mlh_channels", "mlh_hidden", "input_format", "moves_left")
MLH_PREFIXES = ("moves_left.", "ip1_mov.", "ip2_mov.")  # the moves-left head's state-dict keys


class Lc0TrainNet(Lc0Net):
    """:class:`Lc0Net` built from a typed config; ``se_ratio`` gives ``se_channels = filters // se_ratio``."""

    class Config(ComponentConfig):
        type: Literal["lc0_train"] = "lc0_train"
        blocks: int = Field(4, gt=0)
        filters: int = Field(32, gt=0)
        se_ratio: int = Field(4, ge=0, description="0 = no squeeze-excitation")
        policy: Literal["convolution", "classical"] = "convolution"
        value: Literal["wdl", "classical"] = "wdl"
        moves_left: bool = True
        activation: Literal["relu", "mish"] = "relu"
        policy_channels: int = Field(32, gt=0)
        value_channels: int = Field(32, gt=0)
        value_hidden: int = Field(128, gt=0)
        mlh_channels: int = Field(8, gt=0)
        mlh_hidden: int = Field(128, gt=0)
        init_from: str | None = None

    @classmethod
    def from_config(cls, cfg: Config, game: Any = None) -> Lc0TrainNet:
        del game
        if cfg.init_from:
            return cls.from_net_file(cfg.init_from, cfg.moves_left)
        arch = cfg.model_dump(exclude={"type", "se_ratio", "init_from"})
        arch["se_channels"] = cfg.filters // cfg.se_ratio if cfg.se_ratio else 0
        return cls(**arch)

    @classmethod
    def from_net_file(cls, path: str, moves_left: bool) -> Lc0TrainNet:
        """The architecture and weights of the lc0 net in ``path``; a missing moves-left head is added
        (fresh weights) when ``moves_left``."""
        from boardnet.core.convert import read_net

        nf = read_net(path)
        if nf.spec.family != "lc0":
            raise ConversionError(f"init_from {path}: holds a {nf.spec.family} network, not an lc0 net")
        arch = {k: v for k, v in nf.spec.config.items() if k in ARCH_KEYS}
        unknown = sorted(set(nf.spec.config) - set(ARCH_KEYS))
        if unknown:
            raise ConversionError(f"init_from {path}: lc0_train cannot train this net (settings {unknown})")
        added = moves_left and not arch.get("moves_left", False)
        arch["moves_left"] = arch.get("moves_left", False) or moves_left
        net = cls(**arch)
        result = net.load_state_dict(nf.state_dict, strict=False)
        missing = [k for k in result.missing_keys if not (added and k.startswith(MLH_PREFIXES))]
        if missing or result.unexpected_keys:
            raise ConversionError(f"init_from {path}: weights do not fit: missing {missing[:5]}, "
                                  f"unexpected {result.unexpected_keys[:5]}")
        shown = ", ".join(f"{k}={arch[k]}" for k in ("blocks", "filters", "se_channels", "policy", "value"))
        print(f"network from {path}: {shown}" + ("; moves-left head added (new weights)" if added else ""),
              file=sys.stderr)
        return net
