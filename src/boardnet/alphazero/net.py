"""AlphaZero_Gomoku's policy-value network, with widths, depth and a residual tower configurable.

Default topology (shared/specs/alphazero.md §3), module names as AZG's PyTorch variant so its state dicts
load unchanged::

    x [B, 4, H, W]
    conv1 3x3 4->32, conv2 3x3 32->64, conv3 3x3 64->128 (ReLU each, 'same' padding)
    [optional residual tower: res_blocks.i = conv3x3-BN-ReLU-conv3x3-BN + skip, ReLU]
    policy: act_conv1 1x1 128->4, ReLU, flatten C,H,W -> act_fc1 (4HW -> HW) -> log_softmax   [B, H*W]
    value:  val_conv1 1x1 128->2, ReLU, flatten -> val_fc1 (2HW -> 64), ReLU -> val_fc2 (64 -> 1) -> tanh  [B]

Parameter counts of the default net: 6x6 104,267; 8x8 119,079; 10x10 147,339.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import ConfigError
from boardnet.core.spec import ModelSpec


def dense_heads(net: Any, p: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense ends of both heads of ``net`` (its ``act_fc1``, ``val_fc1``, ``val_fc2``,
    ``value_hidden_relu``): ``p [B, pf*H*W]``, ``v [B, vf*H*W]`` (1x1-conv outputs after ReLU, flattened C, H, W)
    -> ``(log_probs [B, H*W], value [B] in [-1, 1])``."""
    log_probs = F.log_softmax(net.act_fc1(p), dim=1)
    v = net.val_fc1(v)
    if net.value_hidden_relu:
        v = F.relu(v)
    return log_probs, torch.tanh(net.val_fc2(v)).squeeze(1)


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input, then ReLU. ``[B, C, H, W] -> [B, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """Policy-value net for a board of ``height x width`` points.

    Args:
        height, width: board size in points.
        in_planes: input planes (4 for AlphaZero_Gomoku's encoding; the game's ``planes``).
        channels: output channels of the 3x3 trunk convs, in order.
        residual_blocks: residual blocks appended to the trunk (width ``channels[-1]``).
        policy_filters, value_filters: 1x1 conv filters of the heads.
        value_hidden: width of the value head's hidden dense layer.
        value_hidden_activation: ``relu`` (AZG) or ``linear`` (AZG's Keras variant).
        actions: policy outputs (default ``height * width``, a move per point; Connect Four: 7 columns).
    """

    class Config(ComponentConfig):
        type: Literal["policy_value"] = "policy_value"
        board_size: int | None = Field(None, gt=1, description="square board; default: the game's size")
        in_planes: int = Field(4, gt=0)
        channels: list[Annotated[int, Field(gt=0, le=4096)]] = Field([32, 64, 128], min_length=1, max_length=64)
        residual_blocks: int = Field(0, ge=0)
        policy_filters: int = Field(4, gt=0)
        value_filters: int = Field(2, gt=0)
        value_hidden: int = Field(64, gt=0)
        value_hidden_activation: Literal["relu", "linear"] = "relu"

    def __init__(
        self,
        height: int,
        width: int,
        in_planes: int = 4,
        channels: list[int] | tuple[int, ...] = (32, 64, 128),
        residual_blocks: int = 0,
        policy_filters: int = 4,
        value_filters: int = 2,
        value_hidden: int = 64,
        value_hidden_activation: str = "relu",
        actions: int | None = None,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one conv layer")
        self.height, self.width = height, width
        self.kwargs: dict[str, Any] = dict(
            height=height, width=width, in_planes=in_planes, channels=list(channels),
            residual_blocks=residual_blocks, policy_filters=policy_filters, value_filters=value_filters,
            value_hidden=value_hidden, value_hidden_activation=value_hidden_activation,
        )
        area = height * width
        self.actions = actions or area
        if self.actions != area:  # only then: the spec of a one-move-per-point net stays as it always was
            self.kwargs["actions"] = self.actions
        self.trunk_names: list[str] = []
        prev = in_planes
        for i, ch in enumerate(channels):
            name = f"conv{i + 1}"
            setattr(self, name, nn.Conv2d(prev, ch, 3, padding=1))
            self.trunk_names.append(name)
            prev = ch
        self.res_blocks = nn.ModuleList(ResidualBlock(prev) for _ in range(residual_blocks))
        self.act_conv1 = nn.Conv2d(prev, policy_filters, 1)
        self.act_fc1 = nn.Linear(policy_filters * area, self.actions)
        self.val_conv1 = nn.Conv2d(prev, value_filters, 1)
        self.val_fc1 = nn.Linear(value_filters * area, value_hidden)
        self.val_fc2 = nn.Linear(value_hidden, 1)
        self.value_hidden_relu = value_hidden_activation == "relu"

    @classmethod
    def from_config(cls, cfg: PolicyValueNet.Config, game: Any = None) -> PolicyValueNet:
        """Build from a config; the board comes from ``board_size`` or else from ``game``, whose action count
        sizes the policy and whose input planes must be ``in_planes``."""
        if cfg.board_size is not None:
            height = width = cfg.board_size
        elif game is not None:
            height, width = game.height, game.width
        else:
            raise ValueError("policy_value needs board_size or a game")
        if game is not None and game.planes != cfg.in_planes:
            raise ConfigError("in_planes", f"{game} encodes {game.planes} input planes, the net takes {cfg.in_planes}")
        kwargs = cfg.model_dump(exclude={"type", "board_size"})
        actions = game.action_size if game is not None and cfg.board_size is None else None
        return cls(height, width, actions=actions, **kwargs)

    def spec(self) -> ModelSpec:
        return ModelSpec("policy_value", dict(self.kwargs))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_planes, H, W] -> [B, C, H, W]``."""
        for name in self.trunk_names:
            x = F.relu(getattr(self, name)(x))
        for block in self.res_blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, in_planes, H, W] float32`` -> ``(log_probs [B, actions], value [B] in [-1, 1])``."""
        h = self.trunk(x)
        return dense_heads(self, F.relu(self.act_conv1(h)).flatten(1), F.relu(self.val_conv1(h)).flatten(1))

    VERIFY_INPUT = "states"  # reference-npz input key for ``boardnet verify``

    def random_verify_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``float32 [n, 4, S, S]``: random legal positions (alternating stones, last move marked), AZG encoding."""
        from boardnet.alphazero.games.gomoku import Gomoku

        h, w, planes = self.height, self.width, self.kwargs["in_planes"]
        if h != w or planes != 4:
            raise ValueError(f"random Gomoku states need a square board and 4 input planes (got {h}x{w}, "
                             f"{planes} planes)")
        game = Gomoku(h, min(5, h))
        a = h * w
        boards, last = game.initial_state(n)
        for i in range(n):
            k = int(rng.integers(0, a // 2 + 1))
            order = rng.permutation(a)[:k]
            boards[i, order[0::2]] = 1  # the first mover's stones: moves 0, 2, 4, ...
            boards[i, order[1::2]] = 2
            if k:
                last[i] = order[-1]
        return game.encode(boards, last)

    def verify_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``boardnet verify`` outputs: ``log_probs [B, H*W]``, ``values [B, 1]``."""
        log_probs, value = self(x)
        return {"log_probs": log_probs, "values": value.unsqueeze(1)}
