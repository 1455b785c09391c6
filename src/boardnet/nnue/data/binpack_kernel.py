"""Compiled ``.binpack`` chunk decoder and encoder: stems + movetext to and from ``.bin`` records (numba, no
python-chess).

The same format and rules as :mod:`boardnet.nnue.data.binpack` (read its docstring first): boards are kept as
bitboards (``bb[0..5]`` pawns..kings, ``col[0..1]`` white/black pieces, ``castle`` = rook squares that keep a
castling right), moves are played the python-chess way for "king takes own rook" castling, and the en-passant
square follows Stockfish's ``isEpPossible``. Each position is written as the 32-byte packed sfen of
:func:`boardnet.nnue.data.bin.pack_sfen` plus score, ``.bin`` move code, ply and result.

:func:`decode_chunk` stops at the first malformed stem or movetext and reports it (with the chunk offset, for
diagnostics); the caller (``nnue_binpack._decode_chunk``) then re-reads that chunk with the Python reader for
the full message.

:func:`encode_records` writes decoded ``.bin`` records as chunk bodies, byte for byte what the Python writer
(``nnue_binpack.encode_binpack``) makes of the same records, python-chess's move semantics included (a ``.bin``
castling code is read as the king's move; ``is_castling``/``is_en_passant`` decide the stem's move type). A record
only that writer handles exactly (a move that is not pseudo-legal or takes a king, a ply above 16383) stops it
with ENC_ODD, and the caller hands the whole file to the Python writer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from boardnet.core.chess_moves import (
    BISHOP,
    KING,
    KING_ATTACKS,
    KNIGHT,
    KNIGHT_ATTACKS,
    PAWN,
    PAWN_ATTACKS,
    QUEEN,
    ROOK,
    attacked,
    bishop_attacks,
    bit,
    bits_for,
    lsb,
    nth_bit,
    popcount,
    rook_attacks,
)
from boardnet.nnue.data.bin import SFEN_PIECE_CODE, STREAM_SQUARES

# error codes of decode_chunk
OK, FULL, BAD = 0, 1, 2

RANK_1, RANK_8 = np.uint64(0xFF), np.uint64(0xFF << 56)

# binpack move type (normal, promotion, castling, en passant) -> Stockfish .bin move type
BIN_KIND = np.array([0, 1, 3, 2], np.int64)

# Besides the bitboards, every board keeps a mailbox ``mail int8 [64]``: the piece code on each square (0 empty,
# 1..6 white pawn..king, 7..12 black, the ``Decoded`` codes); CODE_TYPE[code] is its type (-1 empty)
CODE_TYPE = np.array([-1, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], np.int64)
NO_PIECE = -1


@njit(cache=True, inline="always")
def _code(pt: int, colour: int) -> np.int8:
    """Mailbox code of a ``pt`` piece of ``colour`` (0 white)."""
    return np.int8(pt + 1 + 6 * colour)


@njit(cache=True)
def _stockfish_ep(bb: np.ndarray, col: np.ndarray, stm: int, ep: int) -> int:
    """Stockfish's en-passant square (``isEpPossible``) for candidate ``ep`` with ``stm`` to move, else -1."""
    if ep < 0:
        return -1
    them = 1 - stm
    fwd = 8 if stm == 0 else -8
    occ = col[0] | col[1]
    pawns = PAWN_ATTACKS[them, ep] & bb[PAWN] & col[stm]
    if not pawns or occ & bit(ep) or not (0 <= ep + fwd < 64 and 0 <= ep - fwd < 64):
        return -1
    if occ & bit(ep + fwd) or not (bb[PAWN] & col[them] & bit(ep - fwd)):
        return -1
    kings = bb[KING] & col[stm]
    if not kings:
        return -1
    king = lsb(kings)
    diag = (bb[BISHOP] | bb[QUEEN]) & col[them]
    line = (bb[ROOK] | bb[QUEEN]) & col[them]
    empty = np.uint64(0)
    if not ((diag & bishop_attacks(king, empty)) | (line & rook_attacks(king, empty))):
        return ep
    while pawns:
        sq = lsb(pawns)
        pawns &= pawns - np.uint64(1)
        captured = 8 * (sq >> 3) + (ep & 7)
        o = ((occ ^ bit(sq)) | bit(ep)) ^ bit(captured)
        if not ((bishop_attacks(king, o) & diag) | (rook_attacks(king, o) & line)):
            return ep
    return -1


@njit(cache=True, inline="always")
def _destinations(bb: np.ndarray, col: np.ndarray, castle: np.uint64, stm: int, ep: int, frm: int,
                  pt: int) -> tuple[np.uint64, int, bool]:
    """(pseudo-legal destinations, castlings available, promotes) of the ``pt`` piece on ``frm``."""
    our, occ = col[stm], col[0] | col[1]
    if pt == PAWN:
        targets = col[1 - stm] | (bit(ep) if ep >= 0 else np.uint64(0))
        dest = PAWN_ATTACKS[stm, frm] & targets
        fwd = 8 if stm == 0 else -8
        rank = frm >> 3
        if not occ & bit(frm + fwd):
            dest |= bit(frm + fwd)
            if rank == (1 if stm == 0 else 6) and not occ & bit(frm + 2 * fwd):
                dest |= bit(frm + 2 * fwd)
        return dest, 0, rank == (6 if stm == 0 else 1)
    if pt == KING:
        return KING_ATTACKS[frm] & ~our, popcount(castle & (RANK_1 if stm == 0 else RANK_8)), False
    if pt == KNIGHT:
        return KNIGHT_ATTACKS[frm] & ~our, 0, False
    att = np.uint64(0)
    if pt != ROOK:
        att |= bishop_attacks(frm, occ)
    if pt != BISHOP:
        att |= rook_attacks(frm, occ)
    return att & ~our, 0, False


