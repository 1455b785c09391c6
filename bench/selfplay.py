"""Self-play throughput: boardnet's batched PUCT MCTS (worker processes, onnxruntime, evaluation cache) against
the reference algorithm (AZG's ``mcts_alphaZero``: one position per net call, Python node tree), plus the net
alone at self-play's batch size. 8x8, 5 in a row, 400 playouts/move, fresh AZG-default net.

The baseline searches every position of the first game(s) boardnet just played (the natural opening/middle/end
mix), with the same net in PyTorch on all the cores given (``--threads``, default: every core this process may
use; on the 2-core dev box 1 and 2 threads measured about the same, 1,200-1,700 playouts/s: the Python tree
dominates); it is also run with the onnxruntime evaluator so the speed-up not due to the evaluator can be read
off.
The net-alone rate uses the same processes, threads, backend and per-process batch as self-play; the net is
also timed alone in this process on one thread in both ONNX forms (``onnx``: Winograd F(4x4, 3x3) trunk, what
``auto`` uses; ``onnx-direct``: plain convolutions) at the same batch.

    .venv/bin/python bench/selfplay.py [--games 64] [--concurrency 16] [--workers 2] [--inference auto]
                                       [--cache 50000] [--baseline-games 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from boardnet.alphazero.backends import BACKENDS
from boardnet.alphazero.cache import DEFAULT_CAPACITY
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.inference import (
    make_evaluator,
    net_alone_rate,
    net_evaluator,
    onnx_evaluator,
    onnx_model_bytes,
)
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.reference import reference_search
from boardnet.alphazero.selfplay import SelfPlayResult, self_play
from boardnet.alphazero.workers import SelfPlayPool, split_games


def decode(game: Gomoku, planes: np.ndarray) -> tuple[np.ndarray, int]:
    """AZG planes ``[4, H, W]`` (row-flipped) -> ``(board int8 [A+1], last move or -1)``."""
    a = game.action_size
    mine, theirs, lastp = (planes[c, ::-1].reshape(a) for c in range(3))
    count = int(mine.sum() + theirs.sum())
    me, other = (1, 2) if count % 2 == 0 else (2, 1)
    board = game.initial_state(1)[0][0]
    board[:a] = np.where(mine > 0, me, np.where(theirs > 0, other, 0))
    return board, int(lastp.argmax()) if lastp.any() else -1


def first_games(res: SelfPlayResult, n_games: int) -> np.ndarray:
    """Indices of the recorded positions of the first ``n_games`` games (a game starts on an empty board)."""
    starts = np.nonzero(res.planes[:, :3].sum(axis=(1, 2, 3)) == 0)[0]
    end = starts[n_games] if n_games < len(starts) else len(res.planes)
    return np.arange(end)


def baseline_rate(game: Gomoku, evaluate, res: SelfPlayResult, idx: np.ndarray, playouts: int) -> float:
    """Reference search (fresh tree, ``playouts`` simulations) on the recorded positions ``idx``."""
    t0 = time.perf_counter()
    for i in idx:
        board, last = decode(game, res.planes[i])
        reference_search(game, evaluate, board, last, playouts)
    return len(idx) * playouts / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", type=int, default=64, help="self-play games in all")
    ap.add_argument("--playouts", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=16, help="games in flight per process, refilled as games "
                    "end (0: all of a process's games at once)")
    ap.add_argument("--workers", type=int, default=2, help="self-play processes, 1 thread each (0: in-process)")
    ap.add_argument("--inference", default="auto", choices=BACKENDS)
    ap.add_argument("--cache", type=int, default=DEFAULT_CAPACITY, help="evaluation-cache entries (0: off)")
    ap.add_argument("--baseline-games", type=int, default=3, help="the baseline searches every position of "
                    "this many of the games just played (whole games: the natural opening/endgame mix)")
    ap.add_argument("--threads", type=int, default=0, help="threads for the baseline and in-process self-play "
                    "(0: every core available)")
    ap.add_argument("--net-seconds", type=float, default=3.0)
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    threads = args.threads or cores
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    game = Gomoku(8, 5)
    net = PolicyValueNet(8, 8).eval()
    settings = MctsSettings(playouts=args.playouts, eval_cache=args.cache)
    load = os.getloadavg()[0]

    if args.workers:
        with SelfPlayPool(game, settings, args.workers, args.inference) as pool:
            pool.net_rate(net, 1, 0.1)  # wait until every worker has imported torch and built its evaluator
            t0 = time.perf_counter()
            res = pool.play(net, args.games, seed=0, concurrency=args.concurrency or None)
            dt = time.perf_counter() - t0
            batch = min(max(split_games(args.games, args.workers)), args.concurrency or args.games)
            alone = pool.net_rate(net, batch, args.net_seconds)
        where = f"{args.workers} worker processes x 1 thread, {pool.backend}"
    else:
        ev = make_evaluator(net, game, args.inference, threads=threads)
        t0 = time.perf_counter()
        res = self_play(game, ev, args.games, settings, np.random.default_rng(0), args.concurrency or None)
        dt = time.perf_counter() - t0
        batch = min(args.games, args.concurrency or args.games)
        alone = net_alone_rate(game, ev, batch, args.net_seconds, np.random.default_rng(0))
        where = f"in-process, {threads} threads, {args.inference}"
    ours = res.playouts / dt
    evals = res.evaluations / dt

    idx = first_games(res, args.baseline_games)
    base = baseline_rate(game, net_evaluator(net, game), res, idx, args.playouts)
    base_onnx = baseline_rate(game, onnx_evaluator(onnx_model_bytes(net), game, threads), res, idx, args.playouts)
    forms = {w: net_alone_rate(game, onnx_evaluator(onnx_model_bytes(net, winograd=w), game, 1), batch,
                               args.net_seconds, np.random.default_rng(0)) for w in (False, True)}

    print(f"{cores} cores (load {load:.2f} before the run); {where}; eval cache {args.cache}; {args.games} games "
          f"({batch} in flight per process) x {args.playouts} playouts, {res.moves} moves in {dt:.1f} s")
    print(f"boardnet self-play          {ours:8.0f} playouts/s  ({args.games / dt:.2f} games/s, "
          f"{evals:.0f} net evaluations/s, cache hits {100 * res.cache_hit_rate:.1f}%)")
    print(f"baseline, torch {threads} threads    {base:8.0f} playouts/s  (reference search, "
          f"all {len(idx)} positions of {args.baseline_games} of these games)")
    print(f"baseline, onnxruntime       {base_onnx:8.0f} playouts/s")
    print(f"speed-up vs torch baseline  {ours / base:8.1f} x   (target >= 10, stretch 20)")
    print(f"speed-up vs onnx baseline   {ours / base_onnx:8.1f} x")
    print(f"net alone, batch {batch:<3}        {alone:8.0f} positions/s  (same processes/threads/backend)")
    print(f"net alone, 1 thread         {forms[False]:8.0f} positions/s direct convolutions, {forms[True]:.0f} "
          f"Winograd ({forms[True] / forms[False]:.2f}x)")
    print(f"self-play share             {100 * ours / alone:8.1f} %   playouts/s over net-alone (target >= 60); "
          f"net evaluations/s: {100 * evals / alone:.1f} %")


if __name__ == "__main__":
    main()
