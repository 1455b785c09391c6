"""``boardnet inspect FILE``: what a file holds (format, version, architecture, parameters, hashes)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print what a network or checkpoint file holds")
    p.add_argument("file")
    p.add_argument("--from", dest="format", help="format, if the suffix does not tell")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from boardnet.convert import inspect_file

    print(inspect_file(args.file, args.format))
    return 0
