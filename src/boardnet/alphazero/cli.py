"""AlphaZero verbs: ``selfplay``, ``arena``, ``gauntlet``, ``play``, ``pbrain``."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from boardnet.alphazero.backends import BACKENDS
from boardnet.core import registry


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register this family's verbs."""
    add_selfplay_parser(sub)
    add_arena_parser(sub)
    add_gauntlet_parser(sub)
    add_play_parser(sub)
    add_pbrain_parser(sub)


# --- selfplay --------------------------------------------------------------------------------------------

def add_selfplay_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selfplay", help="play batched-MCTS self-play games (throughput, training data)")
    p.add_argument("source", help="a training config (file or bundled name: fresh net) or a model file")
    p.add_argument("--games", type=int, default=8, help="games, all played in parallel")
    p.add_argument("--playouts", type=int, help="MCTS playouts per move (default: the config's, else 400)")
    p.add_argument("--game", default="gomoku", choices=registry.GAMES.names(),
                   help="the game a model file plays (default gomoku, on the net's board)")
    p.add_argument("--n-in-row", type=int, help="stones in a row for a Gomoku model file (default 4 on 6x6, else 5)")
    p.add_argument("--concurrency", type=int, default=0, help="games in flight per process; a finished game's "
                   "slot takes the next game (0, the default: all of them at once)")
    p.add_argument("--workers", type=int, default=0, help="self-play processes, one thread each (0: this process)")
    p.add_argument("--inference", choices=BACKENDS, default="auto",
                   help="leaf evaluator: onnxruntime or torch (auto: onnxruntime on CPU)")
    p.add_argument("--cache", type=int, help="evaluation-cache entries per generation, 0 turns it off "
                   "(default: the config's, else 50000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the positions to this .npz (planes, pi, z)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar / lines")
    p.set_defaults(func=run_selfplay)


def run_selfplay(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np

    from boardnet.alphazero.inference import make_evaluator
    from boardnet.alphazero.selfplay import merge_results, self_play
    from boardnet.alphazero.workers import SelfPlayPool
    from boardnet.core.errors import ConfigError
    from boardnet.core.progress import Progress

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
        settings = settings.model_copy(update={"playouts": args.playouts})
    if args.cache is not None:
        settings = settings.model_copy(update={"eval_cache": args.cache})
    with Progress("selfplay", 0, args.games, enabled=not args.no_progress, unit="game") as progress:
        if args.workers:
            with SelfPlayPool(game, settings, args.workers, args.inference) as pool:
                t0 = time.perf_counter()  # includes the workers' start-up (importing torch) still under way
                # With --concurrency, rounds of workers x concurrency games, each reported; else one round.
                chunk = args.workers * args.concurrency if args.concurrency else args.games
                parts = []
                for first in range(0, args.games, chunk):
                    n = min(chunk, args.games - first)
                    parts.append(pool.play(net, n, args.seed + first, args.concurrency or None))
                    progress.update(first + n, {})
                res = merge_results(parts)
        else:
            t0 = time.perf_counter()
            res = self_play(game, make_evaluator(net, game, args.inference), args.games, settings,
                            np.random.default_rng(args.seed), args.concurrency or None,
                            on_game=lambda done: progress.update(done, {}))
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

    from boardnet.alphazero.loading import check_fits, game_for, load_board_net, make_game
    from boardnet.alphazero.mcts import MctsSettings
    from boardnet.core.config import bundled_config_names, load_config

    src = args.source
    if src in bundled_config_names() or Path(src).suffix in (".yaml", ".yml"):
        from boardnet.core.build import build_network

        cfg = load_config(src)
        if cfg.game is None or cfg.data is None or cfg.data.type != "selfplay":
            from boardnet.core.errors import ConfigError

            raise ConfigError("data", f"{src} is not a self-play config")
        game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
        net = build_network(cfg.networks[cfg.data.net], game).eval()
        return cfg.data.mcts, game, net
    net = load_board_net(src)
    game = game_for(net, args.n_in_row) if args.game == "gomoku" else make_game(args.game)
    check_fits(net, game, src)
    return MctsSettings(), game, net


# --- arena -----------------------------------------------------------------------------------------------

def add_arena_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arena", help="match two players in colour-alternated pairs: Elo with a 95%% interval, "
                       "optional SPRT")
    p.add_argument("a", help="player A: a model file, pure:N (pure MCTS, N playouts), pbrain:CMD[:timeout_ms] "
                   "(a Gomocup engine); chess: an lc0 net file or uci:CMD[:nodes=N|depth=N|movetime=MS] (a UCI "
                   "engine)")
    p.add_argument("b", help="player B: as A")
    p.add_argument("--games", type=int, default=10, help="games (even: pairs); with --sprt the most it plays")
    p.add_argument("--playouts", type=int, default=400, help="MCTS playouts (chess: nodes) per move of model "
                   "players")
    p.add_argument("--openings", help="a file of openings, one per line (moves as play reads them, spaces "
                   "between; chess: a FEN or EPD), used in turn, each for one pair")
    p.add_argument("--random-openings", type=int, metavar="K", help="random openings of K plies (from --seed)")
    p.add_argument("--sprt", metavar="ELO0,ELO1[,ALPHA,BETA]", help="stop when the SPRT of H0: elo=ELO0 vs "
                   "H1: elo=ELO1 decides (alpha = beta = 0.05 unless given)")
    p.add_argument("--pairs-per-round", type=int, help="pairs played in parallel (default: all; with --sprt 4)")
    p.add_argument("--max-plies", type=int, help="chess: a game still going after this many plies is a draw "
                   "(default 400)")
    p.add_argument("--pgn", help="chess: write the games to this PGN file")
    add_game_arguments(p, registry.ARENAS.names())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar / lines")
    p.set_defaults(func=run_arena)


