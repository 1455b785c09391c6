"""lc0 input planes and legal-move policy from python-chess boards, against lc0's own planes."""

from __future__ import annotations

import random

import chess
import numpy as np

from boardnet.lc0.planes import encode, encode_batch, legal_policy, policy_index


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


def test_encode_batch_equals_lc0_and_leaves_boards_alone(lc0_reference) -> None:
    r = lc0_reference
    boards = [_board(str(r["fens"][i]), str(r["moves"][i]), bool(r["start_is_startpos"][i]))
              for i in range(len(r["fens"]))]
    before = [(b.fen(), len(b.move_stack)) for b in boards]
    planes = encode_batch(boards)
    assert planes.shape == (len(boards), 112, 8, 8) and planes.dtype == np.float32
    np.testing.assert_array_equal(planes, r["planes"])
    assert [(b.fen(), len(b.move_stack)) for b in boards] == before


def _slow_planes(board: chess.Board) -> np.ndarray:
    """An independent, slow statement of the same rules with python-chess's public API (copy + pop), used as an
    oracle on games the fixture does not cover (long repetition windows, captures, promotions)."""
    us, planes = board.turn, np.zeros((112, 8, 8), np.float32)
    work, history = board.copy(), []
    while True:
        ep = work.ep_square
        if ep is not None:
            pawn_sq = ep - 8 if work.turn == chess.WHITE else ep + 8
            beside = [pawn_sq + d for d in (-1, 1) if 0 <= pawn_sq % 8 + d < 8]
            ep = ep if any(work.piece_at(q) == chess.Piece(chess.PAWN, work.turn) for q in beside) else None
        history.append((work.board_fen(), work.turn, work.castling_rights, ep, work.halfmove_clock, work.copy()))
        if not work.move_stack:
            break
        work.pop()
    for i, (_, _, _, _, clock, pos) in enumerate(history[:8]):
        for c, color in enumerate((us, not us)):
            for p, piece in enumerate(chess.PIECE_TYPES):
                for sq in pos.pieces(piece, color):
                    rank = chess.square_rank(sq) if us == chess.WHITE else 7 - chess.square_rank(sq)
                    planes[13 * i + 6 * c + p, rank, chess.square_file(sq)] = 1
        planes[13 * i + 12] = clock >= 4 and any(
            history[j][:4] == history[i][:4] for j in range(i + 4, min(len(history), i + clock + 1), 2))
    assert len(history) >= 8 or history[-1][0] == chess.STARTING_BOARD_FEN  # games below start at startpos
    planes[104:108] = np.array([board.has_queenside_castling_rights(us), board.has_kingside_castling_rights(us),
                                board.has_queenside_castling_rights(not us),
                                board.has_kingside_castling_rights(not us)], np.float32)[:, None, None]
    planes[108], planes[109], planes[111] = us == chess.BLACK, board.halfmove_clock, 1
    return planes


def test_encoding_matches_a_slow_oracle_on_random_games() -> None:
    rng = random.Random(5)
    boards = []
    for _ in range(60):
        board = chess.Board()
        for ply in range(rng.randint(1, 120)):
            moves = list(board.legal_moves)
            if not moves:
                break
            # knight shuffles now and then, so positions repeat inside the rule-50 window
            shuffle = [m for m in moves if board.piece_type_at(m.from_square) == chess.KNIGHT]
            board.push(rng.choice(shuffle if shuffle and ply % 7 < 4 else moves))
        boards.append(board)
    got = encode_batch(boards)
    assert got[:, 12::13][:, :8].any()  # some repetition planes are set
    for b, planes in zip(boards, got):
        np.testing.assert_array_equal(planes, _slow_planes(b))
