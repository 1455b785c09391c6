"""Elo with intervals and SPRT: known values, and the test's error rates on simulated matches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from boardnet.core.elo import (
    Sprt,
    clip_shutout,
    elo_from_pairs,
    elo_from_score,
    elo_from_wdl,
    score_from_elo,
)


def test_elo_of_known_scores() -> None:
    assert elo_from_score(0.5) == 0.0
    assert elo_from_score(0.75) == pytest.approx(190.848, abs=1e-3)  # 400 * log10(3)
    assert elo_from_score(0.25) == pytest.approx(-190.848, abs=1e-3)
    assert math.isinf(elo_from_score(1.0)) and elo_from_score(0.0) < 0
    for elo in (-300.0, -20.0, 0.0, 55.5, 400.0):
        assert elo_from_score(score_from_elo(elo)) == pytest.approx(elo)


def test_interval_from_wdl() -> None:
    est = elo_from_wdl(60, 20, 20)  # score 0.7
    assert est.score == pytest.approx(0.7) and est.elo == pytest.approx(147.19, abs=0.01)
    var = (60 * 0.3**2 + 20 * 0.2**2 + 20 * 0.7**2) / 100  # per-game variance of the trinomial
    half = 1.959963984540054 * math.sqrt(var / 100)
    assert est.low == pytest.approx(elo_from_score(0.7 - half)) and est.high == pytest.approx(elo_from_score(0.7 + half))
    assert est.low < est.elo < est.high
    assert "Elo +147.2 [" in str(est)
    with pytest.raises(ValueError):
        elo_from_wdl(0, 0, 0)


def test_pairs_narrow_the_interval_when_openings_are_lopsided() -> None:
    """Pairs that nearly always split 1:1 (the opening decides) carry little information about strength: the
    pentanomial interval of such a match is narrow around 0, while counting its games one by one would be wide."""
    pairs = [0, 5, 90, 5, 0]  # 100 pairs, 90 of them 1 win + 1 loss
    by_pair = elo_from_pairs(pairs)
    by_game = elo_from_wdl(100, 0, 100)
    assert by_pair.elo == 0.0 and by_game.elo == 0.0
    assert by_pair.high - by_pair.low < (by_game.high - by_game.low) / 3


def test_sprt_error_rates_on_simulated_matches() -> None:
    """Matches simulated at elo0 accept H1 at most ~alpha of the time, at elo1 accept H0 at most ~beta."""
    sprt = Sprt(elo0=0, elo1=40, alpha=0.05, beta=0.05)
    rng = np.random.default_rng(7)

    def run(true_elo: float) -> str:
        s = score_from_elo(true_elo)
        p_draw = 0.3
        wins, draws, losses = 0, 0, 0
        while True:
            for _ in range(20):
                r = rng.random()
                if r < p_draw:
                    draws += 1
                elif r < p_draw + (1 - p_draw) * (s - p_draw / 2) / (1 - p_draw):
                    wins += 1
                else:
                    losses += 1
            verdict = sprt.verdict(sprt.llr_wdl(wins, draws, losses))
            if verdict is not None:
                return verdict

    at_h0 = [run(0.0) for _ in range(200)]
    at_h1 = [run(40.0) for _ in range(200)]
    assert at_h0.count("H1") / 200 < 0.1 and at_h1.count("H0") / 200 < 0.1
    assert at_h0.count("H0") > 150 and at_h1.count("H1") > 150
    lower, upper = sprt.bounds
    assert lower == pytest.approx(math.log(0.05 / 0.95)) and upper == pytest.approx(math.log(0.95 / 0.05))
    with pytest.raises(ValueError):
        Sprt(elo0=5, elo1=0)


def test_shutout_is_clipped_half_a_game_with_an_honest_interval() -> None:
    sweep = elo_from_pairs([0, 0, 0, 0, 4])  # 8 games, all won
    assert math.isinf(sweep.elo)
    est = clip_shutout(sweep, 8)
    assert est.elo == pytest.approx(elo_from_score(1 - 0.5 / 8)) and math.isfinite(est.elo)
    assert est.high == math.inf and est.score == 1.0 and est.n == 4
    # the low end: the score at which 4 independent pairs all sweep with probability 2.5% (or less)
    assert score_from_elo(est.low) ** 4 == pytest.approx(0.025)
    assert est.low < est.elo
    lost = clip_shutout(elo_from_wdl(0, 0, 5), 5)  # 5 games one by one, all lost
    assert lost.elo == pytest.approx(elo_from_score(0.1)) and lost.low == -math.inf
    assert (1 - score_from_elo(lost.high)) ** 5 == pytest.approx(0.025)
    mixed = elo_from_wdl(3, 1, 0)
    assert clip_shutout(mixed, 4) is mixed  # not a shut-out: unchanged


def test_pairs_that_all_scored_alike_get_an_interval_of_independent_games() -> None:
    """Ten 1:1 pairs (each side won as the first player) show no spread; the interval is not [0, 0] but that of
    independent decisive games at score 1/2 (the binomial standard error of 20 games)."""
    est = elo_from_pairs([0, 0, 10, 0, 0])
    assert est.elo == 0.0
    half = 1.959963984540054 * math.sqrt(0.25 / 20)
    assert est.high == pytest.approx(elo_from_score(0.5 + half)) and est.low == pytest.approx(-est.high)
    assert elo_from_pairs([0, 0, 4, 0, 0]).high > est.high > 100  # fewer pairs, wider
