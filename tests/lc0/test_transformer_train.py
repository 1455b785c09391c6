"""Training lc0 attention-body nets with ``configs/lc0-transformer-small.yaml``: DeepNorm init, chunks ->
checkpoint -> ``.pb.gz``, exact resume after SIGKILL, two-process torchrun, fine-tuning a read net (``--init``),
and a trained net exported to ``.pb.gz`` that the real lc0 evaluated (tests/lc0/fixtures/lc0_trained)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from boardnet.cli import main
from boardnet.core.build import load_net
from boardnet.core.config import read_yaml
from boardnet.core.convert import read_net
from boardnet.lc0.planes import encode
from boardnet.lc0.transformer_train import Lc0TransformerTrainNet, deepnorm_beta
from boardnet.train.checkpoint import list_checkpoints, load_checkpoint
from tests.conftest import fixture_path
from tests.lc0.test_train_cmd import BOARD, QUIET, _chunks
from tests.lc0.test_transformer import LOCAL, assert_heads_match, head_outputs, local_reference
from tests.train.helpers import kill_and_resume
from tests.train.test_distributed import run_ddp

CONFIG = "lc0-transformer-small"
# a tiny BT4-like net (PE_DENSE, gating, embedding FFN, smolgen, relu²) for the run-mechanics tests
TINY = ["networks.net.embedding_size=16", "networks.net.encoder_heads=2", "networks.net.encoder_dff=32",
        "networks.net.smolgen_channels=2", "networks.net.smolgen_hidden=8", "networks.net.smolgen_gen=4",
        "networks.net.pe_dense_channels=1", "networks.net.embedding_dff=16", "networks.net.value_channels=2",
        "networks.net.value_hidden=16", "networks.net.mlh_channels=2", "networks.net.mlh_hidden=8"]
TRAINED = LOCAL / "lc0_trained" / "bt4-tiny-trained.pb.gz"


def _outputs(path: Path) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return load_net(read_net(path)).eval()(torch.from_numpy(encode(BOARD))[None])


def test_new_net_gets_deepnorm_init() -> None:
    cfg = Lc0TransformerTrainNet.Config(embedding="pe_dense", embedding_size=64, encoder_layers=4, encoder_dff=256,
                                        gating=True, smolgen=True)
    net = Lc0TransformerTrainNet.from_config(cfg)
    beta = deepnorm_beta(4)
    assert beta == pytest.approx(32 ** -0.25)
    layer = net.encoder[2]
    for linear, gain in ((layer.mha.q, 1.0), (layer.mha.k, 1.0), (layer.mha.v, beta), (layer.mha.dense, beta),
                         (layer.ffn.dense1, beta), (layer.ffn.dense2, beta), (net.embedding.ffn.dense2, beta)):
        fan_out, fan_in = linear.weight.shape
        want = gain * (2.0 / (fan_in + fan_out)) ** 0.5  # Xavier normal
        assert float(linear.weight.detach().std()) == pytest.approx(want, rel=0.06)
        assert not linear.bias.any()


@pytest.mark.slow
def test_train_small_bt4_like_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "run"
    assert main(["train", CONFIG, f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]",
                 "train.iterations=2", "train.checkpoint_every=2", *QUIET, "--run-dir", str(run)]) == 0
    assert "iteration 2/2: loss=" in capsys.readouterr().out
    ckpt = run / "checkpoints" / "iter-000002.pt"
    assert main(["convert", str(ckpt), str(tmp_path / "bt.pb.gz")]) == 0
    nf = read_net(tmp_path / "bt.pb.gz")
    cfg = nf.spec.config
    assert nf.spec.family == "lc0_transformer" and nf.spec.meta["network"] == "NETWORK_ATTENTIONBODY_WITH_HEADFORMAT"
    assert (cfg["embedding"], cfg["gating"], cfg["ffn_activation"], cfg["smolgen_activation"]) == (
        "pe_dense", True, "relu2", "swish")
    assert cfg["smolgen"] == {"channels": 8, "hidden": 64, "gen": 32} and cfg["embedding_dff"] == 128
    trained, exported = _outputs(ckpt), _outputs(tmp_path / "bt.pb.gz")
    for key in ("policy", "value", "mlh"):  # LINEAR16 quantisation only
        assert (trained[key] - exported[key]).abs().max() < 2e-2, key


@pytest.mark.slow
def test_sigkill_and_resume_gives_the_same_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chunks = _chunks(tmp_path, capsys)
    args = ["train", CONFIG, f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]", *TINY,
            "train.iterations=16", "train.checkpoint_every=2", *QUIET]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run([sys.executable, "-m", "boardnet", *args, "--run-dir", str(whole)], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    kill_and_resume(args, killed, kill_at=4, total=16, env={"OMP_NUM_THREADS": "1"})
    a, b = (load_checkpoint(list_checkpoints(r)[-1])["nets"]["net"]["state_dict"] for r in (whole, killed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_two_process_torchrun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two ranks on disjoint chunk files end with identical weights (run_ddp checks them)."""
    chunks = _chunks(tmp_path, capsys)
    raw, _ = read_yaml(CONFIG)
    for item in TINY:
        key, value = item.split("=")
        raw["networks"]["net"][key.rsplit(".", 1)[1]] = int(value)
    raw["data"].update(paths=[str(chunks)], shuffle_buffer=16, validation_fraction=0.0)
    raw["train"] = {"iterations": 3, "batch_size": 8, "checkpoint_every": 3, "threads": 1, "progress": False,
                    "tensorboard": False, "plot": False}
    raw["evaluators"] = []
    cfg = tmp_path / "bt.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run_ddp(cfg, tmp_path)


