"""Compiled standard-chess move generation and SAN resolution for the PGN reader (numba, python-chess's rules).

:func:`play_game` plays a game's mainline SAN tokens from its start position the way python-chess's
``Board.parse_san`` and ``Board.push`` do, and applies :mod:`boardnet.core.pgn`'s move checks (null move, a move
that does not resolve to exactly one legal move, a move after the 75-move rule or a fivefold repetition). It
keeps every position and every position's legal moves, so readers need no python-chess board per ply.

Boards are bitboards, square ``file + 8·rank`` (a1 = 0): ``pos[i] = (P, N, B, R, Q, K, white, black, castling)``
(``castling`` = the rook squares that keep a right, python-chess's ``castling_rights``) and
``state[i] = (colour to move: 0 white / 1 black, python-chess's ``ep_square`` or -1, halfmove clock)``.
A move is ``from | to << 6 | promotion << 12 | castling << 15`` (promotion as a python-chess piece type, 0 = none;
castling is the king's move e1g1 / e1c1 as python-chess writes it).

Only standard chess from a valid start (python-chess ``Board.status() == STATUS_VALID``) is played: its castling
rights are clean, and stay so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

PAWN, KNIGHT, BISHOP, ROOK, QUEEN, KING = 0, 1, 2, 3, 4, 5  # bitboard rows; python-chess piece type = row + 1
WHITE_ROW, BLACK_ROW, CASTLE_ROW = 6, 7, 8
# SAN descriptor kinds (see core/pgn.san_descriptor)
SAN, SQUARES, CASTLE_SHORT, CASTLE_LONG, NULL, INVALID = 0, 1, 2, 3, 4, 5
# why play_game stopped
OK, ILLEGAL, NULL_MOVE, GAME_OVER = 0, 1, 2, 3
CASTLING_FLAG = 1 << 15


def _step_table(steps: tuple[tuple[int, int], ...]) -> np.ndarray:
    """``uint64 [64]``: squares one (file, rank) step away from each square."""
    out = np.zeros(64, np.uint64)
    for sq in range(64):
        f, r = sq & 7, sq >> 3
        for df, dr in steps:
            if 0 <= f + df < 8 and 0 <= r + dr < 8:
                out[sq] |= np.uint64(1 << (8 * (r + dr) + f + df))
    return out


def _ray_table() -> np.ndarray:
    """``uint64 [8, 64]``: the squares beyond each square in each direction; 0..3 raise the square index
    (N, NE, E, NW), 4..7 lower it (S, SW, W, SE)."""
    dirs = ((0, 1), (1, 1), (1, 0), (-1, 1), (0, -1), (-1, -1), (-1, 0), (1, -1))
    out = np.zeros((8, 64), np.uint64)
    for d, (df, dr) in enumerate(dirs):
        for sq in range(64):
            f, r = (sq & 7) + df, (sq >> 3) + dr
            while 0 <= f < 8 and 0 <= r < 8:
                out[d, sq] |= np.uint64(1 << (8 * r + f))
                f, r = f + df, r + dr
    return out


# Bitboard helpers shared by the compiled chess code (this module, nnue's binpack decoder): step-attack tables,
# sliding attacks along rays, bit scans. Square = file + 8 * rank (a1 = 0).
KNIGHT_ATTACKS = _step_table(((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)))
KING_ATTACKS = _step_table(((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)))
PAWN_ATTACKS = np.stack([_step_table(((-1, 1), (1, 1))), _step_table(((-1, -1), (1, -1)))])  # [colour, sq]
RAYS = _ray_table()
FILES = np.array([0x0101010101010101 << f for f in range(8)], np.uint64)
RANKS = np.array([0xFF << (8 * r) for r in range(8)], np.uint64)
BACKRANKS = np.uint64(0xFF000000000000FF)
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _bit_count_intrinsic(name: str) -> Callable[..., Any]:
    """A numba intrinsic ``uint64 -> int64`` calling LLVM's ``name`` (``ctpop``, ``cttz`` or ``ctlz``; the scans
    give 64 for 0): one instruction where the CPU has it (popcnt, tzcnt, lzcnt), LLVM's expansion elsewhere."""

    def typer(typingctx: Any, x: Any) -> tuple[Any, Callable[..., Any]]:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            if name == "ctpop":
                return builder.ctpop(args[0])
            return getattr(builder, name)(args[0], ir.Constant(ir.IntType(1), 0))

        return types.int64(types.uint64), codegen

    typer.__name__ = f"_llvm_{name}"
    return intrinsic(typer)