def add_game_arguments(p: argparse.ArgumentParser, more_games: list[str] | None = None) -> None:
    """``--game`` (the board games, and ``more_games``), and Gomoku's ``--size`` / ``--n-in-row`` (default: a
    model's board, 8x8 for pure MCTS)."""
    p.add_argument("--game", choices=registry.GAMES.names() + (more_games or []),
                   help="the game (default gomoku; the arena picks chess for chess players)")
    p.add_argument("--size", type=int, help="Gomoku board size (default: the net's, 8 for pure MCTS)")
    p.add_argument("--n-in-row", type=int, help="Gomoku stones in a row (default 4 on 6x6, else 5)")


def _players(args: argparse.Namespace, names: list[str], rng: np.random.Generator) -> tuple:
    """The game and one :class:`MCTSPlayer` per name (model file or pure:N); a Gomoku model sets the board."""
    from boardnet.alphazero.loading import make_game, make_player

    game_type = args.game or "gomoku"
    game = make_game(game_type, args.size, args.n_in_row) if args.size or game_type != "gomoku" else None
    makers = []
    for name in names:
        make, game = make_player(name, game, args.playouts, rng, args.n_in_row)
        makers.append(make)
    game = game or make_game(game_type, None, args.n_in_row)
    return (game, *(make(game) for make in makers))


