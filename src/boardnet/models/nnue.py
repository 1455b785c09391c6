"""Float NNUE model, SFNNv5 layout (HalfKAv2_hm 1024x2 + PSQT8, 8 stacks 16-32-1; spec ``nnue.md`` §4, §8).

Sparse inputs: ``indices [B, 2, 32]`` int64 active features (stm, nstm), padded with -1; ``bucket [B]`` int64.
Output: ``[B]`` evaluation in units of 600 internal points (NP-2022 ``nnue2score``).
:meth:`quantize` gives a NetFile that :func:`boardnet.formats.nnue.write_net` writes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from boardnet.spec import ModelSpec, NetFile

# §8 quantization constants
FT_ONE = 127.0
HIDDEN_SCALE = 64.0
NNUE2SCORE = 600.0
OUT_SCALE = 16.0
HIDDEN_CLIP = 127.0 / HIDDEN_SCALE
OUT_CLIP = 127.0 * 127.0 / (NNUE2SCORE * OUT_SCALE)
NUM_FEATURES = 22528
MAX_ACTIVE = 32


class NnueNet(nn.Module):
    """HalfKAv2_hm 1024x2-16-32-1 x8 float network (plain features; ``HalfKAv2_hm^`` not implemented)."""

    def __init__(self, l1: int = 1024, l2: int = 15, l3: int = 32, stacks: int = 8, psqt: int = 8) -> None:
        super().__init__()
        self.l1, self.l2, self.stacks = l1, l2, stacks
        self.ft_weight = nn.Parameter(torch.randn(NUM_FEATURES, l1) * 0.01)
        self.ft_bias = nn.Parameter(torch.full((l1,), 0.3))
        self.ft_psqt = nn.Parameter(torch.zeros(NUM_FEATURES, psqt))
        self.fc0 = nn.Linear(l1, (l2 + 1) * stacks)
        self.fc1 = nn.Linear(2 * l2, l3 * stacks)
        self.fc2 = nn.Linear(l3, stacks)
        self.l3 = l3

    def _gather(self, table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Sum of ``table`` rows at ``idx [N, 32]`` (-1 = padding) -> ``[N, D]``."""
        mask = (idx >= 0).to(table.dtype).unsqueeze(-1)
        return (F.embedding(idx.clamp(min=0), table) * mask).sum(1)

    def forward(self, indices: torch.Tensor, bucket: torch.Tensor) -> torch.Tensor:
        b = indices.shape[0]
        flat = indices.reshape(b * 2, -1)
        acc = (self._gather(self.ft_weight, flat) + self.ft_bias).reshape(b, 2, self.l1)
        psq = self._gather(self.ft_psqt, flat).reshape(b, 2, -1).gather(2, bucket.view(b, 1, 1).expand(b, 2, 1))
        a = acc.clamp(0, 1)
        half = self.l1 // 2
        u = (a[..., :half] * a[..., half:] * (127 / 128)).reshape(b, self.l1)
        sel = torch.arange(b)
        y0 = self.fc0(u).view(b, self.stacks, -1)[sel, bucket]
        x1 = torch.cat([(y0[:, : self.l2] ** 2 * (127 / 128)).clamp(0, 1), y0[:, : self.l2].clamp(0, 1)], 1)
        x2 = self.fc1(x1).view(b, self.stacks, -1)[sel, bucket].clamp(0, 1)
        w2 = self.fc2.weight[bucket]  # [B, l3]
        y2 = (x2 * w2).sum(1) + self.fc2.bias[bucket]
        return y2 + y0[:, self.l2] + (psq[:, 0, 0] - psq[:, 1, 0]) / 2

    @torch.no_grad()
    def clip_weights(self) -> None:
        """Keep quantized hidden/output weights inside int8 (§8)."""
        self.fc0.weight.clamp_(-HIDDEN_CLIP, HIDDEN_CLIP)
        self.fc1.weight.clamp_(-HIDDEN_CLIP, HIDDEN_CLIP)
        self.fc2.weight.clamp_(-OUT_CLIP, OUT_CLIP)

    @torch.no_grad()
    def quantize(self) -> NetFile:
        """Integer tensors in ``.nnue`` layout (§8 scales), as :func:`boardnet.formats.nnue.read_net` returns."""
        def r(x: torch.Tensor, s: float, dt: torch.dtype) -> torch.Tensor:
            return torch.round(x * s).to(dt)

        sd = {"ft.bias": r(self.ft_bias, FT_ONE, torch.int16), "ft.weight": r(self.ft_weight, FT_ONE, torch.int16),
              "ft.psqt": r(self.ft_psqt, NNUE2SCORE * OUT_SCALE, torch.int32)}
        w0 = self.fc0.weight.view(self.stacks, self.l2 + 1, -1)
        b0 = self.fc0.bias.view(self.stacks, -1)
        w1 = self.fc1.weight.view(self.stacks, self.l3, -1)
        b1 = self.fc1.bias.view(self.stacks, -1)
        for k in range(self.stacks):
            sd[f"stacks.{k}.l1.weight"] = r(w0[k].clamp(-HIDDEN_CLIP, HIDDEN_CLIP), HIDDEN_SCALE, torch.int8)
            sd[f"stacks.{k}.l1.bias"] = r(b0[k], HIDDEN_SCALE * FT_ONE, torch.int32)
            pad = torch.zeros(self.l3, 32 - 2 * self.l2)
            wk = torch.cat([w1[k].clamp(-HIDDEN_CLIP, HIDDEN_CLIP), pad], 1)
            sd[f"stacks.{k}.l2.weight"] = r(wk, HIDDEN_SCALE, torch.int8)
            sd[f"stacks.{k}.l2.bias"] = r(b1[k], HIDDEN_SCALE * FT_ONE, torch.int32)
            wo = self.fc2.weight[k : k + 1].clamp(-OUT_CLIP, OUT_CLIP)
            sd[f"stacks.{k}.out.weight"] = r(wo, NNUE2SCORE * OUT_SCALE / FT_ONE, torch.int8)
            sd[f"stacks.{k}.out.bias"] = r(self.fc2.bias[k : k + 1], NNUE2SCORE * OUT_SCALE, torch.int32)
        spec = ModelSpec("nnue", {"arch": "halfkav2_hm_1024x2-16-32x8", "features": "HalfKAv2_hm"},
                         {"quantized": True})
        return NetFile(spec, sd)
