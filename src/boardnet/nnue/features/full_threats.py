"""Full_Threats feature block (Stockfish 18 big net): one input per (attacker, from, to, attacked) threat.

Source: Stockfish ``sf_18`` ``src/nnue/features/full_threats.{h,cpp}`` (``make_index``, ``init_threat_offsets``,
``init_index_luts``, ``index_lut2_array``, ``append_active_indices``). 79,856 inputs, hash ``0x8F234CB8``.

Pieces use Stockfish's codes ``colour * 8 + type`` (type P..K = 1..6); squares a1 = 0 .. h8 = 63.

Index of a threat seen from perspective ``p`` with own king on ``ksq``:

    o   = (0 if file(ksq) < 4 else 7) ^ (56 if p is black else 0)      # mirror so the king is on files a-d
    f, t = from ^ o, to ^ o ;  A, D = attacker ^ 8p, attacked ^ 8p      # black perspective swaps colours
    index = LUT1[A][D][f < t] + OFFSET[A][f] + LUT2[A][f][t]

* ``OFFSET[A][f]``: number of (square, target) pairs of piece A before square f (pawns only from ranks 2-7).
* ``LUT2[A][f][t]``: number of A's empty-board targets from f below square t.
* ``LUT1[A][D][k] = base[A] + (colour(D) * targets[A] / 2 + MAP[type A][type D]) * pairs[A]``; ``base`` is the
  running sum over W_P..W_K, B_P..B_K of ``targets * pairs``; excluded (= 79,856, dropped) when MAP is -1, and
  for ``k = 1`` (from < to) also when both have the same type unless they are same-colour pawns (each mutual
  same-type threat is counted once).
"""

from __future__ import annotations

import chess
import numpy as np
from numba import njit

from boardnet.core.errors import FormatError
from boardnet.nnue.features.block import FeatureBlock, no_factors

NAME = "Full_Threats"
HASH = 0x8F234CB8
NUM_FEATURES = 79856
MAX_ACTIVE = 128  # FullThreats::MaxActiveDimensions

# targets per piece code (numValidTargets), MAP[attacker type - 1][attacked type - 1]
TARGETS = (0, 6, 12, 10, 10, 12, 8, 0, 0, 6, 12, 10, 10, 12, 8, 0)
MAP = ((0, 1, -1, 2, -1, -1),
       (0, 1, 2, 3, 4, 5),
       (0, 1, 2, 3, -1, 4),
       (0, 1, 2, 3, -1, 4),
       (0, 1, 2, 3, 4, 5),
       (0, 1, 2, 3, -1, -1))
PIECES = (1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14)  # W_PAWN..W_KING, B_PAWN..B_KING


def pseudo_attacks(piece: int, sq: int) -> int:
    """Empty-board attack bitboard of a piece code on ``sq`` (pawns: captures only)."""
    pt = piece & 7
    if pt == chess.PAWN:
        return chess.BB_PAWN_ATTACKS[chess.WHITE if piece < 8 else chess.BLACK][sq]
    if pt == chess.KNIGHT:
        return chess.BB_KNIGHT_ATTACKS[sq]
    if pt == chess.KING:
        return chess.BB_KING_ATTACKS[sq]
    diag = chess.BB_DIAG_ATTACKS[sq][0]
    line = chess.BB_FILE_ATTACKS[sq][0] | chess.BB_RANK_ATTACKS[sq][0]
    return {chess.BISHOP: diag, chess.ROOK: line, chess.QUEEN: diag | line}[pt]


