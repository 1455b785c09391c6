"""``boardnet uci`` speed: nodes/s at ``go nodes 800`` on maia-1300, driven through python-chess's UCI client,
against the raw batched net evaluation rate of the same net measured in the same run (onnxruntime, 1 thread,
at the search's MinibatchSize and at the mean batch the search really sends).

Usage: python bench/lc0_uci.py [path/to/maia-1300.pb.gz]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import chess
import chess.engine
import numpy as np
from lc0_inference import positions_per_s  # bench/ is on sys.path when run as a script

from boardnet.lc0.evaluator import Evaluator
from boardnet.lc0.planes import encode_batch
from boardnet.lc0.search import Limits, Search, SearchParams

DEFAULT_NET = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "lc0" / "maia-1300.pb.gz"
NODES = 800
OPENINGS = (  # positions with their history, as a GUI sends them
    "",
    "e2e4 c7c5 g1f3 d7d6 d2d4 c5d4 f3d4 g8f6 b1c3 a7a6",
    "e2e4 e7e5 g1f3 b8c6 f1b5 a7a6 b5a4 g8f6 e1g1 f8e7",
    "d2d4 g8f6 c2c4 e7e6 g1f3 d7d5 b1c3 f8e7 c1g5 h7h6 g5h4 e8g8",
)


def _boards() -> list[chess.Board]:
    out = []
    for line in OPENINGS:
        board = chess.Board()
        for uci in line.split():
            board.push_uci(uci)
        out.append(board)
    return out


def uci_nps(net: Path, boards: list[chess.Board]) -> list[tuple[int, float, float]]:
    """Per position: (nodes, engine-reported nps, wall-clock nodes/s) of ``go nodes 800``."""
    out = []
    with chess.engine.SimpleEngine.popen_uci([sys.executable, "-m", "boardnet", "uci", str(net)],
                                             timeout=300) as engine:
        engine.configure({"Threads": 1})
        engine.ping()
        for board in boards:
            t0 = time.perf_counter()
            result = engine.play(board, chess.engine.Limit(nodes=NODES), info=chess.engine.INFO_BASIC,
                                 game=object())  # a new game each time: no tree reuse between positions
            wall = time.perf_counter() - t0
            out.append((result.info["nodes"], float(result.info["nps"]), result.info["nodes"] / wall))
    return out


def in_process(ev: Evaluator, boards: list[chess.Board], overlap: bool) -> tuple[float, float]:
    """(nodes/s, mean positions per net call) of the search run in this process at ``go nodes 800``."""
    calls = positions = 0

    def counted(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nonlocal calls, positions
        calls += 1
        positions += len(planes)
        return ev(planes)

    t0 = time.perf_counter()
    for board in boards:
        Search(board, counted, SearchParams(overlap=overlap)).run(Limits(nodes=NODES))
    return NODES * len(boards) / (time.perf_counter() - t0), positions / calls


def main() -> None:
    net = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NET
    boards = _boards()
    runs = uci_nps(net, boards)
    for board, (nodes, nps, wall) in zip(boards, runs):
        print(f"uci go nodes {NODES}: {nodes:4d} nodes, engine nps {nps:6.0f}, wall {wall:6.0f} nodes/s  "
              f"({len(board.move_stack)} plies of history)")
    nps = statistics.mean(r[1] for r in runs)
    ev = Evaluator(net, threads=1).prepare()
    runs_in = {overlap: in_process(ev, boards, overlap) for overlap in (True, False)}
    for overlap, (rate, batch) in runs_in.items():
        print(f"in-process search, overlap {'on ' if overlap else 'off'}: {rate:6.0f} nodes/s, mean batch {batch:.1f}")
    mean_batch = runs_in[True][1]  # the engine's default
    minibatch = SearchParams().minibatch
    planes = encode_batch(boards * (minibatch // len(boards) + 1))
    sizes = sorted({minibatch, max(1, round(mean_batch))})
    raw = {b: positions_per_s(lambda b=b: ev(planes[:b]), b, 3.0) for b in sizes}
    print(f"UCI engine: {nps:,.0f} nps at go nodes {NODES} (mean of {len(runs)} positions, Threads 1, "
          f"{ev.backend})")
    for b, rate in raw.items():
        what = "MinibatchSize" if b == minibatch else "the search's mean batch"
        print(f"baseline  : raw net evaluation {rate:,.0f} positions/s at batch {b} ({what}; search mean batch "
              f"{mean_batch:.1f}) -> engine at {100 * nps / rate:.0f}% of it")


if __name__ == "__main__":
    main()
