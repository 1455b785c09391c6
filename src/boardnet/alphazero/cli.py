"""AlphaZero verbs: ``selfplay``, ``arena``, ``play``."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from boardnet.alphazero.backends import BACKENDS
from boardnet.alphazero.games.gomoku import Gomoku


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register this family's verbs."""
    add_selfplay_parser(sub)
    add_arena_parser(sub)
    add_play_parser(sub)


# --- selfplay --------------------------------------------------------------------------------------------

def add_selfplay_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selfplay", help="play batched-MCTS self-play games (throughput, training data)")
    p.add_argument("source", help="a training config (file or bundled name: fresh net) or a model file")
    p.add_argument("--games", type=int, default=8, help="games, all played in parallel")
    p.add_argument("--playouts", type=int, help="MCTS playouts per move (default: the config's, else 400)")
    p.add_argument("--n-in-row", type=int, help="stones in a row for a model file (default 4 on 6x6, else 5)")
    p.add_argument("--concurrency", type=int, default=0, help="games in flight per process; a finished game's "
                   "slot takes the next game (0, the default: all of them at once)")
    p.add_argument("--workers", type=int, default=0, help="self-play processes, one thread each (0: this process)")
    p.add_argument("--inference", choices=BACKENDS, default="auto",
                   help="leaf evaluator: onnxruntime or torch (auto: onnxruntime on CPU)")
    p.add_argument("--cache", type=int, help="evaluation-cache entries per generation, 0 turns it off "
                   "(default: the config's, else 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the positions to this .npz (planes, pi, z)")
    p.set_defaults(func=run_selfplay)


def run_selfplay(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np

    from boardnet.alphazero.inference import make_evaluator
    from boardnet.alphazero.selfplay import self_play
    from boardnet.alphazero.workers import SelfPlayPool
    from boardnet.core.errors import ConfigError

    if args.games <= 0 or (args.playouts is not None and args.playouts <= 0):
        raise ConfigError("--games/--playouts", "must be positive")
    if args.concurrency < 0:
        raise ConfigError("--concurrency", f"must not be negative (got {args.concurrency})")
    if args.workers < 0:
        raise ConfigError("--workers", f"must not be negative (got {args.workers})")
    if args.cache is not None and args.cache < 0:
        raise ConfigError("--cache", f"must not be negative (got {args.cache})")
    settings, game, net = _from_source(args)
    if args.playouts:
        settings.playouts = args.playouts
    if args.cache is not None:
        settings.eval_cache = args.cache
    if args.workers:
        with SelfPlayPool(game, settings, args.workers, args.inference) as pool:
            t0 = time.perf_counter()  # includes the workers' start-up (importing torch) still under way
            res = pool.play(net, args.games, args.seed, args.concurrency or None)
    else:
        t0 = time.perf_counter()
        res = self_play(game, make_evaluator(net, game, args.inference), args.games, settings,
                        np.random.default_rng(args.seed), args.concurrency or None)
    dt = time.perf_counter() - t0
    names = {0: "draw", 1: "first", 2: "second"}
    print(f"{game}: {args.games} games, {res.moves} moves, {settings.playouts} playouts/move in {dt:.1f} s")
    print(f"winners: {', '.join(names[w] for w in res.winners)}")
    print(f"games/s {args.games / dt:.3f}  moves/s {res.moves / dt:.1f}  playouts/s {res.playouts / dt:.0f}  "
          f"net evaluations/s {res.evaluations / dt:.0f}  cache hits {100 * res.cache_hit_rate:.1f}%")
    if args.out:
        from boardnet.core.io import atomic_write

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, planes=res.planes, pi=res.pi, z=res.z)

        atomic_write(Path(args.out), write)
        print(f"wrote {len(res.z)} positions to {args.out}")
    return 0


def _from_source(args: argparse.Namespace):
    from pathlib import Path

    from boardnet.alphazero.loading import game_for, load_net
    from boardnet.alphazero.selfplay import SelfPlaySettings
    from boardnet.core.config import bundled_config_names, load_config

    src = args.source
    if src in bundled_config_names() or Path(src).suffix in (".yaml", ".yml"):
        from boardnet.core import registry
        from boardnet.core.build import build_network

        cfg = load_config(src)
        if cfg.game is None or cfg.data is None or cfg.data.type != "selfplay":
            from boardnet.core.errors import ConfigError

            raise ConfigError("data", f"{src} is not a self-play config")
        game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
        net = build_network(cfg.networks[cfg.data.net], game).eval()
        return SelfPlaySettings(**cfg.data.mcts.model_dump()), game, net
    net = load_net(src)
    return SelfPlaySettings(), game_for(net, args.n_in_row), net


# --- arena -----------------------------------------------------------------------------------------------

