"""Matches in colour-alternated pairs from openings, their Elo and the SPRT; ``boardnet arena`` reporting them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.players import MCTSPlayer, play_match
from boardnet.alphazero.pure_mcts import rollout_evaluator
from boardnet.alphazero.strength import random_openings, read_openings, run_match, start_positions
from boardnet.cli import main
from boardnet.core.elo import Sprt, elo_from_pairs
from boardnet.core.errors import ConfigError
from boardnet.core.match import pair_counts


def pure(game, playouts, seed):
    return MCTSPlayer(game, rollout_evaluator(game, np.random.default_rng(seed)), MctsSettings(playouts=playouts),
                      f"pure:{playouts}")


class Recorder:
    """Wraps a player and keeps every position it was asked to move in."""

    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, inner.name, []

    def moves(self, boards, last):
        self.seen += [b.copy() for b in boards]
        return self.inner.moves(boards, last)


def test_read_openings(tmp_path):
    game = Gomoku(6, 4)
    f = tmp_path / "open.txt"
    f.write_text("# comment\nc3 d4   # two plies\n\nC3 d4 b2\n")
    assert read_openings(f, game) == [[2 * 6 + 2, 3 * 6 + 3], [2 * 6 + 2, 3 * 6 + 3, 1 * 6 + 1]]
    f.write_text("c3 d4\nc3 c3\n")
    with pytest.raises(ConfigError, match=r"open.txt:2.*move 'c3': 'c3' is taken"):
        read_openings(f, game)
    f.write_text("a1 f6 b1 f5 c1 f4 d1\n")  # X completes four in a row on move 7
    with pytest.raises(ConfigError, match=r"open.txt:1.*ends the game at move 'd1'"):
        read_openings(f, game)
    with pytest.raises(ConfigError, match="cannot read the openings"):
        read_openings(tmp_path / "missing.txt", game)


def test_random_openings_and_start_positions():
    game = Gomoku(6, 4)
    ops = random_openings(game, 5, 4, np.random.default_rng(3))
    assert ops == random_openings(game, 5, 4, np.random.default_rng(3))  # the seed decides
    assert all(len(o) == 4 and len(set(o)) == 4 for o in ops) and len({tuple(o) for o in ops}) == 5
    boards, last = start_positions(game, ops, 3, first=4)  # pairs use openings 4, 0, 1
    for k, op in enumerate([ops[4], ops[0], ops[1]]):
        for g in (2 * k, 2 * k + 1):
            assert sorted(np.nonzero(boards[g])[0].tolist()) == sorted(op) and last[g] == op[-1]
            assert (boards[g][op[0::2]] == 1).all() and (boards[g][op[1::2]] == 2).all()


def test_pairs_swap_colours_from_the_same_opening():
    game = Gomoku(6, 4)
    ops = [[14, 15, 20]]  # three plies: O (second player) is to move
    a, b = Recorder(pure(game, 8, 0)), Recorder(pure(game, 8, 1))
    res = play_match(game, a, b, 2, start_positions(game, ops, 1))
    assert len(res.winners) == 2
    start = start_positions(game, ops, 1)[0][0]
    # Game 0: A moves first from the opening; game 1: B does. Both first see exactly the opening position.
    assert np.array_equal(a.seen[0], start) and np.array_equal(b.seen[0], start)
    assert int((a.seen[0] != 0).sum()) == 3


def test_run_match_elo_and_sprt_stop():
    game = Gomoku(5, 4)
    strong, weak = pure(game, 150, 0), pure(game, 1, 1)
    rep = run_match(game, strong, weak, 40, sprt=Sprt(0, 100), pairs_per_round=3)
    # The strong side wins clearly: H1 accepted before all 20 pairs, stopped at a round boundary.
    assert rep.verdict == "H1" and len(rep.winners) < 40 and len(rep.winners) % 6 == 0
    assert rep.elo == elo_from_pairs(pair_counts(rep.winners)) and rep.elo.elo > 100
    text = "\n".join(rep.lines("s", "w"))
    assert "H1 accepted (elo >= 100)" in text and f"pairs (A scored 0, 1/2, 1, 3/2, 2 of 2): {rep.pairs}" in text
    with pytest.raises(ConfigError, match="positive even number"):
        run_match(game, strong, weak, 3)


def test_arena_command_reports_elo_with_openings(tmp_path, capsys):
    ops = tmp_path / "ops.txt"
    ops.write_text("c3 d4\nc3 d4 b2\n")
    assert main(["arena", "pure:60", "pure:2", "--games", "4", "--size", "6", "--n-in-row", "4",
                 "--openings", str(ops)]) == 0
    out = capsys.readouterr().out
    counts = [int(x) for x in re.search(r"pairs \(A scored 0, 1/2, 1, 3/2, 2 of 2\): \[([0-9, ]+)\]",
                                        out).group(1).split(",")]
    assert sum(counts) == 2 and "openings: 2" in out
    assert re.search(r"A vs B: Elo [-+](inf|[0-9.]+)", out)
    assert "game 1/4: A=" in out  # progress lines (stdout is not a terminal here)
    assert main(["arena", "pure:6", "pure:2", "--size", "6", "--random-openings", "2", "--games", "4",
                 "--sprt", "0,200", "--pairs-per-round", "1"]) == 0
    assert "SPRT elo0=0 elo1=200 alpha=0.05 beta=0.05: LLR" in capsys.readouterr().out
    assert main(["arena", "pure:6", "pure:2", "--games", "3"]) == 2
    assert main(["arena", "pure:6", "pure:2", "--openings", str(tmp_path / "none.txt")]) == 2
