"""Text data ``fen | score | result``: good lines decode to the same positions, bad ones are counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from boardnet.core.errors import FormatError
from boardnet.nnue.data.bin import decode_records
from boardnet.nnue.data.loader import NnueData
from boardnet.train.context import TrainContext
from tests.nnue.data.test_bin import random_positions


def test_text_round_trip_and_bad_lines(tmp_path: Path) -> None:
    from boardnet.nnue.data.text import read_text

    recs = random_positions(300, seed=21)
    lines = [f"{b.fen()} | {s} | {r}" for b, s, _, _, r in recs]
    bad = [
        "8/8/8/8/8/8/8/8 w - - 0 1 | 0 | 0",
        "not a fen | 1 | 0",
        f"{recs[0][0].fen()} | 12 | 2",
        f"{recs[0][0].fen()} | 99999 | 0",
        "too | few",
    ]
    text = "# comment\n\n" + "\n".join(lines[:150] + bad + lines[150:]) + "\n"
    path = tmp_path / "d.txt"
    path.write_text(text)
    raw, stats = read_text(path)
    assert (stats.lines, stats.positions, stats.skipped) == (305, 300, 5)
    assert "line 153" in stats.summary() and "illegal position" in stats.summary()
    dec, _ = decode_records(raw)
    assert [dec.fen(i) for i in range(300)] == [b.fen() for b, *_ in recs]
    assert dec.score.tolist() == [s for _, s, *_ in recs] and dec.result.tolist() == [r for *_, r in recs]
    assert not dec.is_capture().any()  # no move stored
    cfg = NnueData.Config(type="nnue", paths=[str(path)], skip_in_check=False, validation_path=str(path))
    src = NnueData(cfg, TrainContext(cfg=None, run_dir=tmp_path, device="cpu"))
    batch = src.next_batch(64)
    assert batch["indices"].shape == (64, 2, 32)
    assert np.isin(batch["score"].numpy(), dec.score).all()
    assert len(src.validation_batches()[0]["bucket"]) == 300


def test_text_missing_and_binpack(tmp_path: Path) -> None:
    ctx = TrainContext(cfg=None, run_dir=tmp_path, device="cpu")
    with pytest.raises(FormatError, match="no such file"):
        NnueData(NnueData.Config(type="nnue", paths=[str(tmp_path / "x.txt")]), ctx)
    (tmp_path / "a.binpack").write_bytes(b"BINP")
    with pytest.raises(FormatError, match="truncated chunk header"):  # .binpack: see test_nnue_binpack.py
        NnueData(NnueData.Config(type="nnue", paths=[str(tmp_path / "a.binpack")]), ctx)


PLAIN = """fen r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1
move e1g1
score 25
ply 40
result 1
e
fen r3k2r/8/8/8/8/8/8/R4RK1 b kq - 1 1
move e8a8
score -30
ply 41
result -1
e
fen 4k3/8/8/8/8/8/8/4K3 w - - 0 1
move e1e3
score 0
ply 7
result 0
e
fen 4k3/8/8/8/8/8/8/4K3 w - - 0 1
move e1e2
score 0
result 0
e
fen 4k3/8/8/8/8/8/8/4K3 w - - 0 1
move e1e2
score 3
ply 9
result 0
"""


def test_plain_records_castling_forms_and_bad_records(tmp_path: Path) -> None:
    """Stockfish's .plain: castling as e1g1 or king-takes-rook; illegal, incomplete, unclosed records counted."""
    from boardnet.nnue.data.text import read_text

    path = tmp_path / "d.plain"
    path.write_text(PLAIN)
    recs, stats = read_text(path)
    assert (stats.lines, stats.positions, stats.skipped) == (5, 2, 3)
    assert "record at line 13" in stats.first_bad[0] and "illegal" in stats.first_bad[0].lower()
    assert "missing ply" in stats.first_bad[1] and "no closing 'e'" in stats.first_bad[2]
    dec, _ = decode_records(recs)
    assert [dec.move_uci(i) for i in range(2)] == ["e1g1", "e8c8"]
    assert dec.score.tolist() == [25, -30] and dec.ply.tolist() == [40, 41] and dec.result.tolist() == [1, -1]
