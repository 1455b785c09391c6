"""Stockfish ``.bin`` training data: PackedSfenValue records (40 bytes each), read and write.

Record layout (Stockfish tools ``packed_sfen.h``, little endian):
``sfen[32]`` Huffman-packed position, ``score int16`` (cp-like internal units, side to move),
``move uint16`` (Stockfish move encoding), ``game_ply uint16``, ``result int8`` (+1 win / 0 draw / -1 loss
for the side to move), ``padding uint8``.

Packed sfen bit stream (bits are taken LSB-first within each byte; n-bit numbers are written LSB first):
stm (1 bit, 1 = black), white king square (6), black king square (6), then every non-king square from
a8..h8 down to a1..h1: ``0`` = empty, else the 4-bit piece code (pawn 0b0001, knight 0b0011, bishop 0b0101,
rook 0b0111, queen 0b1001; low bit first) followed by a colour bit (1 = black); castling rights K Q k q
(4 bits), en-passant flag (1) + square (6 if set), rule50 low 6 bits, fullmove low 8 bits, fullmove high 8
bits, rule50 bit 6.

Decoding is one compiled (numba) loop over records and squares, writing straight into the decoded arrays
(see :func:`_decode_kernel`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import chess
import numpy as np
from numba import njit

from boardnet.core.errors import FormatError
from boardnet.core.io import atomic_write, check_user_file, open_user_file

RECORD_SIZE = 40
SFEN_BYTES = 32
RECORD_DTYPE = np.dtype(
    [
        ("sfen", "u1", (SFEN_BYTES,)),
        ("score", "<i2"),
        ("move", "<u2"),
        ("ply", "<u2"),
        ("result", "i1"),
        ("pad", "u1"),
    ]
)
assert RECORD_DTYPE.itemsize == RECORD_SIZE

# Piece codes in decoded boards: 0 empty, 1..6 white pawn..king, 7..12 black pawn..king (= type + 6*black).
EMPTY = 0
MAX_PIECES = 32
KING_TYPE = 6
# Stockfish move encoding: to = bits 0-5, from = bits 6-11, promo piece (type-2) bits 12-13, kind bits 14-15.
MOVE_NORMAL, MOVE_PROMOTION, MOVE_EN_PASSANT, MOVE_CASTLING = 0, 1, 2, 3
# Board order of the packed stream: rank 8 to rank 1, file a to h (python-chess square numbers).
STREAM_SQUARES = np.array([8 * r + f for r in range(7, -1, -1) for f in range(8)], dtype=np.int64)
# 4-bit packed-sfen codes (written low bit first) by python-chess piece type: pawn 1 .. queen 5 (0, king: none)
SFEN_PIECE_CODE = np.array([0, 0b0001, 0b0011, 0b0101, 0b0111, 0b1001, 0], dtype=np.int64)
_BITS = SFEN_BYTES * 8


@dataclass
class Decoded:
    """Decoded records, all arrays of length ``N`` (one row per record).

    pieces ``[N,64] int8`` (codes above, python-chess square order a1=0), list_sq/list_code ``[N,32] int8``
    the same pieces as a list (stream order, kings last; padding square 64, code 0), turn ``[N] int8`` (0 white,
    1 black), castling ``[N,4] bool`` (K,Q,k,q), ep ``[N] int8`` (-1 none), rule50 ``[N] int16``,
    fullmove ``[N] int32``, score ``[N] int16``, move ``[N] uint16``, ply ``[N] uint16``,
    result ``[N] int8``.
    """

    pieces: np.ndarray
    list_sq: np.ndarray
    list_code: np.ndarray
    turn: np.ndarray
    castling: np.ndarray
    ep: np.ndarray
    rule50: np.ndarray
    fullmove: np.ndarray
    score: np.ndarray
    move: np.ndarray
    ply: np.ndarray
    result: np.ndarray

    def __len__(self) -> int:
        return len(self.turn)

    def select(self, keep: np.ndarray) -> Decoded:
        """Rows where the bool mask (or index array) ``keep`` selects."""
        rows = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else keep
        return Decoded(**{k: getattr(self, k).take(rows, axis=0) for k in self.__dataclass_fields__})

    def fen(self, i: int) -> str:
        """FEN of record ``i`` (python-chess formatting)."""
        return self.board(i).fen()

    def board(self, i: int) -> chess.Board:
        """python-chess board of record ``i``."""
        b = chess.Board(None)
        for sq in np.flatnonzero(self.pieces[i]):
            code = int(self.pieces[i, sq])
            b.set_piece_at(int(sq), chess.Piece((code - 1) % 6 + 1, code <= 6))
        b.turn = bool(self.turn[i] == 0)
        fen_castle = "".join(c for c, on in zip("KQkq", self.castling[i]) if on) or "-"
        b.set_castling_fen(fen_castle)
        b.ep_square = None if self.ep[i] < 0 else int(self.ep[i])
        b.halfmove_clock = int(self.rule50[i])
        b.fullmove_number = int(self.fullmove[i])
        return b

    def move_uci(self, i: int) -> str:
        """The record's move in UCI notation (castling as king to its target square)."""
        return decode_move(int(self.move[i]), chess.WHITE if self.turn[i] == 0 else chess.BLACK).uci()

    def is_capture(self) -> np.ndarray:
        """``[N] bool``: the stored move captures (en passant included, castling excluded)."""
        kind = self.move >> 14
        to = (self.move & 63).astype(np.int64)
        target = np.take_along_axis(self.pieces, to[:, None], 1)[:, 0]
        # move 0 (a1a1) means "no move stored" (e.g. text data): never a capture
        return (self.move != 0) & ((kind == MOVE_EN_PASSANT) | ((kind != MOVE_CASTLING) & (target != EMPTY)))


