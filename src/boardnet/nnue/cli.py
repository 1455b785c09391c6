"""``boardnet nnue eval|label|data``: exact integer NNUE evaluation, engine labelling, training-data files."""

from __future__ import annotations

import argparse
from typing import Any

from boardnet.core import progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nnue", help="NNUE tools (exact integer evaluation, labelling, training data)")
    nsub = p.add_subparsers(dest="nnue_command", required=True)
    e = nsub.add_parser("eval", help="evaluate a FEN with a .nnue file exactly as Stockfish does")
    e.add_argument("net", help=".nnue or .nnue.gz file (Stockfish 12, 15.1, 16, 17.1 big/small, 18 big/small)")
    e.add_argument("fen", help="position in FEN (quote it)")
    e.add_argument("--engine", choices=("sf12", "sf15.1", "sf16", "sf17.1", "sf18"), default=None,
                   help="whose printing rules (default: the newest Stockfish that loads the net; another is refused)")
    e.add_argument("--small", default=None, help="SF17.1/SF18 small net, for the Final evaluation line")
    e.set_defaults(func=run_eval)
    lab = nsub.add_parser("label", help="score positions (PGN/EPD/FEN text) with a UCI engine -> Stockfish .bin data")
    lab.add_argument("inputs", nargs="+", help=".pgn files, or text files with a FEN/EPD (or 'fen | score | result') per line")
    lab.add_argument("--out", "-o", required=True, help="output .bin (PackedSfenValue records)")
    lab.add_argument("--depth", type=int, help="search depth per position (default 8 when no limit is given)")
    lab.add_argument("--nodes", type=int, help="search nodes per position")
    lab.add_argument("--movetime", type=int, metavar="MS", help="search time per position in milliseconds")
    lab.add_argument("--threads", type=int, help="engine Threads option")
    lab.add_argument("--hash", type=int, metavar="MB", help="engine Hash option (MB)")
    lab.add_argument("--cp-scale", type=float, help="internal units per pawn of an engine boardnet does not know "
                     "(Stockfish releases are recognised from their id name)")
    lab.add_argument("--engine", default=None, help="UCI engine binary (default: stockfish on PATH or /usr/games/stockfish)")
    lab.add_argument("--limit", type=int, default=None, help="stop after this many positions")
    lab.add_argument("--jobs", "-j", type=int, default=1, help="engine processes searching in parallel (default 1); "
                     "records keep the input order, and with --depth or --nodes and one thread per engine the "
                     "output is the same as with one engine")
    progress.add_arguments(lab)
    lab.set_defaults(func=run_label)
    dat = nsub.add_parser("data", help="summarize training data, or convert it between .bin, .binpack, .plain, .txt")
    dat.add_argument("input", help="training data: .bin, .binpack, .plain (Stockfish text) or .txt (fen | score | result)")
    dat.add_argument("output", nargs="?", help="write every position here, in the format of its suffix")
    progress.add_arguments(dat)
    dat.set_defaults(func=run_data)


def checked_position(fen: str) -> Any:
    """python-chess board of ``fen`` if it is a position the engines evaluate (one king each, at most 32
    pieces); one FormatError naming the FEN otherwise."""
    import chess

    from boardnet.core.errors import FormatError

    try:
        board = chess.Board(fen)
    except ValueError as exc:
        raise FormatError(None, f"invalid FEN {fen!r}: {exc}", field="FEN") from None
    if board.king(chess.WHITE) is None or board.king(chess.BLACK) is None:
        raise FormatError(None, f"FEN {fen!r} lacks a king", field="FEN")
    white, black = (chess.popcount(board.occupied_co[c]) for c in (chess.WHITE, chess.BLACK))
    if white > 16 or black > 16:
        raise FormatError(None, f"FEN {fen!r} has {white + black} pieces ({white} white, {black} black); a chess "
                          "position has at most 16 a side", field="FEN")
    return board


def refuse_gzip_named_nnue(path: str) -> None:
    """A gzip file is read when named ``.gz``; under another name it is one error saying what it is."""
    from boardnet.core.errors import FormatError
    from boardnet.core.io import open_user_file

    with open_user_file(path) as fh:
        if fh.read(2) == b"\x1f\x8b" and not path.endswith(".gz"):
            raise FormatError(path, "is gzip-compressed; gunzip it first or name it .nnue.gz")


def run_eval(args: argparse.Namespace) -> int:
    from boardnet.nnue.eval import evaluate
    from boardnet.nnue.file import ARCHS, read_quantized

    board = checked_position(args.fen)
    for path in (args.net, args.small):
        if path:
            refuse_gzip_named_nnue(path)
    if board.is_check():
        print("NNUE evaluation: none (in check)")
        return 0
    net = read_quantized(args.net, engine=args.engine)
    small = read_quantized(args.small, engine=args.engine) if args.small else None
    ev = evaluate(net, board, args.engine, small)
    extra = "" if ev.bucket is None else f" bucket {ev.bucket} psqt {ev.psqt} positional {ev.positional}"
    extra += "" if ev.output is None else f" output {ev.output}"
    print(f"NNUE evaluation {ev.printed} (white side); raw {ev.raw} (side to move){extra}")
    if ev.table is not None:
        psqt, positional, total = ev.table
        print(f"bucket {ev.bucket} (side to move): psqt {psqt} positional {positional} total {total}")
    if ev.final is not None:
        print(f"Final evaluation {ev.final} (white side)")
    print(f"engine {ev.engine}: {ARCHS[net.spec.config['arch']].title}")
    return 0


def run_label(args: argparse.Namespace) -> int:
    import shutil

    from boardnet.nnue.data.label import label

    engine = args.engine or shutil.which("stockfish") or "/usr/games/stockfish"
    options = {k: v for k, v in (("Threads", args.threads), ("Hash", args.hash)) if v is not None}
    with progress.from_args("nnue label", args.limit, args, "position") as bar:
        stats = label(args.inputs, args.out, engine, args.depth, args.limit, nodes=args.nodes,
                      movetime=None if args.movetime is None else args.movetime / 1000, options=options,
                      cp_scale=args.cp_scale, jobs=args.jobs,
                      report=lambda st: bar.update(st.positions, info=f"skipped {st.skipped}"))
        bar.finish(f"skipped {stats.skipped}; {args.jobs} engine process{'es' if args.jobs > 1 else ''}")
    why = ", ".join(f"{k}: {v}" for k, v in sorted(stats.reasons.items()))
    games = f"; PGN games: {stats.games.summary()}" if stats.games.used or stats.games.skipped else ""
    print(f"wrote {stats.positions} positions to {args.out} (scores in {stats.units} units); "
          f"skipped {stats.skipped}" + (f" ({why})" if why else "") + games)
    return 0


def run_data(args: argparse.Namespace) -> int:
    from boardnet.nnue.data.bin import count_records
    from boardnet.nnue.data.convert import convert_data, data_kind, data_summary
    from boardnet.nnue.data.text import TextStats

    if args.output is None:
        print(data_summary(args.input))
        return 0
    stats = TextStats()
    total = count_records(args.input) if data_kind(args.input, must_exist=True) == "bin" else None
    with progress.from_args("nnue data", total, args, "position") as bar:
        n = convert_data(args.input, args.output, stats, report=bar.update)
        bar.finish(f"wrote {args.output}")
    skipped = f"; {stats.summary()}" if stats.lines else ""
    print(f"wrote {n} positions to {args.output} ({data_kind(args.output)}) from {args.input} "
          f"({data_kind(args.input)}){skipped}")
    return 0
