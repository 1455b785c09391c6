"""CLI: play through stdin (one coordinate convention, re-prompts, the board once a turn, the winning line, a new
game, EOF), selfplay --out, arena, and a tiny end-to-end train."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from boardnet.alphazero import cli as play
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.play import highlight
from boardnet.cli import main
from tests.alphazero.helpers import line_owner
from tests.conftest import ROOT


def _play(stdin: str | None, *extra: str, answers: tuple[str, ...] = ()) -> str:
    """``play pure:30`` on 5x5 (4 in a row) fed ``stdin``, or (None) a :class:`Person` answering ``answers`` to
    the new-game offers; the transcript."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    play.add_play_parser(sub)
    args = parser.parse_args(["play", "pure:30", "--size", "5", "--n-in-row", "4", *extra])
    out = io.StringIO()
    inp = io.StringIO(stdin) if stdin is not None else Person(out, 5, list(answers))
    assert play.run_play(args, stdin=inp, stdout=out) == 0
    return out.getvalue()


class Person:
    """A person at the keyboard who reads the transcript so far: at "your move" the first empty point (row by
    row from a1) of the last board drawn, typed as the board labels it; at "new game?" the next of
    ``answers``; after those, end of input."""

    def __init__(self, out: io.StringIO, size: int, answers: list[str]) -> None:
        self.out, self.size, self.answers = out, size, answers

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        text = self.out.getvalue()
        if text.endswith("new game? (y/n): "):
            return self.answers.pop(0) + "\n" if self.answers else ""
        assert text.endswith("your move (X): ") or text.endswith("your move (O): ")
        board = _boards(text, self.size)[-1][0]
        r, c = divmod(int(np.argmax(board == 0)), self.size)
        return f"{chr(ord('a') + c)}{r + 1}\n"


COLUMNS5 = "    a  b  c  d  e "  # the line under every 5x5 board drawn


def _boards(text: str, size: int) -> list[np.ndarray]:
    """Every board drawn in a transcript, as ``int8 [size * size]`` (row 0 = the bottom row), and the cells
    marked ``[X]`` (winning line) of each."""
    lines = text.splitlines()
    found = []
    for end, line in enumerate(lines):
        if line != COLUMNS5[: 3 + 3 * size]:
            continue
        board, marked = np.zeros(size * size, np.int8), set()
        for i, row in enumerate(lines[end - size:end]):
            r = size - 1 - i
            assert row.startswith(f"{r + 1:>2} ")  # row numbers as printed are the ones typed
            for c in range(size):
                cell = row[3 + 3 * c: 6 + 3 * c]
                board[r * size + c] = {".": 0, "X": 1, "O": 2}[cell[1]]
                if cell[0] == "[":
                    marked.add(r * size + c)
        found.append((board, marked))
    return found


def test_play_bad_input_reprompts_then_eof():
    text = _play("hello\n9,9\n1,2\nz1\nc0\na1\na1\n", "--human-first")
    assert "type moves as the board labels them, like c4 (column a-e, row 1-5)" in text
    assert "your move (X): hello\ncannot read 'hello': type a point like c4" in text and "cannot read '9,9'" in text
    assert "cannot read '1,2'" in text  # one convention: the board's (row,col is refused)
    assert "'z1' is off the 5x5 board (column a-e, row 1-5)" in text and "'c0' is off the 5x5 board" in text
    assert "'a1' is taken" in text
    # Every refusal re-prompts without redrawing the board: 2 boards (before move 1 and before move 2).
    assert len(_boards(text, 5)) == 2 and text.count("your move (X): ") == 8  # 7 lines, then end of input
    assert re.search(r"pure:30 \(O\) is thinking\.\.\.\npure:30 \(O\) plays [a-e][1-5]", text)
    assert text.rstrip().endswith("bye")


