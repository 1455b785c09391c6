"""Shared test helpers: fixture data from ../shared/fixtures and the stockfish binary.

When ``CI=true`` a missing fixture or a missing ``stockfish`` is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(what: str) -> None:
    """Skip (locally) or fail (in CI) because ``what`` is missing."""
    if IN_CI:
        pytest.fail(f"missing in CI: {what}")
    pytest.skip(f"missing: {what}")


def fixture_path(*parts: str) -> Path:
    """Path of a file under ../shared/fixtures; skips/fails when it is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        need(str(path))
    return path


def stockfish_binary() -> str:
    """Path of Debian's stockfish (15.1); skips/fails when it is absent."""
    found = shutil.which("stockfish") or ("/usr/games/stockfish" if os.path.exists("/usr/games/stockfish") else None)
    if not found:
        need("stockfish binary (apt-get install stockfish)")
    return found


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def stockfish() -> str:
    return stockfish_binary()


@pytest.fixture(scope="session")
def lc0_reference() -> dict[str, np.ndarray]:
    """maia-1300's lc0 reference data (planes, logits, q, d, legal moves)."""
    with np.load(fixture_path("lc0", "maia-1300.reference.npz")) as data:
        return {k: data[k] for k in data.files}