# Decoding is one numba kernel: a sequential bit reader per record (bits past the 256-bit stream read as 0,
# so a corrupt stream never reads out of bounds; it is flagged bad instead).
_PAD_BYTES = 8  # zero bytes after the 32 stream bytes: a read at a cursor clamped to 256 stays in range
# non-king piece codes read from the stream: 4-bit code (low bit 1) -> piece type 1..5, anything else invalid
_MAX_TYPE = 5


@njit(cache=True, nogil=True, inline="always")
def _read(buf: np.ndarray, cursor: int, n_bytes: int) -> int:
    """Stream bits ``cursor ..`` (LSB first) as an int from ``n_bytes`` bytes; 0 past bit 256."""
    c = min(cursor, _BITS)
    b = c >> 3
    v = 0
    for k in range(n_bytes):
        v |= buf[b + k] << (8 * k)
    return v >> (c & 7)


@njit(cache=True, nogil=True)
def _decode_kernel(sfen, pieces, list_sq, list_code, turn, castling, ep, rule50, fullmove, bad):  # noqa: ANN001
    """Decode ``sfen [n,32] uint8`` into the preallocated output arrays of :func:`decode_records`.

    Invalid streams (two kings on one square, unknown piece code, more than 30 non-king pieces, more than 256
    bits) set ``bad``; their board row is left empty (the row is dropped or raises).
    """
    buf = np.zeros(SFEN_BYTES + _PAD_BYTES, dtype=np.int64)
    for i in range(sfen.shape[0]):
        for k in range(SFEN_BYTES):
            buf[k] = sfen[i, k]
        head = buf[0] | (buf[1] << 8)
        wk = (head >> 1) & 63
        bk = (head >> 7) & 63
        turn[i] = head & 1
        for s in range(64):
            pieces[i, s] = EMPTY
        cursor = 13
        count = 0
        invalid = wk == bk
        for p in range(64):
            sq = p ^ 56  # stream order a8..h8, a7..h7, ..., a1..h1
            if sq in (wk, bk):
                continue
            v = _read(buf, cursor, 2)
            if (v & 1) == 0:
                cursor += 1
                continue
            cursor += 5
            ptype = ((v >> 1) & 7) + 1
            if ptype > _MAX_TYPE:
                invalid = True
                code = 0
            else:
                code = ptype + 6 * ((v >> 4) & 1)
            if count < MAX_PIECES - 2:
                list_sq[i, count] = sq
                list_code[i, count] = code
            pieces[i, sq] = code
            count += 1
        invalid |= count > MAX_PIECES - 2
        tail = _read(buf, cursor, 6)
        has_ep = (tail >> 4) & 1
        for k in range(4):
            castling[i, k] = ((tail >> k) & 1) != 0
        ep[i] = ((tail >> 5) & 63) if has_ep else -1
        tail >>= 11 if has_ep else 5
        rule50[i] = (tail & 63) | (((tail >> 22) & 1) << 6)
        fullmove[i] = (tail >> 6) & 0xFFFF
        invalid |= cursor + (34 if has_ep else 28) > _BITS
        bad[i] = invalid
        n_list = min(count, MAX_PIECES - 2)
        list_sq[i, n_list] = wk
        list_code[i, n_list] = KING_TYPE
        list_sq[i, n_list + 1] = bk
        list_code[i, n_list + 1] = KING_TYPE + 6
        for k in range(n_list + 2, MAX_PIECES):
            list_sq[i, k] = 64
            list_code[i, k] = EMPTY
        if invalid:
            for s in range(64):
                pieces[i, s] = EMPTY
        else:
            pieces[i, wk] = KING_TYPE
            pieces[i, bk] = KING_TYPE + 6


