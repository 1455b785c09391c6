"""``boardnet nnue eval|label|data``: exact integer NNUE evaluation, engine labelling, training-data files."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nnue", help="NNUE tools (exact integer evaluation, labelling, training data)")
    nsub = p.add_subparsers(dest="nnue_command", required=True)
    e = nsub.add_parser("eval", help="evaluate a FEN with a .nnue file exactly as Stockfish does")
    e.add_argument("net", help=".nnue file (SF12 HalfKP or SF15.1 HalfKAv2_hm); .nnue.gz is read directly")
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


MAX_NNUE_BYTES = 512 << 20  # an inflated .nnue.gz larger than this is refused (the biggest nets are ~130 MB)


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


def read_net_file(path: str, tmp_dir: str) -> Any:
    """The quantized net of a ``.nnue`` path: regular files only; a gzip file is inflated (bounded) into
    ``tmp_dir`` when named ``*.gz``, and refused with a hint otherwise."""
    import gzip
    import zlib
    from pathlib import Path

    from boardnet.core.errors import FormatError
    from boardnet.core.userfile import open_user_file
    from boardnet.nnue.file import read_net

    with open_user_file(path) as fh:
        if fh.read(2) != b"\x1f\x8b":
            return read_net(path)
        if not path.endswith(".gz"):
            raise FormatError(path, "is gzip-compressed; gunzip it first or name it .nnue.gz")
        fh.seek(0)
        plain = Path(tmp_dir) / Path(path).name[:-3]
        try:
            with gzip.GzipFile(fileobj=fh) as src, open(plain, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
                    if dst.tell() > MAX_NNUE_BYTES:
                        raise FormatError(path, f"inflates to more than {MAX_NNUE_BYTES:,} bytes")
        except (OSError, EOFError, zlib.error) as err:
            raise FormatError(path, f"not a readable gzip file (truncated or corrupt?): {err}") from None
    try:
        return read_net(plain)
    except FormatError as err:  # name the file the user gave
        raise FormatError(path, f"inflated: {err.message}", offset=err.offset, field=err.field) from None


def run_eval(args: argparse.Namespace) -> int:
    import tempfile

    from boardnet.nnue.eval import evaluate

    board = checked_position(args.fen)
    with tempfile.TemporaryDirectory(prefix="boardnet-nnue-") as tmp:
        net = read_net_file(args.net, tmp)
    if board.is_check():
        print("NNUE evaluation: none (in check)")
        return 0
    ev = evaluate(net, board)
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
