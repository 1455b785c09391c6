"""lc0 training end to end: PGN -> `lc0 pgn2chunks` -> `train lc0-small` -> `.pb.gz` -> reload -> `lc0 eval`;
fine-tuning maia-1300 with the architecture taken from the net."""

from __future__ import annotations

from pathlib import Path

import chess
import pytest
import torch

from boardnet.cli import main
from boardnet.core.build import load_net
from boardnet.core.convert import read_net
from boardnet.lc0.planes import encode, legal_policy
from tests.conftest import fixture_path

PGN = """[Event "a"]
[Result "1-0"]

1. e4 e5 2. Bc4 Nc6 3. Qh5 Nf6 4. Qxf7# 1-0

[Event "b"]
[Result "1/2-1/2"]

1. d4 d5 2. c4 e6 3. Nc3 Nf6 4. Bg5 Be7 5. e3 O-O 6. Nf3 h6 1/2-1/2

[Event "broken"]
[Result "0-1"]

1. e4 e5 2. Ke3 Nf6 0-1

[Event "unfinished"]
[Result "*"]

1. e4 *

[Event "c"]
[Result "0-1"]
[FEN "4k3/8/8/8/8/8/4P3/4K2q w - - 0 1"]
[SetUp "1"]

1. Kd2 Qh2 2. Kd3 Qxe2+ 0-1
"""
QUIET = ["train.progress=false", "train.tensorboard=false", "train.plot=false", "train.batch_size=8"]


def _chunks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    (tmp_path / "games.pgn").write_text(PGN)
    assert main(["lc0", "pgn2chunks", str(tmp_path / "games.pgn"), str(tmp_path / "chunks")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and ": 23 positions in 3 chunk files in " in out[0]
    assert "3 games used; 2 skipped (illegal or unreadable moves: 1, unfinished (result *): 1)" in out[0]
    assert len(list((tmp_path / "chunks").glob("*.gz"))) == 3
    return tmp_path / "chunks"


BOARD = chess.Board("rnbqkbnr/pppp1ppp/8/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R b KQkq - 1 2")


def _outputs(path: Path) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return load_net(read_net(path)).verify_outputs(torch.from_numpy(encode(BOARD))[None])


@pytest.mark.slow
def test_pgn_to_trained_pb_gz_to_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "run"
    assert main(["train", "lc0-small", f"data.paths=[{chunks}]", "data.shuffle_buffer=16",
                 "data.validation_fraction=0.34", "train.iterations=4", "train.checkpoint_every=2",
                 "evaluators.0.every=2", *QUIET, "--run-dir", str(run)]) == 0
    log = capsys.readouterr().out
    assert "iteration 4/4: loss=" in log and "policy=" in log and "moves_left=" in log
    assert "val/policy" in (run / "metrics.csv").read_text().splitlines()[0]
    ckpt = run / "checkpoints" / "iter-000004.pt"
    assert main(["convert", str(ckpt), str(tmp_path / "small.pb.gz")]) == 0
    nf = read_net(tmp_path / "small.pb.gz")
    assert nf.spec.family == "lc0"
    assert {k: nf.spec.config[k] for k in ("blocks", "filters", "se_channels", "policy", "value", "moves_left")} == \
        {"blocks": 4, "filters": 32, "se_channels": 8, "policy": "convolution", "value": "wdl", "moves_left": True}
    trained, exported = _outputs(ckpt), _outputs(tmp_path / "small.pb.gz")
    for key in ("policy_logits", "q", "d"):  # LINEAR16 quantisation only
        assert (trained[key] - exported[key]).abs().max() < 2e-2, key
    capsys.readouterr()
    assert main(["lc0", "eval", str(tmp_path / "small.pb.gz"), "--moves", "e2e4", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[4].startswith("W ") and " D " in lines[4] and " L " in lines[4]
    assert all(line.strip().endswith("%") for line in lines[1:4])


@pytest.mark.slow
def test_fine_tune_maia_takes_architecture_from_net(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    maia = fixture_path("lc0", "maia-1300.pb.gz")
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "ft"
    assert main(["train", "lc0-small", f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]",
                 "train.iterations=2", "steps.0.optimizer.lr=1e-4", *QUIET, "--run-dir", str(run),
                 "--init", str(maia)]) == 0
    err = capsys.readouterr().err
    assert "blocks=6, filters=64, se_channels=8" in err and "moves-left head added" in err
    assert main(["convert", str(run / "checkpoints" / "iter-000002.pt"), str(tmp_path / "ft.pb.gz")]) == 0
    nf = read_net(tmp_path / "ft.pb.gz")
    assert nf.spec.config["blocks"] == 6 and nf.spec.config["filters"] == 64 and nf.spec.config["moves_left"]
    tuned, base = _outputs(tmp_path / "ft.pb.gz"), _outputs(maia)
    assert not torch.equal(tuned["policy_logits"], base["policy_logits"])  # it trained ...
    # ... from maia's weights (2 small steps; BatchNorm running statistics move most)
    tuned_p = dict(legal_policy(BOARD, tuned["policy_logits"][0].numpy()))
    base_p = dict(legal_policy(BOARD, base["policy_logits"][0].numpy()))
    assert max(tuned_p, key=tuned_p.get) == max(base_p, key=base_p.get)
    assert max(abs(tuned_p[m] - base_p[m]) for m in base_p) < 0.1
    assert (tuned["q"] - base["q"]).abs().max() < 0.1


def test_init_from_a_non_lc0_net_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "x.pb.gz"
    bogus.write_bytes(b"not a net")
    (tmp_path / "g.pgn").write_text(PGN)
    assert main(["train", "lc0-small", f"data.paths=[{tmp_path / 'g.pgn'}]", *QUIET, "--run-dir",
                 str(tmp_path / "r"), "--init", str(bogus)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "x.pb.gz" in err[0]
