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


def test_verify_model_vs_model_random_cli(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    ckpt = fixture_path("tf", "gomoku_tf1_15x15", "model.ckpt.index")
    out = tmp_path / "azg15.safetensors"
    assert main(["convert", str(ckpt), str(out)]) == 0
    capsys.readouterr()
    assert main(["verify", str(ckpt), str(out), "--random", "4", "--seed", "7"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("4 random states [4, 4, 15, 15] (seed 7)")
    assert "log_probs" in text and "FAIL" not in text
