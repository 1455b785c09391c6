"""The training loop: learning, exact resume after SIGKILL, run-directory checks, non-finite losses."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.core.config import load_config
from boardnet.core.errors import TrainingError
from boardnet.train.checkpoint import list_checkpoints, load_checkpoint
from boardnet.train.trainer import Trainer
from tests.conftest import fixture_path
from tests.train.helpers import distill_config, kill_and_resume

BOARDNET = [sys.executable, "-m", "boardnet"]


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(list_checkpoints(run_dir)[-1])["nets"]["net"]["state_dict"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_training_lowers_validation_loss_and_writes_run_files(tmp_path: Path) -> None:
    cfg = load_config(distill_config(tmp_path), ["train.iterations=30", "train.plot=true", "train.tensorboard=true"])
    trainer = Trainer(cfg)
    trainer.run()
    run = trainer.run_dir
    rows = read_csv(run / "metrics.csv")
    assert len(rows) == 30
    val = [float(r["val/loss"]) for r in rows if r.get("val/loss")]
    assert len(val) == 10 and val[-1] < val[0]
    assert (run / "plots" / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list((run / "tensorboard").iterdir())
    assert [p.name for p in list_checkpoints(run)] == ["iter-000027.pt", "iter-000030.pt"]  # keeps the last 2
    assert (run / "config.yaml").read_text().startswith("# boardnet run config")
    ckpt = load_checkpoint(list_checkpoints(run)[-1])
    assert ckpt["nets"]["net"]["ema"] is not None
    assert float(rows[-1]["lr_multiplier"]) != 1.0 or float(rows[0]["lr_multiplier"]) != 1.0


def test_sigkill_and_resume_gives_the_same_weights(tmp_path: Path) -> None:
    cfg_path = distill_config(tmp_path, iterations=24, checkpoint_every=2)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = tmp_path / "whole"
    subprocess.run([*BOARDNET, "train", str(cfg_path), "--run-dir", str(whole)], check=True, env=env,
                   capture_output=True)
    killed = tmp_path / "killed"
    kill_and_resume(["train", str(cfg_path)], killed, kill_at=6, total=24)
    a, b = final_weights(whole), final_weights(killed)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ema_a = load_checkpoint(list_checkpoints(whole)[-1])["nets"]["net"]["ema"]
    ema_b = load_checkpoint(list_checkpoints(killed)[-1])["nets"]["net"]["ema"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    rows_a = read_csv(whole / "metrics.csv")
    rows_b = read_csv(killed / "metrics.csv")
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]


def test_a_different_config_is_refused_unless_forced(tmp_path: Path) -> None:
    cfg_path = distill_config(tmp_path, iterations=3)
    Trainer(load_config(cfg_path)).run()
    with pytest.raises(TrainingError, match="different config"):
        Trainer(load_config(cfg_path, ["steps.0.optimizer.lr=1e-2"]))
    # Longer runs are the same run: allowed.
    trainer = Trainer(load_config(cfg_path, ["train.iterations=6"]))
    assert trainer.iteration == 3
    forced = Trainer(load_config(cfg_path, ["steps.0.optimizer.lr=1e-2", "train.iterations=6"]), force=True)
    assert forced.iteration == 3
    forced.run()
    assert forced.iteration == 6


def test_corrupt_newest_checkpoint_falls_back_to_previous(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path = distill_config(tmp_path, iterations=6)
    first = Trainer(load_config(cfg_path))
    first.run()
    newest = list_checkpoints(first.run_dir)[-1]
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated
    again = Trainer(load_config(cfg_path))
    assert again.iteration == 3
    assert "damaged checkpoint, falling back to the previous one" in capsys.readouterr().err
    again.run()
    assert again.iteration == 6


def test_non_finite_losses_are_skipped_then_stop_the_run(tmp_path: Path) -> None:
    src = np.load(fixture_path("azg", "io_6_6_4.npz"))
    values = src["values"].copy()
    values[:] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, states=src["states"], act_probs=src["act_probs"], values=values)
    cfg = load_config(distill_config(tmp_path), [f"data.path={bad}", "train.max_nonfinite=4",
                                                 "data.validation_fraction=0"])
    trainer = Trainer(cfg)
    before = {k: v.clone() for k, v in trainer.ctx.raw_nets["net"].state_dict().items()}
    with pytest.raises(TrainingError, match="non-finite loss in 4 updates in a row"):
        trainer.run()
    after = trainer.ctx.raw_nets["net"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a non-finite update changed the weights"


def test_init_loads_weights_from_a_file(tmp_path: Path) -> None:
    cfg_path = distill_config(tmp_path, iterations=2)
    first = Trainer(load_config(cfg_path))
    first.run()
    ckpt = list_checkpoints(first.run_dir)[-1]
    second = Trainer(load_config(cfg_path), run_dir=tmp_path / "second", init={"net": str(ckpt)})
    w = final_weights(first.run_dir)
    assert all(torch.equal(w[k], v) for k, v in second.ctx.raw_nets["net"].state_dict().items())


def test_a_finished_run_leaves_the_process_group(tmp_path: Path) -> None:
    """``distributed.shutdown`` runs when a run ends: a process group joined for the run is destroyed after it
    (a one-process gloo group stands in for torchrun's)."""
    import socket

    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        trainer = Trainer(load_config(str(distill_config(tmp_path, iterations=2, checkpoint_every=2))),
                          run_dir=tmp_path / "run")
        trainer.run()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