_ctpop = _bit_count_intrinsic("ctpop")
_cttz = _bit_count_intrinsic("cttz")
_ctlz = _bit_count_intrinsic("ctlz")


@njit(cache=True, inline="always")
def bit(sq: int) -> np.uint64:
    """Bitboard of square ``sq``."""
    return np.uint64(1) << np.uint64(sq)


@njit(cache=True, inline="always")
def popcount(x: np.uint64) -> int:
    """Set bits of ``x``."""
    return _ctpop(x)


@njit(cache=True, inline="always")
def lsb(x: np.uint64) -> int:
    """Lowest set square of ``x`` (64 for 0)."""
    return _cttz(x)


@njit(cache=True, inline="always")
def msb(x: np.uint64) -> int:
    """Highest set square of a non-empty ``x``."""
    return 63 - _ctlz(x)


@njit(cache=True, inline="always")
def bits_for(n: int) -> int:
    """Bits to code an index below ``n`` (``(n-1).bit_length()``, 0 for n <= 1)."""
    return 64 - _ctlz(np.uint64(max(n - 1, 0)))


# SELECT_IN_BYTE[byte | k << 8]: position of the k-th set bit (from 0, ascending) of ``byte`` (8 if none)
SELECT_IN_BYTE = np.full(256 * 8, 8, np.int64)
for _b in range(256):
    for _k, _sq in enumerate(sq for sq in range(8) if _b >> sq & 1):
        SELECT_IN_BYTE[_b | _k << 8] = _sq
_L8, _H8 = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)