def _fill(size: int) -> str:
    """A person who types every point row by row (a1, b1, ...): each is legal or gets "taken"."""
    return "".join(f"{chr(ord('a') + c)}{r + 1}\n" for r in range(size) for c in range(size))


@pytest.mark.parametrize("human_first", [True, False])
def test_play_game_to_the_end_and_offer_another(human_first):
    # The first game is played out; "maybe" is refused, "y" starts a second game, then input ends.
    extra = ["--human-first"] if human_first else []
    text = _play(None, *extra, answers=("maybe", "y"))
    first, _, second = text.partition("new game? (y/n): ")
    game = Gomoku(5, 4)
    boards = _boards(first, 5)
    final, marked = boards[-1]
    human = 1 if human_first else 2
    winner = line_owner(game, final)  # a whole-board scan, not play's own check
    verdict = first.rstrip().splitlines()[-1]
    assert verdict.startswith({human: "you win!", 3 - human: "pure:30 wins", 0: "draw"}[winner])
    assert abs(int((final == 1).sum()) - int((final == 2).sum())) <= 1  # X moved first, turns alternated
    # The board is drawn once per turn of the person and once at the end (never twice in a row).
    assert len(boards) == int((final == human).sum()) + 1
    assert all(not m for _, m in boards[:-1])
    if winner:
        # The marked cells are one straight line of the winner's stones, at least n_in_row long.
        cells = sorted(marked)
        assert len(cells) >= 4 and all(final[c] == winner for c in cells)
        steps = {np.subtract(divmod(b, 5), divmod(a, 5)).tobytes() for a, b in zip(cells, cells[1:])}
        assert len(steps) == 1 and "(the winning line: [" in verdict
        assert any(set(w) <= marked for w in game.windows.tolist())
    else:
        assert not marked and (final != 0).all()
    # The new-game offer: a bad answer re-prompts, y starts an empty board, end of input says bye.
    assert second.startswith("maybe\nplease answer y or n\nnew game? (y/n): y\n")
    second_boards = _boards(second, 5)
    assert second_boards and int((second_boards[0][0] != 0).sum()) == (0 if human_first else 1)
    assert text.rstrip().endswith("bye")


def test_play_no_new_game_and_quit():
    text = _play(None, "--human-first", answers=("n",))
    assert text.count("new game? (y/n): ") == 1 and text.rstrip().endswith("bye")
    text = _play("b2\nq\n", "--human-first")
    assert len(_boards(text, 5)) == 2 and text.rstrip().endswith("bye")


