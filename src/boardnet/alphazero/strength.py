"""Strength in Elo: matches of colour-alternated pairs from an opening set, their Elo with a 95% interval and the
SPRT (the report is :mod:`boardnet.core.match`'s, the arithmetic :mod:`boardnet.core.elo`'s).

A pair is two games from the same start position with the colours swapped (games ``2k`` and ``2k + 1`` of
:func:`~boardnet.alphazero.players.play_match`), so an opening that favours one colour favours both players
once; the Elo of pairs uses the pentanomial counts. Openings come from a file (one per line: the game's move
names separated by spaces, ``#`` comments) or are random: ``k`` uniformly random legal plies from a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from boardnet.alphazero.game import Game
from boardnet.alphazero.players import Player, play_match
from boardnet.core.elo import Sprt
from boardnet.core.errors import ConfigError
from boardnet.core.match import MatchReport, play_pairs

Opening = list[int]  # actions from the initial state
MAX_OPENINGS_BYTES = 64 << 20


def read_openings(path: str | Path, game: Game) -> list[Opening]:
    """Openings from a text file: one per line, moves as ``game.parse_action`` reads them (Gomoku: ``c4``, the
    board's labels), separated by spaces; blank lines and ``#`` comments skipped. A bad move or an opening that
    ends the game is a ConfigError naming ``file:line``."""
    openings = []
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_OPENINGS_BYTES + 1)
    except OSError as e:
        raise ConfigError(str(path), f"cannot read the openings: {e.strerror or e}") from None
    if len(raw) > MAX_OPENINGS_BYTES:
        raise ConfigError(str(path), f"an openings file over {MAX_OPENINGS_BYTES} bytes")
    text = raw.decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        boards, last = game.initial_state(1)
        moves = []
        for w in words:
            try:
                a = game.parse_action(w, boards[0])
            except ValueError as e:
                raise ConfigError(f"{path}:{lineno}", f"move '{w}': {e}") from None
            boards, last = game.play(boards, last, np.array([a]))
            moves.append(a)
            if not np.isnan(game.outcome(boards, last)[0]):
                raise ConfigError(f"{path}:{lineno}", f"the opening ends the game at move '{w}'")
        openings.append(moves)
    if not openings:
        raise ConfigError(str(path), "no openings in the file")
    return openings


def random_openings(game: Game, n: int, plies: int, rng: np.random.Generator) -> list[Opening]:
    """``n`` openings of ``plies`` uniformly random legal moves each (any that ends the game is redrawn)."""
    out: list[Opening] = []
    while len(out) < n:
        boards, last = game.initial_state(1)
        moves = []
        for _ in range(plies):
            legal = np.nonzero(game.legal_actions(boards)[0])[0]
            a = int(rng.choice(legal))
            boards, last = game.play(boards, last, np.array([a]))
            moves.append(a)
            if not np.isnan(game.outcome(boards, last)[0]):
                break
        else:
            out.append(moves)
    return out


def start_positions(game: Game, openings: list[Opening], n_pairs: int, first: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Start states of ``2 * n_pairs`` games: both games of pair ``k`` start from opening ``(first + k) % len``
    -> ``(boards int8 [2 n_pairs, S], last [2 n_pairs])``."""
    boards, last = game.initial_state(2 * n_pairs)
    for k in range(n_pairs):
        b, lm = game.initial_state(1)
        for a in openings[(first + k) % len(openings)]:
            b, lm = game.play(b, lm, np.array([a]))
        boards[2 * k: 2 * k + 2], last[2 * k: 2 * k + 2] = b, lm
    return boards, last


def run_match(game: Game, a: Player, b: Player, games: int, openings: list[Opening] | None = None,
              sprt: Sprt | None = None, pairs_per_round: int | None = None,
              on_game: Callable[[int, int], None] | None = None) -> MatchReport:
    """Up to ``games`` games (an even number: pairs) of A vs B, ``pairs_per_round`` pairs in parallel per round
    (default: all at once), the openings used in turn. With ``sprt`` the match stops after the round in which
    the test decides. ``on_game(games finished so far, winner)`` follows the games."""
    finished, moves = [0], [0]

    def seen(_: int, winner: int) -> None:
        finished[0] += 1
        if on_game is not None:
            on_game(finished[0], winner)

    def play_round(first: int, n: int) -> list[int]:
        starts = start_positions(game, openings, n, first) if openings else None
        res = play_match(game, a, b, 2 * n, starts, seen)
        moves[0] += res.moves
        return res.winners

    report = play_pairs(play_round, games, sprt, pairs_per_round)
    report.moves = moves[0]
    return report
