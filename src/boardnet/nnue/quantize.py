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
# FT 1.0 (bias, piece and threat weights) of a Full_Threats net: Stockfish 18's big net does not double its FT
# on load and clamps at 255 before the pairwise product >> 9 (sf_18 nnue_feature_transformer.h);
# nnue-pytorch 2026-01 (024b206, model/quantize.py ``ft_quantized_one``) quantizes with round(x*255)
THREAT_FT_ONE = 255
# float range of an int8 threat weight: nnue-pytorch 024b206 ``clip_threat_weights`` clamps to [-128/255, 127/255]
THREAT_CLIP = (-128 / THREAT_FT_ONE, 127 / THREAT_FT_ONE)
# float value of the pairwise product of two FT outputs at 1.0 (hidden 1.0 = 127), by FT one: 127 -> 127*127 >> 7
# = 126.0 (SF15.1/16; SF17's doubled 254*254 >> 9 is the same), 255 -> 255*255 >> 9 = 127.0 (SF18 big)
PAIR_SCALE = {FT_ONE: FT_ONE * FT_ONE / 128 / FT_ONE, THREAT_FT_ONE: THREAT_FT_ONE * THREAT_FT_ONE / 512 / FT_ONE}


def to_int(x: torch.Tensor, scale: float, dtype: torch.dtype) -> torch.Tensor:
    """``round(x * scale)`` saturated to ``dtype``.

    Training keeps hidden/output weights within +-127 steps (``clip_weights``); saturating instead of
    clamping the float keeps a stored -128 (as in any int8 file) exact through dequantize -> quantize.
    """
    info = torch.iinfo(dtype)
    return torch.round(x.detach().double() * scale).clamp(info.min, info.max).to(dtype)