def add_arena_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arena", help="match two players: model files or pure:N (pure MCTS, N playouts)")
    p.add_argument("a", help="player A: a model file or pure:N")
    p.add_argument("b", help="player B: a model file or pure:N")
    p.add_argument("--games", type=int, default=10)
    p.add_argument("--playouts", type=int, default=400, help="MCTS playouts per move of model players")
    p.add_argument("--size", type=int, help="board size when both players are pure MCTS (default 8)")
    p.add_argument("--n-in-row", type=int, help="stones in a row (default 4 on 6x6, else 5)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_arena)


def run_arena(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from boardnet.alphazero.games.gomoku import Gomoku
    from boardnet.alphazero.loading import default_n_in_row, make_player
    from boardnet.alphazero.players import play_match
    from boardnet.core.errors import ConfigError

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


# --- play ------------------------------------------------------------------------------------------------

STONES = {0: ".", 1: "X", 2: "O"}  # X moves first


def add_play_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="play against a model (or pure:N) in the terminal")
    p.add_argument("model", help="a model file, or pure:N for pure MCTS")
    p.add_argument("--size", type=int, help="board size (default: the net's, 8 for pure MCTS)")
    p.add_argument("--n-in-row", type=int, help="stones in a row (default 4 on 6x6, else 5)")
    p.add_argument("--human-first", action="store_true", help="you play X and move first")
    p.add_argument("--playouts", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_play)


def draw(game: Gomoku, board: np.ndarray, last: int = -1) -> str:
    """The board, top row first; columns a, b, c..., rows 1.. from the bottom (row index 0); last move in ()."""
    s = game.size
    lines = []
    for r in range(s - 1, -1, -1):
        cells = []
        for c in range(s):
            m = r * s + c
            ch = STONES[int(board[m])]
            cells.append(f"({ch})" if m == last else f" {ch} ")
        lines.append(f"{r + 1:>2} " + "".join(cells))
    lines.append("   " + "".join(f" {chr(ord('a') + c)} " for c in range(s)))
    return "\n".join(lines)


def square_name(game: Gomoku, move: int) -> str:
    """``c4``-style name of ``move`` (column letter, 1-based row from the bottom), as the board is drawn."""
    return f"{chr(ord('a') + move % game.size)}{move // game.size + 1}"


def parse_move(text: str, game: Gomoku) -> int:
    """``row,col`` (0-based, row 0 = bottom, AZG's human_play) or ``c4`` (column letter, 1-based row) -> move.

    Raises ValueError with a message for the user on anything else.
    """
    t = text.strip().lower().replace(" ", "")
    s = game.size
    if "," in t:
        parts = t.split(",")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"cannot read '{text.strip()}': type row,col like 2,3 or a square like c4")
        r, c = int(parts[0]), int(parts[1])
    elif len(t) >= 2 and t[0].isalpha() and t[1:].isdigit():
        c, r = ord(t[0]) - ord("a"), int(t[1:]) - 1
    else:
        raise ValueError(f"cannot read '{text.strip()}': type row,col like 2,3 or a square like c4")
    if not (0 <= r < s and 0 <= c < s):
        raise ValueError(f"'{text.strip()}' is off the {s}x{s} board")
    return r * s + c


def run_play(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    from boardnet.alphazero.loading import default_n_in_row, make_player

    inp, out = stdin or sys.stdin, stdout or sys.stdout
    rng = np.random.default_rng(args.seed)
    game = Gomoku(args.size, args.n_in_row or default_n_in_row(args.size)) if args.size else None
    make, game = make_player(args.model, game, args.playouts, rng, args.n_in_row)
    game = game or Gomoku(8, args.n_in_row or 5)
    ai = make(game)
    board = game.empty_boards(1)
    last = np.full(1, -1, np.int64)
    human = 1 if args.human_first else 2
    print(f"{game}: you are {STONES[human]}; moves as row,col (row 0 = bottom) or like c4", file=out)
    for ply in range(game.action_size):
        colour = 1 if ply % 2 == 0 else 2
        print(draw(game, board[0], int(last[0])), file=out)
        if colour == human:
            while True:
                print(f"your move ({STONES[human]}): ", end="", file=out, flush=True)
                line = inp.readline()
                if not line:
                    print("\nbye", file=out)
                    return 0
                if line.strip().lower() in ("q", "quit", "exit"):
                    return 0
                try:
                    move = parse_move(line, game)
                except ValueError as e:
                    print(e, file=out)
                    continue
                if board[0, move] != 0:
                    print(f"'{line.strip()}' is taken", file=out)
                    continue
                break
        else:
            move = int(ai.moves(board, last, rng)[0])
            print(f"{ai.name} plays {square_name(game, move)} ({move // game.size},{move % game.size})", file=out)
        board[0, move] = colour
        last[0] = move
        if game.wins(board, last)[0]:
            print(draw(game, board[0], move), file=out)
            print("you win!" if colour == human else f"{ai.name} wins", file=out)
            return 0
    print(draw(game, board[0], int(last[0])), file=out)
    print("draw", file=out)
    return 0
