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


def _lc0_ep(board: chess.Board) -> int | None:
    """lc0's en-passant flag: the ep square, only when an enemy pawn stands beside the double-stepped pawn."""
    ep = board.ep_square
    if ep is None:
        return None
    pawn_sq = ep - 8 if board.turn == chess.WHITE else ep + 8
    beside = [pawn_sq + d for d in (-1, 1) if 0 <= (pawn_sq % 8) + d < 8]
    return ep if any(board.piece_at(s) == chess.Piece(chess.PAWN, board.turn) for s in beside) else None


def _key(board: chess.Board) -> tuple:
    """What lc0 compares for repetitions: pieces, side to move, castling rights, its en-passant flag."""
    return (board.pawns, board.knights, board.bishops, board.rooks, board.queens, board.kings,
            board.occupied_co[chess.WHITE], board.turn, board.castling_rights, _lc0_ep(board))


def _piece_masks(board: chess.Board, us: chess.Color) -> list[int]:
    """Our P N B R Q K then their P N B R Q K bitboards."""
    pieces = (board.pawns, board.knights, board.bishops, board.rooks, board.queens, board.kings)
    return [bb & board.occupied_co[color] for color in (us, not us) for bb in pieces]


def _history(board: chess.Board, us: chess.Color) -> tuple[list[int], list[bool], chess.Board | None]:
    """Piece bitboards of up to 8 history slots (newest first, 12 per slot), their repetition flags, and the
    game's first position when it is within the 8 slots (else None).

    Only the plies that can matter are walked: 7 for the slots, plus the rule-50 window of the repetition search.
    """
    need = min(len(board.move_stack), max(HISTORY - 1, board.halfmove_clock + HISTORY))
    work = board.copy(stack=need)
    masks: list[int] = []
    keys, clocks = [], []
    while True:
        if len(clocks) < HISTORY:
            masks += _piece_masks(work, us)
        keys.append(_key(work))
        clocks.append(work.halfmove_clock)
        if not work.move_stack:
            break
        work.pop()
    slots = min(len(clocks), HISTORY)
    reps = []
    for i in range(slots):
        # fixture README: the same position an even number (>= 4) of plies earlier, within the rule-50 window
        window = range(i + 4, min(len(keys), i + clocks[i] + 1), 2)
        reps.append(clocks[i] >= 4 and any(keys[j] == keys[i] for j in window))
    root = work if len(board.move_stack) < HISTORY else None
    return masks, reps, root


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
    masks, reps, root = _history(board, us)
    filled = len(reps)
    startpos = root is not None and root.board_fen() == chess.STARTING_BOARD_FEN and root.turn == chess.WHITE
    if root is not None and filled < HISTORY and not startpos:  # a FEN start: older slots copy it (§6.2)
        masks += _piece_masks(_fen_copy(root), us) * (HISTORY - filled)
        reps += [False] * (HISTORY - filled)
        filled = HISTORY
    bits = np.unpackbits(np.array(masks, dtype="<u8").view(np.uint8), bitorder="little").reshape(-1, 12, 8, 8)
    if us == chess.BLACK:
        bits = bits[:, :, ::-1, :]  # mirror ranks: the side to move plays up the board
    planes = np.zeros((PLANES, 8, 8), np.float32)
    slots = planes[: 13 * HISTORY].reshape(HISTORY, 13, 8, 8)
    slots[:filled, :12] = bits
    slots[:filled, 12] = np.asarray(reps, np.float32)[:, None, None]
    them = not us
    planes[104] = board.has_queenside_castling_rights(us)
    planes[105] = board.has_kingside_castling_rights(us)
    planes[106] = board.has_queenside_castling_rights(them)
    planes[107] = board.has_kingside_castling_rights(them)
    planes[108] = us == chess.BLACK
    planes[109] = board.halfmove_clock
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
