"""Today's Stockfish nets (../shared/fixtures/nnue_modern), gunzipped once per session, and their engine evals.

SF16's net is not in the shared fixtures (``npm pack stockfish@16.0.0`` ships it as ``src/nn-5af11540bbfe.nnue``):
it is taken from ``$BOARDNET_SF16_NET`` or ``nnue_modern/nn-5af11540bbfe.nnue[.gz]``; missing = skip (CI: fail).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, fixture_path, need

MODERN = {"sf17.1-big": "nn-1c0000000000.nnue", "small": "nn-37f18f62d772.nnue", "sf18-big": "nn-c288c895ea92.nnue"}
SF16_NET = "nn-5af11540bbfe.nnue"


@pytest.fixture(scope="session")
def modern_nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Gunzipped real nets by key: ``sf17.1-big``, ``small`` (SF17.1 and SF18), ``sf18-big``; ``sf16`` when found."""
    d = tmp_path_factory.mktemp("nnue_modern")
    out = {}
    for key, name in MODERN.items():
        out[key] = d / name
        with gzip.open(fixture_path("nnue_modern", name + ".gz"), "rb") as src, open(out[key], "wb") as dst:
            shutil.copyfileobj(src, dst)
    for cand in (os.environ.get("BOARDNET_SF16_NET"), FIXTURES / "nnue_modern" / SF16_NET,
                 FIXTURES / "nnue_modern" / (SF16_NET + ".gz")):
        if cand and Path(cand).exists():
            out["sf16"] = Path(cand)
    return out


def sf16_net(nets: dict[str, Path]) -> Path:
    """SF16's net, or skip (fail in CI)."""
    if "sf16" not in nets:
        need(f"{SF16_NET} (npm pack stockfish@16.0.0; set BOARDNET_SF16_NET)")
    return nets["sf16"]


def engine_rows(name: str) -> list[dict]:
    """The 72 positions of ``nnue_modern/<name>.evals.json`` (``sf16``, ``sf17_1``, ``sf18``)."""
    rows = json.loads(fixture_path("nnue_modern", f"{name}.evals.json").read_text())["positions"]
    assert len(rows) == 72
    return rows