@njit(cache=True, inline="always")
def nth_bit(x: np.uint64, n: int) -> int:
    """Square of the ``n``-th set bit (from 0, ascending) of ``x``; ``n`` below ``popcount(x)``. Branch-free
    broadword select (Vigna, "Broadword implementation of rank/select queries"): per-byte bit counts, their
    running sums, the byte holding the bit, then a table for the bit inside that byte."""
    c = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    c = (c & np.uint64(0x3333333333333333)) + ((c >> np.uint64(2)) & np.uint64(0x3333333333333333))
    sums = (((c + (c >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)) * _L8)  # byte k: bits in bytes 0..k
    k = np.uint64(n)
    below = ((((k * _L8) | _H8) - sums) & _H8) >> np.uint64(7)  # 1 in each byte whose running sum is <= n
    place = ((below * _L8) >> np.uint64(53)) & ~np.uint64(7)  # 8 * (bytes wholly before the n-th bit)
    rank = n - np.int64(((sums << np.uint64(8)) >> place) & np.uint64(0xFF))
    return np.int64(place) + SELECT_IN_BYTE[np.int64((x >> place) & np.uint64(0xFF)) | (rank << 8)]


@njit(cache=True, inline="always")
def ray(d: int, sq: int, occ: np.uint64) -> np.uint64:
    """Squares a slider on ``sq`` reaches in direction ``d`` (see ``RAYS``), up to and including the first
    occupied one."""
    r = RAYS[d, sq]
    blockers = r & occ
    if blockers:
        r ^= RAYS[d, lsb(blockers) if d < 4 else msb(blockers)]
    return r


@njit(cache=True, inline="always")
def rook_attacks(sq: int, occ: np.uint64) -> np.uint64:
    """Rook attacks from ``sq`` with ``occ`` occupied."""
    return ray(0, sq, occ) | ray(2, sq, occ) | ray(4, sq, occ) | ray(6, sq, occ)


@njit(cache=True, inline="always")
def bishop_attacks(sq: int, occ: np.uint64) -> np.uint64:
    """Bishop attacks from ``sq`` with ``occ`` occupied."""
    return ray(1, sq, occ) | ray(3, sq, occ) | ray(5, sq, occ) | ray(7, sq, occ)


@njit(cache=True)
def attacked(pos: np.ndarray, sq: int, them: int, their: np.uint64, occ: np.uint64) -> bool:
    """Whether colour ``them`` (its pieces = ``their``) attacks ``sq`` with occupancy ``occ``; ``pos[0..5]``: the
    pawn..king bitboards (a position row, or any array that starts with them)."""
    if KNIGHT_ATTACKS[sq] & pos[KNIGHT] & their or KING_ATTACKS[sq] & pos[KING] & their:
        return True
    if PAWN_ATTACKS[1 - them, sq] & pos[PAWN] & their:
        return True
    lines = (pos[ROOK] | pos[QUEEN]) & their
    if lines and rook_attacks(sq, occ) & lines:
        return True
    diagonals = (pos[BISHOP] | pos[QUEEN]) & their
    return bool(diagonals and bishop_attacks(sq, occ) & diagonals)


@njit(cache=True)
def _add_if_legal(pos: np.ndarray, stm: int, king: int, frm: int, to: int, captured: int, promo: int,
                  out: np.ndarray, n: int) -> int:
    """Append the move to ``out`` (at ``n``) unless it leaves our king attacked; returns the new count."""
    ours = pos[WHITE_ROW + stm] ^ bit(frm) ^ bit(to)
    their = pos[WHITE_ROW + 1 - stm] & ~bit(captured)
    if attacked(pos, to if frm == king else king, 1 - stm, their, ours | their):
        return n
    out[n] = frm | (to << 6) | (promo << 12)
    return n + 1


@njit(cache=True)
def legal_moves(pos: np.ndarray, stm: int, ep: int, out: np.ndarray) -> int:
    """Every legal move of the position (``pos`` one row as above) into ``out`` (>= 256 long); returns the count.
    The same set as python-chess's ``Board.legal_moves`` for standard chess."""
    ours, theirs = pos[WHITE_ROW + stm], pos[WHITE_ROW + 1 - stm]
    occ = ours | theirs
    king = lsb(pos[KING] & ours)
    n = 0
    fwd = 8 if stm == 0 else -8
    last = 7 if stm == 0 else 0
    pawns = pos[PAWN] & ours
    while pawns:
        frm = lsb(pawns)
        pawns &= pawns - np.uint64(1)
        targets = PAWN_ATTACKS[stm, frm] & theirs
        one = frm + fwd
        if not occ & bit(one):
            targets |= bit(one)
            if (frm >> 3) == (1 if stm == 0 else 6) and not occ & bit(one + fwd):
                targets |= bit(one + fwd)
        if ep > 0 and PAWN_ATTACKS[stm, frm] & bit(ep) and not occ & bit(ep):
            n = _add_if_legal(pos, stm, king, frm, ep, ep - fwd, 0, out, n)
        while targets:
            to = lsb(targets)
            targets &= targets - np.uint64(1)
            if (to >> 3) == last:
                for promo in (5, 4, 3, 2):
                    n = _add_if_legal(pos, stm, king, frm, to, to, promo, out, n)
            else:
                n = _add_if_legal(pos, stm, king, frm, to, to, 0, out, n)
    for pt in (KNIGHT, BISHOP, ROOK, QUEEN, KING):
        pieces = pos[pt] & ours
        while pieces:
            frm = lsb(pieces)
            pieces &= pieces - np.uint64(1)
            if pt == KNIGHT:
                targets = KNIGHT_ATTACKS[frm]
            elif pt == KING:
                targets = KING_ATTACKS[frm]
            else:
                targets = np.uint64(0)
                if pt != ROOK:
                    targets |= bishop_attacks(frm, occ)
                if pt != BISHOP:
                    targets |= rook_attacks(frm, occ)
            targets &= ~ours
            while targets:
                to = lsb(targets)
                targets &= targets - np.uint64(1)
                n = _add_if_legal(pos, stm, king, frm, to, to, 0, out, n)
    return _castlings(pos, stm, king, out, n)


@njit(cache=True)
def _castlings(pos: np.ndarray, stm: int, king: int, out: np.ndarray, n: int) -> int:
    """python-chess's ``generate_castling_moves`` for standard chess (clean rights: king on e1/e8, rooks in the
    corners): the squares between king and rook empty, the king's square and path not attacked."""
    backrank = RANKS[0 if stm == 0 else 7]
    rights = pos[CASTLE_ROW] & backrank
    if not rights or not bit(king) & backrank:
        return n
    occ = pos[WHITE_ROW] | pos[BLACK_ROW]
    their = pos[WHITE_ROW + 1 - stm]
    base = king & 56
    for rook in (base + 7, base):  # python-chess scans the rook squares from the highest
        if not rights & bit(rook):
            continue
        short = rook > king
        king_to, rook_to, path = (base + 6, base + 5, base + 5) if short else (base + 2, base + 3, base + 3)
        rook_path = bit(base + 6) if short else bit(base + 1) | bit(base + 2)
        others = occ ^ bit(king) ^ bit(rook)
        if others & (bit(path) | rook_path | bit(king_to) | bit(rook_to)):
            continue
        without_king = occ ^ bit(king)
        if attacked(pos, king, 1 - stm, their, without_king) or attacked(pos, path, 1 - stm, their, without_king):
            continue
        if attacked(pos, king_to, 1 - stm, their, without_king ^ bit(rook) ^ bit(rook_to)):
            continue
        out[n] = king | (king_to << 6) | (1 << 15)
        n += 1
    return n


@njit(cache=True)
def piece_at(pos: np.ndarray, sq: int) -> int:
    """Piece type (bitboard row 0..5) on ``sq`` of ``pos[0..5]``, -1 when empty."""
    for pt in range(6):
        if pos[pt] & bit(sq):
            return pt
    return -1


@njit(cache=True)
def _push(pos: np.ndarray, state: np.ndarray, move: int, nxt: np.ndarray, nxt_state: np.ndarray) -> None:
    """``nxt`` = the position after the legal ``move``, as python-chess's ``Board.push`` makes it."""
    stm, ep, clock = state[0], state[1], state[2]
    frm, to, promo = move & 63, (move >> 6) & 63, (move >> 12) & 7
    nxt[:] = pos
    pt = piece_at(pos, frm)
    captured = piece_at(pos, to)
    back_ours = RANKS[0 if stm == 0 else 7]
    fb, tb = bit(frm), bit(to)
    nxt[CASTLE_ROW] &= ~fb & ~tb
    if pt == KING:
        nxt[CASTLE_ROW] &= ~back_ours
    new_ep = -1
    zeroing = pt == PAWN or captured >= 0
    nxt[pt] &= ~fb
    nxt[WHITE_ROW + stm] &= ~fb
    if captured >= 0:
        nxt[captured] &= ~tb
        nxt[WHITE_ROW + 1 - stm] &= ~tb
    if pt == PAWN:
        if to - frm == 16 or frm - to == 16:
            new_ep = (frm + to) // 2
        elif to == ep and captured < 0 and (frm & 7) != (to & 7):
            victim = bit(to - 8 if stm == 0 else to + 8)
            nxt[PAWN] &= ~victim
            nxt[WHITE_ROW + 1 - stm] &= ~victim
    if move & CASTLING_FLAG:
        short = to > frm
        rook_from, rook_to = (frm + 3, frm + 1) if short else (frm - 4, frm - 1)
        nxt[ROOK] &= ~bit(rook_from)
        nxt[ROOK] |= bit(rook_to)
        nxt[WHITE_ROW + stm] = (nxt[WHITE_ROW + stm] & ~bit(rook_from)) | bit(rook_to)
    nxt[pt if promo == 0 else promo - 1] |= tb
    nxt[WHITE_ROW + stm] |= tb
    nxt_state[0] = 1 - stm
    nxt_state[1] = new_ep
    nxt_state[2] = 0 if zeroing else clock + 1


@njit(cache=True)
def _resolve(pos: np.ndarray, stm: int, san: np.ndarray, moves: np.ndarray, n: int) -> int:
    """The legal move (from ``moves[:n]``) a SAN descriptor names, as python-chess's ``parse_san``; -1 when none
    or several do. ``san = (kind, piece row or -1, from file or -1, from rank or -1, to, promotion type)``."""
    kind, piece, file, rank, to, promo = san[0], san[1], san[2], san[3], san[4], san[5]
    if kind in (CASTLE_SHORT, CASTLE_LONG):
        for i in range(n):
            if moves[i] & CASTLING_FLAG and (((moves[i] >> 6) & 7) == 6) == (kind == CASTLE_SHORT):
                return moves[i]
        return -1
    if kind == SQUARES:  # "e2e4": find_move, python-chess's fully specified moves
        frm = file + 8 * rank
        if promo == 0 and pos[PAWN] & bit(frm) and bit(to) & BACKRANKS:
            return -1  # python-chess: "missing promotion piece type"
        if promo == 0 and pos[KING] & bit(frm) and (frm == 4 or frm == 60):
            if to == frm + 3:
                to = frm + 2
            elif to == frm - 4:
                to = frm - 2
        for i in range(n):
            if moves[i] & 63 == frm and (moves[i] >> 6) & 63 == to and (moves[i] >> 12) & 7 == promo:
                return moves[i]
        return -1
    if kind != SAN:
        return -1
    from_mask = ALL
    if file >= 0:
        from_mask &= FILES[file]
    if rank >= 0:
        from_mask &= RANKS[rank]
    if piece >= 0:
        from_mask &= pos[piece] & pos[WHITE_ROW + stm]
    else:
        from_mask &= pos[PAWN]
        if file < 0:
            from_mask &= FILES[to & 7]
    found = -1
    for i in range(n):
        m = moves[i]
        if m & CASTLING_FLAG or (m >> 6) & 63 != to or (m >> 12) & 7 != promo or not from_mask & bit(m & 63):
            continue
        if found >= 0:
            return -1  # ambiguous
        found = m
    return found


@njit(cache=True)
def _key_equal(pos: np.ndarray, state: np.ndarray, ep_key: np.ndarray, i: int, j: int) -> bool:
    """python-chess's ``_transposition_key`` of positions ``i`` and ``j`` agree (ep only when capturable)."""
    if state[i, 0] != state[j, 0] or ep_key[i] != ep_key[j]:
        return False
    for r in range(9):  # noqa: SIM110 (numba: no generators)
        if pos[i, r] != pos[j, r]:
            return False
    return True


@njit(cache=True)
def play_game(start: np.ndarray, start_state: np.ndarray, sans: np.ndarray
              ) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Play ``sans [T, 6]`` (descriptors) from ``start [9]`` / ``start_state [3]``.

    Returns ``(why, n, pos [n+1, 9], state [n+1, 3], legal, legal_start [n+2])``: ``why`` is OK or the first
    refusal (ILLEGAL, NULL_MOVE, GAME_OVER) at token ``n``; the first ``n`` tokens are played; the legal moves of
    position ``i`` are ``legal[legal_start[i]:legal_start[i+1]]``, the move played from it
    ``legal[legal_start[n+1] + i]`` (i < n).
    """
    t = sans.shape[0]
    pos = np.empty((t + 1, 9), np.uint64)
    state = np.empty((t + 1, 3), np.int64)
    ep_key = np.empty(t + 1, np.int64)
    legal = np.empty(max(64 * (t + 1), 512), np.int64)
    starts = np.zeros(t + 2, np.int64)
    played = np.empty(t, np.int64)
    scratch = np.empty(256, np.int64)
    pos[0] = start
    state[0] = start_state
    window = 0  # python-chess's repetition table holds the positions since the last zeroed clock
    why, i = OK, 0
    while True:
        stm, ep = state[i, 0], state[i, 1]
        n = legal_moves(pos[i], stm, ep, scratch)
        if starts[i] + n > legal.shape[0]:
            grown = np.empty(2 * legal.shape[0] + n, np.int64)
            grown[: starts[i]] = legal[: starts[i]]
            legal = grown
        legal[starts[i]: starts[i] + n] = scratch[:n]
        starts[i + 1] = starts[i] + n
        ep_key[i] = -1
        if ep >= 0:
            for k in range(n):
                if (scratch[k] >> 6) & 63 == ep and bit(scratch[k] & 63) & pos[i, PAWN]:
                    ep_key[i] = ep
                    break
        if state[i, 2] == 0:
            window = i
        if i == t:
            break
        if sans[i, 0] == NULL:
            why = NULL_MOVE
            break
        move = _resolve(pos[i], stm, sans[i], scratch, n)
        if move < 0:
            why = ILLEGAL
            break
        seen = 0
        for j in range(window, i + 1):
            if _key_equal(pos, state, ep_key, i, j):
                seen += 1
        if state[i, 2] >= 150 or seen >= 5:
            why = GAME_OVER
            break
        played[i] = move
        _push(pos[i], state[i], move, pos[i + 1], state[i + 1])
        i += 1
    out = np.empty(starts[i + 1] + i, np.int64)
    out[: starts[i + 1]] = legal[: starts[i + 1]]
    out[starts[i + 1]:] = played[:i]
    return why, i, pos[: i + 1].copy(), state[: i + 1].copy(), out, starts[: i + 2].copy()
