"""Self-play: ``n`` games in parallel with tree reuse; returns training examples ``(planes, pi, z)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from boardnet.alphazero.cache import EvalCache
from boardnet.alphazero.game import Game, LeafEvaluator
from boardnet.alphazero.mcts import Forest, MctsSettings, search, visit_policy


@dataclass
class SelfPlayResult:
    planes: np.ndarray   # float32 [N, C, H, W], every position of every game
    pi: np.ndarray       # float32 [N, A] search policy (no noise)
    z: np.ndarray        # float32 [N] outcome for the side to move at that position
    winners: list[int]   # per game: 1 first mover, 2 second, 0 draw
    moves: int           # positions played
    playouts: int        # simulations run
    evaluations: int = 0  # positions the net evaluated (playouts minus cache hits and terminal leaves)
    lookups: int = 0      # leaf evaluations asked of the cache (= evaluations + cache hits)

    @property
    def cache_hits(self) -> int:
        return self.lookups - self.evaluations

    @property
    def cache_hit_rate(self) -> float:
        """Share of leaf lookups the evaluation cache answered (0 with no lookups)."""
        return self.cache_hits / self.lookups if self.lookups else 0.0


def self_play(game: Game, evaluate: LeafEvaluator, n_games: int, cfg: MctsSettings,
              rng: np.random.Generator, concurrency: int | None = None,
              on_game: Callable[[int], None] | None = None) -> SelfPlayResult:
    """Play ``n_games`` self-play games, ``concurrency`` of them in flight (default: all at once); each search
    round evaluates the leaves of all games in flight in one call.

    When a game ends and games remain, the next one starts in its slot, so the net's batch stays full instead
    of shrinking while the longest games finish (results come back in game order; with ``concurrency >=
    n_games`` nothing is refilled). Leaf evaluations go through an :class:`EvalCache` of ``cfg.eval_cache``
    entries (same results, fewer net calls). Moves are sampled from ``(1 - f) * pi + f * Dir(alpha)`` over legal
    moves (AZG puts the noise on the sampling distribution, not on the root priors); the stored ``pi`` is
    noise-free; the tree is reused between moves. ``on_game(games finished so far)`` follows the games.
    """
    evaluate = EvalCache(evaluate, cfg.eval_cache)
    slots = max(1, min(n_games, concurrency or n_games))
    boards, last = game.initial_state(slots)
    forest = Forest(game, slots, capacity=2 * cfg.playouts + 2)
    slot_game = np.arange(slots)            # game id played in each slot
    next_game = slots
    hist_planes: list[list[np.ndarray]] = [[] for _ in range(n_games)]
    hist_pi: list[list[np.ndarray]] = [[] for _ in range(n_games)]
    results = np.zeros(n_games, np.float32)  # each game's outcome for the side to move in its final state
    live = np.arange(slots) if n_games > 0 else np.zeros(0, np.int64)
    moves = playouts = finished = 0
    while len(live):
        search(forest, live, boards[live], last[live], evaluate, cfg)
        playouts += cfg.playouts * len(live)
        pi = visit_policy(forest, live, cfg.temperature)
        planes = game.encode(boards[live], last[live])
        legal_all = game.legal_actions(boards[live])
        chosen = np.empty(len(live), np.int64)
        for j, s in enumerate(live):
            g = slot_game[s]
            legal = np.nonzero(legal_all[j])[0]
            p = pi[j, legal]
            if cfg.noise_fraction > 0:
                p = (1 - cfg.noise_fraction) * p + cfg.noise_fraction * rng.dirichlet(
                    np.full(len(legal), cfg.dirichlet_alpha))
            chosen[j] = int(legal[rng.choice(len(legal), p=p / p.sum())])
            hist_planes[g].append(planes[j])
            hist_pi[g].append(pi[j].astype(np.float32))
            forest.advance(int(s), int(chosen[j]))
        boards[live], last[live] = game.play(boards[live], last[live], chosen)
        moves += len(live)
        out = game.outcome(boards[live], last[live])
        ended = ~np.isnan(out)
        results[slot_game[live[ended]]] = out[ended]
        if on_game is not None and ended.any():
            finished += int(ended.sum())
            on_game(finished)
        refill = live[ended][: n_games - next_game]  # freed slots that start a new game
        for s in refill:
            slot_game[s], next_game = next_game, next_game + 1
        boards[refill], last[refill] = game.initial_state(len(refill))
        forest.reset(refill)
        live = np.sort(np.concatenate([live[~ended], refill]))
    zs, winners = [], []
    for g in range(n_games):
        plies = len(hist_pi[g])
        # z at stored position t: the final result seen from the side to move at t (sides alternate per ply)
        sign = np.where((plies - np.arange(plies)) % 2 == 0, 1.0, -1.0)
        zs.append(np.where(results[g] == 0, 0.0, results[g] * sign).astype(np.float32))  # draws: +0.0, not -0.0
        # a decisive game was won by whoever played its last move: player 1 on odd ply counts
        winners.append(0 if results[g] == 0 else (1 if plies % 2 == 1 else 2))
    return SelfPlayResult(
        planes=np.concatenate([np.stack(h) for h in hist_planes]).astype(np.float32),
        pi=np.concatenate([np.stack(h) for h in hist_pi]),
        z=np.concatenate(zs), winners=winners, moves=moves, playouts=playouts,
        evaluations=evaluate.evaluations, lookups=evaluate.lookups,
    )


def merge_results(parts: list[SelfPlayResult]) -> SelfPlayResult:
    """The games of several :class:`SelfPlayResult` as one, in the order given."""
    return SelfPlayResult(
        planes=np.concatenate([r.planes for r in parts]), pi=np.concatenate([r.pi for r in parts]),
        z=np.concatenate([r.z for r in parts]), winners=[w for r in parts for w in r.winners],
        moves=sum(r.moves for r in parts), playouts=sum(r.playouts for r in parts),
        evaluations=sum(r.evaluations for r in parts), lookups=sum(r.lookups for r in parts),
    )
