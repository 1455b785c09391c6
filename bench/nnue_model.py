"""Factorized NNUE training step (forward + backward) at batch 16384 on CPU, one thread.

Ours: ``NnueNet(features="HalfKAv2_hm^")`` as it runs, which at this batch size folds the A factor rows into
the real rows once per step and gathers real rows only. Baseline in the same run: the same model gathering each
feature's factor row per position (what the small-batch path and nnue-pytorch's sparse input do). Also the plain
``HalfKAv2_hm`` model (no factor rows) for reference.

    python bench/nnue_model.py [--steps 3] [--batch 16384]
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import chess  # noqa: E402
import torch  # noqa: E402

from boardnet.nnue.features import get_feature_set  # noqa: E402
from boardnet.nnue.net import NnueNet  # noqa: E402


def batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real-index batch of ``n`` positions, tiled from 512 random-game positions."""
    rng = random.Random(seed)
    fs = get_feature_set("HalfKAv2_hm")
    idx, buckets = [], []
    while len(idx) < 512:
        b = chess.Board()
        for _ in range(rng.randint(4, 120)):
            moves = list(b.legal_moves)
            if not moves:
                break
            b.push(rng.choice(moves))
        rows = torch.full((2, 32), -1, dtype=torch.int64)
        for j, a in enumerate(fs.active_pair(b)):
            rows[j, : len(a)] = torch.tensor(a)
        idx.append(rows)
        buckets.append((len(b.piece_map()) - 1) // 4)
    reps = -(-n // 512)
    return torch.stack(idx).repeat(reps, 1, 1)[:n], torch.tensor(buckets).repeat(reps)[:n]


def step_time(model: NnueNet, idx: torch.Tensor, bucket: torch.Tensor, steps: int) -> float:
    model.zero_grad()
    model(idx, bucket).sum().backward()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        model.zero_grad()
        model(idx, bucket).sum().backward()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16384)
    args = ap.parse_args()
    torch.set_num_threads(1)
    idx, bucket = batch(args.batch)
    torch.manual_seed(0)
    model = NnueNet(features="HalfKAv2_hm^")
    ours = step_time(model, idx, bucket, args.steps)
    model.ft_bags = lambda i, tables: [model.bag(t, model.rows(i)) for t in tables]  # per-feature factor gather
    base = step_time(model, idx, bucket, args.steps)
    plain = step_time(NnueNet(features="HalfKAv2_hm"), idx, bucket, args.steps)
    n = args.batch
    print(f"HalfKAv2_hm^ fwd+bwd, batch {n}, 1 thread: fold-then-gather {ours:.3f} s/step ({n / ours:,.0f} pos/s)")
    print(f"baseline per-feature factor gather: {base:.3f} s/step ({n / base:,.0f} pos/s); speed-up {base / ours:.2f}x")
    print(f"plain HalfKAv2_hm (no factors): {plain:.3f} s/step ({n / plain:,.0f} pos/s); "
          f"factorization overhead {ours / plain:.2f}x")


if __name__ == "__main__":
    main()