def test_play_command_over_pipes():
    # The real command: stdin a pipe, stdout not a terminal (no colour codes, thinking lines as lines).
    proc = subprocess.run([sys.executable, "-m", "boardnet", "play", "pure:20", "--size", "5", "--n-in-row", "4"],
                          input=_fill(5), capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout and "new game? (y/n): " in proc.stdout
    assert proc.stdout.rstrip().endswith("bye") and "is thinking...\n" in proc.stdout


def test_winning_line_is_coloured_on_a_terminal():
    board = np.zeros(25, np.int8)
    board[[0, 6, 12, 18]] = 1  # a1 b2 c3 d4
    board[[1, 2, 3]] = 2
    game = Gomoku(5, 4)
    line = game.winning_line(board, 18)
    assert line == [0, 6, 12, 18] and game.winning_line(board, 2) == []
    text = game.render(board, 18, line)
    assert text.count("[X]") == 4 and "(X)" not in text
    assert highlight(text).count("\x1b[1;32m[X]\x1b[0m") == 4


def test_selfplay_and_arena_commands(tmp_path, capsys):
    out = tmp_path / "games.npz"
    assert main(["selfplay", "gomoku-6x6", "--games", "2", "--playouts", "10", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "games/s" in text and "playouts/s" in text
    assert re.search(r"^game [12]/2:", text, re.M)  # a progress line: stdout is not a terminal here
    d = np.load(out)
    assert d["planes"].shape[1:] == (4, 6, 6) and len(d["pi"]) == len(d["z"]) > 0
    assert main(["arena", "pure:60", "pure:2", "--games", "2", "--size", "5", "--n-in-row", "4"]) == 0
    assert "A pure:60" in capsys.readouterr().out
    assert main(["arena", str(tmp_path / "missing.pt"), "pure:2"]) == 2
    assert main(["arena", "pure:x", "pure:2"]) == 2


def test_play_connect_four(capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    play.add_play_parser(sub)
    args = parser.parse_args(["play", "pure:20", "--game", "connect4", "--human-first"])
    out = io.StringIO()
    assert play.run_play(args, stdin=io.StringIO("0\nx\n4\n4\n4\n4\n"), stdout=out) == 0
    text = out.getvalue()
    assert "ConnectFour(7x6): you are X; moves as a column number 1-7" in text
    assert "'0' is off the board: columns are 1-7" in text and "cannot read 'x'" in text
    assert "pure:20 (O) plays column" in text and " 1  2  3  4  5  6  7" in text
    assert text.rstrip().endswith("bye") or "wins" in text or "column 4 is full" in text
    assert main(["arena", "pure:30", "pure:3", "--game", "connect4", "--games", "2"]) == 0
    assert "ConnectFour(7x6): 2 games" in capsys.readouterr().out
    assert main(["arena", "pure:30", "pure:3", "--game", "connect4", "--size", "6"]) == 2


@pytest.mark.slow
def test_train_connect4_end_to_end(tmp_path, capsys):
    """``boardnet train connect4``: in-process self-play, a step, an arena against pure MCTS, a checkpoint;
    the checkpoint then plays an arena from the command line."""
    run = tmp_path / "run"
    assert main(["train", "connect4", "train.iterations=2", "train.batch_size=16", "data.workers=0",
                 "data.games_per_iteration=2", "data.mcts.playouts=8", "evaluators.0.every=2",
                 "evaluators.0.games=2", "evaluators.0.mcts.playouts=8", "evaluators.0.opponent.playouts=8",
                 "train.checkpoint_every=2", "train.progress=false", "--run-dir", str(run)]) == 0
    metrics = (run / "metrics.csv").read_text().splitlines()
    header, last = metrics[0].split(","), metrics[-1].split(",")
    assert float(last[header.index("eval/win_rate")]) >= 0 and float(last[header.index("loss")]) > 0
    ckpt = sorted((run / "checkpoints").iterdir())[-1]
    capsys.readouterr()
    assert main(["arena", str(ckpt), "pure:5", "--game", "connect4", "--games", "2", "--playouts", "8"]) == 0
    assert "ConnectFour(7x6): 2 games" in capsys.readouterr().out
    assert main(["arena", str(ckpt), "pure:5", "--games", "2"]) == 2  # a 6x7 net is no Gomoku net


@pytest.mark.slow
def test_train_gomoku_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "gomoku-6x6", "train.iterations=3", "train.batch_size=32", "data.mcts.playouts=16",
            "evaluators.0.every=3", "evaluators.0.mcts.playouts=16", "evaluators.0.games=2",
            "evaluators.0.opponent.playouts=16", "train.checkpoint_every=3", "--run-dir", str(run)]
    assert main(args) == 0
    assert (run / "checkpoints").is_dir() and (run / "metrics.csv").exists()
    metrics = (run / "metrics.csv").read_text()
    assert "eval/win_rate" in metrics and "data/games_per_s" in metrics
    # The trained net plays: arena against pure MCTS from its checkpoint.
    ckpt = sorted((run / "checkpoints").iterdir())[-1]
    assert main(["arena", str(ckpt), "pure:10", "--games", "2", "--playouts", "10"]) == 0
    # Resume for 2 more iterations (buffer and arena state come back from the checkpoint).
    assert main([*args[:2], "train.iterations=5", *args[3:]]) == 0
