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
from boardnet.core.errors import ConfigError, ConversionError, VerificationError
from boardnet.core.verify import verify
from boardnet.tfimport.bundle import read_variables
from boardnet.tfimport.lczero import body_kind, looks_like_lczero, model_weight_keys, read_weights
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


# ---------------------------------------------------------------------------------------------------------------
# Residual body (SE-ResNet) with the attention policy head and a policy encoder layer.
# Fixture: tests/lc0/fixtures/lczero_training_residual (README: made with lczero-training's tfprocess.py; its own
# net.py .pb.gz, the Keras model's outputs, and lc0 v0.31.2's outputs on that .pb.gz).

RFIX = Path(__file__).parents[1] / "lc0" / "fixtures" / "lczero_training_residual"
RCKPT, RCONFIG = RFIX / "ap-small-30", RFIX / "ap-small.yaml"
RULE50 = 109


def _residual():  # noqa: ANN202 - NetFile
    return read_net(RCKPT, "tf-checkpoint", train_config=str(RCONFIG))


def _outputs(net, planes: np.ndarray, inference: bool = False) -> dict[str, np.ndarray]:  # noqa: ANN001 - NetFile
    """policy_logits, wdl_logits, q, d, m of a NetFile (its inference form when ``inference``)."""
    from boardnet.core.build import load_net

    model = load_net(net).eval()
    with torch.no_grad():
        out = (model.inference_form() if inference else model)(torch.from_numpy(planes))
    wdl = torch.softmax(out["value"], dim=1).numpy()
    return {"policy_logits": out["policy"].numpy(), "wdl_logits": out["value"].numpy(), "q": wdl[:, 0] - wdl[:, 2],
            "d": wdl[:, 1], "m": out["mlh"].numpy()[:, 0]}


def _worst(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.abs(a[k] - b[k]).max()) for k in b if k in a}


def test_residual_detected_and_weights_in_model_order() -> None:
    readable = checkpoint_readable_names(RCKPT)
    assert body_kind(readable.values()) == "residual"
    assert body_kind(checkpoint_readable_names(CKPT).values()) == "attention"
    order = [readable[k] for k in model_weight_keys(read_variables(RCKPT))]
    recorded = [line.split()[0].removesuffix(":0")
                for line in json.loads((RFIX / "run.json").read_text())["model_weights_order"]]
    assert order == recorded  # BatchNorm: gamma (when built), beta, moving mean, moving variance


def test_residual_config_from_checkpoint_and_yaml() -> None:
    net = _residual()
    assert net.spec.family == "lc0"
    assert net.spec.config == {"activation": "mish", "value": "wdl", "moves_left": True, "input_format": 1,
                               "policy": "attention", "blocks": 2, "filters": 16, "se_channels": 4,
                               "pol_embedding_size": 16, "policy_d_model": 16, "pol_encoder_layers": 1,
                               "pol_encoder_heads": 2, "pol_encoder_d_model": 16, "pol_encoder_dff": 24,
                               "value_channels": 32, "value_hidden": 128, "mlh_channels": 8, "mlh_hidden": 128}
    # residual_<i>/1/bn is built with scale=False: lc0's gamma 1; the others carry trained gammas
    assert torch.equal(net.state_dict["residual.0.conv1.bn.weight"], torch.ones(16))
    assert not torch.equal(net.state_dict["residual.0.conv2.bn.weight"], torch.ones(16))


@pytest.mark.parametrize("inference", [False, True])
def test_residual_outputs_match_lczero_training(inference: bool) -> None:
    """Checkpoint -> boardnet equals the Keras model tfprocess trained (both BatchNorm forms)."""
    ref = np.load(RFIX / "ap-small-30.reference.npz")
    err = _worst(_outputs(_residual(), ref["planes"], inference), ref)
    assert err["policy_logits"] <= 1e-4, err
    assert max(err["wdl_logits"], err["q"], err["d"]) <= 1e-5, err
    assert err["m"] <= 1e-3, err


def test_residual_tensors_equal_lczero_training_pbgz() -> None:
    """The mapped float32 checkpoint is lczero-training's own .pb.gz (net.py) before its 16-bit quantization."""
    ours, theirs = _residual(), read_net(RFIX / "ap-small-30.pb.gz")
    assert ours.spec.family == theirs.spec.family == "lc0"
    assert ours.spec.config == theirs.spec.config
    assert set(ours.state_dict) == set(theirs.state_dict)
    for k, t in theirs.state_dict.items():
        if t.is_floating_point():
            err, step = _max_linear16_error(ours.state_dict[k], t)
            assert err <= 0.5 * step + 4 * np.finfo(np.float32).eps * t.abs().max().item(), k


def test_residual_pbgz_read_as_lc0_reads_it() -> None:
    """lc0 v0.31.2's outputs on lczero-training's .pb.gz are boardnet's (lc0 judges the reading)."""
    lc0 = np.load(RFIX / "ap-small-30.lc0.npz")
    for inference in (False, True):
        err = _worst(_outputs(read_net(RFIX / "ap-small-30.pb.gz"), lc0["planes"], inference), lc0)
        assert err["policy_logits"] <= 2e-5 and err["q"] <= 2e-6 and err["d"] <= 1e-6 and err["m"] <= 5e-5, err


