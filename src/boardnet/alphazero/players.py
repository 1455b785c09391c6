"""Players (batched MCTS with a net, pure MCTS) and the loop that plays many games in parallel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.mcts import Evaluator, Forest, SearchConfig, search, visit_policy


@dataclass
class MCTSPlayer:
    """Picks moves for a batch of games by PUCT search from scratch each move (AZG's evaluation/play mode).

    ``temperature`` 1e-3 ≈ most-visited move (AZG's default).
    """

    game: Gomoku
    evaluate: Evaluator
    playouts: int = 400
    c_puct: float = 5.0
    temperature: float = 1e-3
    name: str = "mcts"

    def moves(self, boards: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``boards int8 [g, A+1]``, ``last [g]`` -> chosen moves ``int [g]``."""
        forest = Forest(self.game, len(boards), capacity=self.playouts + 2)
        games = np.arange(len(boards))
        search(forest, games, boards, last, self.evaluate, SearchConfig(self.playouts, self.c_puct))
        if self.temperature <= 1e-2:
            return forest.N[games, 0].argmax(axis=1)
        pi = visit_policy(forest, games, self.temperature)
        return np.array([rng.choice(len(p), p=p) for p in pi])


@dataclass
class MatchResult:
    winners: list[int] = field(default_factory=list)  # per game: 1 = player A, 2 = player B, 0 = draw
    moves: int = 0


def play_match(game: Gomoku, a: MCTSPlayer, b: MCTSPlayer, n_games: int, rng: np.random.Generator) -> MatchResult:
    """``n_games`` between ``a`` and ``b`` played in parallel, first player alternating (A first in even games)."""
    A = game.action_size
    boards = game.empty_boards(n_games)
    last = np.full(n_games, -1, np.int64)
    a_first = np.arange(n_games) % 2 == 0
    result = np.full(n_games, -1)
    ply = 0
    while (result < 0).any():
        live = np.nonzero(result < 0)[0]
        a_turn = a_first[live] == (ply % 2 == 0)
        for player, sel in ((a, live[a_turn]), (b, live[~a_turn])):
            if len(sel):
                mv = player.moves(boards[sel], last[sel], rng)
                boards[sel, mv] = 1 if ply % 2 == 0 else 2
                last[sel] = mv
        won = game.wins(boards[live], last[live])
        full = (boards[live, :A] != 0).all(axis=1)
        mover_is_a = a_turn
        result[live[won]] = np.where(mover_is_a[won], 1, 2)
        result[live[full & ~won]] = 0
        ply += 1
    return MatchResult(result.tolist(), ply)
