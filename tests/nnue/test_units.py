"""Internal units <-> UCI centipawns per Stockfish version, and labels stored in the labelling engine's units."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import chess
import chess.engine
import pytest

from boardnet.core.errors import BoardnetError
from boardnet.nnue.data.bin import read_bin
from boardnet.nnue.data.label import label
from boardnet.nnue.units import material, units_for_engine, units_for_version, wdl_a
from tests.conftest import stockfish_binary

FENS = [
    "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1",
    "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3",
    "4k3/8/8/8/8/8/4P3/4K3 w - - 0 1",
    "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1",
    "6k1/5ppp/8/8/8/8/1Q3PPP/6K1 w - - 0 1",
]


def test_fixed_rules_truncate_like_cpp() -> None:
    board = chess.Board()
    sf151 = units_for_version("15.1")
    assert sf151.to_cp(69, board) == 19  # spec nnue.md §10: SF15.1 startpos v 69 -> +0.19
    assert sf151.to_cp(-69, board) == -19 and sf151.to_cp(360, board) == 99 and sf151.to_cp(361, board) == 100
    assert units_for_version("16").to_cp(328, board) == 100 and units_for_version("16").to_cp(-327, board) == -99
    assert units_for_version("16").to_cp(-3, board) == 0  # toward zero, not floor
    assert units_for_version("12").to_cp(208, board) == 100


def test_wdl_rule_is_material_dependent() -> None:
    start = chess.Board()
    assert material(start) == 78  # 16 + 3*4 + 3*4 + 5*4 + 9*2
    endgame = chess.Board("4k3/8/8/8/8/8/4P3/4K3 w - - 0 1")
    for version in ("17", "17.1", "18"):
        u = units_for_version(version)
        # the same internal value is a different number of centipawns at different material
        assert u.to_cp(400, start) != u.to_cp(400, endgame)
        assert u.to_cp(-400, start) == -u.to_cp(400, start)
    # SF17.1 anchors a(58 material) at the sum of its coefficients
    a = wdl_a((-13.50030198, 40.92780883, -36.82753545, 386.83004070),
              chess.Board("rnb1kbnr/ppppppp1/8/8/8/8/PPPPPPP1/RNB1KBNR w - - 0 1"))  # material 58
    assert abs(a - (-13.50030198 + 40.92780883 - 36.82753545 + 386.83004070)) < 1e-9


@pytest.mark.parametrize("version", ["12", "15.1", "16", "16.1", "17", "17.1", "18"])
def test_from_cp_round_trips(version: str) -> None:
    u = units_for_version(version)
    for fen in FENS:
        board = chess.Board(fen)
        assert all(u.to_cp(u.from_cp(cp, board), board) == cp for cp in range(-2500, 2501, 7))


def test_unknown_engines_need_a_scale() -> None:
    with pytest.raises(BoardnetError, match="--cp-scale"):
        units_for_engine("Komodo 14")
    with pytest.raises(BoardnetError, match="Stockfish 99"):
        units_for_engine("Stockfish 99")
    assert units_for_engine("Stockfish 15.1").pawn == 361
    assert units_for_engine("Stockfish 17.1").wdl_coeffs is not None
    assert units_for_engine("My engine", cp_scale=250).to_cp(250, chess.Board()) == 100


@pytest.mark.engine
def test_labels_are_the_engines_own_units(tmp_path: Path) -> None:
    """Each position labelled alone (fresh engine, one thread: a deterministic search) and searched again with
    ``go depth``: the stored score, converted back with SF15.1's rule, is the ``score cp`` it printed."""
    engine_path = stockfish_binary()
    for i, fen in enumerate(FENS):
        src = tmp_path / f"p{i}.txt"
        src.write_text(fen + "\n")
        out = tmp_path / f"p{i}.bin"
        stats = label([str(src)], out, engine_path, depth=10, options={"Threads": 1, "Hash": 16})
        assert stats.positions == 1 and stats.units == "Stockfish 15.1"
        stored = int(read_bin(out)[0].score[0])
        with chess.engine.SimpleEngine.popen_uci(engine_path) as engine:
            engine.configure({"Threads": 1, "Hash": 16})
            board = chess.Board(fen)
            score = engine.analyse(board, chess.engine.Limit(depth=10))["score"].pov(board.turn)
        if score.is_mate():  # mate in m moves -> 32000 - plies
            assert stored == 32000 - 2 * score.mate(), (fen, stored, score)
            continue
        cp = score.score()
        assert units_for_version("15.1").to_cp(stored, board) == cp, (fen, stored, cp)
        if abs(cp) >= 20:  # the old 2.08 rule stored 0.58x the engine's value
            assert abs(stored) > 1.6 * abs(round(cp * 2.08))


@pytest.mark.engine
def test_label_cli_options(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("\n".join(FENS[:2]) + "\n")
    out = tmp_path / "o.bin"
    run = subprocess.run([sys.executable, "-m", "boardnet", "nnue", "label", str(src), "-o", str(out), "--engine", stockfish_binary(),
                          "--nodes", "2000", "--threads", "1", "--hash", "8"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "wrote 2 positions" in run.stdout and "Stockfish 15.1 units" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "boardnet", "nnue", "label", str(src), "-o", str(out), "--engine", stockfish_binary(),
                          "--cp-scale", "-3"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "--cp-scale" in bad.stderr
