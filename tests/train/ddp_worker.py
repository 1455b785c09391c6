"""Run by ``torchrun --nproc_per_node=2`` in test_distributed.py: train, then save this rank's weights."""

from __future__ import annotations

import os
import sys

import torch

from boardnet.core.config import load_config
from boardnet.train.trainer import Trainer


def main() -> None:
    cfg_path, run_dir, out_dir = sys.argv[1:4]
    trainer = Trainer(load_config(cfg_path), run_dir=run_dir)
    trainer.run()
    rank = int(os.environ["RANK"])
    torch.save(trainer.ctx.raw_nets["net"].state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))


if __name__ == "__main__":
    main()
