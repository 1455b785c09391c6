"""The ``boardnet`` command: gathers each family's verbs (``<family>/cli.py``), parses, prints one-line errors.

Every :class:`BoardnetError` is printed as one line ``error: ...`` with exit status 2; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from boardnet import __version__
from boardnet.core.errors import BoardnetError

# Each family's ``cli`` module has ``add_parser(subparsers)``, which registers its verbs with ``func=...``.
COMMAND_MODULES = ("train", "core", "alphazero", "nnue", "lc0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boardnet", description="Train, convert and verify the neural networks that board-game engines run."
    )
    parser.add_argument("--version", action="version", version=f"boardnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"boardnet.{name}.cli"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue
            raise
        module.add_parser(sub)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides may also follow options (``train CFG --run-dir D a.b=1``)."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = [*(args.overrides or []), *extra]
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the spaces around them) as single spaces: errors are one line."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except BoardnetError as err:
        if args.debug:
            raise
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``boardnet inspect X | head``): stop quietly, as Unix tools do
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush silent
        return 0
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