def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(LUT1 int64 [16, 16, 2], OFFSET int64 [16, 64], LUT2 int64 [16, 64, 64])."""
    offset = np.zeros((16, 64), np.int64)
    lut2 = np.zeros((16, 64, 64), np.int64)
    pairs = np.zeros(16, np.int64)
    base = np.zeros(16, np.int64)
    running = 0
    for pc in PIECES:
        count = 0
        for sq in range(64):
            offset[pc, sq] = count
            att = pseudo_attacks(pc, sq)
            if pc & 7 != chess.PAWN or 8 <= sq < 56:
                count += chess.popcount(att)
            bits = np.array([(att >> t) & 1 for t in range(64)], np.int64)
            lut2[pc, sq] = np.concatenate(([0], np.cumsum(bits)[:-1]))
        pairs[pc], base[pc] = count, running
        running += TARGETS[pc] * count
    assert running == NUM_FEATURES
    lut1 = np.full((16, 16, 2), NUM_FEATURES, np.int64)
    for a in PIECES:
        for d in PIECES:
            m = MAP[(a & 7) - 1][(d & 7) - 1]
            if m < 0:
                continue
            feature = base[a] + ((d >> 3) * (TARGETS[a] // 2) + m) * pairs[a]
            semi = (a & 7) == (d & 7) and ((a ^ d) == 8 or (a & 7) != chess.PAWN)
            lut1[a, d, 0] = feature
            lut1[a, d, 1] = NUM_FEATURES if semi else feature
    return lut1, offset, lut2


LUT1, OFFSET, LUT2 = _tables()


def piece_code(piece: chess.Piece) -> int:
    """Stockfish piece code of a python-chess piece (W_PAWN = 1 .. B_KING = 14)."""
    return (0 if piece.color == chess.WHITE else 8) + piece.piece_type


def threats(board: chess.Board) -> np.ndarray:
    """All threats of ``board``: int64 ``[n, 4]`` rows (attacker code, from, to, attacked code).

    A threat is a piece attacking an occupied square (either colour) given the board's occupancy; pawns attack
    diagonally forward only (no en passant). Same for both perspectives.
    """
    occ = board.occupied
    rows = []
    for sq, pc in board.piece_map().items():
        a = piece_code(pc)
        att = board.attacks_mask(sq) & occ if pc.piece_type != chess.PAWN else pseudo_attacks(a, sq) & occ
        for to in chess.scan_forward(att):
            rows.append((a, sq, to, piece_code(board.piece_at(to))))
    return np.array(rows, np.int64).reshape(-1, 4)


def make_index(perspective: chess.Color, rows: np.ndarray, ksq: int) -> np.ndarray:
    """``make_index`` for threat rows ``[n, 4]`` (see :func:`threats`) -> int64 ``[n]``; values
    ``>= NUM_FEATURES`` are excluded threats."""
    flip = 0 if perspective == chess.WHITE else 1
    o = (0 if chess.square_file(ksq) < 4 else 7) ^ (56 * flip)
    a, f, t, d = rows[:, 0] ^ (8 * flip), rows[:, 1] ^ o, rows[:, 2] ^ o, rows[:, 3] ^ (8 * flip)
    return LUT1[a, d, (f < t).astype(np.int64)] + OFFSET[a, f] + LUT2[a, f, t]


def active_features(board: chess.Board, perspective: chess.Color) -> list[int]:
    """Sorted active Full_Threats indices of ``board`` from ``perspective`` (at most 128 in practice)."""
    king = board.king(perspective)
    if king is None:
        raise ValueError("Full_Threats needs both kings on the board")
    idx = make_index(perspective, threats(board), king)
    return sorted(int(i) for i in idx[idx < NUM_FEATURES])


def _step_targets() -> np.ndarray:
    """``[16, 64, 8]``: target squares (-1 padded) of each piece code's step attacks (pawn captures, knight,
    king); sliders' rows stay empty."""
    out = np.full((16, 64, 8), -1, np.int8)
    for pc in PIECES:
        if pc & 7 in (chess.BISHOP, chess.ROOK, chess.QUEEN):
            continue
        for sq in range(64):
            to = list(chess.scan_forward(pseudo_attacks(pc, sq)))
            out[pc, sq, :len(to)] = to
    return out


def _rays() -> np.ndarray:
    """``[8, 64, 7]``: squares along each direction (0-3 rook: E W N S, 4-7 bishop) from each square, nearest
    first, -1 off the board."""
    out = np.full((8, 64, 7), -1, np.int8)
    dirs = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
    for d, (df, dr) in enumerate(dirs):
        for sq in range(64):
            for k in range(1, 8):
                f, r = sq % 8 + k * df, sq // 8 + k * dr
                if not (0 <= f < 8 and 0 <= r < 8):
                    break
                out[d, sq, k - 1] = 8 * r + f
    return out


