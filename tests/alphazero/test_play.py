"""CLI: play through stdin (garbled/illegal input, EOF), selfplay --out, arena, and a tiny end-to-end train."""

from __future__ import annotations

import argparse
import io
import re

import numpy as np
import pytest

from boardnet.alphazero import cli as play
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.cli import main
from tests.alphazero.helpers import line_owner


def _play(stdin: str, *extra: str) -> str:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    play.add_play_parser(sub)
    args = parser.parse_args(["play", "pure:30", "--size", "5", "--n-in-row", "4", *extra])
    out = io.StringIO()
    assert play.run_play(args, stdin=io.StringIO(stdin), stdout=out) == 0
    return out.getvalue()


def test_play_bad_input_then_eof():
    text = _play("hello\n9,9\n1,2,3\nz1\n0,0\n0,0\na1\n", "--human-first")
    assert "cannot read 'hello'" in text and "off the 5x5 board" in text and "cannot read '1,2,3'" in text
    assert "'z1' is off the 5x5 board" in text
    assert "'0,0' is taken" in text and "'a1' is taken" in text  # a1 == 0,0
    assert "pure:30 plays" in text and text.rstrip().endswith("bye")


def _final_board(text: str, size: int) -> np.ndarray:
    """The last board drawn in a transcript, as ``int8 [size * size]`` (row 0 = the bottom row)."""
    lines = text.splitlines()
    top = max(i for i, line in enumerate(lines) if line.startswith(f"{size:>2} "))
    board = np.zeros(size * size, np.int8)
    for i, line in enumerate(lines[top:top + size]):
        r = size - 1 - i
        cells = line[3:].replace("(", " ").replace(")", " ")
        for c in range(size):
            board[r * size + c] = {".": 0, "X": 1, "O": 2}[cells[3 * c + 1]]
    return board


def test_play_game_to_the_end():
    # The human (second, O) fills the board cell by cell: every answer is legal or gets "taken"; the game ends,
    # and the verdict printed is the one the final board shows (a whole-board line scan, not play's own check).
    moves = "".join(f"{r},{c}\n" for r in range(5) for c in range(5))
    text = _play(moves)
    game = Gomoku(5, 4)
    board = _final_board(text, 5)
    winner = line_owner(game, board)
    verdict = text.rstrip().splitlines()[-1]
    assert verdict == {1: "pure:30 wins", 2: "you win!", 0: "draw"}[winner]
    if winner == 0:
        assert (board != 0).all()
    assert abs(int((board == 1).sum()) - int((board == 2).sum())) <= 1  # X moved first, turns alternated


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
    assert "pure:20 plays column" in text and " 1  2  3  4  5  6  7" in text
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
