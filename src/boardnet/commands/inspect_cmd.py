"""``boardnet inspect FILE``: what a file holds (format, version, architecture, parameters, hashes; for NNUE
training data, the summary of ``boardnet nnue data``)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print what a network, checkpoint or NNUE training-data file holds")
    p.add_argument("file")
    p.add_argument("--from", dest="format", help="format, if the suffix does not tell")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from boardnet.convert import inspect_file
    from boardnet.data.nnue_convert import SUFFIXES, data_summary

    if args.format is None and Path(args.file).suffix.lower() in SUFFIXES:
        print(data_summary(args.file))
    else:
        print(inspect_file(args.file, args.format))
    return 0