@pytest.mark.slow
def test_fine_tune_takes_architecture_from_a_bt_net(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = fixture_path("lc0_transformer", "bt-c-pedense-bt4like.pb.gz")
    chunks = _chunks(tmp_path, capsys)
    run = tmp_path / "ft"
    assert main(["train", CONFIG, f"data.paths=[{chunks}]", "data.shuffle_buffer=16", "evaluators=[]",
                 "train.iterations=1", "steps.0.optimizer.lr=1e-5", *QUIET, "--run-dir", str(run),
                 "--init", str(base)]) == 0
    assert "pe_dense, 4 layers x 8 heads, embedding 128" in capsys.readouterr().err
    assert main(["convert", str(run / "checkpoints" / "iter-000001.pt"), str(tmp_path / "ft.pb.gz")]) == 0
    tuned, start = read_net(tmp_path / "ft.pb.gz"), read_net(base)
    assert tuned.spec.config == start.spec.config
    moved = [k for k in start.state_dict if not torch.equal(tuned.state_dict[k], start.state_dict[k])]
    assert moved  # one small step from the fixture's weights
    assert max((tuned.state_dict[k] - start.state_dict[k]).abs().max() for k in moved) < 1e-2


def test_trained_net_export_matches_lc0() -> None:
    """A net trained by ``boardnet train lc0-transformer-small`` and exported by ``boardnet convert``: lc0 v0.31.2
    loaded the ``.pb.gz`` and computed these outputs (fixture README)."""
    ref = local_reference(TRAINED)
    with torch.no_grad():
        out = load_net(read_net(TRAINED)).eval()(torch.from_numpy(ref["planes"]))
    assert_heads_match(head_outputs(out), ref)


def test_trained_net_exports_to_the_same_bytes(tmp_path: Path) -> None:
    """The trained weights (``.pt``) still convert to exactly the ``.pb.gz`` lc0 evaluated."""
    assert main(["convert", str(TRAINED.with_name("bt4-tiny-trained.pt")), str(tmp_path / "again.pb.gz")]) == 0
    assert (tmp_path / "again.pb.gz").read_bytes() == TRAINED.read_bytes()
