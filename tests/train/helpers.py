"""A small real training config: distil the AlphaZero_Gomoku 6x6 net's outputs (fixture) into a new net."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import fixture_path


def distill_config(tmp_path: Path, **train: object) -> Path:
    """Write a config that trains a small policy-value net on ``io_6_6_4.npz``; returns its path."""
    raw = {
        "name": "distill",
        "seed": 3,
        "networks": {"net": {"type": "policy_value", "board_size": 6, "channels": [16, 16]}},
        "data": {"type": "npz", "path": str(fixture_path("azg", "io_6_6_4.npz")),
                 "keys": {"planes": "states", "pi": "act_probs", "z": "values"}, "validation_fraction": 0.2},
        "steps": [{
            "optimizer": {"type": "adam", "lr": 2e-3},
            "schedule": {"type": "kl_adaptive", "kl_target": 0.02, "pred": "logp"},
            "injectors": [{"type": "forward", "net": "net", "in": "planes", "out": ["logp", "v"]}],
            "losses": {
                "value": {"type": "mse", "pred": "v", "target": "z"},
                "policy": {"type": "cross_entropy", "pred": "logp", "target": "pi"},
                "l2": {"type": "l2", "net": "net", "coeff": 1e-4, "semantics": "tf1"},
            },
        }],
        "train": {"iterations": 12, "batch_size": 32, "epochs_per_batch": 2, "checkpoint_every": 3,
                  "out": str(tmp_path / "runs"), "ema": {"decay": 0.9}, "threads": 1, "progress": False,
                  "tensorboard": False, **train},
        "evaluators": [{"type": "validation_loss", "every": 3}],
    }
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def kill_and_resume(args: list[str], run_dir: Path, kill_at: int, total: int, env: dict[str, str] | None = None) -> int:
    """Run ``boardnet *args --run-dir run_dir``, SIGKILL it once a checkpoint of iteration >= ``kill_at`` exists,
    then run the same command again; asserts the kill came before iteration ``total`` and that the second run
    resumed from the newest checkpoint. Returns that checkpoint's iteration."""
    from boardnet.train.checkpoint import list_checkpoints

    cmd = [sys.executable, "-m", "boardnet", *args, "--run-dir", str(run_dir)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(int(p.name[5:11]) >= kill_at for p in list_checkpoints(run_dir)):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = max(int(p.name[5:11]) for p in list_checkpoints(run_dir))
    assert done < total, "the run finished before it could be killed"
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    assert f"from iteration {done}" in out.stdout
    return done
