"""Self-play throughput: batched PUCT MCTS vs the reference-style search (one position per net call, Python
node tree), plus the net alone at self-play's batch size. 8x8, 5 in a row, 400 playouts/move, fresh
AZG-default net. Prints playouts/s of each, the speed-up, and self-play's share of the net-alone rate.

    .venv/bin/python bench/selfplay.py [--games 32] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from boardnet.games.gomoku import Gomoku
from boardnet.models.policy_value import PolicyValueNet
from boardnet.selfplay.mcts import net_evaluator
from boardnet.selfplay.reference import reference_search
from boardnet.selfplay.runner import SelfPlaySettings, self_play


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--games", type=int, default=32, help="self-play games in parallel (= net batch size)")
    ap.add_argument("--playouts", type=int, default=400)
    ap.add_argument("--baseline-moves", type=int, default=3, help="moves searched by the baseline")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    game = Gomoku(8, 5)
    net = PolicyValueNet(8, 8).to(args.device).eval()
    ev = net_evaluator(net, game, args.device)
    rng = np.random.default_rng(0)

    # Baseline: reference search on the first moves of a game.
    board, last = game.empty_boards(1)[0], -1
    t0 = time.perf_counter()
    for ply in range(args.baseline_moves):
        visits = reference_search(game, ev, board, last, args.playouts)
        last = int(visits.argmax())
        board[last] = 1 + ply % 2
    base = args.baseline_moves * args.playouts / (time.perf_counter() - t0)

    # boardnet: full self-play games, all in parallel.
    t0 = time.perf_counter()
    res = self_play(game, ev, args.games, SelfPlaySettings(playouts=args.playouts), rng)
    dt = time.perf_counter() - t0
    ours = res.playouts / dt

    # The net alone on self-play-like batches (encode + forward + copy back), batch = games.
    boards = game.empty_boards(args.games)
    for i in range(args.games):
        boards[i, rng.permutation(64)[:20]] = np.tile([1, 2], 10)
    lastm = np.zeros(args.games, np.int64)
    ev(boards, lastm)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0:
        ev(boards, lastm)
        n += args.games
    alone = n / (time.perf_counter() - t0)

    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {args.games} games x "
          f"{args.playouts} playouts, {res.moves} moves, {dt:.1f} s")
    print(f"boardnet self-play   {ours:10.0f} playouts/s  ({args.games / dt:.2f} games/s)")
    print(f"baseline (1/call)    {base:10.0f} playouts/s")
    print(f"speed-up             {ours / base:10.1f} x   (target >= 10)")
    print(f"net alone, batch {args.games:<3} {alone:10.0f} positions/s")
    print(f"self-play share      {100 * ours / alone:10.1f} %   (target >= 60)")


if __name__ == "__main__":
    main()
