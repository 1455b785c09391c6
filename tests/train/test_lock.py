"""Run-directory safety (issue 19): one training per run directory, run names stay inside train.out,
failed starts leave nothing behind, damaged checkpoints are detected by their checksum."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from boardnet.cli import main
from boardnet.core.config import load_config
from boardnet.core.errors import ConfigError, TrainingError
from boardnet.train.checkpoint import list_checkpoints, load_checkpoint
from boardnet.train.lock import LOCK_NAME, RunLock
from boardnet.train.trainer import Trainer
from tests.train.helpers import distill_config


def test_run_name_is_one_path_component(tmp_path: Path) -> None:
    cfg_path = distill_config(tmp_path)
    for name in ("../victim", "a/b", "..", "", "-x"):
        with pytest.raises(ConfigError, match="config key 'name': a run name is one path component"):
            load_config(cfg_path, [f"name={name!s}" if name else "name=''"])
    assert not (tmp_path / "victim").exists()


def test_second_training_into_a_run_directory_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (run / LOCK_NAME).write_text(f"{holder.pid}\n")  # a live training holds the lock
        with pytest.raises(TrainingError, match=rf"is in use by another training \(pid {holder.pid}"):
            Trainer(load_config(distill_config(tmp_path)), run_dir=run)
        assert (run / LOCK_NAME).read_text() == f"{holder.pid}\n"
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_is_taken_over_and_released_on_exit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / LOCK_NAME).write_text(f"{dead.pid}\n")
    trainer = Trainer(load_config(distill_config(tmp_path, iterations=2, checkpoint_every=1)), run_dir=run)
    assert "removing the stale lock" in capsys.readouterr().err
    assert (run / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    trainer.run()
    assert not (run / LOCK_NAME).exists()


def test_lock_refuses_a_live_process_and_releases(tmp_path: Path) -> None:
    lock = RunLock(tmp_path)
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_failed_start_leaves_no_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path = distill_config(tmp_path)
    run = tmp_path / "runs" / "distill"
    assert main(["train", str(cfg_path), f"data.path={tmp_path / 'missing.npz'}"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not run.exists()



def test_run_failing_before_its_first_checkpoint_leaves_no_run_directory(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    """Found by the long fuzz run (a flipped letter in an injector's input): the error comes in iteration 1,
    after config.yaml, metrics.csv and tensorboard/ were written; the run directory it created goes with it.
    A run that fails after a checkpoint keeps its directory (the same command resumes)."""
    cfg_path = distill_config(tmp_path)
    run = tmp_path / "runs" / "distill"
    assert main(["train", str(cfg_path), "steps.0.injectors.0.in=plines", "train.tensorboard=true"]) == 2
    assert "no state key 'plines'" in capsys.readouterr().err
    assert not run.exists()
    assert main(["train", str(cfg_path), "train.iterations=3"]) == 0
    assert main(["train", str(cfg_path), "steps.0.injectors.0.in=plines", "train.iterations=6", "--force"]) == 2
    assert list_checkpoints(run), "a run with checkpoints keeps its directory"


def test_step_that_trains_no_parameters_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Found by the long fuzz run (a config cut short after a step's optimizer): torch's ``optimizer got an
    empty parameter list`` traceback."""
    cfg_path = distill_config(tmp_path)
    assert main(["train", str(cfg_path), "steps.0.injectors=[]", "steps.0.losses={}"]) == 2
    assert "config key 'steps.0': trains no parameters" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "distill").exists()

def test_run_dir_naming_a_file_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path = distill_config(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(["train", str(cfg_path), "--run-dir", str(afile)]) == 2
    assert capsys.readouterr().err == f"error: {afile}: not a directory; --run-dir names the folder of a run\n"
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize(("override", "message"), [
    ("seed=-1", r"config key 'seed': Input should be greater than or equal to 0"),
    ("evaluators.0.net=ghost", r"config key 'evaluators.0.net': no network 'ghost' in networks \(have: net\)"),
    ("data.net=ghost", r"config key 'data.net': no network 'ghost' in networks"),
])
def test_config_values_are_checked_at_config_time(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("gomoku-8x8", [override])


def _flip_tensor_byte(path: Path) -> None:
    """Flip one byte inside the stored weights of a checkpoint (a zip of tensor blobs): still loadable."""
    data = bytearray(path.read_bytes())
    ckpt = load_checkpoint(path)
    weight = next(iter(ckpt["nets"]["net"]["state_dict"].values()))
    needle = weight.reshape(-1)[:4].numpy().tobytes()
    at = bytes(data).index(needle)
    data[at + 1] ^= 0x10
    path.write_bytes(bytes(data))


def test_flipped_tensor_bytes_are_detected_and_fall_back(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path = distill_config(tmp_path, iterations=2, checkpoint_every=1)
    first = Trainer(load_config(cfg_path))
    first.run()
    newest = list_checkpoints(first.run_dir)[-1]
    _flip_tensor_byte(newest)
    torch.load(newest, weights_only=True)  # the damage is invisible to the loader itself
    again = Trainer(load_config(cfg_path))
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "falling back to the previous one" in err
    assert again.iteration == 1
    again.release()
    for path in list_checkpoints(first.run_dir):
        _flip_tensor_byte(path) if path != newest else None
    with pytest.raises(TrainingError, match="every checkpoint in .* is damaged.*refusing to start again"):
        Trainer(load_config(cfg_path))


@pytest.mark.parametrize(("override", "key"), [
    ("data.mcts.playouts=1e8", "data.mcts.playouts"),
    ("data.buffer_size=1e11", "data.buffer_size"),
    ("networks.net.channels=[0]", "networks.net.channels.0"),
    ("networks.net.channels=[]", "networks.net.channels"),
])
def test_sizes_that_cannot_run_are_refused_at_config_time(override: str, key: str) -> None:
    """Issue 19: 1e8 playouts / 1e11 buffered samples (53-373 GiB) / zero channels were accepted until train time."""
    with pytest.raises(ConfigError, match=rf"config key '{key}'"):
        load_config("gomoku-8x8", [override])
