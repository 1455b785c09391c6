"""DDP under torchrun on CPU (gloo): two processes train the same config and end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from boardnet.core.config import read_yaml
from boardnet.nnue.data.bin import write_bin
from tests.nnue.data.test_bin import random_positions
from tests.train.helpers import distill_config


def run_ddp(cfg: Path, tmp_path: Path) -> None:
    """Train ``cfg`` with ``torchrun --nproc_per_node=2``; assert both ranks end with identical weights."""
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker),
         str(cfg), str(tmp_path / "run"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert w0.keys() == w1.keys()
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key


@pytest.mark.slow
def test_two_process_ddp_ranks_hold_identical_weights(tmp_path: Path) -> None:
    cfg = distill_config(tmp_path, iterations=4, checkpoint_every=2)
    run_ddp(cfg, tmp_path)
    ckpts = sorted((tmp_path / "run" / "checkpoints").iterdir())
    data = torch.load(ckpts[-1], weights_only=True)
    assert len(data["ranks"]) == 2  # each rank's RNG and data position is checkpointed
    assert not torch.equal(data["ranks"][0]["torch_rng"], data["ranks"][1]["torch_rng"])


@pytest.mark.slow
def test_two_process_ddp_nnue(tmp_path: Path) -> None:
    """The shipped HalfKAv2_hm^ config under torchrun: ranks read disjoint shards, weights stay identical."""
    data = tmp_path / "train.bin"
    write_bin(data, random_positions(2000, seed=9))
    raw, _ = read_yaml("nnue-halfkav2hm")
    raw["data"].update(paths=[str(data)], chunk_size=500, num_workers=0, early_ply_skip=0)
    raw["train"] = {"iterations": 3, "batch_size": 128, "checkpoint_every": 3, "threads": 1, "progress": False,
                    "tensorboard": False}
    raw["evaluators"] = []
    cfg = tmp_path / "nnue.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    run_ddp(cfg, tmp_path)
