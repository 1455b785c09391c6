"""Results of a match of colour-alternated pairs: W/D/L, the pentanomial pair counts, Elo with its 95% interval and
the SPRT verdict, as report lines (the arithmetic is :mod:`boardnet.core.elo`'s). Shared by every family's arena.

Games ``2k`` and ``2k + 1`` form a pair: the same start position, colours swapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from boardnet.core.elo import EloEstimate, Sprt, elo_from_pairs, elo_from_wdl
from boardnet.core.errors import ConfigError
from boardnet.core.progress import Progress


def pair_counts(winners: list[int]) -> list[int]:
    """Pentanomial counts of A's points in the colour-alternated pairs ``(2k, 2k + 1)`` of ``winners`` (1 = A
    won, 2 = B won, 0 = draw): ``counts[j]`` pairs where A scored ``j / 2`` points of 2."""
    if len(winners) % 2:
        raise ValueError(f"pairs need an even number of games, got {len(winners)}")
    points = {1: 2, 0: 1, 2: 0}  # half-points of one game
    counts = [0] * 5
    for k in range(0, len(winners), 2):
        counts[points[winners[k]] + points[winners[k + 1]]] += 1
    return counts


@dataclass
class MatchReport:
    """Results of A vs B: ``winners`` per game (1 = A, 2 = B, 0 = draw), pairs as consecutive games."""

    winners: list[int] = field(default_factory=list)
    moves: int = 0
    sprt: Sprt | None = None

    @property
    def wdl(self) -> tuple[int, int, int]:
        """A's wins, draws, losses."""
        return self.winners.count(1), self.winners.count(0), self.winners.count(2)

    @property
    def pairs(self) -> list[int]:
        return pair_counts(self.winners)

    @property
    def elo(self) -> EloEstimate:
        """A's Elo over B: pentanomial (pairs) when the games form pairs, else game by game."""
        if len(self.winners) % 2 == 0:
            return elo_from_pairs(self.pairs)
        return elo_from_wdl(*self.wdl)

    @property
    def llr(self) -> float:
        if self.sprt is None:
            return math.nan
        return self.sprt.llr_pairs(self.pairs) if self.winners else 0.0

    @property
    def verdict(self) -> str | None:
        return self.sprt.verdict(self.llr) if self.sprt else None

    def lines(self, name_a: str, name_b: str) -> list[str]:
        w, d, lost = self.wdl
        out = [f"A {name_a}: {w} wins  B {name_b}: {lost} wins  draws: {d}  A score "
               f"{(w + 0.5 * d) / max(len(self.winners), 1):.3f}"]
        if len(self.winners) % 2 == 0 and self.winners:
            out.append(f"pairs (A scored 0, 1/2, 1, 3/2, 2 of 2): {self.pairs}")
        if self.winners:
            out.append(f"A vs B: {self.elo}")
        if self.sprt:
            lo, hi = self.sprt.bounds
            verdict = {"H1": f"H1 accepted (elo >= {self.sprt.elo1:g})", "H0": f"H0 accepted (elo <= "
                       f"{self.sprt.elo0:g})"}.get(self.verdict or "", "undecided")
            out.append(f"SPRT elo0={self.sprt.elo0:g} elo1={self.sprt.elo1:g} alpha={self.sprt.alpha:g} "
                       f"beta={self.sprt.beta:g}: LLR {self.llr:.2f} in [{lo:.2f}, {hi:.2f}] -> {verdict}")
        return out


def parse_sprt(text: str) -> Sprt:
    """``elo0,elo1[,alpha,beta]`` -> :class:`Sprt` (alpha = beta = 0.05 by default)."""
    try:
        values = [float(v) for v in text.split(",")]
        if len(values) not in (2, 4):
            raise ValueError("expected elo0,elo1 or elo0,elo1,alpha,beta")
        return Sprt(*values)
    except ValueError as e:
        raise ConfigError("--sprt", f"'{text}': {e}") from None


def check_match_options(games: int, openings: str | None, random_openings: int | None) -> None:
    """The arena's ``--games`` (a positive even number: pairs), ``--openings`` / ``--random-openings K`` (one of
    them, K >= 0); ConfigError naming the option otherwise."""
    if games <= 0 or games % 2:
        raise ConfigError("--games", f"must be a positive even number (colour-alternated pairs), got {games}")
    if openings and random_openings is not None:
        raise ConfigError("--openings", "give --openings or --random-openings, not both")
    if random_openings is not None and random_openings < 0:
        raise ConfigError("--random-openings", f"must not be negative (got {random_openings})")


def play_pairs(play_round: Callable[[int, int], list[int]], games: int, sprt: Sprt | None = None,
               pairs_per_round: int | None = None) -> MatchReport:
    """Up to ``games`` games (an even number: pairs) in rounds of ``pairs_per_round`` pairs (default: all at
    once). ``play_round(first, n)`` plays pairs ``first .. first + n - 1`` (pair ``k`` from opening ``k``, in
    turn) and returns their ``2 n`` winners (1 = A, 2 = B, 0 = draw; A has the side to move at the start of
    even games). With ``sprt`` the match stops after the round in which the test decides."""
    if games <= 0 or games % 2:
        raise ConfigError("--games", f"must be a positive even number (colour-alternated pairs), got {games}")
    report = MatchReport(sprt=sprt)
    total_pairs = games // 2
    per_round = min(pairs_per_round or total_pairs, total_pairs)
    done = 0
    while done < total_pairs and report.verdict is None:
        n = min(per_round, total_pairs - done)
        report.winners += play_round(done, n)
        done += n
    return report


@contextmanager
def match_progress(games: int, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """The arena's progress (bar on a terminal, lines otherwise) over ``games`` games; yields ``on_game(done,
    winner)`` (winner 1 = A, 2 = B, 0 = draw) that counts A's and B's wins and the draws shown with it."""
    tally = {"eval/A": 0.0, "eval/B": 0.0, "eval/draws": 0.0}
    with Progress("arena", 0, games, enabled=enabled, unit="game") as progress:
        def on_game(done: int, winner: int) -> None:
            tally[{1: "eval/A", 2: "eval/B", 0: "eval/draws"}[winner]] += 1
            progress.update(done, tally)

        yield on_game
