"""Training lc0 attention-body nets: `train lc0-bt-small` from chunks -> checkpoint -> `.pb.gz`; fine-tuning a
fixture BT net with the architecture taken from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from boardnet.cli import main
from boardnet.core.build import load_net
from boardnet.core.convert import read_net
from boardnet.lc0.planes import encode
from tests.conftest import fixture_path
from tests.lc0.test_train_cmd import BOARD, QUIET, _chunks


def _outputs(path: Path) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return load_net(read_net(path)).eval()(torch.from_numpy(encode(BOARD))[None])


@pytest.mark.slow
def test_train_bt_small_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "run"
    assert main(["train", "lc0-bt-small", f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]",
                 "train.iterations=2", "train.checkpoint_every=2", *QUIET, "--run-dir", str(run)]) == 0
    assert "iteration 2/2: loss=" in capsys.readouterr().out
    ckpt = run / "checkpoints" / "iter-000002.pt"
    assert main(["convert", str(ckpt), str(tmp_path / "bt.pb.gz")]) == 0
    nf = read_net(tmp_path / "bt.pb.gz")
    assert nf.spec.family == "lc0_transformer" and nf.spec.config["smolgen"] == {"channels": 8, "hidden": 64,
                                                                                 "gen": 32}
    trained, exported = _outputs(ckpt), _outputs(tmp_path / "bt.pb.gz")
    for key in ("policy", "value", "mlh"):  # LINEAR16 quantisation only
        assert (trained[key] - exported[key]).abs().max() < 2e-2, key


@pytest.mark.slow
def test_fine_tune_takes_architecture_from_a_bt_net(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = fixture_path("lc0_transformer", "bt-a-pemap-mish.pb.gz")
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "ft"
    assert main(["train", "lc0-bt-small", f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]",
                 "train.iterations=1", "steps.0.optimizer.lr=1e-5", *QUIET, "--run-dir", str(run),
                 "--init", str(base)]) == 0
    assert "pe_map, 2 layers x 4 heads, embedding 64" in capsys.readouterr().err
    assert main(["convert", str(run / "checkpoints" / "iter-000001.pt"), str(tmp_path / "ft.pb.gz")]) == 0
    tuned, start = read_net(tmp_path / "ft.pb.gz"), read_net(base)
    assert tuned.spec.config == start.spec.config
    moved = [k for k in start.state_dict if not torch.equal(tuned.state_dict[k], start.state_dict[k])]
    assert moved  # one small step from the fixture's weights
    assert max((tuned.state_dict[k] - start.state_dict[k]).abs().max() for k in moved) < 1e-2
