"""The Gomocup pbrain protocol: boardnet's engine driven like a manager drives it (in process and over pipes),
and boardnet's manager side (PbrainPlayer) playing an external engine (boardnet's own) in the arena."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.inference import net_evaluator
from boardnet.alphazero.loading import load_board_net, pbrain_player_factory
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.pbrain import PbrainEngine, PbrainError, TimeControl, from_xy, parse_xy, to_xy
from boardnet.alphazero.players import MCTSPlayer, play_match
from boardnet.alphazero.pure_mcts import rollout_evaluator
from tests.alphazero.helpers import line_owner
from tests.conftest import fixture_path

AZG6 = "azg", "best_policy_6_6_4.model"  # a trained 6x6, 4-in-a-row net (AZG's)


@pytest.fixture(scope="module")
def engine_parts():
    net = load_board_net(str(fixture_path(*AZG6)))
    game = Gomoku(6, 4)
    return game, net_evaluator(net, game)


def test_coordinates_are_gomocups():
    # x = column from the left, y = row from the TOP; boardnet's row 0 is the bottom row.
    assert to_xy(6, 0) == (0, 5) and to_xy(6, 35) == (5, 0) and to_xy(6, 6 * 1 + 2) == (2, 4)
    assert all(from_xy(6, *to_xy(6, a)) == a for a in range(36))
    assert parse_xy(" 3,1\r\n", 6) == from_xy(6, 3, 1)
    with pytest.raises(ValueError, match="off the 6x6 board"):
        parse_xy("6,0", 6)
    with pytest.raises(ValueError, match="expected x,y"):
        parse_xy("a,b", 6)


def test_time_budget_from_info():
    assert TimeControl(timeout_turn=500).budget_s(36) == 0.5
    # The match clock shares time_left over max(empty / 2, 5) moves, the tighter limit wins.
    assert TimeControl(timeout_turn=5000, timeout_match=90000, time_left=9000).budget_s(36) == 0.5
    assert TimeControl(timeout_turn=0, timeout_match=0).budget_s(36) == 0.0


def test_engine_commands_in_process(engine_parts):
    game, evaluate = engine_parts
    log = io.StringIO()
    eng = PbrainEngine(game, evaluate, MctsSettings(playouts=50), log=log)
    assert eng.handle("TURN 1,1") == ["ERROR TURN before START"]
    assert eng.handle("START 15") == ["ERROR unsupported size 15x15: this net plays 6x6"]
    assert eng.handle("START 6") == ["OK"]
    assert eng.handle("ABOUT")[0].startswith('name="boardnet"')
    assert eng.handle("INFO timeout_turn 200") == [] and eng.time.timeout_turn == 200
    assert eng.handle("INFO rule 0") == []
    assert eng.handle("INFO timeout_turn soon")[0].startswith("ERROR INFO timeout_turn needs an integer")
    assert eng.handle("FROBNICATE") == ["UNKNOWN FROBNICATE"]
    # Own stones at x=0..2 of row y=0 (the top row) and the opponent's elsewhere: the engine completes 4 in a row.
    lines = ["0,3,2", "0,0,1", "2,3,2", "1,0,1", "4,4,2", "2,0,1"]
    assert all(eng.handle(x) == [] for x in ["BOARD", *lines])
    (answer,) = eng.handle("DONE")
    assert answer == "3,0"
    assert line_owner(game, eng.boards[0]) == 1  # the engine moved first (equal stone counts): it is X
    assert "3,0 after" in log.getvalue()
    assert eng.handle("TURN 3,0") == ["ERROR 3,0 is taken"]
    bad = ["BOARD", "0,0,1", "1,1,1", "DONE"]
    assert [eng.handle(x) for x in bad][-1] == ["ERROR BOARD with 2 own and 0 opponent stones: not this engine's "
                                                "turn"]
    assert [eng.handle(x) for x in ["BOARD", "0,0,7", "DONE"]][-1][0].startswith("ERROR bad BOARD line '0,0,7'")
    assert eng.handle("RESTART") == ["OK"] and not eng.boards.any()


class Manager:
    """A scripted Gomocup manager: talks to an engine process, keeps the transcript (``>`` sent, ``<``
    received) and the board, and times every answer."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.log: list[str] = []

    def send(self, line: str) -> None:
        self.log.append(f"> {line}")
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def receive(self) -> tuple[str, float]:
        t0 = time.monotonic()
        line = self.proc.stdout.readline().strip()
        self.log.append(f"< {line}")
        return line, time.monotonic() - t0


