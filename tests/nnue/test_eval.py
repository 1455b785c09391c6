"""Integer evaluator vs the engines' own numbers (fixtures) for every FEN."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import chess
import pytest

from boardnet.nnue import file as nnue
from boardnet.nnue.eval import evaluate
from tests.conftest import fixture_path, stockfish_binary


def test_halfkp_matches_sf12(tmp_path: Path) -> None:
    path = tmp_path / "kp.nnue"
    with gzip.open(fixture_path("nnue", "halfkp_rand_a.nnue.gz"), "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    net = nnue.read_net(path)
    rows = json.loads(fixture_path("nnue", "halfkp_rand_a.evals.json").read_text())["positions"]
    assert len(rows) == 72
    for row in rows:
        ev = evaluate(net, chess.Board(row["fen"]))
        assert (ev.output, ev.raw, ev.printed) == (row["output"], row["raw_int"], row["sf12_eval_printed"]), row


@pytest.mark.slow
def test_halfkav2_hm_matches_sf15_1(tmp_path: Path) -> None:
    path = tmp_path / "sf.nnue"
    subprocess.run([stockfish_binary()], input=f"uci\nexport_net {path}\nquit\n", text=True, capture_output=True,
                   timeout=120, check=True)
    net = nnue.read_net(path)
    rows = json.loads(fixture_path("nnue", "sf15_1.evals.json").read_text())["positions"]
    assert len(rows) == 72
    for row in rows:
        ev = evaluate(net, chess.Board(row["fen"]))
        got = (ev.bucket, ev.psqt, ev.positional, ev.raw, ev.printed)
        assert got == (row["bucket"], row["psqt"], row["positional"], row["raw_int"],
                       row["nnue_evaluation_printed"]), row
