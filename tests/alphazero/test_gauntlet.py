"""``boardnet gauntlet``: every checkpoint of a tiny real run against the previous one and against pure MCTS."""

from __future__ import annotations

import csv
import math

import pytest

from boardnet.alphazero.gauntlet import COLUMNS, match_row, row_line, table_csv
from boardnet.cli import main
from boardnet.core.elo import clip_shutout, elo_from_pairs, elo_from_score
from boardnet.core.match import MatchReport


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
    capsys.readouterr()
    assert main(["gauntlet", str(tiny_run), "--opponent", "pure:4", "--games", "2", "--playouts", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = _table(tiny_run)
    assert len(rows) == 3 and {r["opponent"] for r in rows} == {"pure:4"}
    for r, line in zip(rows, out):  # one pair each: Elo of the pair's score (pentanomial), a sweep's clipped
        half_points = 2 * int(r["wins"]) + int(r["draws"])
        est = clip_shutout(elo_from_pairs([int(half_points == k) for k in range(5)]), 2)
        assert r["elo"] == f"{est.elo:.1f}" and r["cumulative_elo"] == r["elo"]
        assert math.isfinite(float(r["elo"]))
        assert ("shut-out" in line) == (half_points in (0, 4)), line
    assert not list(tiny_run.glob("*.tmp*"))


def test_gauntlet_errors(tmp_path):
    assert main(["gauntlet", str(tmp_path)]) == 2  # no config.yaml
    assert main(["gauntlet", str(tmp_path), "--games", "3"]) == 2


def test_shutout_keeps_the_cumulative_elo_finite():
    """Checkpoint 2 sweeps 4 games against 1, then 3 splits with 2: a finite cumulative rating throughout."""
    rows = [match_row(2, "iteration 1", MatchReport([1, 1, 1, 1]), 0.0)]
    rows.append(match_row(3, "iteration 2", MatchReport([1, 2, 0, 0]), rows[-1].cumulative_elo))
    sweep, even = rows
    assert sweep.elo == pytest.approx(elo_from_score(1 - 0.5 / 4)) and sweep.elo_high == math.inf
    assert math.isfinite(sweep.elo_low) and sweep.elo_low < sweep.elo
    assert even.elo == 0.0 and even.cumulative_elo == pytest.approx(sweep.elo)
    assert "shut-out: Elo of the score clipped to 0.875" in row_line(sweep)
    assert "shut-out" not in row_line(even)
    assert ",inf," in table_csv(rows) and "nan" not in table_csv(rows).split("\n")[1]
