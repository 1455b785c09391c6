"""`nnue label`: PGN games by the same rule as every PGN reader (skipped ones counted), output must be .bin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.nnue.data.bin import read_bin
from tests.conftest import random_boards, stockfish_binary
from tests.core.test_pgn import GAMES


def test_label_pgn_uses_the_shared_game_rule(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    engine = stockfish_binary()
    pgn = tmp_path / "g.pgn"
    pgn.write_text("\n".join(GAMES.values()))
    out = tmp_path / "o.bin"
    assert main(["nnue", "label", str(pgn), "-o", str(out), "--depth", "1", "--engine", engine, "--no-progress"]) == 0
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
    for engine, why in (("/nonexistent", "cannot start it (No such file"), ("/bin/true", "not a UCI engine")):
        assert main(["nnue", "label", str(tmp_path / "p.txt"), "-o", str(tmp_path / "x.bin"), "--engine", engine]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == [err[0]] and err[0].startswith(f"error: engine {engine}: {why}")
    assert not (tmp_path / "x.bin").exists()


@pytest.fixture(scope="module")
def positions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """14 random middle-game positions and one illegal line (skipped, counted, in every run alike)."""
    path = tmp_path_factory.mktemp("label") / "pos.txt"
    fens = [b.fen() for b in random_boards(14, seed=11, plies=(6, 60))]
    path.write_text("\n".join([*fens[:5], "8/8/8/8 w - -", *fens[5:]]) + "\n")
    return path


def _label(src: Path, out: Path, capfd: pytest.CaptureFixture[str], *extra: str) -> tuple[bytes, str, str]:
    assert main(["nnue", "label", str(src), "-o", str(out), "--engine", stockfish_binary(), *extra]) == 0
    stdout, stderr = capfd.readouterr()
    return out.read_bytes(), stdout, stderr


@pytest.mark.engine
@pytest.mark.parametrize("limit", [[], ["--nodes", "3000", "--limit", "9"]])
def test_parallel_engines_write_the_same_labels(positions: Path, tmp_path: Path, limit: list[str],
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    """--jobs 2 gives the bytes of --jobs 1: a fresh engine state (ucinewgame) per position, input order kept;
    with --limit too (no position is searched that one engine would not reach)."""
    search = limit or ["--depth", "7"]
    one, out1, _ = _label(positions, tmp_path / "one.bin", capfd, *search, "--jobs", "1", "--no-progress")
    two, out2, _ = _label(positions, tmp_path / "two.bin", capfd, *search, "--jobs", "2", "--no-progress")
    assert one == two and len(one) == 40 * (9 if limit else 14)
    assert out1 == out2.replace(str(tmp_path / "two.bin"), str(tmp_path / "one.bin"))
    assert "skipped 1 (illegal or unreadable FEN: 1)" in out1
    dec, bad = read_bin(tmp_path / "two.bin")
    fens = [ln for ln in positions.read_text().splitlines() if ln.count("/") == 7]
    assert bad == 0 and [dec.fen(i).split()[:4] for i in range(len(dec))] == [f.split()[:4] for f in fens][: len(dec)]


@pytest.mark.engine
def test_progress_lines_without_a_terminal(positions: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    quiet, out_quiet, err_quiet = _label(positions, tmp_path / "q.bin", capfd, "--depth", "3", "--no-progress")
    talk, out_talk, err = _label(positions, tmp_path / "t.bin", capfd, "--depth", "3", "--progress-every", "0")
    assert talk == quiet and err_quiet == ""  # the output is the same, progress goes to stderr only
    assert out_talk.replace("t.bin", "q.bin") == out_quiet
    lines = err.splitlines()
    assert [ln.split(" (")[0] for ln in lines[:-1]] == [f"nnue label: {n} position{'s' * (n > 1)}" for n in range(1, 15)]
    assert "skipped 1" in lines[-1] and re.fullmatch(
        r"nnue label: done, 14 positions in [0-9.]+ s \([0-9.,]+ positions/s\); skipped 1; 1 engine process", lines[-1])