STEPS, RAYS = _step_targets().astype(np.int64), _rays().astype(np.int64)
# first and last ray direction of each piece type (bishop 4-7, rook 0-3, queen 0-7; others none)
_DIR_RANGE = np.array([[0, 0], [0, 0], [0, 0], [4, 8], [0, 4], [0, 8], [0, 0], [0, 0]], np.int64)


@njit(cache=True)
def _batch_kernel(list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray, lut1: np.ndarray,
                  offset: np.ndarray, lut2: np.ndarray, steps: np.ndarray, rays: np.ndarray,
                  dir_range: np.ndarray, out: np.ndarray) -> int:
    """Fill ``out [N, 2, W]`` with the active indices of (stm, nstm); returns -1, or the first
    position with more than ``W`` active threats."""
    n, width = list_sq.shape[0], out.shape[2]
    board = np.zeros(64, np.int64)
    att = np.empty(512, np.int64)
    frm = np.empty(512, np.int64)
    to = np.empty(512, np.int64)
    vic = np.empty(512, np.int64)
    for i in range(n):
        board[:] = 0
        cnt = 0
        for j in range(list_code.shape[1]):
            c = list_code[i, j]
            if c == 0:
                break
            board[list_sq[i, j]] = c if c <= 6 else c + 2  # 7..12 black -> Stockfish codes 9..14
            cnt += 1
        kings = (list_sq[i, cnt - 2], list_sq[i, cnt - 1])  # white, black
        m = 0
        for j in range(cnt):
            sq = list_sq[i, j]
            a = board[sq]
            t = a & 7
            if dir_range[t, 1] == 0:
                for k in range(8):
                    s = steps[a, sq, k]
                    if s < 0:
                        break
                    if board[s] != 0:
                        att[m], frm[m], to[m], vic[m] = a, sq, s, board[s]
                        m += 1
            else:
                for d in range(dir_range[t, 0], dir_range[t, 1]):
                    for k in range(7):
                        s = rays[d, sq, k]
                        if s < 0:
                            break
                        if board[s] != 0:
                            att[m], frm[m], to[m], vic[m] = a, sq, s, board[s]
                            m += 1
                            break
        for side in range(2):
            p = turn[i] if side == 0 else 1 - turn[i]
            ksq = kings[p]
            o = (0 if ksq % 8 < 4 else 7) ^ (56 * p)
            w = 0
            for r in range(m):
                a, d = att[r] ^ (8 * p), vic[r] ^ (8 * p)
                f, t = frm[r] ^ o, to[r] ^ o
                idx = lut1[a, d, 1 if f < t else 0] + offset[a, f] + lut2[a, f, t]
                if idx < NUM_FEATURES:
                    if w == width:
                        return i
                    out[i, side, w] = idx
                    w += 1
            out[i, side, w:] = -1
    return -1


def batch(list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """Vectorized :func:`active_features` of decoded piece lists (``FeatureBlock.batch``): ``int64 [N, 2, 128]``
    (stm, nstm), -1 padded, in one compiled pass (no python-chess)."""
    out = np.empty((len(turn), 2, MAX_ACTIVE), np.int64)
    bad = _batch_kernel(np.ascontiguousarray(list_sq, np.int8), np.ascontiguousarray(list_code, np.int8),
                        np.ascontiguousarray(turn, np.int8), LUT1, OFFSET, LUT2, STEPS, RAYS, _DIR_RANGE, out)
    if bad >= 0:
        raise FormatError(None, f"position {bad} has more than {MAX_ACTIVE} active threats", field="Full_Threats")
    return out


BLOCK = FeatureBlock(NAME, HASH, NUM_FEATURES, 0, active_features, no_factors(NUM_FEATURES), plain=NAME,
                     batch=batch, max_active=MAX_ACTIVE)
