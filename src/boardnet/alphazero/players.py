"""Players (batched MCTS with a net, pure MCTS) and the loop that plays many games in parallel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from boardnet.alphazero.game import Game, LeafEvaluator
from boardnet.alphazero.mcts import Forest, MctsSettings, search


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


def play_match(game: Game, a: MCTSPlayer, b: MCTSPlayer, n_games: int) -> MatchResult:
    """``n_games`` between ``a`` and ``b`` played in parallel, first player alternating (A first in even games)."""
    boards, last = game.initial_state(n_games)
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
        ply += 1
    return MatchResult(result.tolist(), ply)