def run_arena(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from boardnet.alphazero.strength import random_openings, read_openings, run_match
    from boardnet.core.errors import ConfigError
    from boardnet.core.match import check_match_options, match_progress, parse_sprt

    for name in registry.ARENAS.names():  # another family's players (chess): its arena plays the match
        arena = registry.ARENAS.get(name)
        if args.game == name or (args.game is None and any(arena.claims(p) for p in (args.a, args.b))):
            return arena.run(args)
    check_match_options(args.games, args.openings, args.random_openings)
    if args.max_plies is not None or args.pgn:
        raise ConfigError("--max-plies/--pgn", "only chess matches take them")
    if args.playouts <= 0:
        raise ConfigError("--playouts", f"must be positive (got {args.playouts})")
    sprt = parse_sprt(args.sprt) if args.sprt else None
    rng = np.random.default_rng(args.seed)
    game, player_a, player_b = _players(args, [args.a, args.b], rng)
    try:
        openings = (read_openings(args.openings, game) if args.openings else
                    random_openings(game, args.games // 2, args.random_openings, rng) if args.random_openings
                    else None)
        per_round = args.pairs_per_round or (4 if sprt else None)
        t0 = time.perf_counter()
        with match_progress(args.games, enabled=not args.no_progress) as on_game:
            report = run_match(game, player_a, player_b, args.games, openings, sprt, per_round, on_game)
    finally:
        for p in (player_a, player_b):
            if hasattr(p, "close"):
                p.close()
    print(f"{game}: {len(report.winners)} games in {time.perf_counter() - t0:.1f} s"
          + (f", openings: {len(openings)}" if openings else ""))
    for line in report.lines(args.a, args.b):
        print(line)
    return 0


# --- gauntlet --------------------------------------------------------------------------------------------

def add_gauntlet_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gauntlet", help="every checkpoint of a run vs the previous one (or a fixed opponent): "
                       "Elo per iteration -> RUN_DIR/gauntlet.csv and gauntlet.png")
    p.add_argument("run_dir", help="a training run directory (config.yaml, checkpoints/)")
    p.add_argument("--opponent", help="a fixed opponent (pure:N, a model file, pbrain:CMD[:ms]); default: the "
                   "previous checkpoint")
    p.add_argument("--games", type=int, default=10, help="games per match (even: colour-alternated pairs)")
    p.add_argument("--playouts", type=int, default=200, help="MCTS playouts per move of the checkpoints")
    p.add_argument("--opening-plies", type=int, default=2, help="each pair starts from a random opening of this "
                   "many plies (seeded by --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_gauntlet_verb)


def run_gauntlet_verb(args: argparse.Namespace) -> int:
    from pathlib import Path

    from boardnet.alphazero.gauntlet import row_line, run_gauntlet, write_outputs
    from boardnet.core.errors import ConfigError

    if args.games <= 0 or args.games % 2 or args.playouts <= 0:
        raise ConfigError("--games/--playouts", "--games must be a positive even number and --playouts positive")
    run_dir = Path(args.run_dir)

    def say(row) -> None:  # noqa: ANN001
        print(row_line(row), flush=True)

    if args.opening_plies < 0:
        raise ConfigError("--opening-plies", f"must not be negative (got {args.opening_plies})")
    rows = run_gauntlet(run_dir, args.opponent, args.games, args.playouts, args.seed, say, args.opening_plies)
    title = f"{run_dir.name}: {args.games} games a match, {args.playouts} playouts"
    csv_path, png_path = write_outputs(run_dir, rows, title)
    print(f"wrote {csv_path} and {png_path}")
    return 0


# --- play ------------------------------------------------------------------------------------------------

def add_play_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="play against a model (or pure:N) in the terminal")
    p.add_argument("model", help="a model file, or pure:N for pure MCTS")
    add_game_arguments(p)
    p.add_argument("--human-first", action="store_true", help="you play X and move first")
    p.add_argument("--playouts", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_play)


def run_play(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    from boardnet.alphazero.play import play_session

    rng = np.random.default_rng(args.seed)
    game, ai = _players(args, [args.model], rng)
    return play_session(game, ai, 1 if args.human_first else 2, stdin or sys.stdin, stdout or sys.stdout)


# --- pbrain ----------------------------------------------------------------------------------------------

def add_pbrain_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pbrain", help="a Gomoku net as a Gomocup engine (pbrain protocol on stdin/stdout)")
    p.add_argument("model", help="a Gomoku model file (its board is the board START must name)")
    p.add_argument("--n-in-row", type=int, help="stones in a row (default 4 on 6x6, else 5)")
    p.add_argument("--playouts", type=int, default=400, help="most MCTS playouts a move (time limits may stop "
                   "it earlier)")
    p.add_argument("--inference", choices=BACKENDS, default="torch", help="leaf evaluator (default torch: "
                   "no ONNX export at start-up)")
    p.add_argument("--log", help="append one line per move (playouts, seconds) to this file (default stderr)")
    p.set_defaults(func=run_pbrain)


def run_pbrain(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    import torch

    from boardnet.alphazero.inference import make_evaluator
    from boardnet.alphazero.loading import check_fits, game_for, load_board_net
    from boardnet.alphazero.mcts import MctsSettings
    from boardnet.alphazero.pbrain import PbrainEngine
    from boardnet.core.errors import ConfigError

    if args.playouts <= 0:
        raise ConfigError("--playouts", "must be positive")
    torch.set_num_threads(1)  # a tournament machine runs two engines side by side
    net = load_board_net(args.model)
    game = game_for(net, args.n_in_row)
    check_fits(net, game, args.model)
    log = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115 - lives for the session
    try:
        engine = PbrainEngine(game, make_evaluator(net, game, args.inference), MctsSettings(playouts=args.playouts),
                              log=log)
        engine.serve(stdin or sys.stdin, stdout or sys.stdout)
    finally:
        if log is not None:
            log.close()
    if stdin is None and sys.stdin is sys.__stdin__:  # an engine process: managers wait for it after END, and interpreter teardown (torch)
        sys.stdout.flush()  # takes seconds on a busy machine; nothing is left to write
        sys.stderr.flush()
        os._exit(0)
    return 0
