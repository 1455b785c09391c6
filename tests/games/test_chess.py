"""lc0 input planes and legal-move policy from python-chess boards, against lc0's own planes."""

from __future__ import annotations

import chess
import numpy as np

from boardnet.games.chess import encode, legal_policy, policy_index


def _board(fen: str, moves: str, startpos: bool) -> chess.Board:
    board = chess.Board() if startpos else chess.Board(fen)
    for uci in moves.split():
        board.push_uci(uci)
    return board


def test_planes_equal_lc0_for_every_fixture_position(lc0_reference) -> None:
    r = lc0_reference
    for i in range(len(r["fens"])):
        board = _board(str(r["fens"][i]), str(r["moves"][i]), bool(r["start_is_startpos"][i]))
        assert board.fen() == str(r["final_fens"][i])
        planes = encode(board)
        bad = np.argwhere((planes != r["planes"][i]).any(axis=(1, 2))).ravel()
        assert bad.size == 0, (i, str(r["tags"][i]), bad.tolist())


def test_legal_indices_and_policy(lc0_reference) -> None:
    r = lc0_reference
    for i in range(len(r["fens"])):
        board = _board(str(r["fens"][i]), str(r["moves"][i]), bool(r["start_is_startpos"][i]))
        got = sorted(policy_index(board, m) for m in board.legal_moves)
        assert got == sorted(int(x) for x in r["legal_idx"][i] if x >= 0)
        pol = legal_policy(board, r["policy_logits"][i])
        assert abs(sum(p for _, p in pol) - 1) < 1e-9 and pol[0][1] >= pol[-1][1]
