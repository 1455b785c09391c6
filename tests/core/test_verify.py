"""verify: a converted TF model passes against TF's reference outputs; a wrong mapping fails loudly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from boardnet.cli import main
from boardnet.core.convert import convert
from boardnet.core.errors import VerificationError
from boardnet.core.verify import verify
from boardnet.tfimport.mapping import load_mapping
from tests.conftest import fixture_path


def test_converted_checkpoint_passes(tmp_path: Path) -> None:
    out = tmp_path / "azg.safetensors"
    convert(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"), out)
    checks = verify(out, fixture_path("tf", "gomoku_tf1_8x8", "io.npz"))
    assert [c.name for c in checks] == ["log_probs", "values"]
    assert all(c.passed and c.max_abs < 1e-5 for c in checks)


def test_wrong_mapping_fails_loudly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """NCHW flatten instead of NHWC: verify exits non-zero naming the policy output."""
    m = load_mapping("azg_tf1")
    for r in m["rules"]:
        if r.get("transform") == "dense_after_conv_nhwc":
            r["transform"] = "dense_after_conv_nchw"
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(m))
    out = tmp_path / "wrong.safetensors"
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    convert(ckpt, out, read_options={"mapping": str(tmp_path / "wrong.yaml")})
    rc = main(["verify", str(out), str(fixture_path("tf", "gomoku_tf1_8x8", "io.npz"))])
    assert rc == 2
    err = capsys.readouterr()
    assert "log_probs" in err.err and "FAIL" in err.out


def test_board_size_mismatch_is_one_error() -> None:
    with pytest.raises(VerificationError, match="cannot run"):
        verify(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"),
               fixture_path("tf", "gomoku_tf1_15x15", "io.npz"))


# --- model vs model -------------------------------------------------------------------------------------------
def _converted(tmp_path: Path, suffix: str = ".safetensors", mapping: str | None = None) -> Path:
    out = tmp_path / f"azg8{suffix}"
    convert(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"), out,
            read_options={"mapping": mapping} if mapping else None)
    return out


def test_tf1_checkpoint_vs_its_conversion_random_inputs(tmp_path: Path) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    where: list[str] = []
    checks = verify(ckpt, _converted(tmp_path), random=24, seed=5, report=where)
    assert where == ["24 random states [24, 4, 8, 8] (seed 5)"]
    assert [c.name for c in checks] == ["log_probs", "values"] and all(c.passed for c in checks)
    # the same with the reference inputs given explicitly
    checks = verify(ckpt, _converted(tmp_path), inputs=fixture_path("tf", "gomoku_tf1_8x8", "io.npz"))
    assert all(c.passed and c.max_abs == 0.0 for c in checks)


def test_wrong_mapping_conversion_fails_against_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = load_mapping("azg_tf1")
    for r in m["rules"]:
        if r.get("transform") == "dense_after_conv_nhwc":
            r["transform"] = "dense_after_conv_nchw"
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(m))
    wrong = _converted(tmp_path, mapping=str(tmp_path / "wrong.yaml"))
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    rc = main(["verify", str(ckpt), str(wrong), "--random", "16"])
    assert rc == 2
    captured = capsys.readouterr()
    assert "log_probs" in captured.err and "FAIL" in captured.out


def test_pt_vs_onnx_export(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pt = _converted(tmp_path, ".pt")
    onnx = tmp_path / "azg8.onnx"
    convert(pt, onnx)
    checks = verify(pt, onnx, random=16, seed=2)
    assert [c.name for c in checks] == ["log_probs", "values"]
    assert all(c.passed and c.max_abs < 1e-5 for c in checks)


def test_lc0_random_planes_vs_onnx() -> None:
    """lc0 weights vs lc0's own ONNX export on planes of random legal games."""
    pytest.importorskip("onnxruntime")
    checks = verify(fixture_path("lc0", "maia-1300.pb.gz"), fixture_path("lc0", "maia-1300.leela2onnx.onnx"),
                    random=4, seed=3, atol=2e-5, rtol=0)
    assert [(c.form, c.name) for c in checks] == [(f, n) for f in ("module", "inference")
                                                  for n in ("d", "policy_logits", "q")]
    assert all(c.passed for c in checks)


def test_random_gomoku_states_are_legal_positions() -> None:
    from boardnet.core.verify import load_side, random_inputs

    side = load_side(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    x = random_inputs(side, 64, seed=9)["states"]
    assert x.shape == (64, 4, 8, 8) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    own, opp, last, parity = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
    assert not (own * opp).any()  # no square holds two stones
    count = (own + opp).sum(axis=(1, 2))
    # the side to move has as many stones as the opponent (even count) or one fewer (odd count)
    assert np.all(opp.sum(axis=(1, 2)) - own.sum(axis=(1, 2)) == count % 2)
    assert np.all(parity == (count % 2 == 0)[:, None, None])
    assert np.all(last.sum(axis=(1, 2)) == (count > 0)) and np.all(last <= opp)  # last move: an opponent stone
    assert len(np.unique(count)) > 5
    np.testing.assert_array_equal(x, random_inputs(side, 64, seed=9)["states"])
    assert not np.array_equal(x, random_inputs(side, 64, seed=10)["states"])


def test_input_source_errors(tmp_path: Path) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    st = _converted(tmp_path)
    with pytest.raises(VerificationError, match="--inputs"):
        verify(ckpt, st)
    with pytest.raises(VerificationError, match="not both"):
        verify(ckpt, st, inputs=fixture_path("tf", "gomoku_tf1_8x8", "io.npz"), random=2)
    onnx = tmp_path / "azg8.onnx"
    convert(st, onnx)
    with pytest.raises(VerificationError, match="--random needs one side"):
        verify(onnx, onnx, random=2)


def test_unknown_form_is_one_error() -> None:
    ref = fixture_path("tf", "gomoku_tf1_8x8", "io.npz")
    with pytest.raises(VerificationError, match="unknown form 'folded'"):
        verify(ref, ref, form="folded")


def test_checkpoint_options_go_to_the_checkpoint_sides_only() -> None:
    from boardnet.core.verify import checkpoint_options

    ckpt = Path(__file__).parents[1] / "lc0" / "fixtures" / "lczero_training_residual" / "ap-small-30"
    opts = {"train_config": "cfg.yaml", "swa": None}
    assert checkpoint_options(ckpt, "ref.npz", opts) == ({"train_config": "cfg.yaml"}, {})  # by its prefix
    assert checkpoint_options("ref.npz", f"{ckpt}.index", opts) == ({}, {"train_config": "cfg.yaml"})
    assert checkpoint_options("net.pb.gz", "ref.npz", {"train_config": None, "swa": None}) == ({}, {})
    with pytest.raises(VerificationError, match="--swa applies to lczero-training checkpoints.*net.onnx"):
        checkpoint_options("net.onnx", "ref.npz", {"swa": True})