def test_residual_pbgz_loss_is_the_rule50_input_weights() -> None:
    """Why lczero-training's .pb.gz (and so lc0) is ~1e-2 off its own Keras model: net.py divides the input
    convolution's rule-50 weights (plane 109) by 99 and quantizes them to LINEAR16 with the step of the whole
    tensor; the engine feeds the raw count (97, 99 here), which multiplies their rounding error by up to 99 on
    each of the 3x3 taps. Elsewhere the 16-bit loss stays below 1e-3."""
    ref, lc0 = np.load(RFIX / "ap-small-30.reference.npz"), np.load(RFIX / "ap-small-30.lc0.npz")
    rule50 = ref["planes"][:, RULE50, 0, 0]
    off = np.abs(lc0["policy_logits"] - ref["policy_logits"]).max(axis=1)
    assert off[rule50 >= 97].min() > 5e-3 and off[rule50 <= 5].max() < 1e-3
    ours, theirs = _residual(), read_net(RFIX / "ap-small-30.pb.gz")
    state = dict(theirs.state_dict)
    state["input.conv.weight"] = state["input.conv.weight"].clone()
    state["input.conv.weight"][:, RULE50] = ours.state_dict["input.conv.weight"][:, RULE50]
    from boardnet.core.spec import NetFile

    err = _worst(_outputs(NetFile(theirs.spec, state), ref["planes"]), ref)
    assert err["policy_logits"] < 1e-3, err  # the float32 rule-50 weights alone remove the 1e-2


@pytest.mark.slow
def test_residual_convert_cli_and_verify(tmp_path: Path) -> None:
    ref = RFIX / "ap-small-30.reference.npz"
    for suffix in (".onnx", ".pt", ".pb.gz"):
        out = tmp_path / f"net{suffix}"
        assert main(["convert", str(RCKPT), str(out), "--train-config", str(RCONFIG)]) == 0
    for suffix in (".onnx", ".pt"):
        assert all(c.passed for c in verify(tmp_path / f"net{suffix}", ref, atol=1e-4, rtol=0.0)), suffix
    # boardnet's LINEAR16 .pb.gz: the same 16-bit tensors as lczero-training's (ties rounded either way)
    ours, theirs = read_net(tmp_path / "net.pb.gz"), read_net(RFIX / "ap-small-30.pb.gz")
    assert ours.spec.config == theirs.spec.config
    assert ours.spec.meta["training_params"]["training_steps"] == 30
    for k, t in theirs.state_dict.items():
        if t.is_floating_point():
            err, step = _max_linear16_error(ours.state_dict[k], t)
            assert err <= step * 1.05, k


@pytest.mark.slow
def test_verify_takes_a_checkpoint_with_its_train_config(capsys: pytest.CaptureFixture[str]) -> None:
    ref = RFIX / "ap-small-30.reference.npz"
    assert main(["verify", str(RCKPT), str(ref), "--train-config", str(RCONFIG), "--atol", "1e-4",
                 "--rtol", "0"]) == 0
    assert "policy_logits [inference]" in capsys.readouterr().out
    swa_ref = FIX / "bt-tiny-swa-30.reference.npz"  # --swa reaches the checkpoint side too (either position)
    assert main(["verify", str(swa_ref), str(CKPT), "--swa", "--train-config", str(CONFIG), "--atol", "1e-4",
                 "--rtol", "0"]) == 0
    capsys.readouterr()
    assert main(["verify", str(CKPT), str(swa_ref), "--train-config", str(CONFIG), "--atol", "1e-4",
                 "--rtol", "0"]) != 0  # the raw weights are not the SWA outputs
    assert "outputs differ" in capsys.readouterr().err


def test_verify_checkpoint_option_errors(capsys: pytest.CaptureFixture[str]) -> None:
    ref = RFIX / "ap-small-30.reference.npz"
    assert main(["verify", str(RCKPT), str(ref)]) != 0
    assert "pass --train-config CONFIG.yaml" in capsys.readouterr().err
    assert main(["verify", str(RFIX / "ap-small-30.pb.gz"), str(ref), "--train-config", str(RCONFIG)]) != 0
    err = capsys.readouterr().err
    assert "--train-config applies to lczero-training checkpoints" in err and "ap-small-30.pb.gz" in err
    with pytest.raises(VerificationError, match="--swa, --train-config apply"):
        verify(RFIX / "ap-small-30.pb.gz", ref, read_options={"swa": True, "train_config": str(RCONFIG)})


def test_residual_refusals(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RCONFIG.read_text().replace("pol_encoder_heads: 2", "pol_encoder_heads: 3"))
    with pytest.raises(ConversionError, match="pol_encoder_heads 3"):
        read_net(RCKPT, "tf-checkpoint", train_config=str(bad))
    bad.write_text(RCONFIG.read_text().replace("moves_left: 'v1'", "moves_left: 'none'"))
    with pytest.raises(ConversionError, match="moves_left none but the checkpoint has moves_left"):
        read_net(RCKPT, "tf-checkpoint", train_config=str(bad))
    bad.write_text(RCONFIG.read_text().replace("policy: 'attention'", "policy: 'convolution'"))
    with pytest.raises(ConfigError, match="model.policy"):
        read_net(RCKPT, "tf-checkpoint", train_config=str(bad))
