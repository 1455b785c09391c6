"""``boardnet nnue eval|label|data``: exact integer NNUE evaluation, engine labelling, training-data files."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nnue", help="NNUE tools (exact integer evaluation, labelling, training data)")
    nsub = p.add_subparsers(dest="nnue_command", required=True)
    e = nsub.add_parser("eval", help="evaluate a FEN with a .nnue file exactly as Stockfish does")
    e.add_argument("net", help=".nnue file (SF12 HalfKP or SF15.1 HalfKAv2_hm)")
    e.add_argument("fen", help="position in FEN (quote it)")
    e.set_defaults(func=run_eval)
    lab = nsub.add_parser("label", help="score positions (PGN/EPD/FEN text) with a UCI engine -> Stockfish .bin data")
    lab.add_argument("inputs", nargs="+", help=".pgn files, or text files with a FEN/EPD (or 'fen | score | result') per line")
    lab.add_argument("--out", "-o", required=True, help="output .bin (PackedSfenValue records)")
    lab.add_argument("--depth", type=int, default=8, help="search depth per position (default 8)")
    lab.add_argument("--engine", default=None, help="UCI engine binary (default: stockfish on PATH or /usr/games/stockfish)")
    lab.add_argument("--limit", type=int, default=None, help="stop after this many positions")
    lab.set_defaults(func=run_label)
    dat = nsub.add_parser("data", help="summarize training data, or convert it between .bin, .binpack, .plain, .txt")
    dat.add_argument("input", help="training data: .bin, .binpack, .plain (Stockfish text) or .txt (fen | score | result)")
    dat.add_argument("output", nargs="?", help="write every position here, in the format of its suffix")
    dat.set_defaults(func=run_data)


def run_eval(args: argparse.Namespace) -> int:
    import chess

    from boardnet.core.errors import FormatError
    from boardnet.nnue.eval import evaluate
    from boardnet.nnue.file import read_net

    try:
        board = chess.Board(args.fen)
    except ValueError as exc:
        raise FormatError(None, f"invalid FEN {args.fen!r}: {exc}", field="FEN") from None
    if board.king(chess.WHITE) is None or board.king(chess.BLACK) is None:
        raise FormatError(None, f"FEN {args.fen!r} lacks a king", field="FEN")
    if board.is_check():
        print("NNUE evaluation: none (in check)")
        return 0
    ev = evaluate(read_net(args.net), board)
    extra = "" if ev.bucket is None else f" bucket {ev.bucket} psqt {ev.psqt} positional {ev.positional}"
    extra += "" if ev.output is None else f" output {ev.output}"
    print(f"NNUE evaluation {ev.printed} (white side); raw {ev.raw} (side to move){extra}")
    return 0


def run_label(args: argparse.Namespace) -> int:
    import shutil

    from boardnet.nnue.data.label import label

    engine = args.engine or shutil.which("stockfish") or "/usr/games/stockfish"
    stats = label(args.inputs, args.out, engine, args.depth, args.limit)
    why = ", ".join(f"{k}: {v}" for k, v in sorted(stats.reasons.items()))
    games = f"; PGN games: {stats.games.summary()}" if stats.games.used or stats.games.skipped else ""
    print(f"wrote {stats.positions} positions to {args.out}; skipped {stats.skipped}" + (f" ({why})" if why else "")
          + games)
    return 0


def run_data(args: argparse.Namespace) -> int:
    from boardnet.nnue.data.convert import convert_data, data_kind, data_summary
    from boardnet.nnue.data.text import TextStats

    if args.output is None:
        print(data_summary(args.input))
        return 0
    stats = TextStats()
    n = convert_data(args.input, args.output, stats)
    skipped = f"; {stats.summary()}" if stats.lines else ""
    print(f"wrote {n} positions to {args.output} ({data_kind(args.output)}) from {args.input} "
          f"({data_kind(args.input)}){skipped}")
    return 0
