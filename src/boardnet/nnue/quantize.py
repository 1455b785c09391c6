"""Quantization scales of the float NNUE models (spec ``nnue.md`` §8; NP-2022 SFNNv5, same numbers in the HalfKP
era) and the rounding rule. The integer evaluator (:mod:`boardnet.nnue.eval`) uses the same scales."""

from __future__ import annotations

import torch

FT_ONE = 127  # FT activation 1.0 in the FT's int16 units (round(x*127))
HIDDEN_SCALE = 64  # hidden weight 1.0 in int8 units; a hidden layer's output >> 6
NNUE2SCORE = 600  # net output 1.0 in internal score units (NP ``nnue2score``)
OUT_SCALE = 16  # internal units per output unit of the last layer: NNUE::evaluate divides by 16
HIDDEN_CLIP = FT_ONE / HIDDEN_SCALE  # +-1.984: the float range of an int8 hidden weight
OUT_B_SCALE = NNUE2SCORE * OUT_SCALE  # 9600: output bias and PSQT weights, round(x*9600)
OUT_CLIP = FT_ONE * FT_ONE / OUT_B_SCALE  # +-1.680: the float range of an int8 output weight
BIAS_SCALE = HIDDEN_SCALE * FT_ONE  # 8128: hidden biases, round(x*8128)
OUT_W_SCALE = OUT_B_SCALE / FT_ONE  # 9600 / 127: output weights


def to_int(x: torch.Tensor, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """``round(x * scale)`` saturated to ``dtype``.

    Training keeps hidden/output weights within +-127 steps (``clip_weights``); saturating instead of
    clamping the float keeps a stored -128 (as in any int8 file) exact through dequantize -> quantize.
    """
    info = torch.iinfo(dtype)
    return torch.round(x.detach().double() * scale).clamp(info.min, info.max).to(dtype)
