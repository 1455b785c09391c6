"""``boardnet play MODEL``: play Gomoku against a net (or ``pure:N``) in the terminal."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from boardnet.games.gomoku import Gomoku

STONES = {0: ".", 1: "X", 2: "O"}  # X moves first


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="play against a model (or pure:N) in the terminal")
    p.add_argument("model", help="a model file, or pure:N for pure MCTS")
    p.add_argument("--size", type=int, help="board size (default: the net's, 8 for pure MCTS)")
    p.add_argument("--n-in-row", type=int, help="stones in a row (default 4 on 6x6, else 5)")
    p.add_argument("--human-first", action="store_true", help="you play X and move first")
    p.add_argument("--playouts", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def draw(game: Gomoku, board: np.ndarray, last: int = -1) -> str:
    """The board, top row first; columns a, b, c..., rows 1.. from the bottom (row index 0); last move in ()."""
    s = game.size
    lines = []
    for r in range(s - 1, -1, -1):
        cells = []
        for c in range(s):
            m = r * s + c
            ch = STONES[int(board[m])]
            cells.append(f"({ch})" if m == last else f" {ch} ")
        lines.append(f"{r + 1:>2} " + "".join(cells))
    lines.append("   " + "".join(f" {chr(ord('a') + c)} " for c in range(s)))
    return "\n".join(lines)


def square_name(game: Gomoku, move: int) -> str:
    """``c4``-style name of ``move`` (column letter, 1-based row from the bottom), as the board is drawn."""
    return f"{chr(ord('a') + move % game.size)}{move // game.size + 1}"


def parse_move(text: str, game: Gomoku) -> int:
    """``row,col`` (0-based, row 0 = bottom, AZG's human_play) or ``c4`` (column letter, 1-based row) -> move.

    Raises ValueError with a message for the user on anything else.
    """
    t = text.strip().lower().replace(" ", "")
    s = game.size
    if "," in t:
        parts = t.split(",")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"cannot read '{text.strip()}': type row,col like 2,3 or a square like c4")
        r, c = int(parts[0]), int(parts[1])
    elif len(t) >= 2 and t[0].isalpha() and t[1:].isdigit():
        c, r = ord(t[0]) - ord("a"), int(t[1:]) - 1
    else:
        raise ValueError(f"cannot read '{text.strip()}': type row,col like 2,3 or a square like c4")
    if not (0 <= r < s and 0 <= c < s):
        raise ValueError(f"'{text.strip()}' is off the {s}x{s} board")
    return r * s + c


def run(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    from boardnet.selfplay.loading import default_n_in_row, make_player

    inp, out = stdin or sys.stdin, stdout or sys.stdout
    rng = np.random.default_rng(args.seed)
    game = Gomoku(args.size, args.n_in_row or default_n_in_row(args.size)) if args.size else None
    make, game = make_player(args.model, game, args.playouts, rng, args.n_in_row)
    game = game or Gomoku(8, args.n_in_row or 5)
    ai = make(game)
    board = game.empty_boards(1)
    last = np.full(1, -1, np.int64)
    human = 1 if args.human_first else 2
    print(f"{game}: you are {STONES[human]}; moves as row,col (row 0 = bottom) or like c4", file=out)
    for ply in range(game.action_size):
        colour = 1 if ply % 2 == 0 else 2
        print(draw(game, board[0], int(last[0])), file=out)
        if colour == human:
            while True:
                print(f"your move ({STONES[human]}): ", end="", file=out, flush=True)
                line = inp.readline()
                if not line:
                    print("\nbye", file=out)
                    return 0
                if line.strip().lower() in ("q", "quit", "exit"):
                    return 0
                try:
                    move = parse_move(line, game)
                except ValueError as e:
                    print(e, file=out)
                    continue
                if board[0, move] != 0:
                    print(f"'{line.strip()}' is taken", file=out)
                    continue
                break
        else:
            move = int(ai.moves(board, last, rng)[0])
            print(f"{ai.name} plays {square_name(game, move)} ({move // game.size},{move % game.size})", file=out)
        board[0, move] = colour
        last[0] = move
        if game.wins(board, last)[0]:
            print(draw(game, board[0], move), file=out)
            print("you win!" if colour == human else f"{ai.name} wins", file=out)
            return 0
    print(draw(game, board[0], int(last[0])), file=out)
    print("draw", file=out)
    return 0
