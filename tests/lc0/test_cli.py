"""`boardnet lc0 eval`: top moves and W/D/L, and one-line errors for bad moves, FENs and PGNs."""

from __future__ import annotations

import pytest

from boardnet.cli import main
from tests.conftest import fixture_path


def test_eval_prints_moves_and_wdl(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    net = str(fixture_path("lc0", "maia-1300.pb.gz"))
    assert main(["lc0", "eval", net, "--moves", "e2e4", "e7e5", "g1f3", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("rnbqkbnr/pppp1ppp/8/4p3/4P3/5N2/") and len(lines) == 5
    probs = [float(line.split()[-1].rstrip("%")) for line in lines[1:4]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 100
    w, d, loss = (float(lines[4].split()[i].rstrip("%")) for i in (1, 3, 5))
    assert abs(w + d + loss - 100) < 0.2
    pgn = tmp_path / "g.pgn"
    pgn.write_text('[Event "x"]\n\n1. e4 e5 2. Nf3 *\n')
    assert main(["lc0", "eval", net, "--pgn", str(pgn), "--top", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == lines[:4]  # same position, same history


def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    net = str(fixture_path("lc0", "maia-1300.pb.gz"))
    bad_pgn = tmp_path / "bad.pgn"
    bad_pgn.write_text("1. e4 Ke7?? 2. Qxx9 *\n")
    for argv, word in ((["--moves", "e2e4", "e2e5"], "e2e5"), (["--fen", "8/8 w"], "FEN"),
                       (["--pgn", str(bad_pgn)], "bad.pgn")):
        assert main(["lc0", "eval", net, *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and word in err[0]
