"""lc0's 112 input planes from a python-chess board and its move stack (shared/specs/lc0.md §6, classical format 1).

Planes ``[112, 8, 8]`` float32, element ``[rank, file]`` in the side-to-move frame (black to move: ranks mirrored):
8 history slots × 13 (our P N B R Q K, their P N B R Q K, repetition), castling 104–107, black-to-move 108,
raw rule-50 count 109, zeros 110, ones 111. History follows lc0 v0.31.2's FEN_ONLY fill (§6.2).
"""

from __future__ import annotations

import chess
import numpy as np

from boardnet.lc0.policy_map import move_index

HISTORY = 8
PLANES = 112
PIECE_TYPES = (chess.PAWN, chess.KNIGHT, chess.BISHOP, chess.ROOK, chess.QUEEN, chess.KING)


# A position as plain ints, read straight from python-chess (no Board copies, no pops):
# (pawns, knights, bishops, rooks, queens, kings, white, black, turn, castling_rights, ep_square, halfmove_clock)
Snapshot = tuple
PIECES, WHITE_OCC, BLACK_OCC, TURN, CASTLING, EP, CLOCK = slice(0, 6), 6, 7, 8, 9, 10, 11
START = chess.Board()
START_PIECES = (START.pawns, START.knights, START.bishops, START.rooks, START.queens, START.kings,
                START.occupied_co[chess.WHITE], START.occupied_co[chess.BLACK])


def _ep_neighbours(ep: int) -> int:
    """Squares from which a pawn of the side to move could take en passant on ``ep`` (rank 6 or rank 3)."""
    pawn_sq = ep - 8 if ep >= 32 else ep + 8
    return sum(1 << (pawn_sq + d) for d in (-1, 1) if 0 <= (pawn_sq % 8) + d < 8)


EP_NEIGHBOURS = {ep: _ep_neighbours(ep) for ep in list(range(16, 24)) + list(range(40, 48))}


def _snapshots(board: chess.Board, n: int) -> list[Snapshot]:
    """The board now, then the positions before each of its last ``n - 1`` moves (newest first).

    Reads python-chess's saved states ``board._stack`` (one per move in ``move_stack``, stable since 1.0):
    walking them is ~10x cheaper than ``copy()`` + ``pop()``, which dominated the encoding time.
    """
    out = [(board.pawns, board.knights, board.bishops, board.rooks, board.queens, board.kings,
            board.occupied_co[chess.WHITE], board.occupied_co[chess.BLACK], board.turn, board.castling_rights,
            board.ep_square, board.halfmove_clock)]
    stack = board._stack
    for st in reversed(stack[max(0, len(stack) - (n - 1)):]):
        out.append((st.pawns, st.knights, st.bishops, st.rooks, st.queens, st.kings, st.occupied_w, st.occupied_b,
                    st.turn, st.castling_rights, st.ep_square, st.halfmove_clock))
    return out


def _key(st: Snapshot) -> tuple:
    """What lc0 compares for repetitions: pieces, side to move, castling rights, and its en-passant flag (the ep
    square only when a pawn of the side to move stands beside the double-stepped pawn)."""
    ep = st[EP]
    if ep is not None and not st[0] & st[WHITE_OCC if st[TURN] else BLACK_OCC] & EP_NEIGHBOURS.get(ep, 0):
        ep = None
    return (*st[:7], st[TURN], st[CASTLING], ep)


def _fen_copy(root: Snapshot) -> Snapshot:
    """A history-fill copy of a FEN start: the double-stepped pawn back on its start square (§6.2)."""
    ep = root[EP]
    if ep is None:
        return root
    now, before = (ep - 8, ep + 8) if root[TURN] == chess.WHITE else (ep + 8, ep - 8)
    out = list(root)
    for i in range(8):  # take whatever stands on `now` off every bitboard
        out[i] &= ~(1 << now)
    them = BLACK_OCC if root[TURN] == chess.WHITE else WHITE_OCC
    out[0] |= 1 << before
    out[them] |= 1 << before
    return tuple(out)


