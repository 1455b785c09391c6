"""``boardnet train [CONFIG] [key=value ...]``: run, or resume, a training run described by a config."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="run or resume a training run described by a config",
                       description="Run or resume a training run. Without CONFIG, trains Gomoku 8x8 "
                                   "from the bundled default config.")
    p.add_argument("config", nargs="?", default=None,
                   help="YAML config file or bundled name (see `boardnet config list`); default gomoku-8x8")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.iterations=100 steps.0.optimizer.lr=1e-3")
    p.add_argument("--run-dir", help="run directory (default <train.out>/<name>); an existing one is resumed")
    p.add_argument("--force", action="store_true",
                   help="continue a run directory made from a different config")
    p.add_argument("--init", action="append", default=[], metavar="[NET=]FILE",
                   help="start network NET (default: the only/first one) from FILE, any format boardnet reads; "
                        "an lc0_train network also takes its architecture from FILE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from boardnet.core.config import load_config
    from boardnet.core.errors import ConfigError
    from boardnet.train.trainer import Trainer

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config and not config.endswith((".yaml", ".yml")):
        overrides.insert(0, config)
        config = None
    cfg = load_config(config, overrides)
    init: dict[str, str] = {}
    for item in args.init:
        name, sep, path = item.partition("=")
        if not sep:
            if not cfg.networks:
                raise ConfigError("networks", "--init needs a network to load into")
            name, path = next(iter(cfg.networks)), item
        init[name] = path
    # a network type whose config has init_from (lc0_train) takes its architecture from the --init file
    takes_arch = [n for n in init if n in cfg.networks and "init_from" in type(cfg.networks[n]).model_fields]
    if takes_arch:
        overrides += [f"networks.{n}.init_from={json.dumps(init.pop(n))}" for n in takes_arch]
        cfg = load_config(config, overrides)
    trainer = Trainer(cfg, run_dir=args.run_dir, force=args.force, init=init)
    trainer.run()
    print(f"run directory: {trainer.run_dir}")
    return 0
