"""Strength from match results: logistic Elo with a 95% interval, and the sequential probability ratio test.

Elo from a score ``s`` (points per game, 0..1) is ``-400 * log10(1 / s - 1)``. The interval comes from the
score's standard error, mapped through that curve:

- games scored one by one (trinomial: win 1, draw 1/2, loss 0): ``var = E[x^2] - s^2`` per game;
- colour-alternated pairs from one opening (pentanomial: a pair scores 0, 1/2, 1, 3/2 or 2 points), as fishtest
  counts them: the per-pair variance also captures how much the opening favours one colour, so the interval is
  honest when the two games of a pair are not independent. When every pair scored alike (each side wins with the
  first move, say: +10 -10 as ten 1:1 pairs) the sample shows no spread at all and the per-pair variance would be
  0, an interval of zero width; the variance of a pair of independent decisive games at that score,
  ``s (1 - s) / 2``, is used instead (ten 1:1 pairs: Elo 0 [-163, +163]).

A shut-out (every game won, or every game lost) has score 1 or 0 and no finite Elo. Where a finite figure is
needed (the gauntlet's cumulative rating) :func:`clip_shutout` takes the common convention: the score is clipped
to ``[0.5 / games, 1 - 0.5 / games]`` (as if half a game had gone the other way) for the point estimate, while the
interval stays honest: one end is open (``+inf`` after all wins) and the other is the exact (Clopper-Pearson)
95% bound of ``n`` sweeping units, ``0.025 ** (1 / n)`` (a unit, a game or a colour-alternated pair, that scores
``s`` on average sweeps with probability at most ``s``, so this holds for pairs as well as for games).

SPRT (fishtest's and cutechess's test of H0: elo = elo0 against H1: elo = elo1 with error rates alpha, beta)
uses the generalised log-likelihood ratio of the normal approximation (M. Van den Bergh):
``LLR = N * (s1 - s0) * (2 * s - s0 - s1) / (2 * var)`` with ``s0``, ``s1`` the expected scores of elo0 and
elo1 and ``s``, ``var`` the sample's mean and per-unit variance; H1 is accepted once ``LLR >= log((1 - beta) /
alpha)``, H0 once ``LLR <= log(beta / (1 - alpha))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95% quantile of the normal distribution
TAIL95 = 0.025  # one tail of the two-sided 95% interval
REGULARIZE = 1e-3  # added to every count before the SPRT's variance (fishtest's LLR_logistic does the same)


def elo_from_score(score: float) -> float:
    """Logistic Elo difference of a score in (0, 1); +-inf at the ends."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0) + 0.0  # + 0.0: an even score is 0.0, not -0.0


