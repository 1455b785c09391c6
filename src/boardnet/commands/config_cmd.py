"""``boardnet config show CONFIG [key=value ...]``: print the resolved config."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show a resolved config")
    verbs = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = verbs.add_parser("show", help="print the config with defaults and overrides applied")
    show.add_argument("config", nargs="?", default=None, help="YAML file or bundled name (default gomoku-8x8)")
    show.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.batch_size=256")
    show.set_defaults(func=run_show)
    lst = verbs.add_parser("list", help="list the bundled configs")
    lst.set_defaults(func=run_list)


def run_show(args: argparse.Namespace) -> int:
    from boardnet.config import dump_yaml, load_config

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:  # only overrides given
        overrides.insert(0, config)
        config = None
    print(dump_yaml(load_config(config, overrides)), end="")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from boardnet.config import bundled_config_names

    print("\n".join(bundled_config_names()))
    return 0
