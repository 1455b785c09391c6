"""verify: a converted TF model passes against TF's reference outputs; a wrong mapping fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from boardnet.cli import main
from boardnet.convert import convert
from boardnet.errors import VerificationError
from boardnet.mapping import load_mapping
from boardnet.verify import verify
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