@njit(cache=True)
def unsigned_to_signed(u: int) -> int:
    """arithmetic.h zigzag decode uint16 -> int16 (inverse of :func:`signed_to_unsigned`)."""
    r = ((u << 15) | (u >> 1)) & 0xFFFF
    if r & 0x8000:
        r ^= 0x7FFF
    return r - 0x10000 if r & 0x8000 else r


@njit(cache=True)
def int16(v: int) -> int:
    """``v`` wrapped to int16."""
    v &= 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


@njit(cache=True)
def _put(sfen: np.ndarray, row: int, cursor: int, value: int, n: int) -> int:
    """LSB-first write of ``n`` bits of ``value`` at bit ``cursor`` of ``sfen[row]`` (zeroed beforehand)."""
    for k in range(n):
        if (value >> k) & 1:
            c = cursor + k
            sfen[row, c >> 3] |= np.uint8(1 << (c & 7))
    return cursor + n


@njit(cache=True)
def _emit(sfen: np.ndarray, row: int, bb: np.ndarray, col: np.ndarray, mail: np.ndarray, castle: np.uint64,
          stm: int, ep: int, rule50: int, fullmove: int) -> None:
    """Packed sfen of the board into ``sfen[row]`` (the layout of ``nnue_bin.pack_sfen``)."""
    for k in range(32):
        sfen[row, k] = 0
    c = _put(sfen, row, 0, stm, 1)
    c = _put(sfen, row, c, lsb(bb[KING] & col[0]), 6)
    c = _put(sfen, row, c, lsb(bb[KING] & col[1]), 6)
    for i in range(64):
        code = np.int64(mail[STREAM_SQUARES[i]])
        pt = CODE_TYPE[code]
        if pt == NO_PIECE:
            c += 1
        elif pt != KING:
            c = _put(sfen, row, c, SFEN_PIECE_CODE[pt + 1], 4)  # table by python-chess type
            c = _put(sfen, row, c, 1 if code > 6 else 0, 1)
    for sq in (7, 0, 63, 56):  # H1, A1, H8, A8
        c = _put(sfen, row, c, 1 if castle & bit(sq) else 0, 1)
    if ep >= 0:
        c = _put(sfen, row, c, 1, 1)
        c = _put(sfen, row, c, ep, 6)
    else:
        c += 1
    c = _put(sfen, row, c, rule50 & 63, 6)
    c = _put(sfen, row, c, fullmove & 255, 8)
    c = _put(sfen, row, c, (fullmove >> 8) & 255, 8)
    _put(sfen, row, c, (rule50 >> 6) & 1, 1)


