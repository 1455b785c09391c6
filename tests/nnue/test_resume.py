"""NNUE training resumes exactly: a run killed (SIGKILL) inside a partly used data chunk and resumed ends with the
weights of a run never interrupted (mirrors tests/train/test_trainer.py's Gomoku test); also for the shipped
``.binpack`` configs nnue-sf17-small and nnue-sf18 (the latter at FT width 16: the full 1024 writes a 1.7 GB
checkpoint each time, the threat rows, clipping and 160-wide batches are the same)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml

from boardnet.core.config import load_config
from boardnet.nnue.data.bin import write_bin
from boardnet.train.checkpoint import list_checkpoints, load_checkpoint
from boardnet.train.trainer import Trainer
from tests.nnue.data.test_bin import random_positions
from tests.train.helpers import kill_and_resume

BOARDNET = [sys.executable, "-m", "boardnet"]
ITERATIONS = 60
NATIVE = Path(__file__).parent / "fixtures" / "native"
# the shipped configs on the native fixture's 3,000-position .binpack (one chunk, so every checkpoint lies in it)
SHIPPED = [f"data.paths=[{NATIVE / 'train.binpack'}]", "data.num_workers=0", "data.early_ply_skip=0",
           "train.iterations=30", "train.batch_size=32", "train.checkpoint_every=2", "train.threads=1",
           "train.progress=false", "train.tensorboard=false", "train.plot=false", "evaluators=[]"]


def tiny_nnue_config(tmp_path: Path) -> Path:
    """HalfKP^ 8x2-8-8-1 on 1,200 random positions, nothing filtered: 150-row chunks and a checkpoint every
    64 rows (32 per iteration), so every checkpoint before iteration 75 falls inside a partly used chunk."""
    data = tmp_path / "train.bin"
    write_bin(data, random_positions(1200, seed=11))
    raw = {
        "name": "nnue-resume",
        "seed": 5,
        "networks": {"net": {"type": "nnue_halfkp", "features": "HalfKP^", "l1": 8, "l2": 8, "l3": 8}},
        "data": {"type": "nnue", "paths": [str(data)], "features": "HalfKP^", "chunk_size": 150,
                 "num_workers": 0, "early_ply_skip": 0, "skip_captures": False, "skip_in_check": False},
        "steps": [{
            "optimizer": {"type": "ranger", "lr": 1e-3, "eps": 1e-7},
            "schedule": {"type": "constant"},
            "injectors": [{"type": "forward", "net": "net", "in": ["indices", "bucket"], "out": "eval"}],
            "losses": {"wdl": {"type": "nnue_wdl", "pred": "eval", "score": "score", "outcome": "outcome",
                               "start_lambda": 1.0, "end_lambda": 0.5}},
        }],
        "train": {"iterations": ITERATIONS, "batch_size": 32, "checkpoint_every": 2, "out": str(tmp_path / "runs"),
                  "threads": 1, "progress": False, "tensorboard": False, "plot": False},
        "evaluators": [],
    }
    path = tmp_path / "nnue.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(list_checkpoints(run_dir)[-1])["nets"]["net"]["state_dict"]


@pytest.mark.slow
def test_sigkill_mid_chunk_and_resume_gives_the_same_weights(tmp_path: Path) -> None:
    cfg_path = tiny_nnue_config(tmp_path)
    whole = tmp_path / "whole"
    Trainer(load_config(cfg_path), run_dir=whole).run()  # in-process: one interpreter start less
    killed = tmp_path / "killed"
    done = kill_and_resume(["train", str(cfg_path)], killed, kill_at=6, total=ITERATIONS)
    a, b = final_weights(whole), final_weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert 32 * done % 150, "the resumed checkpoint lies inside a chunk"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "extra"), [("nnue-sf17-small", []), ("nnue-sf18", ["networks.net.l1=16"])])
def test_shipped_binpack_config_killed_and_resumed_gives_the_same_weights(name: str, extra: list[str],
                                                                           tmp_path: Path) -> None:
    overrides = [*SHIPPED, *extra]
    whole = tmp_path / "whole"
    Trainer(load_config(name, overrides), run_dir=whole).run()
    killed = tmp_path / "killed"
    done = kill_and_resume(["train", name, *overrides], killed, kill_at=6, total=30)
    assert done >= 6
    a, b = final_weights(whole), final_weights(killed)
    assert a.keys() == b.keys() and "ft_weight" in a
    for key in a:
        assert torch.equal(a[key], b[key]), key
