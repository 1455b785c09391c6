"""fma_f32: one rounding of a·b + c to float32, checked against exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.lc0.fma import fma_f32

F32 = st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-(2.0**50), max_value=2.0**50)


def _exact_f32(a: np.float32, b: np.float32, c: np.float32) -> np.float32:
    """The float32 nearest to the exact a·b + c (ties to even), by rational arithmetic."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    guess = np.float32(float(exact))  # within one float32 step of the answer
    candidates = [np.nextafter(guess, np.float32(-np.inf)), guess, np.nextafter(guess, np.float32(np.inf))]
    return min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact), int(np.array(v).view(np.int32)) & 1))


@settings(max_examples=200, deadline=None)
@given(F32, F32, F32)
def test_matches_exact_rounding(a: float, b: float, c: float) -> None:
    a32, b32, c32 = np.float32(a), np.float32(b), np.float32(c)
    got = fma_f32(a32, b32, c32)
    assert got.dtype == np.float32 and got == _exact_f32(a32, b32, c32)


def test_double_rounding_case_and_broadcasting() -> None:
    # a·a = 1 + 2^-11 + 2^-24: a float32 tie that c = 2^-80 breaks upward; float64 then float32 rounds it down
    a, c = np.float32(1 + 2**-12), np.float32(2.0**-80)
    assert fma_f32(a, a, c) == np.float32(1 + 2**-11 + 2**-23)
    assert np.float32(np.float64(a) * np.float64(a) + np.float64(c)) == np.float32(1 + 2**-11)
    assert fma_f32(-a, a, -c) == -np.float32(1 + 2**-11 + 2**-23)
    out = fma_f32(np.arange(6, dtype=np.float32).reshape(2, 3), np.float32(0.5), np.ones(3, np.float32))
    np.testing.assert_array_equal(out, np.arange(6).reshape(2, 3) * 0.5 + 1)
    assert out.dtype == np.float32
