"""``boardnet verify`` CLI: JSON output and exit codes on a real TF checkpoint vs TF's outputs."""

from __future__ import annotations

import json

import pytest

from boardnet.cli import main
from tests.conftest import fixture_path


def test_verify_json_pass(capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_15x15", "model.ckpt.index")
    rc = main(["verify", str(ckpt), str(fixture_path("tf", "gomoku_tf1_15x15", "io.npz")), "--json"])
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"log_probs", "values"} and all(r["passed"] for r in rows.values())


def test_verify_tight_tolerance_fails(capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_15x15", "model.ckpt.index")
    rc = main(["verify", str(ckpt), str(fixture_path("tf", "gomoku_tf1_15x15", "io.npz")),
               "--atol", "0", "--rtol", "0"])
    assert rc == 2
    assert "log_probs" in capsys.readouterr().err
