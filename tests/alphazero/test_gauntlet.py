"""``boardnet gauntlet``: every checkpoint of a tiny real run against the previous one and against pure MCTS."""

from __future__ import annotations

import csv
import math

import pytest

from boardnet.alphazero.gauntlet import COLUMNS
from boardnet.cli import main
from boardnet.core.elo import elo_from_pairs


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("g") / "run"
    assert main(["train", "gomoku-6x6", "train.iterations=3", "train.batch_size=16", "data.workers=0",
                 "data.games_per_iteration=2", "data.mcts.playouts=8", "evaluators=[]", "train.checkpoint_every=1",
                 "train.keep_checkpoints=10", "train.progress=false", "train.plot=false", "--run-dir", str(run)]) == 0
    return run


def _table(run):
    with open(run / "gauntlet.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_gauntlet_vs_previous_and_fixed(tiny_run, capsys):
    assert main(["gauntlet", str(tiny_run), "--games", "4", "--playouts", "8"]) == 0
    rows = _table(tiny_run)
    assert list(rows[0]) == list(COLUMNS)
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3]
    assert rows[0]["opponent"] == "-" and float(rows[0]["cumulative_elo"]) == 0.0
    total = 0.0
    for prev, r in zip(rows, rows[1:]):
        assert r["opponent"] == f"iteration {prev['iteration']}"
        w, d, lost = int(r["wins"]), int(r["draws"]), int(r["losses"])
        assert w + d + lost == int(r["games"]) == 4
        total += float(r["elo"])
        assert float(r["cumulative_elo"]) == pytest.approx(total, abs=0.11) or math.isinf(total)
    png = (tiny_run / "gauntlet.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    assert "wrote" in capsys.readouterr().out
    assert main(["gauntlet", str(tiny_run), "--opponent", "pure:4", "--games", "2", "--playouts", "8"]) == 0
    rows = _table(tiny_run)
    assert len(rows) == 3 and {r["opponent"] for r in rows} == {"pure:4"}
    for r in rows:  # one pair each: Elo of the pair's score (pentanomial)
        half_points = 2 * int(r["wins"]) + int(r["draws"])
        est = elo_from_pairs([int(half_points == k) for k in range(5)])
        assert r["elo"] == f"{est.elo:.1f}" and r["cumulative_elo"] == r["elo"]
    assert not list(tiny_run.glob("*.tmp*"))


def test_gauntlet_errors(tmp_path):
    assert main(["gauntlet", str(tmp_path)]) == 2  # no config.yaml
    assert main(["gauntlet", str(tmp_path), "--games", "3"]) == 2
