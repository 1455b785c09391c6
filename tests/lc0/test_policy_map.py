"""lc0's 1858-move index and conv-policy gather against the spec's anchors (shared/specs/lc0.md §7, §8)."""

from __future__ import annotations

import chess
import numpy as np

from boardnet.lc0.policy_map import (
    ATTENTION_POLICY_SIZE,
    attention_policy_gather,
    conv_policy_gather,
    move_index,
    policy_moves,
)


def test_policy_index_anchors() -> None:
    idx = move_index()
    assert len(policy_moves()) == 1858 == len(set(policy_moves()))
    anchors = {"a1b1": 0, "e2e4": 322, "d2d4": 293, "g1f3": 159, "b1c3": 36, "h2h3": 400, "a7a8q": 1792,
               "h7h8b": 1857, "a7a8": 1401, "e1h1": 103, "e1a1": 97, "e1g1": 102, "e1c1": 99}
    assert {m: idx[m] for m in anchors} == anchors


def test_conv_gather_anchors_and_injective() -> None:
    g, idx = conv_policy_gather(), move_index()
    assert len(set(g.tolist())) == 1858 and g.max() < 80 * 64
    for move, (channel, square) in {"e2e4": (1, 12), "g1f3": (63, 6), "e1h1": (16, 4), "a7a8q": (69, 48),
                                    "a7a8": (0, 48)}.items():
        assert divmod(int(g[idx[move]]), 64) == (channel, square)


def test_attention_gather_anchors_and_injective() -> None:
    """§9: ``from·64 + to`` for plain moves and knight promotions; ``4096 + from_file·24 + to_file·3 + p``."""
    g, idx = attention_policy_gather(), move_index()
    assert len(set(g.tolist())) == 1858 and g.max() < ATTENTION_POLICY_SIZE == 4288
    anchors = {"e2e4": 12 * 64 + 28, "g1f3": 6 * 64 + 21, "e1h1": 4 * 64 + 7, "a7a8": 48 * 64 + 56,
               "a7a8q": 4096, "a7a8r": 4097, "b7a8b": 4096 + 24 + 2, "h7h8b": 4287}
    assert {m: int(g[idx[m]]) for m in anchors} == anchors


def test_fixture_legal_indices_follow_the_index(lc0_reference) -> None:
    """lc0's own indices of the fixture's legal moves (in the side-to-move frame) are ours."""
    ref = lc0_reference
    idx = move_index()
    for fen, uci, lidx in zip(ref["final_fens"], ref["legal_uci"], ref["legal_idx"]):
        board = chess.Board(str(fen))
        for move, want in zip(str(uci).split(), lidx):
            m = _to_policy_frame(move, board.turn == chess.BLACK, board.is_castling(chess.Move.from_uci(move)))
            assert idx[m] == want, (fen, move)
        assert np.all(lidx[len(str(uci).split()):] == -1)


def _to_policy_frame(move: str, black: bool, castling: bool) -> str:
    """UCI move -> the policy's frame: mirror ranks for black, castling as king takes rook, no 'n' suffix."""
    if castling:
        move = move[:2] + ("h" if move[2] == "g" else "a") + move[3]
    if black:
        move = move[0] + str(9 - int(move[1])) + move[2] + str(9 - int(move[3])) + move[4:]
    return move[:4] if move.endswith("n") else move


def test_position_encoding_is_lc0s_queen_and_knight_reach_table() -> None:
    from boardnet.lc0.policy_map import position_encoding

    table = position_encoding()
    assert table.shape == (64, 64) and (np.diag(table) == -1).all()
    assert (table == table.T).all() and set(np.unique(table)) == {-1.0, 0.0, 1.0}
    assert int((table[0] == 1).sum()) == 7 + 7 + 7 + 2  # a1: rank, file, diagonal, two knight moves
    assert table[0, 10] == 1 and table[0, 11] == 0  # a1 -> c2 (knight) yes, a1 -> d2 no
