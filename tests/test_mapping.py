"""Mapping rules: built-in AZG mappings reproduce TensorFlow's outputs; strictness and key validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from boardnet.convert import read_net
from boardnet.errors import ConfigError, ConversionError
from boardnet.formats.tf_checkpoint import read_variables
from boardnet.mapping import load_mapping, to_netfile
from boardnet.models import build_from_spec
from tests.conftest import fixture_path

CASES = [("gomoku_tf1_8x8", "model.ckpt"), ("gomoku_tf1_15x15", "model.ckpt"), ("gomoku_keras_15x15", "ckpt")]


def _outputs(nf, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(states))
    return lp.numpy(), v.numpy().reshape(-1)


@pytest.mark.parametrize("folder,prefix", CASES)
def test_tf_checkpoint_matches_tensorflow_outputs(folder: str, prefix: str) -> None:
    io = np.load(fixture_path("tf", folder, "io.npz"))
    nf = read_net(fixture_path("tf", folder, prefix + ".index"))
    lp, v = _outputs(nf, io["states"])
    np.testing.assert_allclose(lp, io["log_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v, io["values"].reshape(-1), atol=1e-5, rtol=0)


def test_nchw_flatten_mapping_is_wrong() -> None:
    """Reading the first dense kernels as NCHW-flattened gives visibly different outputs."""
    io = np.load(fixture_path("tf", "gomoku_tf1_8x8", "io.npz"))
    m = load_mapping("azg_tf1")
    for r in m["rules"]:
        if r.get("transform") == "dense_after_conv_nhwc":
            r["transform"] = "dense_after_conv_nchw"
    nf = to_netfile(read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")), m)
    lp, _ = _outputs(nf, io["states"])
    assert np.abs(lp - io["log_probs"]).max() > 1e-2


def test_unknown_key_names_path(tmp_path: Path) -> None:
    m = load_mapping("azg_tf1")
    m["rules"][3]["trnsform"] = "dense"
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(m))
    with pytest.raises(ConfigError, match=r"rules\[3\]\.trnsform"):
        load_mapping(p)
    p.write_text(yaml.safe_dump({"family": "policy_value", "rules": m["rules"], "extra": 1}))
    with pytest.raises(ConfigError, match=r"mapping\.extra"):
        load_mapping(p)


def test_strict_unmapped_and_shape() -> None:
    v = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    m = load_mapping("azg_tf1")
    m["rules"] = m["rules"][:-1]  # drop dense_2/bias
    with pytest.raises(ConversionError, match="dense_2/bias"):
        to_netfile(v, m)
    m = load_mapping("azg_tf1")
    m["rules"][0]["dst"], m["rules"][2]["dst"] = "conv2.weight", "conv1.weight"
    with pytest.raises(ConversionError, match="shape"):
        to_netfile(v, m)
