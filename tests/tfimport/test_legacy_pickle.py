"""AlphaZero_Gomoku legacy pickle: reference outputs reproduced; malicious or corrupt pickles refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from boardnet.core.errors import BoardnetError, FormatError
from boardnet.tfimport.legacy_pickle import read_arrays
from tests.conftest import fixture_path


def test_best_policy_matches_reference() -> None:
    io = np.load(fixture_path("azg", "io_6_6_4.npz"))
    nf = read_net(fixture_path("azg", "best_policy_6_6_4.model"))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(io["states"]))
    np.testing.assert_allclose(lp.exp().numpy(), io["act_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v.numpy(), io["values"][:, 0], atol=1e-5, rtol=0)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.model"
    bad.write_bytes(pickle.dumps([np.zeros(3, np.float32), _Evil(marker)], protocol=2))
    with pytest.raises(FormatError, match="refused global"):
        read_arrays(bad)
    assert not marker.exists()


@pytest.mark.parametrize("frac", [0.0, 0.01, 0.3, 0.7, 0.999])
def test_truncated(tmp_path: Path, frac: float) -> None:
    raw = fixture_path("azg", "best_policy_6_6_4.model").read_bytes()
    p = tmp_path / "t.model"
    p.write_bytes(raw[: int(len(raw) * frac)])
    with pytest.raises(BoardnetError):
        read_net(p)
