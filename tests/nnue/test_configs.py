"""The shipped Stockfish 17.1 / 18 training configs build, train from ``.binpack`` and export the engine's layout
(issue 14 part 4): two tiny steps each on the native fixture's ``train.binpack``; the real-engine proof of the
small and SF18 big exports is ``test_native_export.py``."""

from __future__ import annotations

from pathlib import Path

import chess
import pytest

from boardnet.core.config import load_config
from boardnet.core.convert import convert
from boardnet.nnue.eval import evaluate_many
from boardnet.nnue.file import read_quantized
from boardnet.train.checkpoint import list_checkpoints
from boardnet.train.trainer import Trainer

NATIVE = Path(__file__).parent / "fixtures" / "native"
TINY = ["data.num_workers=0", "data.chunk_size=4096", "data.early_ply_skip=0", "train.iterations=2",
        "train.batch_size=16", "train.checkpoint_every=2", "train.threads=1", "train.progress=false",
        "train.tensorboard=false", "train.plot=false", "evaluators=[]"]


def eval_boards() -> list[chess.Board]:
    return [chess.Board(f) for f in (NATIVE / "eval60.fens").read_text().split("\n")[:12] if f]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "arch", "engine"), [
    ("nnue-sf17-small", "halfkav2_hm_128x2-16-32x8", "sf18"),
    ("nnue-sf17-big", "halfkav2_hm_3072x2-16-32x8", "sf17.1"),
    ("nnue-sf18", "full_threats+halfkav2_hm_1024x2-16-32x8", "sf18")])
def test_shipped_config_trains_and_exports_the_engine_layout(name: str, arch: str, engine: str,
                                                             tmp_path: Path) -> None:
    cfg = load_config(name, [f"data.paths=[{NATIVE / 'train.binpack'}]", *TINY])
    Trainer(cfg, run_dir=tmp_path / "run").run()
    out = tmp_path / "net.nnue"
    convert(list_checkpoints(tmp_path / "run")[-1], out, read_options={"net": "net"})
    net = read_quantized(out, engine=engine)  # the engine loads this arch
    assert net.spec.config["arch"] == arch
    evals = evaluate_many(net, eval_boards(), engine=engine)
    assert len({e.raw for e in evals}) > 6  # a working net, not a constant
