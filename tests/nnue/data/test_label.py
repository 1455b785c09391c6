"""`nnue label`: PGN games by the same rule as every PGN reader (skipped ones counted), output must be .bin."""

from __future__ import annotations

from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.nnue.data.bin import read_bin
from tests.conftest import stockfish_binary
from tests.core.test_pgn import GAMES


def test_label_pgn_uses_the_shared_game_rule(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    engine = stockfish_binary()
    pgn = tmp_path / "g.pgn"
    pgn.write_text("\n".join(GAMES.values()))
    out = tmp_path / "o.bin"
    assert main(["nnue", "label", str(pgn), "-o", str(out), "--depth", "1", "--engine", engine]) == 0
    stdout, stderr = capfd.readouterr()
    assert stderr == ""  # python-chess's complaints are counted, not printed
    assert "PGN games: 1 games used; 10 skipped (" in stdout and "null move: 1" in stdout
    assert "variant Crazyhouse: 1" in stdout and "unfinished (result *): 1" in stdout
    dec, bad = read_bin(out)
    assert bad == 0 and len(dec) == 7  # only the used game's positions (the last is mate: no move)
    assert list(dec.result) == [1, -1, 1, -1, 1, -1, 1]


def test_label_refuses_a_non_bin_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.txt").write_text("rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1\n")
    assert main(["nnue", "label", str(tmp_path / "p.txt"), "-o", str(tmp_path / "x.txt"), "--engine", "/nonexistent"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "x.txt" in err[0] and ".bin" in err[0]
    assert not (tmp_path / "x.txt").exists()