@njit(cache=True)
def _decompress(buf: np.ndarray, off: int, bb: np.ndarray, col: np.ndarray,
                mail: np.ndarray) -> tuple[bool, np.uint64, int, int]:
    """24-byte CompressedPosition at ``off`` into ``bb``/``col``/``mail`` -> (valid, castle, stm, ep)."""
    for t in range(6):
        bb[t] = 0
    col[0] = 0
    col[1] = 0
    mail[:] = 0
    occ = np.uint64(0)
    for k in range(8):
        occ = (occ << np.uint64(8)) | np.uint64(buf[off + k])
    castle, stm, ep = np.uint64(0), 0, -1
    if popcount(occ) > 32:
        return False, castle, stm, ep
    i = 0
    rest = occ
    while rest:
        sq = lsb(rest)
        rest &= rest - np.uint64(1)
        nib = (np.int64(buf[off + 8 + i // 2]) >> (4 * (i & 1))) & 15
        i += 1
        rank = sq >> 3
        if nib < 12:
            pt, colour = nib // 2, nib % 2
        elif nib == 12:  # pawn that just double-pushed, its ep square capturable
            if rank != 3 and rank != 4:
                return False, castle, stm, ep
            pt, colour = PAWN, 0 if rank == 3 else 1
            ep = sq - 8 if rank == 3 else sq + 8
        elif nib == 13 or nib == 14:  # rook with its castling right
            colour = nib - 13
            if (colour == 0 and sq != 0 and sq != 7) or (colour == 1 and sq != 56 and sq != 63):
                return False, castle, stm, ep
            pt = ROOK
            castle |= bit(sq)
        else:  # 15: black king, black to move
            pt, colour, stm = KING, 1, 1
        if pt == PAWN and (rank == 0 or rank == 7):
            return False, castle, stm, ep
        bb[pt] |= bit(sq)
        col[colour] |= bit(sq)
        mail[sq] = _code(pt, colour)
    for colour in range(2):
        kings = bb[KING] & col[colour]
        if popcount(kings) != 1:
            return False, castle, stm, ep
        home = 4 if colour == 0 else 60
        back = RANK_1 if colour == 0 else RANK_8
        if castle & back and lsb(kings) != home:
            return False, castle, stm, ep
    return True, castle, stm, ep


@njit(cache=True, inline="always")
def _push(bb: np.ndarray, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int, frm: int, to: int,
          pt: int, promo: int, rule50: int) -> tuple[bool, np.uint64, int, int]:
    """Play a pseudo-legal move of the ``pt`` piece on ``frm`` the python-chess way (king onto its own rook =
    castling; ``promo`` -1 or a piece type) -> (valid, castle, candidate ep square or -1, rule50). Capturing a
    king is invalid."""
    them = 1 - stm
    fb, tb = bit(frm), bit(to)
    victim = np.int64(mail[to])
    if victim == KING + 1 + 6 * them:
        return False, castle, -1, rule50
    new_ep = -1
    if pt == KING and col[stm] & tb:  # castling
        rank = frm >> 3
        short = (to & 7) > (frm & 7)
        king_to = 8 * rank + (6 if short else 2)
        rook_to = 8 * rank + (5 if short else 3)
        bb[KING] &= ~fb
        bb[ROOK] &= ~tb
        col[stm] &= ~(fb | tb)
        mail[frm] = 0
        mail[to] = 0
        bb[KING] |= bit(king_to)
        bb[ROOK] |= bit(rook_to)
        col[stm] |= bit(king_to) | bit(rook_to)
        mail[king_to] = _code(KING, stm)
        mail[rook_to] = _code(ROOK, stm)
        rule50 += 1
    else:
        capture = victim != 0
        if capture:
            bb[CODE_TYPE[victim]] &= ~tb
            col[them] &= ~tb
        elif pt == PAWN and (frm & 7) != (to & 7):  # en passant: the captured pawn is behind ``to``
            behind = to - 8 if stm == 0 else to + 8
            bb[PAWN] &= ~bit(behind)
            col[them] &= ~bit(behind)
            mail[behind] = 0
            capture = True
        new_pt = pt if promo < 0 else promo
        bb[pt] &= ~fb
        bb[new_pt] |= tb
        col[stm] = (col[stm] & ~fb) | tb
        mail[frm] = 0
        mail[to] = _code(new_pt, stm)
        if pt == PAWN and (to - frm == 16 or frm - to == 16):
            new_ep = (frm + to) // 2
        rule50 = 0 if capture or pt == PAWN else rule50 + 1
    castle &= ~fb & ~tb
    if pt == KING:
        castle &= ~(RANK_1 if stm == 0 else RANK_8)
    return True, castle, new_ep, rule50


@njit(cache=True)
def _stem_move_ok(bb: np.ndarray, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int, ep: int,
                  frm: int, to: int, kind: int, promo: int) -> bool:
    """Whether the stem's move (binpack kinds: 0 normal, 1 promotion, 2 castling, 3 en passant) is pseudo-legal
    in the stem position, as ``nnue_binpack._move_index`` checks before playing it."""
    if not col[stm] & bit(frm):
        return False
    pt = CODE_TYPE[mail[frm]]
    dest, _, promotes = _destinations(bb, col, castle, stm, ep, frm, pt)
    if pt == KING and col[stm] & bit(to):
        return (castle & bit(to)) != 0
    if promotes:
        return kind == 1 and (dest & bit(to)) != 0
    return kind != 1 and (dest & bit(to)) != 0


# ---------------------------------------------------------------- decoding (binpack chunk -> positions)

# what ``_walk`` writes per position besides score, move, ply, result
SINK_SFEN, SINK_LISTS = 0, 1
# ``filters`` of ``_walk`` (SINK_LISTS; a tuple): early_ply_skip, skip_captures, skip_in_check
VALUE_NONE = 32002  # Stockfish "no score" marker
MOVE_EP_KIND, MOVE_CASTLING_KIND = 2, 3  # .bin move kinds (bits 14-15)


@njit(cache=True, inline="always")
def _dropped(bb: np.ndarray, col: np.ndarray, stm: int, score: int, bin_move: int, ply: int,
             filters: tuple[int, int, int]) -> bool:
    """The loader's fixed filters (``loader.keep_mask`` without random skipping) for one position: no score
    (VALUE_NONE), ply not above ``filters[0]`` (when it is > 0), a capturing move (``filters[1]``), side to move
    in check (``filters[2]``)."""
    if score == VALUE_NONE or score == -VALUE_NONE or (filters[0] > 0 and ply <= filters[0]):
        return True
    if filters[1] and bin_move:
        kind = bin_move >> 14
        if kind == MOVE_EP_KIND or (kind != MOVE_CASTLING_KIND and (col[0] | col[1]) & bit(bin_move & 63)):
            return True
    if not filters[2]:
        return False
    return attacked(bb, lsb(bb[KING] & col[stm]), 1 - stm, col[1 - stm], col[0] | col[1])


@njit(cache=True, inline="always")
def _flip(x: np.uint64) -> np.uint64:
    """Bitboard mirrored top to bottom (byte swap): square ``sq`` moves to ``sq ^ 56``."""
    x = ((x >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)) | ((x & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8))
    x = ((x >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)) | ((x & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16))
    return (x >> np.uint64(32)) | (x << np.uint64(32))


@njit(cache=True, inline="always")
def _lists(bb: np.ndarray, col: np.ndarray, mail: np.ndarray, row: int, list_sq: np.ndarray,
           list_code: np.ndarray) -> None:
    """Piece list of the board into ``list_sq/list_code[row]`` as ``nnue_bin.decode_records`` has it: non-king
    pieces in packed-sfen stream order (a8..h8, a7..h7, ..., a1..h1), then the white and the black king, then
    padding (square 64, code 0). Codes 1..6 white pawn..king, 7..12 black (the mailbox's).

    On the mirrored board (square ``sq ^ 56``) stream order is ascending square order."""
    rest = _flip((col[0] | col[1]) & ~bb[KING])
    sq_row, code_row = list_sq[row], list_code[row]
    k = 0
    while rest:
        sq = lsb(rest) ^ 56
        rest &= rest - np.uint64(1)
        sq_row[k] = sq
        code_row[k] = mail[sq]
        k += 1
    sq_row[k] = lsb(bb[KING] & col[0])
    code_row[k] = KING + 1
    sq_row[k + 1] = lsb(bb[KING] & col[1])
    code_row[k + 1] = KING + 7
    sq_row[k + 2:] = 64
    code_row[k + 2:] = 0


@njit(cache=True, inline="always")
def _refill(buf: np.ndarray, end: int, nxt: int, acc: np.uint64, avail: int) -> tuple[int, np.uint64, int]:
    """Top up the movetext bit reader: bytes ``buf[nxt:end]`` enter ``acc`` (bits MSB-first from bit 63, ``avail``
    of them valid) while a whole byte fits -> (nxt, acc, avail)."""
    while avail <= 56 and nxt < end:
        acc |= np.uint64(buf[nxt]) << np.uint64(56 - avail)
        avail += 8
        nxt += 1
    return nxt, acc, avail


@njit(cache=True, inline="always")
def _take(acc: np.uint64, avail: int, n: int) -> tuple[int, np.uint64, int]:
    """The next ``n <= 16`` bits of the bit reader (-1 when fewer are left) -> (value, acc, avail)."""
    if avail < n:
        return -1, acc, avail
    return np.int64((acc >> np.uint64(1)) >> np.uint64(63 - n)), acc << np.uint64(n), avail - n


@njit(cache=True)
def _walk(buf: np.ndarray, sink: int, sfen: np.ndarray, list_sq: np.ndarray, list_code: np.ndarray,
          turn: np.ndarray, drop: np.ndarray, filters: tuple[int, int, int], score: np.ndarray,
          move: np.ndarray, ply: np.ndarray, result: np.ndarray) -> tuple[int, int, int, int]:
    """Walk one chunk ``buf uint8 [L]`` (stems and movetexts) and write every position into row ``n`` of the
    output arrays (capacity ``C = len(score)``): ``score int16``, ``move uint16`` (``.bin`` code), ``ply
    uint16``, ``result int8``, and by ``sink``: SINK_SFEN its packed sfen ``sfen uint8 [C, 32]``; SINK_LISTS its
    piece lists ``list_sq/list_code int8 [C, 32]`` (see :func:`_lists`), ``turn int8 [C]`` (0 white) and
    ``drop bool [C]`` (see :func:`_dropped`). Arrays of the other sink are not touched (may be empty).

    Returns ``(rows written, stems, status, chunk offset)``: status OK; FULL when ``C`` rows are not enough;
    BAD at the first malformed stem or movetext (offset of its stem).
    """
    stems = 0
    bb = np.zeros(6, np.uint64)
    col = np.zeros(2, np.uint64)
    mail = np.zeros(64, np.int8)
    cap = score.shape[0]
    n = 0
    off = 0
    size = buf.shape[0]
    while off + 34 <= size:
        stem_at = off
        valid, castle, stm, ep = _decompress(buf, off, bb, col, mail)
        if not valid:
            return n, stems, BAD, stem_at
        mcode = (np.int64(buf[off + 24]) << 8) | np.int64(buf[off + 25])
        s = unsigned_to_signed((np.int64(buf[off + 26]) << 8) | np.int64(buf[off + 27]))
        pr = (np.int64(buf[off + 28]) << 8) | np.int64(buf[off + 29])
        rule50 = (np.int64(buf[off + 30]) << 8) | np.int64(buf[off + 31])
        nplies = (np.int64(buf[off + 32]) << 8) | np.int64(buf[off + 33])
        p = pr & 0x3FFF
        res = unsigned_to_signed(pr >> 14)
        if res < -1 or res > 1:
            return n, stems, BAD, stem_at
        kind, frm, to, promo = mcode >> 14, (mcode >> 8) & 63, (mcode >> 2) & 63, mcode & 3
        bin_move = 0
        if mcode:
            bin_move = (BIN_KIND[kind] << 14) | (frm << 6) | to
            if kind == 1:
                bin_move |= promo << 12
        if n >= cap:
            return n, stems, FULL, stem_at
        _store(sink, n, bb, col, mail, castle, stm, ep, rule50, p, s, bin_move, res, sfen, list_sq, list_code,
               turn, drop, filters, score, move, ply, result)
        n += 1
        stems += 1
        off += 34
        if nplies == 0:
            continue
        if mcode == 0 or not _stem_move_ok(bb, col, mail, castle, stm, ep, frm, to, kind, promo):
            return n, stems, BAD, stem_at
        if n + nplies > cap:
            return n, stems, FULL, stem_at
        nxt, acc, avail = off, np.uint64(0), 0  # movetext bit reader
        last = -s
        pt = CODE_TYPE[mail[frm]]
        promo_t = promo + 1 if kind == 1 else -1  # binpack promotion 0..3 = knight..queen = types 1..4
        for _ in range(nplies):
            valid, castle, cand, rule50 = _push(bb, col, mail, castle, stm, frm, to, pt, promo_t, rule50)
            if not valid:
                return n, stems, BAD, stem_at
            stm = 1 - stm
            ep = _stockfish_ep(bb, col, stm, cand) if cand >= 0 else -1
            p += 1
            res = -res
            # next move: piece index, then destination index, then the score's blocks; 40 bits cover them all
            nxt, acc, avail = _refill(buf, size, nxt, acc, avail)
            our = col[stm]
            npieces = popcount(our)
            pid, acc, avail = _take(acc, avail, bits_for(npieces))
            if pid < 0 or pid >= npieces:
                return n, stems, BAD, stem_at
            frm = nth_bit(our, pid)
            pt = CODE_TYPE[mail[frm]]
            dest, ncastle, promotes = _destinations(bb, col, castle, stm, ep, frm, pt)
            ndest = popcount(dest)
            nmoves = ndest * 4 if promotes else ndest + ncastle
            mid, acc, avail = _take(acc, avail, bits_for(nmoves))
            if mid < 0 or mid >= nmoves:
                return n, stems, BAD, stem_at
            promo_t = -1
            if promotes:
                to = nth_bit(dest, mid >> 2)
                promo_t = (mid & 3) + 1
                bin_move = (1 << 14) | ((mid & 3) << 12) | (frm << 6) | to
            elif mid >= ndest:  # castling, long first when that right exists
                long_right = (castle & bit(0 if stm == 0 else 56)) != 0
                to = 8 * (frm >> 3) + (0 if (mid == ndest and long_right) else 7)
                bin_move = (3 << 14) | (frm << 6) | to
            else:
                to = nth_bit(dest, mid)
                bin_move = ((2 if (to == ep and pt == PAWN) else 0) << 14) | (frm << 6) | to
            # score: zigzag VLE of 4-bit blocks, low first, each followed by a "more" bit
            u = 0
            for k in range(4):  # 4 blocks hold any uint16; a 5th means a corrupt stream
                if avail < 5:
                    nxt, acc, avail = _refill(buf, size, nxt, acc, avail)
                block, acc, avail = _take(acc, avail, 5)
                if block < 0:
                    return n, stems, BAD, stem_at
                u |= (block & 15) << (4 * k)
                if not block >> 4:
                    break
            else:
                return n, stems, BAD, stem_at
            s = int16(last + unsigned_to_signed(u & 0xFFFF))
            last = -s
            _store(sink, n, bb, col, mail, castle, stm, ep, rule50, min(p, 0xFFFF), s, bin_move, res, sfen,
                   list_sq, list_code, turn, drop, filters, score, move, ply, result)
            n += 1
        off = nxt - (avail >> 3)  # whole bytes still in the reader were not used
    return n, stems, OK, off


@njit(cache=True, inline="always")
def _store(sink: int, n: int, bb: np.ndarray, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int,
           ep: int, rule50: int, p: int, s: int, bin_move: int, res: int, sfen: np.ndarray, list_sq: np.ndarray,
           list_code: np.ndarray, turn: np.ndarray, drop: np.ndarray, filters: tuple[int, int, int], score: np.ndarray,
           move: np.ndarray, ply: np.ndarray, result: np.ndarray) -> None:
    """Row ``n`` of :func:`_walk`'s outputs for the current position (``p``: its ply, fullmove ``p // 2 + 1``)."""
    if sink == SINK_SFEN:
        _emit(sfen, n, bb, col, mail, castle, stm, ep, rule50, p // 2 + 1)
    else:
        _lists(bb, col, mail, n, list_sq, list_code)
        turn[n] = stm
        drop[n] = _dropped(bb, col, stm, s, bin_move, p, filters)
    score[n], move[n], ply[n], result[n] = s, bin_move, p, res


@njit(cache=True)
def decode_chunk(buf: np.ndarray, sfen: np.ndarray, score: np.ndarray, move: np.ndarray, ply: np.ndarray,
                 result: np.ndarray) -> tuple[int, int, int, int]:
    """Decode one chunk ``buf uint8 [L]`` into ``.bin`` record fields (``sfen uint8 [C, 32]``, ``score int16
    [C]``, ``move uint16 [C]``, ``ply uint16 [C]``, ``result int8 [C]``); returns as :func:`_walk`."""
    lists = np.zeros((0, 32), np.int8)
    return _walk(buf, SINK_SFEN, sfen, lists, lists, np.zeros(0, np.int8), np.zeros(0, np.bool_),
                 (0, 0, 0), score, move, ply, result)


@njit(cache=True)
def decode_chunk_lists(buf: np.ndarray, filters: np.ndarray, list_sq: np.ndarray, list_code: np.ndarray,
                       turn: np.ndarray, drop: np.ndarray, score: np.ndarray, move: np.ndarray, ply: np.ndarray,
                       result: np.ndarray) -> tuple[int, int, int, int]:
    """Decode one chunk straight into the loader's per-position arrays (no packed sfen): piece lists, side to
    move, the fixed filters' verdict ``drop`` (``filters int64 [3]``: early_ply_skip, skip_captures,
    skip_in_check) and the labels; returns as :func:`_walk`."""
    fixed = (np.int64(filters[0]), np.int64(filters[1]), np.int64(filters[2]))  # a tuple: kept in registers
    return _walk(buf, SINK_LISTS, np.zeros((0, 32), np.uint8), list_sq, list_code, turn, drop, fixed, score,
                 move, ply, result)


# ---------------------------------------------------------------- encoding (``.bin`` records -> binpack)

# encode_records flags: the record index it stopped at is returned with one of these
ENC_OK, ENC_ODD = 0, 1
STEM_BYTES = 34  # 32-byte stem + 2-byte ply count
E1, E8 = 4, 60


@njit(cache=True)
def _load(pieces: np.ndarray, i: int, bb: np.ndarray, col: np.ndarray, mail: np.ndarray) -> None:
    """Bitboards and mailbox of ``Decoded.pieces[i]`` (codes 1..6 white pawn..king, 7..12 black)."""
    for t in range(6):
        bb[t] = 0
    col[0] = 0
    col[1] = 0
    for sq in range(64):
        code = pieces[i, sq]
        mail[sq] = code
        if code > 0:
            bb[(code - 1) % 6] |= bit(sq)
            col[1 if code > 6 else 0] |= bit(sq)


@njit(cache=True)
def _clean_castle(bb: np.ndarray, col: np.ndarray, castling: np.ndarray, i: int) -> np.uint64:
    """python-chess ``clean_castling_rights`` of the K, Q, k, q flags ``castling[i]`` (rook squares)."""
    rights = np.uint64(0)
    for k, sq in ((0, 7), (1, 0), (2, 63), (3, 56)):
        if castling[i, k]:
            rights |= bit(sq)
    rights &= bb[ROOK]
    white = rights & RANK_1 & col[0]
    black = rights & RANK_8 & col[1]
    if not (bb[KING] & col[0] & bit(E1)):
        white = np.uint64(0)
    if not (bb[KING] & col[1] & bit(E8)):
        black = np.uint64(0)
    return white | black


@njit(cache=True)
def _compress(out: np.ndarray, off: int, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int,
              ep: int) -> None:
    """24-byte CompressedPosition at ``out[off]`` (``nnue_binpack.compress_position``)."""
    occ = col[0] | col[1]
    for k in range(8):
        out[off + k] = np.uint8((occ >> np.uint64(56 - 8 * k)) & np.uint64(255))
    for k in range(16):
        out[off + 8 + k] = 0
    ep_rank = 3 if stm == 1 else 4
    i = 0
    rest = occ
    while rest:
        sq = lsb(rest)
        rest &= rest - np.uint64(1)
        pt = CODE_TYPE[mail[sq]]
        black = 1 if col[1] & bit(sq) else 0
        code = 2 * pt + black
        if pt == PAWN and ep >= 0 and (sq & 7) == (ep & 7) and (sq >> 3) == ep_rank:
            code = 12
        elif pt == ROOK and castle & bit(sq):
            code = 14 if black else 13
        elif pt == KING and black and stm == 1:
            code = 15
        out[off + 8 + i // 2] |= np.uint8(code << (4 * (i & 1)))
        i += 1


@njit(cache=True)
def signed_to_unsigned(v: int) -> int:
    """arithmetic.h zigzag of an int16: ``0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3 ...`` (uint16)."""
    v &= 0xFFFF
    if v & 0x8000:
        v ^= 0x7FFF
    return ((v << 1) | (v >> 15)) & 0xFFFF


@njit(cache=True)
def _python_move(code: int) -> tuple[int, int, int]:
    """``(from, to, promotion type or -1)`` of a ``.bin`` move code as ``nnue_bin.decode_move`` reads it
    (castling: the king's target square)."""
    frm, to, kind = (code >> 6) & 63, code & 63, code >> 14
    if kind == 3:
        return frm, 8 * (frm >> 3) + (6 if (to & 7) > (frm & 7) else 2), -1
    if kind == 1:
        return frm, to, ((code >> 12) & 3) + 1
    return frm, to, -1


@njit(cache=True)
def _is_castling(bb: np.ndarray, col: np.ndarray, stm: int, frm: int, to: int) -> bool:
    """python-chess ``Board.is_castling``."""
    if not bb[KING] & bit(frm):
        return False
    return abs((frm & 7) - (to & 7)) > 1 or (bb[ROOK] & col[stm] & bit(to)) != 0


@njit(cache=True)
def _stem_move(bb: np.ndarray, col: np.ndarray, stm: int, raw_ep: int, frm: int, to: int, promo: int) -> int:
    """CompressedMove of a python-chess move (``nnue_binpack.pack_move``; ``raw_ep``: the board's own ep)."""
    if _is_castling(bb, col, stm, frm, to):
        return (2 << 14) | (frm << 8) | ((8 * (frm >> 3) + (7 if (to & 7) > (frm & 7) else 0)) << 2)
    if promo >= 0:
        return (1 << 14) | (frm << 8) | (to << 2) | (promo - 1)
    diff = abs(to - frm)
    if raw_ep == to and bb[PAWN] & bit(frm) and (diff == 7 or diff == 9) and not (col[0] | col[1]) & bit(to):
        return (3 << 14) | (frm << 8) | (to << 2)
    return (frm << 8) | (to << 2)


@njit(cache=True)
def _put_bits(out: np.ndarray, base: int, pos: int, value: int, n: int) -> int:
    """MSB-first write of ``n`` bits at bit ``pos`` after byte ``base`` (bytes zeroed beforehand)."""
    for k in range(n - 1, -1, -1):
        if (value >> k) & 1:
            out[base + (pos >> 3)] |= np.uint8(1 << (7 - (pos & 7)))
        pos += 1
    return pos


@njit(cache=True)
def _move_bits(out: np.ndarray, base: int, pos: int, bb: np.ndarray, col: np.ndarray, mail: np.ndarray,
               castle: np.uint64, stm: int, ep: int, frm: int, to: int, promo: int) -> tuple[int, bool]:
    """Movetext code of a python-chess move (``nnue_binpack._move_index``) -> (bit pos, ok)."""
    our = col[stm]
    if not our & bit(frm):
        return pos, False
    dest, ncastle, promotes = _destinations(bb, col, castle, stm, ep, frm, CODE_TYPE[mail[frm]])
    ndest = popcount(dest)
    below = bit(to) - np.uint64(1)
    if _is_castling(bb, col, stm, frm, to):
        short = 1 if (to & 7) > (frm & 7) else 0
        corner = 8 * (frm >> 3) + (7 if short else 0)
        if not castle & bit(corner):
            return pos, False
        long_right = 1 if castle & bit(0 if stm == 0 else 56) else 0
        move_id, nmoves = ndest - 1 + long_right + short, ndest + ncastle
    elif promotes:
        if promo < 0 or not dest & bit(to):
            return pos, False
        move_id, nmoves = popcount(dest & below) * 4 + promo - 1, ndest * 4
    else:
        if promo >= 0 or not dest & bit(to):
            return pos, False
        move_id, nmoves = popcount(dest & below), ndest + ncastle
    pos = _put_bits(out, base, pos, popcount(our & (bit(frm) - np.uint64(1))), bits_for(popcount(our)))
    return _put_bits(out, base, pos, move_id, bits_for(nmoves)), True


@njit(cache=True)
def _playable(bb: np.ndarray, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int, ep: int, frm: int,
              to: int, promo: int) -> tuple[bool, int, int]:
    """Whether a python-chess move can be chained exactly as the readers replay it (pseudo-legal, no king
    captured, castling a standard e-file king move onto an empty target) -> (ok, kernel ``to``, promotion)."""
    if _is_castling(bb, col, stm, frm, to):
        rank = frm >> 3
        if frm != 8 * rank + 4 or (to != 8 * rank + 6 and to != 8 * rank + 2) or (col[0] | col[1]) & bit(to):
            return False, to, promo
        rook = 8 * rank + (7 if to > frm else 0)
        ok = _stem_move_ok(bb, col, mail, castle, stm, ep, frm, rook, 2, 0)
        return ok, rook, -1
    if bb[KING] & col[1 - stm] & bit(to):
        return False, to, promo
    kind = 1 if promo >= 0 else 0
    return _stem_move_ok(bb, col, mail, castle, stm, ep, frm, to, kind, max(promo - 1, 0)), to, promo


@njit(cache=True)
def _same_as_chain(pieces: np.ndarray, castling: np.ndarray, raw_ep: np.ndarray, turn: np.ndarray,
                   rule50: np.ndarray, i: int, bb: np.ndarray, col: np.ndarray, e_bb: np.ndarray,
                   e_col: np.ndarray, e_mail: np.ndarray, castle: np.uint64, stm: int, ep: int, r50: int) -> bool:
    """Whether record ``i`` is the chain's position (``nnue_binpack._same_position``): pieces, side to move,
    castling rights, Stockfish ep square and rule50 agree."""
    if turn[i] != stm or rule50[i] != r50:
        return False
    _load(pieces, i, e_bb, e_col, e_mail)
    if e_col[0] != col[0] or e_col[1] != col[1]:
        return False
    for t in range(6):
        if e_bb[t] != bb[t]:
            return False
    return _clean_castle(bb, col, castling, i) == castle and _stockfish_ep(bb, col, stm, np.int64(raw_ep[i])) == ep


@njit(cache=True)
def _put_vle(out: np.ndarray, base: int, pos: int, u: int) -> int:
    """Score VLE: 4-bit blocks, low first, each followed by a "more" bit."""
    while True:
        more = 1 if u > 15 else 0
        pos = _put_bits(out, base, pos, (u & 15) | (more << 4), 5)
        u >>= 4
        if not more:
            return pos


@njit(cache=True)
def _write_stem(out: np.ndarray, at: int, col: np.ndarray, mail: np.ndarray, castle: np.uint64, stm: int, ep: int,
                mcode: int, score: int, ply: int, result: int, r50: int) -> None:
    """32-byte stem at ``out[at]`` (``nnue_binpack.pack_stem``); the ply count after it is patched later."""
    _compress(out, at, col, mail, castle, stm, ep)
    pr = (ply & 0x3FFF) | (signed_to_unsigned(result) << 14)
    for k, v in enumerate((mcode, signed_to_unsigned(score), pr, min(r50, 0xFFFF))):
        out[at + 24 + 2 * k] = np.uint8((v >> 8) & 255)
        out[at + 25 + 2 * k] = np.uint8(v & 255)


@njit(cache=True)
def encode_records(pieces: np.ndarray, castling: np.ndarray, raw_ep: np.ndarray, turn: np.ndarray,
                   rule50: np.ndarray, score: np.ndarray, move: np.ndarray, ply: np.ndarray, result: np.ndarray,
                   final: bool, chunk_size: int, cur_len: int, out: np.ndarray,
                   cuts: np.ndarray) -> tuple[int, int, int, int, int]:
    """Encode decoded ``.bin`` records (the :class:`boardnet.nnue.data.bin.Decoded` arrays, ``N`` rows) as
    binpack chunk bodies into the zeroed ``out uint8 [>= 34 * N]``, exactly as ``nnue_binpack.encode_binpack``.

    ``cur_len``: bytes already in the open chunk; ``cuts [N]`` receives the ``out`` offsets where a new chunk
    starts. Unless ``final``, a move chain still open at the end is left out (the next call starts at its stem).
    Returns ``(records consumed, bytes written, cuts, open-chunk bytes, status)``; status ENC_ODD (records
    consumed = that record) where a record needs the Python writer's own handling: a move that is not
    pseudo-legal or captures a king, a ply above 16383, a result outside -1..1, a chained record without move.
    """
    n = pieces.shape[0]
    bb = np.zeros(6, np.uint64)
    col = np.zeros(2, np.uint64)
    e_bb = np.zeros(6, np.uint64)
    e_col = np.zeros(2, np.uint64)
    mail = np.zeros(64, np.int8)
    e_mail = np.zeros(64, np.int8)
    w, ncuts = 0, 0  # bytes of closed chains in ``out``; chunk starts recorded
    chained = False  # (bb, col, c_*) hold the previous record's position after its move
    c_castle, c_stm, c_ep, c_r50, c_ply, c_result = np.uint64(0), 0, -1, 0, 0, 0
    open_chain = False
    stem_rec, stem_at, pre_cuts, pre_len = 0, 0, 0, cur_len  # the open chain: record, offset, state before it
    pos, nplies, last = 0, 0, 0  # movetext bits, plies, minus the last score
    for i in range(n):
        p, res, sc = np.int64(ply[i]), np.int64(result[i]), np.int64(score[i])
        if p > 0x3FFF or res < -1 or res > 1:
            return i, w, ncuts, cur_len, ENC_ODD
        frm, to, promo = _python_move(np.int64(move[i])) if move[i] else (0, 0, -1)
        if (chained and nplies < 0xFFFF and c_ply + 1 == p and c_result == -res
                and _same_as_chain(pieces, castling, raw_ep, turn, rule50, i, bb, col, e_bb, e_col, e_mail, c_castle,
                                   c_stm, c_ep, c_r50)):
            if not move[i]:
                return i, w, ncuts, cur_len, ENC_ODD
            pos, ok = _move_bits(out, stem_at + STEM_BYTES, pos, bb, col, mail, c_castle, c_stm, c_ep, frm, to, promo)
            if not ok:
                return i, w, ncuts, cur_len, ENC_ODD
            pos = _put_vle(out, stem_at + STEM_BYTES, pos, signed_to_unsigned(int16(sc - last)))
            last = -sc
            nplies += 1
            castle, stm, ep, r50 = c_castle, c_stm, c_ep, c_r50
        else:
            if open_chain:  # close it: ply count, padded movetext
                out[stem_at + 32] = np.uint8(nplies >> 8)
                out[stem_at + 33] = np.uint8(nplies & 255)
                w = stem_at + STEM_BYTES + ((pos + 7) >> 3)
                cur_len += w - stem_at
            pre_cuts, pre_len = ncuts, cur_len
            if cur_len >= chunk_size:
                cuts[ncuts] = w
                ncuts += 1
                cur_len = 0
            open_chain, stem_rec, stem_at = True, i, w
            _load(pieces, i, bb, col, mail)
            stm, r50 = np.int64(turn[i]), np.int64(rule50[i])
            castle = _clean_castle(bb, col, castling, i)
            ep = _stockfish_ep(bb, col, stm, np.int64(raw_ep[i]))
            mcode = _stem_move(bb, col, stm, np.int64(raw_ep[i]), frm, to, promo) if move[i] else 0
            _write_stem(out, stem_at, col, mail, castle, stm, ep, mcode, sc, p, res, r50)
            pos, nplies, last = 0, 0, -sc
        chained = move[i] != 0
        if chained:
            ok, kto, kpromo = _playable(bb, col, mail, castle, stm, ep, frm, to, promo)
            if not ok:
                return i, w, ncuts, cur_len, ENC_ODD
            _, c_castle, cand, c_r50 = _push(bb, col, mail, castle, stm, frm, kto, CODE_TYPE[mail[frm]], kpromo, r50)
            c_stm = 1 - stm
            c_ep = _stockfish_ep(bb, col, c_stm, cand)
            c_ply, c_result = p, res
    if not open_chain:
        return n, w, ncuts, cur_len, ENC_OK
    if not final:  # leave the open chain to the next call, which re-decides its chunk cut too
        return stem_rec, stem_at, pre_cuts, pre_len, ENC_OK
    out[stem_at + 32] = np.uint8(nplies >> 8)
    out[stem_at + 33] = np.uint8(nplies & 255)
    w = stem_at + STEM_BYTES + ((pos + 7) >> 3)
    return n, w, ncuts, cur_len + (w - stem_at), ENC_OK
