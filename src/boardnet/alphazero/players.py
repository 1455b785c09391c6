"""Players (batched MCTS with a net, pure MCTS) and the loop that plays many games (colour-alternated pairs) in
parallel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from boardnet.alphazero.game import Game, LeafEvaluator
from boardnet.alphazero.mcts import Forest, MctsSettings, search


class Player(Protocol):
    """Anything that picks moves for a batch of games: ``moves(boards int8 [g, S], last [g]) -> int [g]``
    (:class:`MCTSPlayer`, :class:`boardnet.alphazero.pbrain.PbrainPlayer`)."""

    name: str

    def moves(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray: ...


@dataclass
class MCTSPlayer:
    """Picks moves for a batch of games by PUCT search from scratch each move: the most-visited root move (AZG's
    evaluation/play mode, temperature 1e-3). Of ``settings`` it uses ``playouts`` and ``c_puct``."""

    game: Game
    evaluate: LeafEvaluator
    settings: MctsSettings = field(default_factory=MctsSettings)
    name: str = "mcts"

    def moves(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """``boards int8 [g, S]``, ``last [g]`` -> chosen actions ``int [g]``."""
        forest = Forest(self.game, len(boards), capacity=self.settings.playouts + 2)
        games = np.arange(len(boards))
        search(forest, games, boards, last, self.evaluate, self.settings)
        return forest.N[games, 0].argmax(axis=1)


@dataclass
class MatchResult:
    winners: list[int] = field(default_factory=list)  # per game: 1 = player A, 2 = player B, 0 = draw
    moves: int = 0


def play_match(game: Game, a: Player, b: Player, n_games: int,
               starts: tuple[np.ndarray, np.ndarray] | None = None,
               on_game: Callable[[int, int], None] | None = None) -> MatchResult:
    """``n_games`` between ``a`` and ``b`` played in parallel, colours alternating: A is the side to move in
    the start position of even games, B in odd ones (games ``2k``, ``2k + 1`` form a pair).

    ``starts`` (``boards int8 [n_games, S]``, ``last [n_games]``, positions not over) are the games' start
    positions (openings; default the initial state). ``on_game(index, winner)`` is called as each game ends.
    """
    boards, last = (game.initial_state(n_games) if starts is None else (starts[0].copy(), starts[1].copy()))
    a_first = np.arange(n_games) % 2 == 0
    result = np.full(n_games, -1)
    ply = 0
    while (result < 0).any():
        live = np.nonzero(result < 0)[0]
        a_turn = a_first[live] == (ply % 2 == 0)
        for player, sel in ((a, live[a_turn]), (b, live[~a_turn])):
            if len(sel):
                boards[sel], last[sel] = game.play(boards[sel], last[sel], player.moves(boards[sel], last[sel]))
        out = game.outcome(boards[live], last[live])
        won = out == -1  # the side to move lost: the player who just moved won
        result[live[won]] = np.where(a_turn[won], 1, 2)
        result[live[out == 0]] = 0
        if on_game is not None:
            for g in live[~np.isnan(out)]:
                on_game(int(g), int(result[g]))
        ply += 1
    return MatchResult(result.tolist(), ply)
