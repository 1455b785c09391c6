"""Key end-to-end test: a boardnet-trained HalfKAv2_hm^ (factorized) net, exported, gives in Stockfish 15.1 exactly the
evaluation boardnet's integer evaluator predicts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import chess
import pytest
import torch

from boardnet.nnue import file as nnue
from boardnet.nnue.eval import evaluate
from boardnet.nnue.features import get_feature_set
from boardnet.nnue.net import NnueNet
from tests.conftest import random_boards, stockfish_binary

VALUES = {chess.PAWN: 1, chess.KNIGHT: 3, chess.BISHOP: 3, chess.ROOK: 5, chess.QUEEN: 9, chess.KING: 0}


def _material(b: chess.Board) -> float:
    s = sum(VALUES[p.piece_type] * (1 if p.color == b.turn else -1) for p in b.piece_map().values())
    return s / 10


def _sf_printed(path: Path, boards: list[chess.Board]) -> list[str]:
    cmds = ["uci", f"setoption name EvalFile value {path}", "isready"]
    for b in boards:
        cmds += [f"position fen {b.fen()}", "eval"]
    r = subprocess.run([stockfish_binary()], input="\n".join(cmds + ["quit"]) + "\n", text=True,
                       capture_output=True, timeout=300)
    assert "ERROR" not in r.stdout, r.stdout[-2000:]
    return re.findall(r"NNUE evaluation\s+([+-]\d+\.\d\d) \(white side\)", r.stdout)


@pytest.mark.slow
def test_trained_net_loads_in_stockfish_with_predicted_evals(tmp_path: Path) -> None:
    torch.manual_seed(0)
    boards = random_boards(60)
    idx, bucket = get_feature_set("HalfKAv2_hm").board_batch(boards)
    x, bk = torch.tensor(idx), torch.tensor(bucket)
    target = torch.tensor([_material(b) for b in boards])
    net = NnueNet(features="HalfKAv2_hm^")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = None
    for _ in range(5):
        loss = torch.nn.functional.mse_loss(net(x, bk), target)
        before = before if before is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.clip_weights()
    with torch.no_grad():
        after = net(x, bk)
    assert torch.nn.functional.mse_loss(after, target).item() < before  # it did learn
    assert net.ft_weight[22528:].abs().sum() > 0  # the A factor rows trained; quantize() coalesces them
    q = net.quantize()
    path = tmp_path / "trained.nnue"
    nnue.write_net(q, path)
    reread = nnue.read_net(path)
    predicted = [evaluate(reread, b) for b in boards]
    assert len({p.raw for p in predicted}) > 20  # non-trivial evaluations
    printed = _sf_printed(path, boards)
    assert len(printed) == len(boards) >= 50
    assert printed == [p.printed for p in predicted]
    # the float model tracks the integer one (units: 600 internal points per 1.0; raw = internal / 16)
    corr = torch.corrcoef(torch.stack([after, torch.tensor([p.raw * 16 / 600 for p in predicted])]))[0, 1]
    assert corr > 0.99
