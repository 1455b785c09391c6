"""Leela Chess Zero's SE-ResNet (shared/specs/lc0.md §5), built from a :class:`~boardnet.spec.ModelSpec`.

Input ``planes [B, 112, 8, 8]`` float32 (row = rank, col = file, side-to-move frame). BatchNorm is kept
unfolded (eps 1e-5, eval statistics) so the state dict maps one to one onto ``net.proto`` fields.
Implemented heads: policy ``convolution`` and ``classical``, value ``wdl`` and ``classical``, moves-left.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from boardnet.games.chess_policy import CONV_POLICY_CHANNELS, POLICY_SIZE, conv_policy_gather
from boardnet.spec import ModelSpec

INPUT_PLANES = 112
BN_EPS = 1e-5  # §3: TF and lc0
POLICY_FORMATS = ("convolution", "classical")
VALUE_FORMATS = ("wdl", "classical")
ACTIVATIONS = {"relu": F.relu, "mish": F.mish}


class ConvBlock(nn.Module):
    """conv k×k (bias optional) → BatchNorm (optional) → activation (optional)."""

    def __init__(self, cin: int, cout: int, kernel: int, bn: bool = True, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.bn(x) if self.bn is not None else x


class SqueezeExcite(nn.Module):
    """§3: ``e = fc2(act(fc1(mean_hw(x))))``; ``out = sigmoid(e[:C])·x + e[C:]``."""

    def __init__(self, channels: int, se_channels: int, act: Any) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, se_channels)
        self.fc2 = nn.Linear(se_channels, 2 * channels)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.fc2(self.act(self.fc1(x.mean(dim=(2, 3)))))
        gate, bias = e.chunk(2, dim=1)
        return torch.sigmoid(gate)[:, :, None, None] * x + bias[:, :, None, None]


class Residual(nn.Module):
    """conv → BN → act → conv → BN → SE → + skip → act."""

    def __init__(self, channels: int, se_channels: int, act: Any) -> None:
        super().__init__()
        self.conv1 = ConvBlock(channels, channels, 3)
        self.conv2 = ConvBlock(channels, channels, 3)
        self.se = SqueezeExcite(channels, se_channels, act) if se_channels else None
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        if self.se is not None:
            y = self.se(y)
        return self.act(y + x)


class Lc0Net(nn.Module):
    """An lc0 SE-ResNet; ``forward(planes) -> {"policy": [B,1858] logits, "value": [B,3] WDL logits or [B,1]
    tanh value, "mlh": [B,1]}`` (mlh only with a moves-left head)."""

    VERIFY_INPUT = "planes"  # reference-npz input key for ``boardnet verify``

    def __init__(self, blocks: int, filters: int, se_channels: int = 0, policy: str = "convolution",
                 value: str = "wdl", moves_left: bool = False, activation: str = "relu",
                 policy_channels: int = 32, value_channels: int = 32, value_hidden: int = 128,
                 mlh_channels: int = 8, mlh_hidden: int = 128, input_format: int = 1) -> None:
        super().__init__()
        if policy not in POLICY_FORMATS or value not in VALUE_FORMATS or activation not in ACTIVATIONS:
            raise ValueError(f"unsupported lc0 net: policy={policy} value={value} activation={activation}")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        act = ACTIVATIONS[activation]
        self.act = act
        self.input = ConvBlock(INPUT_PLANES, filters, 3)
        self.residual = nn.ModuleList(Residual(filters, se_channels, act) for _ in range(blocks))
        if policy == "convolution":
            self.policy1 = ConvBlock(filters, filters, 3)
            self.policy = ConvBlock(filters, CONV_POLICY_CHANNELS, 3, bn=False, bias=True)
            self.register_buffer("policy_gather", torch.from_numpy(conv_policy_gather()), persistent=False)
        else:
            self.policy = ConvBlock(filters, policy_channels, 1)
            self.ip_pol = nn.Linear(policy_channels * 64, POLICY_SIZE)
        self.value = ConvBlock(filters, value_channels, 1)
        self.ip1_val = nn.Linear(value_channels * 64, value_hidden)
        self.ip2_val = nn.Linear(value_hidden, 3 if value == "wdl" else 1)
        if moves_left:
            self.moves_left = ConvBlock(filters, mlh_channels, 1)
            self.ip1_mov = nn.Linear(mlh_channels * 64, mlh_hidden)
            self.ip2_mov = nn.Linear(mlh_hidden, 1)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Lc0Net:
        return cls(**spec.config)

    def spec(self) -> ModelSpec:
        return ModelSpec("lc0", dict(self.config))

    def forward(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.body(planes)[-1])

    def body(self, planes: torch.Tensor) -> list[torch.Tensor]:
        """Activations ``[B, filters, 8, 8]`` of the input convolution, then of each residual block."""
        acts = [self.act(self.input(planes))]
        for block in self.residual:
            acts.append(block(acts[-1]))
        return acts

    def heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``policy [B,1858]`` logits, ``value`` (``[B,3]`` WDL logits or ``[B,1]`` tanh), ``mlh [B,1]``."""
        out = {"policy": self._policy(x)}
        v = self.act(self.ip1_val(self.act(self.value(x)).flatten(1)))
        v = self.ip2_val(v)
        out["value"] = v if self.config["value"] == "wdl" else torch.tanh(v)
        if self.config["moves_left"]:
            m = self.act(self.ip1_mov(self.act(self.moves_left(x)).flatten(1)))
            out["mlh"] = F.relu(self.ip2_mov(m))
        return out

    def _policy(self, x: torch.Tensor) -> torch.Tensor:
        if self.config["policy"] == "convolution":
            flat = self.policy(self.act(self.policy1(x))).flatten(1)  # [B, 80·64] in C,H,W order
            return flat[:, self.policy_gather]
        return self.ip_pol(self.act(self.policy(x)).flatten(1))

    def verify_outputs(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        """``policy_logits [B,1858]``, ``q [B]`` (= W − L), ``d [B]``, as in the lc0 fixtures."""
        out = self(planes)
        if self.config["value"] == "wdl":
            wdl = torch.softmax(out["value"], dim=1)
            q, d = wdl[:, 0] - wdl[:, 2], wdl[:, 1]
        else:
            q, d = out["value"][:, 0], torch.zeros_like(out["value"][:, 0])
        return {"policy_logits": out["policy"], "q": q, "d": d}
