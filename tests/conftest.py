"""Shared test helpers: fixture data from ../shared/fixtures and the stockfish binary.

When ``CI=true`` a missing fixture or a missing ``stockfish`` is a failure, never a skip.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import chess
import numpy as np
import pytest
import torch

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


def random_boards(n: int, seed: int = 0, plies: tuple[int, int] = (2, 120), quiet: bool = True) -> list[chess.Board]:
    """``n`` boards (no move stack) after a random number of random legal moves in ``plies`` (inclusive);
    ``quiet``: keep only positions that are not in check and not over."""
    rng = random.Random(seed)
    out: list[chess.Board] = []
    while len(out) < n:
        b = chess.Board()
        for _ in range(rng.randint(*plies)):
            moves = list(b.legal_moves)
            if not moves:
                break
            b.push(rng.choice(moves))
        if not quiet or not (b.is_check() or b.is_game_over()):
            out.append(b.copy(stack=False))
    return out


def nnue_batch(boards: list[chess.Board], features: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``indices [B, 2, A]`` real indices (stm, nstm; -1 pad; A = the set's ``max_active``, 32 for one piece-square
    block), ``bucket [B]``: the NNUE loader's batch layout."""
    from boardnet.nnue.features import get_feature_set

    fs = get_feature_set(features)
    idx = torch.full((len(boards), 2, fs.max_active), -1, dtype=torch.int64)
    for i, b in enumerate(boards):
        for j, a in enumerate(fs.active_pair(b)):
            idx[i, j, : len(a)] = torch.tensor(a)
    return idx, torch.tensor([(len(b.piece_map()) - 1) // 4 for b in boards])


@pytest.fixture(scope="module")
def halfkp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture HalfKP net (``halfkp_rand_a.nnue.gz``) unpacked to a temporary ``.nnue``."""
    out = tmp_path_factory.mktemp("nnue") / "halfkp.nnue"
    with gzip.open(fixture_path("nnue", "halfkp_rand_a.nnue.gz"), "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def in_forked_child(child) -> tuple[int, str]:  # noqa: ANN001
    """Run ``child()`` (returns a str) in a forked process; (wait status, what it returned or the exception
    it raised, as ``Type: message``)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            message = str(child())
        except BaseException as err:  # noqa: BLE001 - reported to the parent
            message = f"{type(err).__name__}: {err}"
        os.write(write_fd, message.encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        message = fh.read().decode()
    _, status = os.waitpid(pid, 0)
    return status, message
