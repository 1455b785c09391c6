"""``boardnet play``: a person against a player (a net's MCTS, pure MCTS) in the terminal, over any text streams.

One turn of the person: the board (with the coordinates moves are typed in, the opponent's last move in ``()``),
then a prompt, repeated with the reason after a move that cannot be read or played; the board is not printed
again until the person's next turn. While the opponent searches a "thinking..." line shows (overwritten on a
terminal). At the end the board once more with the winning line in ``[X]`` (also in colour on a terminal), the
result, and the offer of a new game. End of input at any prompt, or ``q``, ends the session with status 0. Input from a pipe is echoed after its prompt.
"""

from __future__ import annotations

import re
import time
from contextlib import suppress
from typing import IO

import numpy as np

from boardnet.alphazero.game import Game
from boardnet.alphazero.players import Player

QUIT = ("q", "quit", "exit")
SIDES = {1: "X", 2: "O"}
_WIN_CELL = re.compile(r"\[([XO])\]")


class _Quit(Exception):
    """The person left (``q`` or end of input)."""


def highlight(text: str) -> str:
    """The winning line's ``[X]`` cells in bold green (ANSI), for a terminal."""
    return _WIN_CELL.sub(lambda m: f"\x1b[1;32m[{m[1]}]\x1b[0m", text)


def _ask(prompt: str, inp: IO[str], out: IO[str]) -> str:
    """One line typed after ``prompt``; :class:`_Quit` at end of input or on ``q``. Input that is not a
    terminal (a pipe, a file) is echoed, so the transcript reads like a session."""
    print(prompt, end="", file=out, flush=True)
    line = inp.readline()
    if not getattr(inp, "isatty", lambda: False)():
        print(line.rstrip("\r\n"), file=out)
    if not line:
        raise _Quit
    if line.strip().lower() in QUIT:
        raise _Quit
    return line


def _human_move(game: Game, board: np.ndarray, side: str, inp: IO[str], out: IO[str]) -> int:
    """Prompt until a legal move is typed (each refusal says why)."""
    while True:
        line = _ask(f"your move ({side}): ", inp, out)
        try:
            return game.parse_action(line, board)
        except ValueError as e:
            print(e, file=out)


def _ai_move(ai: Player, boards: np.ndarray, last: np.ndarray, side: str, game: Game, out: IO[str],
             tty: bool) -> int:
    """The opponent's move, with a thinking line while it searches and what it played."""
    thinking = f"{ai.name} ({side}) is thinking..."
    print(thinking, end="" if tty else "\n", file=out, flush=True)
    t0 = time.perf_counter()
    move = int(ai.moves(boards, last)[0])
    if tty:
        print("\r\x1b[K", end="", file=out)
    print(f"{ai.name} ({side}) plays {game.action_name(move)}  [{time.perf_counter() - t0:.1f} s]", file=out)
    return move


def play_game(game: Game, ai: Player, human: int, inp: IO[str], out: IO[str], tty: bool = False) -> None:
    """One game; the person plays ``human`` (1 = X, first; 2 = O). Raises :class:`_Quit` if the person leaves."""
    boards, last = game.initial_state(1)
    ply = 0
    while True:
        colour = 1 if ply % 2 == 0 else 2
        if colour == human:
            print(game.render(boards[0], int(last[0])), file=out)
            move = _human_move(game, boards[0], SIDES[human], inp, out)
        else:
            move = _ai_move(ai, boards, last, SIDES[colour], game, out, tty)
        boards, last = game.play(boards, last, np.array([move]))
        ply += 1
        result = game.outcome(boards, last)[0]
        if np.isnan(result):
            continue
        line = game.winning_line(boards[0], move) if result != 0 else []
        board_text = game.render(boards[0], move, line)
        print(highlight(board_text) if tty else board_text, file=out)
        if result == 0:
            print("draw", file=out)
        else:  # the side to move lost: whoever just moved won
            print(f"{'you win!' if colour == human else f'{ai.name} wins'} (the winning line: "
                  f"[{SIDES[colour]}])", file=out)
        return


def _again(inp: IO[str], out: IO[str]) -> bool:
    """Ask for a new game until y or n; end of input is no."""
    while True:
        answer = _ask("new game? (y/n): ", inp, out).strip().lower()
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")
        print("please answer y or n", file=out)


def play_session(game: Game, ai: Player, human: int, inp: IO[str], out: IO[str]) -> int:
    """Games against ``ai`` until the person declines a new one or leaves; exit status 0."""
    tty = bool(getattr(out, "isatty", lambda: False)())
    print(f"{game}: you are {SIDES[human]}; {game.move_help}; q quits", file=out)
    with suppress(_Quit):  # q or end of input, at any prompt
        while True:
            play_game(game, ai, human, inp, out, tty)
            if not _again(inp, out):
                break
    print("bye", file=out)
    return 0