def score_from_elo(elo: float) -> float:
    """Expected score of an Elo difference."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


@dataclass(frozen=True)
class EloEstimate:
    """An Elo difference and its 95% interval from ``n`` units (games or pairs) of mean score ``score``."""

    elo: float
    low: float
    high: float
    score: float
    n: int

    def __str__(self) -> str:
        if not math.isfinite(self.elo):
            return f"Elo {'+' if self.elo > 0 else '-'}inf (score {self.score:.3f}, no loss or no win yet)"
        return f"Elo {self.elo:+.1f} [{self.low:+.1f}, {self.high:+.1f}] (95%, score {self.score:.3f}, n {self.n})"


def _estimate(points: list[float], counts: list[int], scale: float) -> tuple[float, float, int]:
    """Mean score and per-unit variance of ``counts[i]`` units scoring ``points[i] / scale``."""
    n = sum(counts)
    if n == 0:
        raise ValueError("no games played")
    mean = sum(p / scale * c for p, c in zip(points, counts)) / n
    var = sum((p / scale - mean) ** 2 * c for p, c in zip(points, counts)) / n
    return mean, var, n


def _interval(mean: float, var: float, n: int) -> EloEstimate:
    half = Z95 * math.sqrt(var / n)
    low, high = max(mean - half, 0.0), min(mean + half, 1.0)
    return EloEstimate(elo_from_score(mean), elo_from_score(low), elo_from_score(high), mean, n)


def elo_from_wdl(wins: int, draws: int, losses: int) -> EloEstimate:
    """Elo of the side that has ``wins``, ``draws``, ``losses`` (games counted one by one)."""
    return _interval(*_estimate([1.0, 0.5, 0.0], [wins, draws, losses], 1.0))


def elo_from_pairs(pairs: list[int]) -> EloEstimate:
    """Elo from pentanomial pair counts: ``pairs[k]`` pairs scored ``k / 2`` points of 2 (k = 0..4)."""
    if len(pairs) != 5:
        raise ValueError(f"pentanomial counts need 5 entries, got {len(pairs)}")
    mean, var, n = _estimate([0.0, 0.5, 1.0, 1.5, 2.0], pairs, 2.0)
    if var == 0.0:  # every pair scored alike (e.g. each side won as the first player): no spread was observed,
        var = mean * (1.0 - mean) / 2.0  # so take that of a pair of independent decisive games at this score
    return _interval(mean, var, n)


def clip_shutout(est: EloEstimate, games: int) -> EloEstimate:
    """``est`` unchanged unless it is a shut-out (score 0 or 1 over ``games`` games); then the Elo of the score
    clipped to ``[0.5 / games, 1 - 0.5 / games]`` with the interval ``[Elo of 0.025 ** (1 / n), +inf]`` after
    all wins (mirrored after all losses), ``n`` = ``est.n`` units (see the module docstring). ``score`` stays
    the one observed."""
    if 0.0 < est.score < 1.0:
        return est
    bound = elo_from_score(TAIL95 ** (1 / est.n))
    clipped = elo_from_score(min(max(est.score, 0.5 / games), 1 - 0.5 / games))
    if est.score >= 1.0:
        return EloEstimate(clipped, bound, math.inf, est.score, est.n)
    return EloEstimate(clipped, -math.inf, -bound, est.score, est.n)


@dataclass(frozen=True)
class Sprt:
    """H0: elo = ``elo0`` vs H1: elo = ``elo1`` at error rates ``alpha`` (false H1) and ``beta`` (false H0)."""

    elo0: float = 0.0
    elo1: float = 5.0
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 1 and 0 < self.beta < 1) or self.elo1 <= self.elo0:
            raise ValueError(f"SPRT needs 0 < alpha, beta < 1 and elo0 < elo1 (got {self})")

    @property
    def bounds(self) -> tuple[float, float]:
        """``(lower, upper)`` LLR bounds: accept H0 at or below lower, H1 at or above upper."""
        return math.log(self.beta / (1 - self.alpha)), math.log((1 - self.beta) / self.alpha)

    def llr(self, points: list[float], counts: list[int], scale: float) -> float:
        """Log-likelihood ratio of the results (see the module docstring). Each count gets :data:`REGULARIZE`
        added first (fishtest's regularisation), so a one-sided run (every pair 2/2) still has a spread and
        the test can decide; 0 before any result."""
        if sum(counts) == 0:
            return 0.0
        mean, var, _ = _estimate(points, [c + REGULARIZE for c in counts], scale)
        n = sum(counts)
        s0, s1 = score_from_elo(self.elo0), score_from_elo(self.elo1)
        return n * (s1 - s0) * (2 * mean - s0 - s1) / (2 * var)

    def llr_wdl(self, wins: int, draws: int, losses: int) -> float:
        return self.llr([1.0, 0.5, 0.0], [wins, draws, losses], 1.0)

    def llr_pairs(self, pairs: list[int]) -> float:
        return self.llr([0.0, 0.5, 1.0, 1.5, 2.0], pairs, 2.0)

    def verdict(self, llr: float) -> str | None:
        """``"H1"`` (elo1 accepted), ``"H0"`` (elo0 accepted) or None (keep playing)."""
        lower, upper = self.bounds
        return "H1" if llr >= upper else "H0" if llr <= lower else None
