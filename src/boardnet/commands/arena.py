"""``boardnet arena A B``: a match between two players (model files or ``pure:N``), first player alternating."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arena", help="match two players: model files or pure:N (pure MCTS, N playouts)")
    p.add_argument("a", help="player A: a model file or pure:N")
    p.add_argument("b", help="player B: a model file or pure:N")
    p.add_argument("--games", type=int, default=10)
    p.add_argument("--playouts", type=int, default=400, help="MCTS playouts per move of model players")
    p.add_argument("--size", type=int, help="board size when both players are pure MCTS (default 8)")
    p.add_argument("--n-in-row", type=int, help="stones in a row (default 4 on 6x6, else 5)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from boardnet.errors import ConfigError
    from boardnet.games.gomoku import Gomoku
    from boardnet.selfplay.loading import default_n_in_row, make_player
    from boardnet.selfplay.players import play_match

    if args.games <= 0 or args.playouts <= 0:
        raise ConfigError("--games/--playouts", "must be positive")
    rng = np.random.default_rng(args.seed)
    game = None
    if args.size:
        game = Gomoku(args.size, args.n_in_row or default_n_in_row(args.size))
    make_a, game = make_player(args.a, game, args.playouts, rng, args.n_in_row)
    make_b, game = make_player(args.b, game, args.playouts, rng, args.n_in_row)
    if game is None:
        game = Gomoku(8, args.n_in_row or 5)
    t0 = time.perf_counter()
    res = play_match(game, make_a(game), make_b(game), args.games, rng)
    w = res.winners
    rate = (w.count(1) + 0.5 * w.count(0)) / len(w)
    print(f"{game}: {len(w)} games in {time.perf_counter() - t0:.1f} s")
    print(f"A {args.a}: {w.count(1)} wins  B {args.b}: {w.count(2)} wins  draws: {w.count(0)}  "
          f"A score {rate:.2f}")
    return 0
