"""Documented size limits of an lc0 residual net, checked before anything is allocated.

A ``.pb.gz`` or a ``.pt`` spec is a few bytes that can declare any size (200k blocks, 1M filters: 4.5-9.2 GB
before failing). Real lc0 nets stay far below these limits (the largest residual nets are 40 blocks x 512
filters, ~190M parameters).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from boardnet.core.errors import FormatError

MAX_BLOCKS = 512  # residual blocks (and attention-policy encoder layers)
MAX_WIDTH = 8192  # any channel, hidden, embedding or head count
MAX_PARAMS = 1 << 28  # parameters of the whole net (1 GiB of float32)


def check_config(cfg: dict[str, Any], build: Callable[..., torch.nn.Module],
                 path: str | os.PathLike[str] | None = None) -> dict[str, torch.Size]:
    """Refuse a config beyond the limits above (one FormatError naming the field); returns the shapes of the
    state_dict ``build(**cfg)`` has, measured on the ``meta`` device (no memory)."""
    for key, value in cfg.items():
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        check_count(key, value, path)
    try:
        with torch.device("meta"):
            shapes = {k: t.shape for k, t in build(**cfg).state_dict().items()}
    except (TypeError, ValueError) as err:
        raise FormatError(path, f"not an lc0 net config: {err}", field="config") from None
    n = sum(s.numel() for s in shapes.values())
    if n > MAX_PARAMS:
        raise FormatError(path, f"declares {n:,} parameters; boardnet reads lc0 nets of at most {MAX_PARAMS:,}",
                          field="config")
    return shapes


def check_count(key: str, value: int, path: str | os.PathLike[str] | None = None) -> None:
    """Refuse one config count beyond its limit (:data:`MAX_BLOCKS` for block and encoder-layer counts of the
    residual tower and policy encoder, else :data:`MAX_WIDTH`)."""
    limit = MAX_BLOCKS if key in ("blocks", "pol_encoder_layers") else MAX_WIDTH
    if not 0 <= value <= limit:
        raise FormatError(path, f"{key} = {value}; boardnet reads lc0 nets with {key} in 0..{limit}", field=key)
