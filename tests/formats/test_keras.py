"""Keras reader: .weights.h5 and .keras reproduce Keras's outputs; corrupt files give one FormatError."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.convert import read_net
from boardnet.errors import BoardnetError
from boardnet.formats.keras import inspect_file
from boardnet.models import build_from_spec
from tests.conftest import fixture_path


@pytest.mark.parametrize("name", ["model.weights.h5", "model.keras"])
def test_keras_forms_match_reference(name: str) -> None:
    io = np.load(fixture_path("tf", "gomoku_keras_15x15", "io.npz"))
    nf = read_net(fixture_path("tf", "gomoku_keras_15x15", name))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(io["states"]))
    np.testing.assert_allclose(lp.numpy(), io["log_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v.numpy(), io["values"].reshape(-1), atol=1e-5, rtol=0)


def test_inspect() -> None:
    text = inspect_file(fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5"))
    assert "layers/dense_1/vars/0 [900,225]" in text


@pytest.mark.parametrize("name", ["model.weights.h5", "model.keras"])
@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated(tmp_path: Path, name: str, frac: float) -> None:
    src = fixture_path("tf", "gomoku_keras_15x15", name)
    dst = tmp_path / name
    shutil.copy(src, dst)
    raw = dst.read_bytes()
    dst.write_bytes(raw[: int(len(raw) * frac)])
    with pytest.raises(BoardnetError):
        read_net(dst)
