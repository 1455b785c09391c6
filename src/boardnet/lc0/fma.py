"""The float32 fused multiply-add that lc0's build computes and NumPy lacks.

lc0 is built with ``-march=native`` (its meson.build); on FMA hardware GCC contracts ``a * b + c`` into one
``fmaf`` (a single rounding; ``-ffp-contract=fast`` is GCC's default for C++). It does so in the LINEAR16
decoder (``u / 65535.0f * range + min``) and in the BatchNorm fold (``-gamma' * mean + beta``), so matching lc0
bit for bit needs the same single rounding (shared/specs/lc0.md §2, §3; measured against leela2onnx's own
initializers of maia-1300: equal bit for bit only with it).
"""

from __future__ import annotations

import numpy as np


def fma_f32(a: np.ndarray | float, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """``a·b + c`` rounded once to float32 (IEEE ``fmaf``), elementwise with broadcasting; inputs are taken as
    float32, the result is float32.

    The product of two float32 values is exact in float64; TwoSum gives the exact error of the float64 sum, which
    is then made round-to-odd, so its single rounding to float32 is the correctly rounded ``a·b + c``
    (53 ≥ 24 + 2 bits: no double rounding).
    """
    a64, b64, c64 = (np.asarray(v, np.float32).astype(np.float64) for v in (a, b, c))
    p = a64 * b64
    s = np.asarray(p + c64)
    bb = s - p
    err = (p - (s - bb)) + (c64 - bb)  # s + err == a·b + c exactly
    bits = s.view(np.int64)
    step = np.where((err > 0) == (s > 0), 1, -1)  # one float64 ulp toward the exact value
    odd = np.where((err != 0) & (bits & 1 == 0), bits + step, bits)
    return odd.view(np.float64).astype(np.float32)
