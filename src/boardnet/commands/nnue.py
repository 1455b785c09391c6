"""``boardnet nnue eval NET FEN``: the engine's exact integer NNUE evaluation of a position."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nnue", help="NNUE tools (exact integer evaluation)")
    nsub = p.add_subparsers(dest="nnue_command", required=True)
    e = nsub.add_parser("eval", help="evaluate a FEN with a .nnue file exactly as Stockfish does")
    e.add_argument("net", help=".nnue file (SF12 HalfKP or SF15.1 HalfKAv2_hm)")
    e.add_argument("fen", help="position in FEN (quote it)")
    e.set_defaults(func=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    import chess

    from boardnet.errors import FormatError
    from boardnet.formats.nnue import read_net
    from boardnet.nnue_eval import evaluate

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
