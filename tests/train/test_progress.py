"""Long runs that talk: a line per iteration without a terminal, Ctrl-C/SIGTERM checkpoints, plot panels."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from boardnet.core.config import load_config
from boardnet.core.errors import ConfigError
from boardnet.train.checkpoint import list_checkpoints, load_checkpoint
from boardnet.train.metrics import panel_columns, plot_metrics
from boardnet.train.trainer import Trainer
from tests.train.helpers import distill_config

BOARDNET = [sys.executable, "-m", "boardnet"]


def test_train_without_a_terminal_prints_a_line_per_iteration(tmp_path: Path) -> None:
    cfg = distill_config(tmp_path, iterations=4, checkpoint_every=4, progress=True, progress_every_s=0)
    run = subprocess.run([*BOARDNET, "train", str(cfg), "--run-dir", str(tmp_path / "r")], capture_output=True,
                         text=True, check=True)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("iteration ")]
    assert [ln.split(":")[0] for ln in lines] == [f"iteration {i}/4" for i in (1, 2, 3, 4)]
    assert lines[-1].endswith("[checkpoint saved]")
    assert "val/loss=" in lines[2]  # the validation evaluator runs every 3 iterations: its figure is shown


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_checkpoints_and_the_run_resumes_exactly(tmp_path: Path, sig: signal.Signals) -> None:
    cfg_path = distill_config(tmp_path, iterations=400, checkpoint_every=1000)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = tmp_path / "whole"
    stopped = tmp_path / "stopped"
    proc = subprocess.Popen([*BOARDNET, "train", str(cfg_path), "--run-dir", str(stopped)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (stopped / "metrics.csv").exists():
        time.sleep(0.05)
    time.sleep(1.0)  # a few iterations in
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"stopped by {sig.name} after iteration" in out
    done = int(out.split(f"stopped by {sig.name} after iteration ")[1].split("/")[0])
    assert 0 < done < 400 and [int(p.name[5:11]) for p in list_checkpoints(stopped)] == [done]
    # the interrupted run, resumed, ends where an uninterrupted one of the same length does
    short = load_config(str(cfg_path), [f"train.iterations={done}"])
    Trainer(short, run_dir=whole).run()
    a = load_checkpoint(list_checkpoints(whole)[-1])["nets"]["net"]["state_dict"]
    b = load_checkpoint(list_checkpoints(stopped)[-1])["nets"]["net"]["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_plot_has_one_panel_per_kind(tmp_path: Path) -> None:
    cols = ["iteration", "loss", "loss/policy", "val/loss", "data/games_per_s", "eval/win_rate",
            "eval/opponent_playouts", "val/nnue_sign_agree", "lr", "time/iteration_s"]
    panels = dict(panel_columns(cols))
    assert list(panels) == ["losses", "rates (per second)", "arena", "engine agreement"]
    assert panels["losses"] == ["loss", "loss/policy", "val/loss"] and panels["arena"] == ["eval/win_rate"]
    rows = [{"iteration": 50.0, "loss": 2.0, "eval/win_rate": 0.7, "eval/opponent_playouts": 1000.0}]
    plot_metrics(rows, tmp_path / "one.png", "one point")  # a lone point: no error, a real PNG
    rows += [{"iteration": 100.0, "loss": 1.5, "eval/win_rate": 1.0, "eval/opponent_playouts": 2000.0}]
    plot_metrics(rows, tmp_path / "two.png", "two points")
    for name in ("one.png", "two.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert dict(panel_columns(["iteration", "loss"])) == {"losses": ["loss"]}  # no empty panels


def test_a_logger_that_is_not_installed_is_a_config_error(tmp_path: Path) -> None:
    cfg = load_config(str(distill_config(tmp_path)), ["train.loggers=[mlflow]"])
    if importlib.util.find_spec("mlflow") is not None:
        pytest.skip("mlflow is installed here")
    with pytest.raises(ConfigError, match=r"train\.loggers\.0.*mlflow is not installed"):
        Trainer(cfg, run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()
