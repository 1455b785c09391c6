"""lc0's 112 input planes from a python-chess board and its move stack (shared/specs/lc0.md §6, classical format 1).

Planes ``[112, 8, 8]`` float32, element ``[rank, file]`` in the side-to-move frame (black to move: ranks mirrored):
8 history slots × 13 (our P N B R Q K, their P N B R Q K, repetition), castling 104–107, black-to-move 108,
raw rule-50 count 109, zeros 110, ones 111. History follows lc0 v0.31.2's FEN_ONLY fill (§6.2).
"""

from __future__ import annotations

import chess
import numpy as np

from boardnet.games.chess_policy import move_index

HISTORY = 8
PLANES = 112
PIECE_TYPES = (chess.PAWN, chess.KNIGHT, chess.BISHOP, chess.ROOK, chess.QUEEN, chess.KING)


def _bits(bb: int) -> np.ndarray:
    """A 64-bit board as ``[8, 8]`` 0/1 (bit i -> element ``[i // 8, i % 8]``)."""
    return np.unpackbits(np.array([bb], dtype="<u8").view(np.uint8), bitorder="little").reshape(8, 8)


def _lc0_ep(board: chess.Board) -> int | None:
    """lc0's en-passant flag: the ep square, only when an enemy pawn stands beside the double-stepped pawn."""
    ep = board.ep_square
    if ep is None:
        return None
    pawn_sq = ep - 8 if board.turn == chess.WHITE else ep + 8
    beside = [pawn_sq + d for d in (-1, 1) if 0 <= (pawn_sq % 8) + d < 8]
    return ep if any(board.piece_at(s) == chess.Piece(chess.PAWN, board.turn) for s in beside) else None


def _key(board: chess.Board) -> tuple:
    return (board.board_fen(), board.turn, board.castling_rights, _lc0_ep(board))


def _slot_planes(board: chess.Board, us: chess.Color, repeated: bool) -> np.ndarray:
    """The 13 planes of one history slot, seen by ``us`` (mirrored when ``us`` is black)."""
    out = np.zeros((13, 8, 8), np.float32)
    for k, color in enumerate((us, not us)):
        for j, piece in enumerate(PIECE_TYPES):
            bb = int(board.pieces_mask(piece, color))
            out[6 * k + j] = _bits(chess.flip_vertical(bb) if us == chess.BLACK else bb)
    if repeated:
        out[12] = 1.0
    return out


def _history(board: chess.Board) -> tuple[list[chess.Board], list[bool]]:
    """Boards newest first (up to 8) and their repetition flags, from the real game history."""
    work = board.copy()
    boards, keys = [work.copy(stack=False)], [_key(work)]
    clocks = [work.halfmove_clock]
    while work.move_stack:
        work.pop()
        boards.append(work.copy(stack=False))
        keys.append(_key(work))
        clocks.append(work.halfmove_clock)
    reps = []
    for i in range(min(HISTORY, len(boards))):
        # §6 / fixture README: same position an even number of plies earlier, within the rule-50 window
        reps.append(clocks[i] >= 4 and any(keys[j] == keys[i] for j in range(i + 4, min(len(keys), i + clocks[i] + 1), 2)))
    return boards[:HISTORY], reps


def _fen_copy(root: chess.Board) -> chess.Board:
    """A history-fill copy of a FEN start: the double-stepped pawn back on its start square (§6.2)."""
    copy = root.copy(stack=False)
    if root.ep_square is not None:
        them = not root.turn
        now = root.ep_square + (-8 if root.turn == chess.WHITE else 8)
        before = root.ep_square + (8 if root.turn == chess.WHITE else -8)
        copy.remove_piece_at(now)
        copy.set_piece_at(before, chess.Piece(chess.PAWN, them))
    return copy


def encode(board: chess.Board) -> np.ndarray:
    """``[112, 8, 8]`` float32 planes of ``board`` (with its move stack), as lc0 builds them."""
    us = board.turn
    planes = np.zeros((PLANES, 8, 8), np.float32)
    boards, reps = _history(board)
    for i, (b, rep) in enumerate(zip(boards, reps)):
        planes[13 * i: 13 * i + 13] = _slot_planes(b, us, rep)
    root = boards[-1] if len(board.move_stack) < HISTORY else None
    if root is not None and len(boards) < HISTORY:
        startpos = root.board_fen() == chess.STARTING_BOARD_FEN and root.turn == chess.WHITE
        if not startpos:
            fill = _slot_planes(_fen_copy(root), us, False)
            for i in range(len(boards), HISTORY):
                planes[13 * i: 13 * i + 13] = fill
    them = not us
    for plane, ok in ((104, board.has_queenside_castling_rights(us)), (105, board.has_kingside_castling_rights(us)),
                      (106, board.has_queenside_castling_rights(them)), (107, board.has_kingside_castling_rights(them))):
        planes[plane] = float(ok)
    planes[108] = float(us == chess.BLACK)
    planes[109] = float(board.halfmove_clock)
    planes[111] = 1.0
    return planes


def policy_index(board: chess.Board, move: chess.Move) -> int:
    """The 1858 index of a legal ``move`` (side-to-move frame, castling as king takes rook, no knight suffix)."""
    uci = move.uci()
    if board.is_castling(move):
        uci = uci[:2] + ("h" if uci[2] == "g" else "a") + uci[3]
    if board.turn == chess.BLACK:
        uci = uci[0] + str(9 - int(uci[1])) + uci[2] + str(9 - int(uci[3])) + uci[4:]
    return move_index()[uci[:4] if uci.endswith("n") else uci]


def legal_policy(board: chess.Board, logits: np.ndarray) -> list[tuple[chess.Move, float]]:
    """Softmax of ``logits [1858]`` over the legal moves only, best first."""
    moves = list(board.legal_moves)
    if not moves:
        return []
    z = np.array([logits[policy_index(board, m)] for m in moves], dtype=np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    return sorted(zip(moves, p.tolist()), key=lambda t: -t[1])
