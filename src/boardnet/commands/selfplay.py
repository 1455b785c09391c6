"""``boardnet selfplay CONFIG_OR_MODEL``: play self-play games, print games/s and playouts/s."""

from __future__ import annotations

import argparse

from boardnet.selfplay import BACKENDS


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np

    from boardnet.errors import ConfigError
    from boardnet.selfplay.inference import make_evaluator
    from boardnet.selfplay.runner import self_play
    from boardnet.selfplay.workers import SelfPlayPool

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
        from boardnet.formats.torch_ckpt import atomic_write

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, planes=res.planes, pi=res.pi, z=res.z)

        atomic_write(Path(args.out), write)
        print(f"wrote {len(res.z)} positions to {args.out}")
    return 0


def _from_source(args: argparse.Namespace):
    from pathlib import Path

    from boardnet.config import bundled_config_names, load_config
    from boardnet.selfplay.loading import game_for, load_net
    from boardnet.selfplay.runner import SelfPlaySettings

    src = args.source
    if src in bundled_config_names() or Path(src).suffix in (".yaml", ".yml"):
        from boardnet import registry
        from boardnet.models import build_network

        cfg = load_config(src)
        if cfg.game is None or cfg.data is None or cfg.data.type != "selfplay":
            from boardnet.errors import ConfigError

            raise ConfigError("data", f"{src} is not a self-play config")
        game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
        net = build_network(cfg.networks[cfg.data.net], game).eval()
        return SelfPlaySettings(**cfg.data.mcts.model_dump()), game, net
    net = load_net(src)
    return SelfPlaySettings(), game_for(net, args.n_in_row), net
