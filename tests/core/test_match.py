"""Match reports: pentanomial pair counts and the --sprt option."""

from __future__ import annotations

import pytest

from boardnet.core.elo import Sprt
from boardnet.core.errors import ConfigError
from boardnet.core.match import pair_counts, parse_sprt


def test_pair_counts():
    # pairs: (A won, A won) -> 4 half-points, (A won, B won) -> 2, (draw, B won) -> 1, (B, B) -> 0
    assert pair_counts([1, 1, 1, 2, 0, 2, 2, 2]) == [1, 1, 1, 0, 1]
    with pytest.raises(ValueError, match="even number"):
        pair_counts([1, 2, 1])


def test_parse_sprt():
    assert parse_sprt("0,5,0.1,0.2") == Sprt(0, 5, 0.1, 0.2)
    with pytest.raises(ConfigError, match="--sprt"):
        parse_sprt("5,0")