def decode_records(
    raw: np.ndarray,
    *,
    path: str | os.PathLike[str] | None = None,
    first_index: int = 0,
    skip_bad: bool = False,
) -> tuple[Decoded, int]:
    """Decode a structured array of ``RECORD_DTYPE`` records.

    Returns ``(decoded, n_bad)``. A record whose stream is invalid (unknown piece code, two kings on one
    square, more than 256 bits) raises :class:`FormatError` naming its record index
    (``first_index`` + position) and byte offset, or is dropped and counted when ``skip_bad``.
    """
    n = len(raw)
    pieces = np.empty((n, 64), dtype=np.int8)
    list_sq = np.empty((n, MAX_PIECES), dtype=np.int8)
    list_code = np.empty((n, MAX_PIECES), dtype=np.int8)
    turn, ep = np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int8)
    castling = np.empty((n, 4), dtype=bool)
    rule50, fullmove = np.empty(n, dtype=np.int16), np.empty(n, dtype=np.int32)
    bad = np.empty(n, dtype=bool)
    outs = (pieces, list_sq, list_code, turn, castling, ep, rule50, fullmove, bad)
    _decode_kernel(np.ascontiguousarray(raw["sfen"]), *outs)
    bad_result = (raw["result"] < -1) | (raw["result"] > 1)
    if (bad | bad_result).any() and not skip_bad:
        i = int(np.flatnonzero(bad | bad_result)[0])
        if bad[i]:
            msg, off, field = "invalid packed sfen", 0, "sfen"
        else:
            msg, off, field = f"result {int(raw['result'][i])} not in -1..1", 38, "result"
        raise FormatError(
            path,
            f"record {first_index + i}: {msg}",
            offset=(first_index + i) * RECORD_SIZE + off,
            field=field,
        )
    dec = Decoded(
        pieces,
        list_sq,
        list_code,
        turn,
        castling,
        ep,
        rule50,
        fullmove,
        raw["score"].copy(),
        raw["move"].copy(),
        raw["ply"].copy(),
        raw["result"].copy(),
    )
    bad |= bad_result
    n_bad = int(bad.sum())
    if n_bad:
        dec = dec.select(~bad)
    return dec, n_bad


def count_records(path: str | os.PathLike[str], *, skip_bad: bool = False) -> int:
    """Number of whole records in ``path``; a partial last record is a FormatError unless ``skip_bad``, and so
    is an empty file or one that is not a regular file."""
    size = check_user_file(path).stat().st_size
    if size == 0:
        raise FormatError(path, "empty file: no records")
    if size % RECORD_SIZE and not skip_bad:
        whole = size // RECORD_SIZE
        raise FormatError(
            path,
            f"record {whole}: partial record ({size % RECORD_SIZE} of {RECORD_SIZE} bytes)",
            offset=whole * RECORD_SIZE,
        )
    return size // RECORD_SIZE


def read_raw(
    path: str | os.PathLike[str], start: int = 0, count: int | None = None, *, skip_bad: bool = False
) -> np.ndarray:
    """Records ``start .. start+count`` of ``path`` as a structured ``RECORD_DTYPE`` array (no decoding)."""
    total = count_records(path, skip_bad=skip_bad)
    stop = total if count is None else min(total, start + count)
    if start >= stop:
        return np.zeros(0, dtype=RECORD_DTYPE)
    with open_user_file(path) as f:
        f.seek(start * RECORD_SIZE)
        buf = f.read((stop - start) * RECORD_SIZE)
    if len(buf) != (stop - start) * RECORD_SIZE:  # the file shrank since it was counted
        raise FormatError(path, f"record {start + len(buf) // RECORD_SIZE}: file ends early",
                          offset=start * RECORD_SIZE + len(buf))
    return np.frombuffer(buf, dtype=RECORD_DTYPE)


