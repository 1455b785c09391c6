"""End to end: ``boardnet nnue label`` -> ``boardnet train nnue-halfkav2hm`` (HalfKAv2_hm^) -> ``boardnet convert``
to ``.nnue`` -> Stockfish 15.1 loads it and prints exactly the evaluation boardnet's integer evaluator predicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from boardnet.nnue import file as nnue
from boardnet.nnue.eval import evaluate
from boardnet.train.checkpoint import list_checkpoints
from tests.conftest import random_boards, stockfish_binary
from tests.nnue.test_net import _sf_printed


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "boardnet", *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r


@pytest.mark.slow
def test_label_train_convert_stockfish(tmp_path: Path) -> None:
    engine = stockfish_binary()
    boards = random_boards(300, seed=4)
    (tmp_path / "pos.txt").write_text("\n".join(b.fen() for b in boards) + "\n")
    r = _cli("nnue", "label", str(tmp_path / "pos.txt"), "-o", str(tmp_path / "train.bin"), "--depth", "2",
             "--engine", engine)
    assert "wrote 300 positions" in r.stdout
    run = tmp_path / "run"
    _cli("train", "nnue-halfkav2hm", f"data.paths=[{tmp_path / 'train.bin'}]",
         f"data.validation_path={tmp_path / 'train.bin'}", "data.num_workers=0",
         "data.early_ply_skip=0", "data.chunk_size=128",
         "train.iterations=3", "train.batch_size=64", "train.checkpoint_every=3", "train.progress=false",
         "train.tensorboard=false", "train.threads=1", "train.plot=false",
         "evaluators=[{type: validation_loss, every: 3}, {type: nnue_agreement, every: 3}]",
         "--run-dir", str(run))
    metrics = (run / "metrics.csv").read_text()
    assert "val/nnue_sign_agree" in metrics and "val/nnue_mae_cp" in metrics
    ckpt = list_checkpoints(run)[-1]
    out = tmp_path / "trained.nnue"
    _cli("convert", str(ckpt), str(out), "--net", "net")
    net = nnue.read_net(out)
    test_boards = boards[:60]
    predicted = [evaluate(net, b) for b in test_boards]
    assert len({p.raw for p in predicted}) > 20  # non-trivial evaluations
    printed = _sf_printed(out, test_boards)
    assert len(printed) == len(test_boards) >= 50
    assert printed == [p.printed for p in predicted]
