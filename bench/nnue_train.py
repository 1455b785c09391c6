"""Training throughput on CPU (one thread): positions/s and the loader's share of the time.

Ours: ``NnueData`` (vectorized .bin pipeline) feeding NnueNet + NnueWdlLoss + Ranger (the shipped config's
optimizer) + clip_weights. Baseline in the same run: the same training step fed by a straightforward
python-chess loader (records -> Board -> filters -> ``FeatureSet.board_batch``), timed on the same
batch size.

    python bench/nnue_train.py [--steps 3] [--l1 128 --binpack]   # --l1 128 --binpack: the nnue-sf17-small config
    python bench/nnue_train.py --sf18 [--batch 1024]   # the nnue-sf18 config: Full_Threats+HalfKAv2_hm^ 1024, .binpack
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # for nnue_loader.make_file

import chess  # noqa: E402
import torch  # noqa: E402
from nnue_loader import make_file  # noqa: E402

from boardnet.nnue.data.bin import decode_move, read_bin  # noqa: E402
from boardnet.nnue.data.convert import convert_data  # noqa: E402
from boardnet.nnue.data.loader import NnueData  # noqa: E402
from boardnet.nnue.features import get_feature_set  # noqa: E402
from boardnet.nnue.loss import NnueWdlLoss  # noqa: E402
from boardnet.nnue.net import NnueNet  # noqa: E402
from boardnet.train.context import TrainContext  # noqa: E402
from boardnet.train.ranger import Ranger  # noqa: E402

BATCH = 16384
SF18_FEATURES = "Full_Threats+HalfKAv2_hm^"


def naive_batch(path: Path, n: int, features: str) -> dict[str, torch.Tensor]:
    dec, _ = read_bin(path, count=int(n * 1.4))
    boards, scores, outcomes = [], [], []
    for i in range(len(dec)):
        board = chess.Board(dec.fen(i))
        if board.is_capture(decode_move(int(dec.move[i]), board.turn)) or board.is_check():
            continue
        boards.append(board)
        scores.append(float(dec.score[i]))
        outcomes.append((int(dec.result[i]) + 1) / 2)
        if len(boards) == n:
            break
    idx, bucket = get_feature_set(features).board_batch(boards)
    return {"indices": torch.tensor(idx), "bucket": torch.tensor(bucket), "score": torch.tensor(scores),
            "outcome": torch.tensor(outcomes)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--l1", type=int, default=1024, help="FT width (128: the nnue-sf17-small config)")
    ap.add_argument("--binpack", action="store_true", help="train from .binpack (the data converted)")
    ap.add_argument("--sf18", action="store_true", help=f"the nnue-sf18 net: {SF18_FEATURES}, L1 1024, .binpack")
    ap.add_argument("--batch", type=int, default=BATCH)
    args = ap.parse_args()
    features = SF18_FEATURES if args.sf18 else "HalfKAv2_hm^"
    if args.sf18:
        args.l1, args.binpack = 1024, True
    batch_size = args.batch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = NnueNet(features=features, l1=args.l1)
    opt = Ranger(net.parameters(), lr=8.75e-4, eps=1e-7)
    loss_fn = NnueWdlLoss(NnueWdlLoss.Config())

    def train_step(batch: dict[str, torch.Tensor]) -> None:
        loss = loss_fn({"eval": net(batch["indices"], batch["bucket"]), **batch}, None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        net.clip_weights()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.bin"
        make_file(path, batch_size * (args.steps + 3))
        data = path
        if args.binpack:
            data = path.with_suffix(".binpack")
            convert_data(path, data)
        cfg = NnueData.Config(type="nnue", paths=[str(data)], chunk_size=batch_size, features=features)
        src = NnueData(cfg, TrainContext(cfg=None, run_dir=Path(tmp), device="cpu"))
        train_step(src.next_batch(batch_size))  # warm up
        load_s = step_s = 0.0
        for _ in range(args.steps):
            t0 = time.perf_counter()
            batch = src.next_batch(batch_size)
            t1 = time.perf_counter()
            train_step(batch)
            load_s += t1 - t0
            step_s += time.perf_counter() - t1
        t0 = time.perf_counter()
        nb = naive_batch(path, batch_size, features)
        naive_load = time.perf_counter() - t0
    ours = args.steps * batch_size / (load_s + step_s)
    per_step = step_s / args.steps
    base = batch_size / (naive_load + per_step)
    print(f"ours ({features} L1 {args.l1}, {'.binpack' if args.binpack else '.bin'}): {ours:,.0f} positions/s at "
          f"batch {batch_size} (loader {load_s / (load_s + step_s):.1%} of time, train step {per_step:.2f} s)")
    print(f"python-chess loader + same step: {base:,.0f} positions/s (loader {naive_load / (naive_load + per_step):.1%})")
    print(f"ratio: {ours / base:.1f}x")
    del nb


if __name__ == "__main__":
    main()