def _slot_masks(st: Snapshot, us: chess.Color) -> list[int]:
    """Our P N B R Q K then their P N B R Q K bitboards of one history slot."""
    p, n, b, r, q, k, white, black = st[:8]
    o, t = (white, black) if us == chess.WHITE else (black, white)
    return [p & o, n & o, b & o, r & o, q & o, k & o, p & t, n & t, b & t, r & t, q & t, k & t]


def _history(board: chess.Board) -> tuple[list[int], list[bool]]:
    """96 piece bitboards (8 slots × 12, newest first, zeros where lc0 leaves a slot empty) and the 8 slots'
    repetition flags, with lc0 v0.31.2's FEN_ONLY fill (§6.2).

    Only the plies that can matter are read: 7 for the slots, and deeper ones only when a slot's rule-50 window
    reaches them (its repetition search).
    """
    us = board.turn
    total = len(board.move_stack) + 1  # positions the board knows
    states = _snapshots(board, min(total, HISTORY))
    slots = len(states)
    masks: list[int] = []
    for st in states:
        masks += _slot_masks(st, us)
    reps = []
    keys: list[tuple] = []
    for i in range(slots):
        clock = states[i][CLOCK]
        # fixture README: the same position an even number (>= 4) of plies earlier, within the rule-50 window
        window = range(i + 4, min(total, i + clock + 1), 2)
        if clock < 4 or not window:
            reps.append(False)
            continue
        if len(states) <= window[-1]:  # a long quiet stretch: read deeper into the game
            states = _snapshots(board, window[-1] + 1)
        while len(keys) <= window[-1]:
            keys.append(_key(states[len(keys)]))
        reps.append(any(keys[j] == keys[i] for j in window))
    if slots < HISTORY:
        root = states[slots - 1]  # the game's first position lies within the 8 slots
        startpos = root[:8] == START_PIECES and root[TURN] == chess.WHITE
        if not startpos:  # a FEN start: older slots copy it (§6.2)
            masks += _slot_masks(_fen_copy(root), us) * (HISTORY - slots)
            reps += [False] * (HISTORY - slots)
    masks += [0] * (12 * HISTORY - len(masks))
    reps += [False] * (HISTORY - len(reps))
    return masks, reps


def _scalars(board: chess.Board) -> list[float]:
    """Planes 104..111: castling (we O-O-O, we O-O, they O-O-O, they O-O), black to move, raw rule-50, 0, 1."""
    us, them = board.turn, not board.turn
    return [board.has_queenside_castling_rights(us), board.has_kingside_castling_rights(us),
            board.has_queenside_castling_rights(them), board.has_kingside_castling_rights(them),
            us == chess.BLACK, board.halfmove_clock, 0.0, 1.0]


def encode_batch(boards: list[chess.Board]) -> np.ndarray:
    """``[N, 112, 8, 8]`` float32 planes of ``boards`` (each with its move stack), as lc0 builds them:
    bitboards for all N × 96 slots go through one ``np.unpackbits`` (byte-swapped for black: mirrored ranks)."""
    n = len(boards)
    masks, extra = [], []
    for board in boards:
        m, reps = _history(board)
        masks.append(m)
        extra.append(reps + _scalars(board))
    bb = np.array(masks, dtype="<u8").reshape(n, 12 * HISTORY)
    black = [i for i, board in enumerate(boards) if board.turn == chess.BLACK]
    if black:
        bb[black] = bb[black].byteswap()  # rank r -> 7 - r: the side to move plays up the board
    bits = np.unpackbits(bb.view(np.uint8), axis=1, bitorder="little")  # [N, 96·64], bit i = square i
    flags = np.array(extra, np.float32).reshape(n, HISTORY + 8)
    planes = np.empty((n, PLANES, 64), np.float32)
    slots = planes[:, : 13 * HISTORY].reshape(n, HISTORY, 13, 64)
    slots[:, :, :12] = bits.reshape(n, HISTORY, 12, 64)
    slots[:, :, 12] = flags[:, :HISTORY, None]
    planes[:, 13 * HISTORY:] = flags[:, HISTORY:, None]
    return planes.reshape(n, PLANES, 8, 8)


def encode(board: chess.Board) -> np.ndarray:
    """``[112, 8, 8]`` float32 planes of ``board`` (with its move stack), as lc0 builds them."""
    return encode_batch([board])[0]


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