@pytest.mark.slow
def test_scripted_manager_plays_a_full_game_within_time(tmp_path):
    # boardnet pbrain as a manager runs it: START, INFO limits, TURN / BEGIN, a BOARD mid-game, END. The engine
    # (a trained net) plays second against a seeded random mover, answers every turn legally and in time.
    size, turn_ms = 6, 400
    engine_log = tmp_path / "engine.log"
    cmd = [sys.executable, "-m", "boardnet", "pbrain", str(fixture_path(*AZG6)), "--log", str(engine_log)]
    m = Manager(cmd)
    game, rng = Gomoku(size, 4), np.random.default_rng(5)
    boards, last = game.initial_state(1)
    m.send("START 6")
    assert m.receive()[0] == "OK"
    for info in (f"INFO timeout_turn {turn_ms}", "INFO timeout_match 60000", "INFO time_left 60000",
                 "INFO max_memory 83886080", "INFO rule 0", "INFO game_type 1"):
        m.send(info)
    times, moves = [], []
    while True:
        mine = int(rng.choice(np.nonzero(game.legal_actions(boards)[0])[0]))
        boards, last = game.play(boards, last, np.array([mine]))
        moves.append(mine)
        if not np.isnan(game.outcome(boards, last)[0]):
            break
        if len(moves) == 3:  # the manager resends the whole position, as after an undo
            m.send("BOARD")
            for i, a in enumerate(moves):
                m.send("{},{},{}".format(*to_xy(size, a), 2 if i % 2 == 0 else 1))
            m.send("DONE")
        else:
            m.send("TURN {},{}".format(*to_xy(size, mine)))
        answer, dt = m.receive()
        times.append(dt)
        reply = parse_xy(answer, size)
        assert boards[0, reply] == 0, f"illegal reply {answer}"
        boards, last = game.play(boards, last, np.array([reply]))
        moves.append(reply)
        if not np.isnan(game.outcome(boards, last)[0]):
            break
    m.send("END")
    assert m.proc.wait(timeout=30) == 0
    transcript = "\n".join(m.log)
    (tmp_path / "game.log").write_text(transcript + "\n")
    print(transcript)
    print(engine_log.read_text())
    assert line_owner(game, boards[0]) == 2, "the trained net lost to a random mover"
    # Time: the engine's own clock never exceeds timeout_turn; the manager's (pipes, load) stays near it.
    spent = [float(s) for s in re.findall(r"in ([0-9.]+) s", engine_log.read_text())]
    assert len(spent) == len(times) and max(spent) <= turn_ms / 1000
    assert max(times) < turn_ms / 1000 + 1.0
    assert all(int(p) > 1 for p in re.findall(r"after (\d+) playouts", engine_log.read_text()))


@pytest.mark.slow
def test_pbrain_player_runs_boardnets_own_engine_in_the_arena():
    # The manager side: an external Gomocup engine (boardnet's pbrain, launched as a command) as an arena
    # player, two games against pure MCTS with colours alternating; every answer legal and in time.
    game = Gomoku(6, 4)
    cmd = f"{sys.executable} -m boardnet pbrain {fixture_path(*AZG6)} --playouts 200"
    player = pbrain_player_factory(f"pbrain:{cmd}:300")(game)
    try:
        opponent = MCTSPlayer(game, rollout_evaluator(game, np.random.default_rng(0)), MctsSettings(playouts=30))
        res = play_match(game, player, opponent, 2)
        assert len(res.winners) == 2 and res.moves >= 7
        assert player.longest_s < 0.3 + 1.0
        assert res.winners.count(1) >= 1  # the trained net at 300 ms beats 30-playout pure MCTS at least once
    finally:
        player.close()
    assert player.proc.returncode == 0


def test_pbrain_player_reports_a_broken_engine(tmp_path):
    script = tmp_path / "mute.py"
    script.write_text("import sys\nfor line in sys.stdin:\n    print('ERROR nope', flush=True)\n")
    with pytest.raises(PbrainError, match=r"'ERROR nope' in answer to 'START 6'"):
        pbrain_player_factory(f"pbrain:{sys.executable} {script}:100")(Gomoku(6, 4))
    with pytest.raises(PbrainError, match="cannot start"):
        pbrain_player_factory(f"pbrain:{Path(tmp_path) / 'missing'}")(Gomoku(6, 4))
