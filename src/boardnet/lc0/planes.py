"""lc0's 112 input planes from a python-chess board and its move stack (shared/specs/lc0.md §6, classical format 1).

Planes ``[112, 8, 8]`` float32, element ``[rank, file]`` in the side-to-move frame (black to move: ranks mirrored):
8 history slots × 13 (our P N B R Q K, their P N B R Q K, repetition), castling 104–107, black-to-move 108,
raw rule-50 count 109, zeros 110, ones 111. History follows lc0 v0.31.2's FEN_ONLY fill (§6.2).
"""

from __future__ import annotations

import chess
import numpy as np
from numba import njit

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


# ------------------------------------------------------------------------------ whole games (PGN -> chunks)
# The same planes for every position of a game at once, from core/chess_moves' arrays (core/pgn.Plies):
# ``pos [N, 9]`` uint64 (P N B R Q K white black castling) and ``state [N, 3]`` (colour to move 0/1, ep square
# or -1, halfmove clock). tests/lc0/test_chunks checks them equal to ``encode`` of python-chess boards.

EP_NEIGHBOUR_MASKS = np.array([EP_NEIGHBOURS.get(sq, 0) for sq in range(64)], np.uint64)
A_CORNERS = np.array([[chess.BB_A1, chess.BB_A8], [chess.BB_A8, chess.BB_A1]], np.uint64)  # [us, us/them]
H_CORNERS = np.array([[chess.BB_H1, chess.BB_H8], [chess.BB_H8, chess.BB_H1]], np.uint64)


@njit(cache=True)
def _repetitions(keys: np.ndarray, clock: np.ndarray) -> np.ndarray:
    """``[N]`` lc0's repetition flag of each position: the same key ``[N, K]`` an even number (>= 4) of plies
    earlier, within its rule-50 window (fixture README; ``_history``)."""
    n = keys.shape[0]
    out = np.zeros(n, np.bool_)
    for a in range(n):
        for k in range(4, min(clock[a], a) + 1, 2):
            same = True
            for c in range(keys.shape[1]):
                if keys[a, c] != keys[a - k, c]:
                    same = False
                    break
            if same:
                out[a] = True
                break
    return out


def _lc0_keys(pos: np.ndarray, state: np.ndarray) -> np.ndarray:
    """``[N, 11]`` what lc0 compares for repetitions (see ``_key``): the bitboards, castling, colour to move and
    the ep square only when a pawn of the side to move stands beside the double-stepped pawn."""
    ep = state[:, 1]
    ours = np.where(state[:, 0] == 0, pos[:, 6], pos[:, 7])
    beside = EP_NEIGHBOUR_MASKS[np.maximum(ep, 0)] & pos[:, 0] & ours
    lc0_ep = np.where((ep >= 0) & (beside != 0), ep, -1)
    return np.concatenate([pos, state[:, :1].astype(np.uint64), lc0_ep[:, None].astype(np.uint64)], axis=1)


def game_bitplanes(pos: np.ndarray, state: np.ndarray, n: int) -> np.ndarray:
    """``[n, 104]`` uint64 history planes of the game's first ``n`` positions (8 slots x (our P N B R Q K, their
    P N B R Q K, repetition = all ones)), square ``i`` = bit ``i`` in the side-to-move frame, as ``encode``
    (lc0 v0.31.2's FEN_ONLY fill for a FEN start, §6.2)."""
    m = len(pos)
    rep = _repetitions(_lc0_keys(pos, state), state[:, 2])
    pieces = pos[:, :6]
    white_first = np.concatenate([pieces & pos[:, 6:7], pieces & pos[:, 7:8]], axis=1)  # [m, 12]
    root = (*pos[0, :8].tolist(), bool(state[0, 0] == 0), int(pos[0, 8]), None if state[0, 1] < 0 else int(state[0, 1]),
            int(state[0, 2]))
    startpos = tuple(root[:8]) == START_PIECES and root[TURN] == chess.WHITE
    fill = np.zeros((1, 12), np.uint64)
    if not startpos:
        fen = _fen_copy(root)
        fill[0] = [fen[i] & fen[c] for c in (WHITE_OCC, BLACK_OCC) for i in range(6)]
    white_first = np.concatenate([white_first, fill])  # row m: the slots before a FEN start (zeros otherwise)
    black_first = np.concatenate([white_first[:, 6:], white_first[:, :6]], axis=1).byteswap()  # mirrored ranks
    rep = np.concatenate([rep, [False]])
    at = np.arange(n)[:, None] - np.arange(HISTORY)[None, :]  # [n, 8]: position of each slot
    at = np.where(at < 0, m, at)
    black = state[:n, 0] == 1
    slots = np.where(black[:, None, None], black_first[at], white_first[at])  # [n, 8, 12]
    reps = np.where(rep[at], np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64(0))[:, :, None]
    return np.concatenate([slots, reps], axis=2).reshape(n, 13 * HISTORY)


def game_castling(pos: np.ndarray, state: np.ndarray, n: int) -> np.ndarray:
    """``[n, 4]`` uint8 planes 104..107 (we O-O-O, we O-O, they O-O-O, they O-O) of the first ``n`` positions
    (a right = its rook square in python-chess's clean castling rights)."""
    us = state[:n, 0]
    rights = pos[:n, 8]
    return np.stack([rights & A_CORNERS[us, 0], rights & H_CORNERS[us, 0], rights & A_CORNERS[us, 1],
                     rights & H_CORNERS[us, 1]], axis=1).astype(bool).astype(np.uint8)


def _policy_table() -> np.ndarray:
    """``[64·64, 4]`` int64 policy index of (from, to) in the side-to-move frame, by promotion: none or knight,
    queen, rook, bishop; -1 where lc0 has no such move."""
    table = np.full((64 * 64, 4), -1, np.int64)
    slot = {"": 0, "q": 1, "r": 2, "b": 3}
    for uci, i in move_index().items():
        frm = chess.SQUARE_NAMES.index(uci[:2])
        to = chess.SQUARE_NAMES.index(uci[2:4])
        table[frm * 64 + to, slot[uci[4:]]] = i
    return table


POLICY_TABLE = _policy_table()
PROMO_SLOT = np.array([0, 0, 0, 3, 2, 1, 0, 0], np.int64)  # python-chess piece type -> column of POLICY_TABLE


def packed_policy_indices(moves: np.ndarray, black: np.ndarray) -> np.ndarray:
    """Policy indices of packed moves (core/chess_moves: from | to << 6 | promotion << 12 | castling << 15), each
    played by black where ``black``: castling as king takes rook, black's moves mirrored, like ``policy_index``."""
    frm, to, promo = moves & 63, (moves >> 6) & 63, (moves >> 12) & 7
    castling = (moves >> 15) & 1 == 1
    to = np.where(castling, (to & 56) | np.where((to & 7) == 6, 7, 0), to)
    flip = np.where(black, 56, 0)
    return POLICY_TABLE[(frm ^ flip) * 64 + (to ^ flip), PROMO_SLOT[promo]]