def read_bin(
    path: str | os.PathLike[str], start: int = 0, count: int | None = None, *, skip_bad: bool = False
) -> tuple[Decoded, int]:
    """Read and decode records of a ``.bin`` file; returns ``(decoded, n_bad)`` (see :func:`decode_records`)."""
    raw = read_raw(path, start, count, skip_bad=skip_bad)
    return decode_records(raw, path=path, first_index=start, skip_bad=skip_bad)


# --- writing (per position, python-chess; only used for tools and tests) ---



class _BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.cursor = 0

    def put(self, value: int, n: int) -> None:
        self.value |= (value & ((1 << n) - 1)) << self.cursor
        self.cursor += n


def pack_sfen(board: chess.Board) -> bytes:
    """32-byte packed sfen of ``board`` (en passant only when a legal ep capture exists, like FEN output)."""
    w = _BitWriter()
    w.put(int(board.turn == chess.BLACK), 1)
    for colour in (chess.WHITE, chess.BLACK):
        king = board.king(colour)
        if king is None:
            raise ValueError("packed sfen needs both kings")
        w.put(king, 6)
    for sq in STREAM_SQUARES:
        piece = board.piece_at(int(sq))
        if piece is None:
            w.put(0, 1)
        elif piece.piece_type != chess.KING:
            w.put(int(SFEN_PIECE_CODE[piece.piece_type]), 4)
            w.put(int(piece.color == chess.BLACK), 1)
    for sq in (chess.H1, chess.A1, chess.H8, chess.A8):
        w.put(int(bool(board.castling_rights & chess.BB_SQUARES[sq])), 1)
    if board.has_legal_en_passant():
        w.put(1, 1)
        w.put(board.ep_square, 6)
    else:
        w.put(0, 1)
    w.put(board.halfmove_clock, 6)
    w.put(board.fullmove_number, 8)
    w.put(board.fullmove_number >> 8, 8)
    w.put(board.halfmove_clock >> 6, 1)
    if w.cursor > _BITS:
        raise ValueError("position does not fit in 256 bits")
    return w.value.to_bytes(SFEN_BYTES, "little")


def encode_move(board: chess.Board, move: chess.Move) -> int:
    """Stockfish 16-bit move code of ``move`` in ``board`` (castling = king takes own rook)."""
    if board.is_castling(move):
        rook_file = 7 if chess.square_file(move.to_square) > chess.square_file(move.from_square) else 0
        to = chess.square(rook_file, chess.square_rank(move.from_square))
        return (MOVE_CASTLING << 14) | (move.from_square << 6) | to
    code = (move.from_square << 6) | move.to_square
    if move.promotion:
        return code | (MOVE_PROMOTION << 14) | ((move.promotion - chess.KNIGHT) << 12)
    if board.is_en_passant(move):
        return code | (MOVE_EN_PASSANT << 14)
    return code


def decode_move(code: int, turn: chess.Color) -> chess.Move:
    """python-chess move of a Stockfish move code (standard chess castling squares)."""
    frm, to, kind = (code >> 6) & 63, code & 63, code >> 14
    if kind == MOVE_CASTLING:
        file = 6 if chess.square_file(to) > chess.square_file(frm) else 2
        return chess.Move(frm, chess.square(file, chess.square_rank(frm)))
    if kind == MOVE_PROMOTION:
        return chess.Move(frm, to, promotion=((code >> 12) & 3) + chess.KNIGHT)
    return chess.Move(frm, to)


def pack_record(board: chess.Board, score: int, move: chess.Move | None, ply: int, result: int) -> bytes:
    """One 40-byte PackedSfenValue (``result`` from the side to move: 1, 0, -1)."""
    rec = np.zeros(1, dtype=RECORD_DTYPE)
    rec["sfen"][0] = np.frombuffer(pack_sfen(board), dtype=np.uint8)
    rec["score"] = score
    rec["move"] = 0 if move is None else encode_move(board, move)
    rec["ply"] = ply
    rec["result"] = result
    return rec.tobytes()


def write_bin(
    path: str | os.PathLike[str], records: list[tuple[chess.Board, int, chess.Move | None, int, int]]
) -> int:
    """Write ``(board, score, move, ply, result)`` records atomically; returns the record count."""
    data = b"".join(pack_record(*r) for r in records)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return len(records)
