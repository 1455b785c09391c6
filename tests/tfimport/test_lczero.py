"""lczero-training checkpoints -> lc0 attention-body nets, against what lczero-training itself wrote and computed.

Fixture: tests/lc0/fixtures/lczero_training (README: made with TF 2.15.1 running lczero-training's tfprocess.py;
its own net.py ``.pb.gz`` files and Keras outputs, raw and SWA).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.cli import main
from boardnet.core.convert import read_net
from boardnet.core.errors import ConfigError, ConversionError
from boardnet.core.verify import verify
from boardnet.tfimport.bundle import read_variables
from boardnet.tfimport.lczero import looks_like_lczero, model_weight_keys, read_weights
from boardnet.tfimport.object_graph import checkpoint_readable_names
from tests.conftest import fixture_path

FIX = Path(__file__).parents[1] / "lc0" / "fixtures" / "lczero_training"
CKPT, CONFIG = FIX / "bt-tiny-30", FIX / "bt-tiny.yaml"
KINDS = {False: "bt-tiny-30", True: "bt-tiny-swa-30"}  # swa -> lczero-training's file stem


def _ckpt(swa: bool):  # noqa: ANN202 - NetFile
    return read_net(CKPT, "tf-checkpoint", swa=swa, train_config=str(CONFIG))


def _max_linear16_error(ours: torch.Tensor, theirs: torch.Tensor) -> tuple[float, float]:
    """Worst |ours - theirs| and the LINEAR16 step of ``theirs`` ((max - min) / 65535)."""
    return (ours - theirs).abs().max().item(), (theirs.max() - theirs.min()).item() / 65535


def test_detected_and_weights_in_model_order() -> None:
    readable = checkpoint_readable_names(CKPT)
    assert looks_like_lczero(readable.values())
    assert not looks_like_lczero(checkpoint_readable_names(fixture_path("tf", "gomoku_keras_15x15", "ckpt.index")).values())
    order = [readable[k] for k in model_weight_keys(read_variables(CKPT))]
    recorded = [line.split()[0].removesuffix(":0")
                for line in json.loads((FIX / "run.json").read_text())["model_weights_order"]]
    assert order == recorded  # tfprocess's model.weights order = the order of the SWA list


@pytest.mark.parametrize("swa", [False, True])
def test_tensors_equal_lczero_training_pbgz(swa: bool) -> None:
    """The float32 checkpoint, mapped, is lczero-training's own .pb.gz before its 16-bit quantization."""
    ours, theirs = _ckpt(swa), read_net(FIX / f"{KINDS[swa]}.pb.gz")
    assert ours.spec.family == theirs.spec.family == "lc0_transformer"
    assert ours.spec.config == theirs.spec.config
    assert set(ours.state_dict) == set(theirs.state_dict)
    for k, t in theirs.state_dict.items():
        err, step = _max_linear16_error(ours.state_dict[k], t)
        assert err <= 0.5 * step + 4 * np.finfo(np.float32).eps * t.abs().max().item(), k
    other = read_net(FIX / f"{KINDS[not swa]}.pb.gz")  # raw and SWA weights really differ
    err, step = _max_linear16_error(ours.state_dict["encoder.0.mha.q.weight"], other.state_dict["encoder.0.mha.q.weight"])
    assert err > 100 * step


@pytest.mark.parametrize("swa", [False, True])
def test_outputs_match_lczero_training(swa: bool) -> None:
    ref = np.load(FIX / f"{KINDS[swa]}.reference.npz")
    net = _ckpt(swa)
    from boardnet.core.build import load_net

    model = load_net(net).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(ref["planes"]))
    wdl = torch.softmax(out["value"], dim=1).numpy()
    assert np.abs(out["policy"].numpy() - ref["policy_logits"]).max() <= 1e-4
    assert np.abs(out["value"].numpy() - ref["wdl_logits"]).max() <= 1e-5
    assert np.abs(wdl[:, 0] - wdl[:, 2] - ref["q"]).max() <= 1e-5
    assert np.abs(wdl[:, 1] - ref["d"]).max() <= 1e-5
    assert np.abs(out["mlh"].numpy()[:, 0] - ref["m"]).max() <= 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("swa", [False, True])
def test_convert_cli_pbgz_onnx_pt_and_verify(tmp_path: Path, swa: bool) -> None:
    stem, flag = KINDS[swa], ["--swa"] if swa else []
    ref = FIX / f"{stem}.reference.npz"
    for suffix in (".pb.gz", ".onnx", ".pt"):
        out = tmp_path / f"net{suffix}"
        assert main(["convert", str(CKPT), str(out), "--train-config", str(CONFIG), *flag]) == 0
        # LINEAR16 .pb.gz: the quantization (policy logits ~1e-3 here) is the only loss
        atol = 5e-3 if suffix == ".pb.gz" else 1e-4
        assert all(c.passed for c in verify(out, ref, atol=atol, rtol=0.0)), suffix
    ours, theirs = read_net(tmp_path / "net.pb.gz"), read_net(FIX / f"{stem}.pb.gz")
    assert ours.spec.config == theirs.spec.config
    assert ours.spec.meta["training_params"]["training_steps"] == 30
    differing = 0
    for k, t in theirs.state_dict.items():  # both 16-bit: equal but for float32-vs-float64 rounding ties
        err, step = _max_linear16_error(ours.state_dict[k], t)
        assert err <= step * 1.05, k
        differing += int((ours.state_dict[k] != t).sum())
    assert differing < 0.01 * sum(t.numel() for t in theirs.state_dict.values())
    assert all(c.passed for c in verify(tmp_path / "net.pb.gz", FIX / f"{stem}.pb.gz", inputs=ref, atol=5e-3,
                                        rtol=0.0))


def test_swa_reads_the_listed_copies() -> None:
    raw, _ = read_weights(CKPT)
    swa, step = read_weights(CKPT, swa=True)
    everything = read_variables(CKPT)
    assert step == 30 and set(raw) == set(swa)
    assert np.array_equal(swa["smol_weight_gen/kernel"], everything["listed/17/.ATTRIBUTES/VARIABLE_VALUE"])
    assert not np.array_equal(raw["smol_weight_gen/kernel"], swa["smol_weight_gen/kernel"])


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="--train-config"):
        read_net(CKPT, "tf-checkpoint")
    with pytest.raises(ConversionError, match="lczero-training checkpoints only"):
        read_net(fixture_path("tf", "gomoku_keras_15x15", "ckpt.index"), "tf-checkpoint", swa=True)
    bad = tmp_path / "heads.yaml"
    bad.write_text(CONFIG.read_text().replace("encoder_heads: 4", "encoder_heads: 3"))
    with pytest.raises(ConversionError, match="encoder_heads 3"):
        read_net(CKPT, "tf-checkpoint", train_config=str(bad))
    bad.write_text(CONFIG.read_text().replace("value: 'wdl'", "value: 'classical'"))
    with pytest.raises(ConversionError, match="value/dense2 has 3 outputs"):
        read_net(CKPT, "tf-checkpoint", train_config=str(bad))
    bad.write_text(CONFIG.read_text().replace("default_activation: 'mish'", "default_activation: 'gelu'"))
    with pytest.raises(ConfigError, match="default_activation"):
        read_net(CKPT, "tf-checkpoint", train_config=str(bad))
