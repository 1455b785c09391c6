"""``boardnet inspect`` on lc0 V6 training chunks."""

from __future__ import annotations

from pathlib import Path

from boardnet.cli import main
from boardnet.lc0.chunks import pgn_to_chunks

PGN = '[Event "x"]\n[Result "1-0"]\n\n1. e4 e5 2. Qh5 Nc6 3. Bc4 Nf6 4. Qxf7# 1-0\n'


def test_inspect_a_chunk(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.pgn").write_text(PGN)
    pgn_to_chunks(tmp_path / "a.pgn", tmp_path / "ch")
    chunk = next((tmp_path / "ch").iterdir())
    assert main(["inspect", str(chunk)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 7 records")
    assert out[1] == "version/input format: 6/1 x7"
    assert out[2] == "results (side to move): 4 won, 0 drawn, 3 lost"  # white mated: white's 4 moves won
    assert out[3] == "plies left: 1..7; rule-50 count: 0..4"
