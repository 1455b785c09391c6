"""``boardnet lc0 eval NET --fen F [--moves ...] [--pgn FILE]``: an lc0 net's top moves and W/D/L;
``boardnet lc0 pgn2chunks GAMES.pgn OUT/``: V6 training chunks from games;
``boardnet uci NET``: a UCI chess engine playing the net (lc0/uci.py)."""

from __future__ import annotations

import argparse
from typing import Any

from boardnet.core import progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lc0", help="Leela Chess Zero tools (evaluate a position, make training chunks)")
    lsub = p.add_subparsers(dest="lc0_command", required=True)
    e = lsub.add_parser("eval", help="policy (legal moves, softmax) and W/D/L of a position")
    e.add_argument("net", help="lc0 net (.pb.gz), anything boardnet converts from one (.pt, .safetensors), or an "
                   "lc0 .onnx export (boardnet's or lc0's leela2onnx; run with onnxruntime)")
    e.add_argument("--fen", help="start position (default: the standard start)")
    e.add_argument("--moves", nargs="*", default=[], help="UCI moves played from the start position (history)")
    e.add_argument("--pgn", help="evaluate the final position of the first game in this PGN file")
    e.add_argument("--top", type=int, default=5, help="how many moves to print (default 5)")
    e.set_defaults(func=run_eval)
    c = lsub.add_parser("pgn2chunks", help="V6 training chunks (one gzip file per game) from a PGN file")
    c.add_argument("pgn", help="games (PGN); games boardnet does not learn from (illegal or unfinished games, "
                   "variants, null moves) are skipped and counted")
    c.add_argument("out", help="output folder for the chunk files (a folder of earlier chunks is replaced)")
    progress.add_arguments(c)
    c.set_defaults(func=run_pgn2chunks)
    u = sub.add_parser("uci", help="a UCI chess engine (PUCT search like lc0's) playing an lc0 net")
    u.add_argument("net", help="lc0 net (.pb.gz, .pt, .safetensors, or an lc0 .onnx export)")
    u.add_argument("--backend", choices=("onnxruntime", "torch"),
                   help="net backend (default: onnxruntime when installed, else torch)")
    u.set_defaults(func=run_uci)


def _board(args: argparse.Namespace) -> Any:
    """The position with its history; bad FENs, illegal moves and unreadable PGNs are one clear error."""
    import chess

    from boardnet.core.errors import FormatError

    if args.pgn:
        from boardnet.core.pgn import iter_games

        games = iter_games(args.pgn)
        game = next(games)
        games.close()
        if game.why is not None and not game.why.startswith("unfinished") and game.why != "no moves":
            raise FormatError(args.pgn, f"first game not usable: {game.why}")
        return game.board()
    try:
        board = chess.Board(args.fen) if args.fen else chess.Board()
    except ValueError as err:
        raise FormatError(None, f"invalid FEN {args.fen!r}: {err}", field="--fen") from None
    for i, uci in enumerate(args.moves):
        try:
            move = chess.Move.from_uci(uci)
        except ValueError:
            move = None
        if move is None or move not in board.legal_moves:
            raise FormatError(None, f"move {i + 1} '{uci}' is not legal in {board.fen()}", field="--moves")
        board.push(move)
    return board


def run_eval(args: argparse.Namespace) -> int:
    from boardnet.lc0.evaluator import evaluate_once
    from boardnet.lc0.planes import encode, legal_policy

    if args.top < 0:
        from boardnet.core.errors import ConfigError

        raise ConfigError("--top", f"must be 0 or more (got {args.top})")
    board = _board(args)
    logits, q_, d_ = evaluate_once(args.net, encode(board)[None])
    q, d = float(q_[0]), float(d_[0])
    print(board.fen())
    for move, p in legal_policy(board, logits[0])[: args.top]:
        print(f"  {board.san(move):8s} {move.uci():6s} {100 * p:6.2f}%")
    print(f"W {100 * (1 + q - d) / 2:.1f}%  D {100 * d:.1f}%  L {100 * (1 - q - d) / 2:.1f}%  (side to move; Q {q:+.4f})")
    return 0


def run_pgn2chunks(args: argparse.Namespace) -> int:
    from boardnet.lc0.chunks import pgn_to_chunks

    with progress.from_args("lc0 pgn2chunks", None, args, "game") as bar:
        stats, positions = pgn_to_chunks(
            args.pgn, args.out, lambda games: bar.update(games.used + games.skipped, info=f"({games.used} used)"))
        bar.finish(f"{positions} positions from {stats.used} games used", done=stats.used + stats.skipped)
    print(f"{args.pgn}: {positions} positions in {stats.used} chunk files in {args.out}; {stats.summary()}")
    return 0


def run_uci(args: argparse.Namespace) -> int:
    from boardnet.lc0.uci import run

    return run(args.net, backend=args.backend)
