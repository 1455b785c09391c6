"""Self-play: ``n`` games in parallel with tree reuse; returns training examples ``(planes, pi, z)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boardnet.games.gomoku import Gomoku
from boardnet.selfplay.mcts import Evaluator, Forest, SearchConfig, search, visit_policy


@dataclass
class SelfPlaySettings:
    """``mcts:`` of a selfplay data config (spec alphazero.md §5, AZG defaults)."""

    playouts: int = 400
    c_puct: float = 5.0
    dirichlet_alpha: float = 0.3
    noise_fraction: float = 0.25
    temperature: float = 1.0


@dataclass
class SelfPlayResult:
    planes: np.ndarray   # float32 [N, 4, H, W], every position of every game
    pi: np.ndarray       # float32 [N, A] search policy (no noise)
    z: np.ndarray        # float32 [N] outcome for the side to move at that position
    winners: list[int]   # per game: 1 first mover, 2 second, 0 draw
    moves: int           # positions played
    playouts: int        # simulations run


def self_play(game: Gomoku, evaluate: Evaluator, n_games: int, cfg: SelfPlaySettings,
              rng: np.random.Generator) -> SelfPlayResult:
    """Play ``n_games`` self-play games at once; each search round evaluates all games' leaves in one call.

    Moves are sampled from ``(1 - f) * pi + f * Dir(alpha)`` over legal moves (AZG puts the noise on the sampling
    distribution, not on the root priors); the stored ``pi`` is noise-free; the tree is reused between moves.
    """
    A = game.action_size
    boards = game.empty_boards(n_games)
    last = np.full(n_games, -1, np.int64)
    forest = Forest(game, n_games, capacity=2 * cfg.playouts + 2)
    hist_planes: list[list[np.ndarray]] = [[] for _ in range(n_games)]
    hist_pi: list[list[np.ndarray]] = [[] for _ in range(n_games)]
    winners = [-1] * n_games
    live = np.arange(n_games)
    moves = playouts = 0
    scfg = SearchConfig(cfg.playouts, cfg.c_puct)
    while len(live):
        search(forest, live, boards[live], last[live], evaluate, scfg)
        playouts += cfg.playouts * len(live)
        pi = visit_policy(forest, live, cfg.temperature)
        planes = game.encode(boards[live], last[live])
        count = (boards[live, :A] != 0).sum(axis=1)
        for j, g in enumerate(live):
            legal = np.nonzero(boards[g, :A] == 0)[0]
            p = pi[j, legal]
            if cfg.noise_fraction > 0:
                p = (1 - cfg.noise_fraction) * p + cfg.noise_fraction * rng.dirichlet(
                    np.full(len(legal), cfg.dirichlet_alpha))
            move = int(legal[rng.choice(len(legal), p=p / p.sum())])
            hist_planes[g].append(planes[j])
            hist_pi[g].append(pi[j].astype(np.float32))
            boards[g, move] = 1 if count[j] % 2 == 0 else 2
            last[g] = move
            forest.advance(int(g), move)
        moves += len(live)
        won = game.wins(boards[live], last[live])
        full = (boards[live, :A] != 0).all(axis=1)
        for j in np.nonzero(won | full)[0]:
            g = live[j]
            winners[g] = int(boards[g, last[g]]) if won[j] else 0
        live = live[~(won | full)]
    zs = []
    for g in range(n_games):
        t = np.arange(len(hist_pi[g]))
        mover = np.where(t % 2 == 0, 1, 2)   # side to move at each stored position
        zs.append(np.where(winners[g] == 0, 0.0, np.where(mover == winners[g], 1.0, -1.0)).astype(np.float32))
    return SelfPlayResult(
        planes=np.concatenate([np.stack(h) for h in hist_planes]).astype(np.float32),
        pi=np.concatenate([np.stack(h) for h in hist_pi]),
        z=np.concatenate(zs), winners=winners, moves=moves, playouts=playouts,
    )
