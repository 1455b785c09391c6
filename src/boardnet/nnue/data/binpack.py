"""Stockfish ``.binpack`` training data (chained compressed move sequences): read and write.

Facts from nnue-pytorch ``data_loader/cpp/lib/binpack.h``, ``training_data_entry.h`` and ``chess.h``
(Tomasz Sobczyk's format, also in the Stockfish tools branch):

File = chunks: ``b"BINP"`` + ``uint32`` little-endian size + that many bytes (at most 100 MiB; the writer
starts a new chunk once a chunk holds >= 1 MiB, always at a stem). A chunk is a sequence of
*stem + movetext*; it ends when fewer than 34 bytes are left.

Stem (32 bytes, every multi-byte field big-endian):
  - ``occupied uint64``: bit ``s`` set for each occupied square (a1 = 0, h8 = 63);
  - 16 bytes of 4-bit codes, one per occupied square in ascending square order, low nibble first:
    ``2*type + colour`` for type pawn..king = 0..5 and colour white 0 / black 1, except 12 = pawn that just
    made a double push whose en-passant square (behind it) can be captured (rank 4: white pawn, rank 5:
    black pawn), 13 / 14 = white / black rook on its corner with that castling right, 15 = black king and
    black to move (otherwise white is to move);
  - ``move uint16``: move type (2 bits: normal 0, promotion 1, castling 2, en passant 3), from (6), to (6),
    promotion piece type - knight (2); castling is "king takes own rook"; 0 = no move;
  - ``score uint16`` zigzag-coded (see :func:`signed_to_unsigned`);
  - ``ply_result uint16``: ply (14 low bits), zigzag-coded result (2 high bits; -1, 0, 1 for the side to move);
  - ``rule50 uint16``.

Movetext: ``uint16`` big-endian ply count ``n``, then ``n`` (move, score) pairs bit-packed MSB-first, padded
to a byte. Each follows the previous record's move: the side to move's pieces in ascending square order,
``piece index`` in ``bits(count)`` bits (``bits(n) = (n-1).bit_length()``, 0 for n <= 1), then the
destination index among the piece's *pseudo-legal* destinations (ascending squares) in ``bits(count)`` bits:
sliders/knights/king: attacks & ~own pieces, king followed by its castlings (long first when that right
exists); pawns: captures of enemy pieces or the en-passant square, the push and double push when free;
a pawn on its 7th rank codes ``4*index + promotion`` (knight..queen). Then the score: ``zigzag(score -
last)`` (int16 arithmetic) as a VLE of 5-bit blocks (4 value bits, low block first, then a "more" bit),
where ``last`` is minus the previous score. Each step adds one ply, flips the result, and updates rule50,
castling rights and the en-passant square the Stockfish way (set only when a capture is possible).

Writing: :func:`encode_binpack` (Python, from python-chess entries; ~100k positions/s) and, for ``.bin``
records, :func:`compiled_chunks` / :func:`write_binpack_records` (the numba encoder of
``nnue_binpack_kernel``, ~1.5M positions/s, streamed chunk by chunk, the same bytes).

Records come back in the ``.bin`` structured layout (:data:`boardnet.nnue.data.bin.RECORD_DTYPE`) so the
same vectorized pipeline decodes them.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import chess
import numpy as np

from boardnet.core.chess_moves import bits_for as _bits_for
from boardnet.core.errors import FormatError
from boardnet.core.io import atomic_write
from boardnet.nnue.data import binpack_kernel as kernel
from boardnet.nnue.data.bin import RECORD_DTYPE, SFEN_PIECE_CODE, STREAM_SQUARES
from boardnet.nnue.data.binpack_kernel import int16 as _int16
from boardnet.nnue.data.binpack_kernel import signed_to_unsigned, unsigned_to_signed

MAGIC = b"BINP"
CHUNK_HEADER = 8
MAX_CHUNK = 100 * 1024 * 1024  # binpack.h maxChunkSize: refuse bigger before allocating
SUGGESTED_CHUNK = 1024 * 1024  # binpack.h suggestedChunkSize
STEM_SIZE = 32
PLIES_SIZE = 2
SCORE_VLE_BLOCK = 4
_MAX_VLE_BLOCKS = 4  # 4 x 4 bits hold any uint16; more means a corrupt stream

# chess.h MoveType order (differs from Stockfish's .bin move kinds: en passant 2, castling 3)
BP_NORMAL, BP_PROMOTION, BP_CASTLE, BP_EN_PASSANT = 0, 1, 2, 3

NIBBLE_EP_PAWN, NIBBLE_WHITE_CASTLE_ROOK, NIBBLE_BLACK_CASTLE_ROOK, NIBBLE_BLACK_KING_TO_MOVE = 12, 13, 14, 15

Entry = tuple[chess.Board, int, "chess.Move | None", int, int]  # (board, score, move, ply, result)


def _nth_square(bb: int, n: int) -> int:
    """Square of the ``n``-th set bit (ascending) of ``bb``; callers check ``n < popcount``."""
    for _ in range(n):
        bb &= bb - 1  # drop the lowest set bit
    return (bb & -bb).bit_length() - 1


def _popcount(bb: int) -> int:
    return bb.bit_count()


# ---------------------------------------------------------------- Stockfish-rule en passant


def stockfish_ep(board: chess.Board) -> int | None:
    """``board.ep_square`` kept only when Stockfish's ``isEpPossible`` holds (chess.h), else None.

    Needed exactly: the en-passant square is a pawn capture target in the movetext destination lists.
    """
    ep = board.ep_square
    if ep is None:
        return None
    us = board.turn
    fwd = 8 if us == chess.WHITE else -8
    pawns = chess.BB_PAWN_ATTACKS[not us][ep] & board.pieces_mask(chess.PAWN, us)
    if not pawns or board.piece_at(ep) is not None or not 0 <= ep + fwd < 64 or not 0 <= ep - fwd < 64:
        return None
    if board.piece_at(ep + fwd) is not None or board.piece_at(ep - fwd) != chess.Piece(chess.PAWN, not us):
        return None
    king = board.king(us)
    if king is None:
        return None
    them = board.occupied_co[not us]
    diag = (board.bishops | board.queens) & them
    line = (board.rooks | board.queens) & them
    if not (diag | line) & (chess.BB_DIAG_ATTACKS[king][0] | chess.BB_RANK_ATTACKS[king][0]
                            | chess.BB_FILE_ATTACKS[king][0]):
        return ep
    for sq in chess.scan_forward(pawns):
        captured = chess.square(chess.square_file(ep), chess.square_rank(sq))
        occ = ((board.occupied ^ chess.BB_SQUARES[sq]) | chess.BB_SQUARES[ep]) ^ chess.BB_SQUARES[captured]
        attacked = (
            chess.BB_DIAG_ATTACKS[king][chess.BB_DIAG_MASKS[king] & occ] & diag
            or chess.BB_RANK_ATTACKS[king][chess.BB_RANK_MASKS[king] & occ] & line
            or chess.BB_FILE_ATTACKS[king][chess.BB_FILE_MASKS[king] & occ] & line
        )
        if not attacked:
            return ep
    return None


# ---------------------------------------------------------------- stems


def compress_position(board: chess.Board, ep: int | None) -> bytes:
    """24-byte CompressedPosition (occupancy big-endian + nibbles) of ``board`` with Stockfish ep ``ep``."""
    occ = board.occupied
    if _popcount(occ) > 32:
        raise ValueError("more than 32 pieces")
    rights = board.clean_castling_rights()
    nibbles = []
    for sq in chess.scan_forward(occ):
        piece = board.piece_at(sq)
        assert piece is not None
        code = 2 * (piece.piece_type - 1) + (piece.color == chess.BLACK)
        bit = chess.BB_SQUARES[sq]
        if piece.piece_type == chess.PAWN and ep is not None and chess.square_file(sq) == chess.square_file(ep) \
                and chess.square_rank(sq) == (3 if board.turn == chess.BLACK else 4):
            code = NIBBLE_EP_PAWN
        elif piece.piece_type == chess.ROOK and rights & bit:
            code = NIBBLE_WHITE_CASTLE_ROOK if piece.color == chess.WHITE else NIBBLE_BLACK_CASTLE_ROOK
        elif piece.piece_type == chess.KING and piece.color == chess.BLACK and board.turn == chess.BLACK:
            code = NIBBLE_BLACK_KING_TO_MOVE
        nibbles.append(code)
    nibbles += [0] * (32 - len(nibbles))
    packed = bytes(nibbles[i] | (nibbles[i + 1] << 4) for i in range(0, 32, 2))
    return occ.to_bytes(8, "big") + packed


def decompress_position(data: bytes) -> tuple[chess.Board, int | None]:
    """Board and Stockfish ep square of a 24-byte CompressedPosition; ValueError names what is wrong."""
    occ = int.from_bytes(data[:8], "big")
    if _popcount(occ) > 32:
        raise ValueError(f"occupancy has {_popcount(occ)} pieces (max 32)")
    board = chess.Board(None)
    ep = None
    rights = 0
    for i, sq in enumerate(chess.scan_forward(occ)):
        nib = (data[8 + i // 2] >> (4 * (i & 1))) & 15
        rank = chess.square_rank(sq)
        if nib < 12:
            piece = chess.Piece(nib // 2 + 1, nib % 2 == 0)
        elif nib == NIBBLE_EP_PAWN:
            if rank not in (3, 4):
                raise ValueError(f"en-passant pawn on {chess.square_name(sq)}")
            piece = chess.Piece(chess.PAWN, rank == 3)
            ep = sq - 8 if rank == 3 else sq + 8
        elif nib in (NIBBLE_WHITE_CASTLE_ROOK, NIBBLE_BLACK_CASTLE_ROOK):
            white = nib == NIBBLE_WHITE_CASTLE_ROOK
            if sq not in ((chess.A1, chess.H1) if white else (chess.A8, chess.H8)):
                raise ValueError(f"castling rook on {chess.square_name(sq)}")
            piece = chess.Piece(chess.ROOK, white)
            rights |= chess.BB_SQUARES[sq]
        else:
            piece = chess.Piece(chess.KING, chess.BLACK)
            board.turn = chess.BLACK
        if piece.piece_type == chess.PAWN and rank in (0, 7):
            raise ValueError(f"pawn on {chess.square_name(sq)}")
        board.set_piece_at(sq, piece)
    for colour, home in ((chess.WHITE, chess.E1), (chess.BLACK, chess.E8)):
        if _popcount(board.pieces_mask(chess.KING, colour)) != 1:
            raise ValueError(f"{chess.COLOR_NAMES[colour]} must have exactly one king")
        if rights & chess.BB_BACKRANKS & (chess.BB_RANK_1 if colour else chess.BB_RANK_8) and board.king(colour) != home:
            raise ValueError(f"{chess.COLOR_NAMES[colour]} castling right without the king on its square")
    board.castling_rights = rights
    board.ep_square = ep
    return board, ep


def pack_move(board: chess.Board, move: chess.Move | None) -> int:
    """16-bit CompressedMove of ``move`` in ``board`` (castling as king takes rook); 0 for None."""
    if move is None:
        return 0
    to, kind, promo = move.to_square, BP_NORMAL, 0
    if board.is_castling(move):
        kind = BP_CASTLE
        rook_file = 7 if chess.square_file(move.to_square) > chess.square_file(move.from_square) else 0
        to = chess.square(rook_file, chess.square_rank(move.from_square))
    elif move.promotion:
        kind, promo = BP_PROMOTION, move.promotion - chess.KNIGHT
    elif board.is_en_passant(move):
        kind = BP_EN_PASSANT
    return (kind << 14) | (move.from_square << 8) | (to << 2) | promo


def _unpack_move(code: int) -> tuple[chess.Move, int]:
    """python-chess move (castling as king takes rook) and Stockfish ``.bin`` move code of a CompressedMove."""
    kind, frm, to, promo = code >> 14, (code >> 8) & 63, (code >> 2) & 63, code & 3
    move = chess.Move(frm, to, promotion=promo + chess.KNIGHT if kind == BP_PROMOTION else None)
    bin_code = (int(kernel.BIN_KIND[kind]) << 14) | (frm << 6) | to
    if kind == BP_PROMOTION:
        bin_code |= promo << 12
    return move, bin_code


def pack_stem(board: chess.Board, ep: int | None, move: chess.Move | None, score: int, ply: int, result: int) -> bytes:
    """32-byte stem (see the module docstring)."""
    if result not in (-1, 0, 1):
        raise ValueError(f"result {result} not in -1, 0, 1")
    pr = (ply & 0x3FFF) | (signed_to_unsigned(result) << 14)
    return compress_position(board, ep) + struct.pack(
        ">HHHH", pack_move(board, move), signed_to_unsigned(score), pr, min(board.halfmove_clock, 0xFFFF)
    )


# ---------------------------------------------------------------- movetext


def _destinations(board: chess.Board, ep: int | None, frm: int) -> tuple[int, int, bool]:
    """(pseudo-legal destination bitboard, castlings available, pawn-promotes) of the piece on ``frm``."""
    us = board.turn
    our, occ = board.occupied_co[us], board.occupied
    ptype = board.piece_type_at(frm)
    if ptype == chess.PAWN:
        targets = board.occupied_co[not us] | (chess.BB_SQUARES[ep] if ep is not None else 0)
        dest = chess.BB_PAWN_ATTACKS[us][frm] & targets
        fwd = 8 if us == chess.WHITE else -8
        start, seventh = (1, 6) if us == chess.WHITE else (6, 1)
        if not occ & chess.BB_SQUARES[frm + fwd]:
            dest |= chess.BB_SQUARES[frm + fwd]
            if chess.square_rank(frm) == start and not occ & chess.BB_SQUARES[frm + 2 * fwd]:
                dest |= chess.BB_SQUARES[frm + 2 * fwd]
        return dest, 0, chess.square_rank(frm) == seventh
    if ptype == chess.KING:
        rights = board.castling_rights & (chess.BB_RANK_1 if us == chess.WHITE else chess.BB_RANK_8)
        return chess.BB_KING_ATTACKS[frm] & ~our, _popcount(rights), False
    return board.attacks_mask(frm) & ~our, 0, False


def _long_right(board: chess.Board) -> bool:
    return bool(board.castling_rights & chess.BB_SQUARES[chess.A1 if board.turn == chess.WHITE else chess.A8])


class _BitReader:
    """MSB-first bit reader over ``buf[start:end]``; ValueError when a read runs past ``end``."""

    def __init__(self, buf: bytes, start: int, end: int) -> None:
        self.buf, self.start, self.end, self.pos = buf, start, end, 0

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        first, last = self.start + (self.pos >> 3), self.start + ((self.pos + n - 1) >> 3)
        if last >= self.end:
            raise ValueError("movetext runs past the end of its chunk")
        window = int.from_bytes(self.buf[first : last + 1], "big")
        shift = 8 * (last - first + 1) - (self.pos & 7) - n
        self.pos += n
        return (window >> shift) & ((1 << n) - 1)

    def read_vle(self) -> int:
        value = 0
        for k in range(_MAX_VLE_BLOCKS):
            block = self.read(SCORE_VLE_BLOCK + 1)
            value |= (block & ((1 << SCORE_VLE_BLOCK) - 1)) << (SCORE_VLE_BLOCK * k)
            if not block >> SCORE_VLE_BLOCK:
                return value & 0xFFFF
        raise ValueError("score VLE longer than 16 bits")

    def bytes_used(self) -> int:
        return (self.pos + 7) >> 3


class _BitWriter:
    """MSB-first bit writer (the inverse of :class:`_BitReader`)."""

    def __init__(self) -> None:
        self.value, self.nbits = 0, 0

    def put(self, value: int, n: int) -> None:
        if n:
            self.value = (self.value << n) | (value & ((1 << n) - 1))
            self.nbits += n

    def put_vle(self, value: int) -> None:
        mask = (1 << SCORE_VLE_BLOCK) - 1
        while True:
            more = value > mask
            self.put((value & mask) | (more << SCORE_VLE_BLOCK), SCORE_VLE_BLOCK + 1)
            value >>= SCORE_VLE_BLOCK
            if not more:
                return

    def to_bytes(self) -> bytes:
        pad = -self.nbits % 8
        return (self.value << pad).to_bytes((self.nbits + pad) // 8, "big")


def _read_move(bits: _BitReader, board: chess.Board, ep: int | None) -> tuple[chess.Move, int]:
    """Next movetext move of ``board``: python-chess move (castling king takes rook) and ``.bin`` code."""
    our = board.occupied_co[board.turn]
    npieces = _popcount(our)
    piece_id = bits.read(_bits_for(npieces))
    if piece_id >= npieces:
        raise ValueError(f"piece index {piece_id} >= {npieces} pieces")
    frm = _nth_square(our, piece_id)
    dest, ncastle, promotes = _destinations(board, ep, frm)
    ndest = _popcount(dest)
    nmoves = ndest * 4 if promotes else ndest + ncastle
    move_id = bits.read(_bits_for(nmoves))
    if move_id >= nmoves:
        raise ValueError(f"move index {move_id} >= {nmoves} moves of {chess.square_name(frm)}")
    if promotes:
        to = _nth_square(dest, move_id // 4)
        promo = move_id % 4
        return chess.Move(frm, to, promotion=promo + chess.KNIGHT), (1 << 14) | (promo << 12) | (frm << 6) | to
    if move_id >= ndest:  # castling: long first when that right exists
        long = move_id == ndest and _long_right(board)
        rank = chess.square_rank(frm)
        to = chess.square(0 if long else 7, rank)
        return chess.Move(frm, to), (3 << 14) | (frm << 6) | to
    to = _nth_square(dest, move_id)
    kind = 2 if to == ep and board.piece_type_at(frm) == chess.PAWN else 0
    return chess.Move(frm, to), (kind << 14) | (frm << 6) | to


def _move_index(board: chess.Board, ep: int | None, move: chess.Move) -> tuple[int, int, int, int]:
    """``(piece_id, piece_bits, move_id, move_bits)`` of a pseudo-legal ``move``; ValueError otherwise."""
    our = board.occupied_co[board.turn]
    frm = move.from_square
    if not our & chess.BB_SQUARES[frm]:
        raise ValueError(f"{move.uci()}: no piece of the side to move on {chess.square_name(frm)}")
    dest, ncastle, promotes = _destinations(board, ep, frm)
    ndest = _popcount(dest)
    below = chess.BB_SQUARES[move.to_square] - 1
    if board.is_castling(move):
        short = chess.square_file(move.to_square) > chess.square_file(frm)
        corner = chess.square(7 if short else 0, chess.square_rank(frm))
        if not board.castling_rights & chess.BB_SQUARES[corner]:
            raise ValueError(f"{move.uci()}: castling without the right")
        move_id, nmoves = ndest - 1 + _long_right(board) + short, ndest + ncastle
    elif promotes:
        if not move.promotion or not dest & chess.BB_SQUARES[move.to_square]:
            raise ValueError(f"{move.uci()}: not a pseudo-legal promotion")
        move_id, nmoves = _popcount(dest & below) * 4 + move.promotion - chess.KNIGHT, ndest * 4
    else:
        if move.promotion or not dest & chess.BB_SQUARES[move.to_square]:
            raise ValueError(f"{move.uci()}: not a pseudo-legal move")
        move_id, nmoves = _popcount(dest & below), ndest + ncastle
    return _popcount(our & (chess.BB_SQUARES[frm] - 1)), _bits_for(_popcount(our)), move_id, _bits_for(nmoves)


def _write_move(bits: _BitWriter, board: chess.Board, ep: int | None, move: chess.Move) -> None:
    piece_id, piece_bits, move_id, move_bits = _move_index(board, ep, move)
    bits.put(piece_id, piece_bits)
    bits.put(move_id, move_bits)


def _push(board: chess.Board, move: chess.Move) -> int | None:
    """Play a pseudo-legal ``move`` (castling as king takes rook); returns the new Stockfish ep square."""
    if board.piece_type_at(move.to_square) == chess.KING and board.color_at(move.to_square) != board.turn:
        raise ValueError(f"{move.uci()} captures a king")
    if not board.is_pseudo_legal(move):
        raise ValueError(f"{move.uci()}: not a pseudo-legal move in {board.fen()}")
    board.push(move)
    return stockfish_ep(board)


# ---------------------------------------------------------------- reading


@dataclass
class BinpackStats:
    chunks: int = 0
    stems: int = 0
    positions: int = 0

    def summary(self) -> str:
        return f"{self.positions} positions in {self.stems} move chains, {self.chunks} chunks"


def _chunk_size_at(f: BinaryIO, path: Path, offset: int) -> int | None:
    """Validated data size of the chunk whose header starts at ``offset`` (file positioned there), None at EOF."""
    head = f.read(CHUNK_HEADER)
    if not head:
        return None
    if len(head) < CHUNK_HEADER:
        raise FormatError(path, f"truncated chunk header ({len(head)} of 8 bytes)", offset=offset)
    if head[:4] != MAGIC:
        raise FormatError(path, f"bad chunk magic {head[:4]!r}; expected {MAGIC!r}", offset=offset)
    size = int.from_bytes(head[4:], "little")
    if size > MAX_CHUNK:
        raise FormatError(path, f"chunk size {size} > {MAX_CHUNK}", offset=offset + 4, field="chunk_size")
    return size


def _open(path: str | os.PathLike[str]) -> tuple[Path, BinaryIO]:
    p = Path(path)
    try:
        return p, open(p, "rb")  # noqa: SIM115 (callers close it)
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None


def _chunk_data(f: BinaryIO, path: Path, offset: int, size: int) -> bytes:
    data = f.read(size)
    if len(data) < size:
        raise FormatError(path, f"truncated chunk: {len(data)} of {size} bytes", offset=offset + CHUNK_HEADER + len(data))
    return data


def iter_chunks(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """``(file offset of the chunk data, data)`` of every chunk; FormatError on a bad header or size."""
    p, f = _open(path)
    with f:
        offset = 0
        while (size := _chunk_size_at(f, p, offset)) is not None:
            yield offset + CHUNK_HEADER, _chunk_data(f, p, offset, size)
            offset += CHUNK_HEADER + size


def chunk_offsets(path: str | os.PathLike[str]) -> list[int]:
    """File offsets of every chunk header, from the headers alone (seeks over the data; sizes validated)."""
    p, f = _open(path)
    end = p.stat().st_size
    out = []
    with f:
        offset = 0
        while (size := _chunk_size_at(f, p, offset)) is not None:
            if offset + CHUNK_HEADER + size > end:
                raise FormatError(p, f"truncated chunk: {end - offset - CHUNK_HEADER} of {size} bytes", offset=end)
            out.append(offset)
            offset += CHUNK_HEADER + size
            f.seek(offset)
    return out


def _chunk_at(path: str | os.PathLike[str], offset: int) -> tuple[Path, bytes]:
    """``(path, data)`` of the one chunk whose header is at file ``offset`` (see :func:`chunk_offsets`)."""
    p, f = _open(path)
    with f:
        f.seek(offset)
        size = _chunk_size_at(f, p, offset)
        if size is None:
            raise FormatError(p, "no chunk at this offset (end of file)", offset=offset)
        return p, _chunk_data(f, p, offset, size)


def read_chunk(path: str | os.PathLike[str], offset: int, stats: BinpackStats | None = None) -> np.ndarray:
    """``RECORD_DTYPE`` records of the one chunk whose header is at file ``offset`` (see :func:`chunk_offsets`)."""
    p, data = _chunk_at(path, offset)
    stats = stats if stats is not None else BinpackStats()
    stats.chunks += 1
    return _decode_chunk(p, offset + CHUNK_HEADER, data, stats)


@dataclass
class ChunkLists:
    """The positions of one chunk as the data loader needs them, all arrays of length ``N`` (file order).

    list_sq/list_code ``[N,32] int8`` and turn ``[N] int8`` as :class:`boardnet.nnue.data.bin.Decoded` has
    them (same values as decoding the chunk's ``.bin`` records), score ``[N] int16``, move ``[N] uint16``
    (``.bin`` code), ply ``[N] uint16``, result ``[N] int8``, and drop ``[N] bool``: the position fails the
    fixed filters it was read with (no score, early ply, capture, in check; see ``read_chunk_lists``).
    """

    list_sq: np.ndarray
    list_code: np.ndarray
    turn: np.ndarray
    drop: np.ndarray
    score: np.ndarray
    move: np.ndarray
    ply: np.ndarray
    result: np.ndarray

    def __len__(self) -> int:
        return len(self.turn)

    @classmethod
    def empty(cls, n: int) -> ChunkLists:
        """Uninitialised arrays for ``n`` positions."""
        return cls(np.empty((n, 32), np.int8), np.empty((n, 32), np.int8), np.empty(n, np.int8), np.empty(n, np.bool_),
                   np.empty(n, np.int16), np.empty(n, np.uint16), np.empty(n, np.uint16), np.empty(n, np.int8))

    def head(self, n: int) -> ChunkLists:
        """The first ``n`` positions (views)."""
        return ChunkLists(*(getattr(self, k)[:n] for k in ChunkLists.__dataclass_fields__))


class ChunkBuffers:
    """Output arrays that :func:`read_chunk_lists` reuses from chunk to chunk (grown when a chunk needs more), so
    a stream of ~1 MiB chunks does not allocate and page in ~70 MB per chunk."""

    def __init__(self) -> None:
        self._lists: ChunkLists | None = None

    def at_least(self, n: int) -> ChunkLists:
        """Arrays for at least ``n`` positions (the same ones as last time when they are large enough)."""
        if self._lists is None or len(self._lists) < n:
            self._lists = ChunkLists.empty(n)
        return self._lists


def read_chunk_lists(
    path: str | os.PathLike[str], offset: int, early_ply_skip: int, skip_captures: bool, skip_in_check: bool,
    buffers: ChunkBuffers | None = None,
) -> ChunkLists | None:
    """The chunk whose header is at file ``offset``, decoded in one compiled pass into piece lists, labels and
    the fixed filters' verdict (``drop``: score VALUE_NONE, ply <= ``early_ply_skip``, a capturing move when
    ``skip_captures``, side to move in check when ``skip_in_check``), no ``.bin`` records in between.

    With ``buffers`` the result's arrays are views of them, overwritten by the next call that uses them.
    None when the kernel finds the chunk malformed: :func:`read_chunk` then raises the Python reader's
    FormatError naming the offset (or returns what that reader makes of it). Bad headers raise here.
    """
    _, data = _chunk_at(path, offset)
    buf = np.frombuffer(data, dtype=np.uint8)
    filters = np.array([early_ply_skip, skip_captures, skip_in_check], np.int64)
    for cap in _capacities(len(data)):
        lists = ChunkLists.empty(cap) if buffers is None else buffers.at_least(cap)
        n, _, status, _ = kernel.decode_chunk_lists(buf, filters, lists.list_sq, lists.list_code, lists.turn,
                                                    lists.drop, lists.score, lists.move, lists.ply, lists.result)
        if status == kernel.OK:
            return lists.head(n)
        if status == kernel.BAD:
            break
    return None


def iter_entries(
    path: str | os.PathLike[str], stats: BinpackStats | None = None
) -> Iterator[tuple[chess.Board, int, int, int, int]]:
    """Every position of a ``.binpack``: ``(board, score, bin_move, ply, result)``.

    ``board`` is a live board (valid until the next item; copy it to keep it), ``bin_move`` the Stockfish
    ``.bin`` move code (0 = none), ``result`` -1/0/1 for the side to move. Errors: FormatError with the file
    offset of the stem or movetext concerned.
    """
    stats = stats if stats is not None else BinpackStats()
    for base, chunk in iter_chunks(path):
        stats.chunks += 1
        for board, _, score, bin_move, ply, result in _chunk_positions(path, base, chunk, stats):
            yield board, score, bin_move, ply, result


def _chunk_positions(
    path: str | os.PathLike[str], base: int, chunk: bytes, stats: BinpackStats
) -> Iterator[tuple[chess.Board, int | None, int, int, int, int]]:
    """The positions of one chunk (data at file offset ``base``): :func:`iter_entries` items with the Stockfish
    en-passant square after the board."""
    off = 0
    while off + STEM_SIZE + PLIES_SIZE <= len(chunk):
        stem_at = base + off
        try:
            board, ep = decompress_position(chunk[off : off + 24])
            mcode, score_u, pr, rule50 = struct.unpack_from(">HHHH", chunk, off + 24)
        except ValueError as err:
            raise FormatError(path, f"bad stem: {err}", offset=stem_at, field="position") from None
        score, ply, result = unsigned_to_signed(score_u), pr & 0x3FFF, unsigned_to_signed(pr >> 14)
        if result not in (-1, 0, 1):
            raise FormatError(path, f"bad result code {pr >> 14}", offset=stem_at + 28, field="result")
        board.halfmove_clock, board.fullmove_number = rule50, ply // 2 + 1
        move, bin_move = _unpack_move(mcode) if mcode else (None, 0)
        nplies = int.from_bytes(chunk[off + STEM_SIZE : off + STEM_SIZE + 2], "big")
        off += STEM_SIZE + PLIES_SIZE
        stats.stems += 1
        stats.positions += 1
        yield board, ep, score, bin_move, ply, result
        if not nplies:
            continue
        bits = _BitReader(chunk, off, len(chunk))
        last = -score
        try:
            if move is None:
                raise ValueError("a stem with a movetext needs a move")
            _move_index(board, ep, move)  # the stem move must be pseudo-legal to be played
            for _ in range(nplies):
                ep = _push(board, move)
                ply, result = ply + 1, -result
                board.fullmove_number = ply // 2 + 1
                move, bin_move = _read_move(bits, board, ep)
                score = _int16(last + unsigned_to_signed(bits.read_vle()))
                last = -score
                stats.positions += 1
                yield board, ep, score, bin_move, min(ply, 0xFFFF), result
        except ValueError as err:
            raise FormatError(
                path, f"bad movetext of the stem at {stem_at}: {err}", offset=base + off + bits.pos // 8,
                field="movetext",
            ) from None
        off += bits.bytes_used()


def read_binpack(
    path: str | os.PathLike[str], stats: BinpackStats | None = None, *, compiled: bool = True
) -> np.ndarray:
    """All positions of a ``.binpack`` as ``RECORD_DTYPE`` (``.bin``) records, in file order.

    The en-passant square packed is Stockfish's (set only when the capture is possible), like Stockfish's
    own binpack -> bin conversion. Chunks are decoded by the compiled kernel
    (:func:`boardnet.nnue.data.binpack_kernel.decode_chunk`); a chunk it finds malformed is read again by the
    Python reader, which raises the FormatError naming the offset and what is wrong. ``compiled=False`` reads
    every chunk with the Python reader (about 30x slower; the reference the kernel is tested against).
    """
    return np.concatenate([np.zeros(0, dtype=RECORD_DTYPE), *binpack_blocks(path, stats, compiled=compiled)])


def binpack_blocks(
    path: str | os.PathLike[str], stats: BinpackStats | None = None, *, compiled: bool = True
) -> Iterator[np.ndarray]:
    """The records of each chunk in turn (see :func:`read_binpack`), so a big file is never held at once."""
    stats = stats if stats is not None else BinpackStats()
    for base, chunk in iter_chunks(path):
        stats.chunks += 1
        yield _decode_chunk(path, base, chunk, stats) if compiled else _python_chunk(path, base, chunk, stats)


def _capacities(size: int) -> tuple[int, int]:
    """Output rows to try for a chunk of ``size`` bytes: a movetext position takes at least 5 bits (score), a
    stem 34 bytes; 1 row per byte is plenty for real data (~2.5 bytes/position), the second bound is exact."""
    return size + 64, size * 8 // 5 + size // 34 + 64


def _decode_chunk(path: str | os.PathLike[str], base: int, chunk: bytes, stats: BinpackStats) -> np.ndarray:
    """``RECORD_DTYPE`` records of one chunk: the kernel first, the Python reader if the kernel refuses it."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    for cap in _capacities(len(chunk)):
        out = np.zeros(cap, dtype=RECORD_DTYPE)  # zeroed pages are touched only for the rows written
        n, stems, status, _ = kernel.decode_chunk(buf, out["sfen"], out["score"], out["move"], out["ply"],
                                                  out["result"])
        if status == kernel.OK:
            stats.stems += stems
            stats.positions += n
            return out[:n]
        if status == kernel.BAD:
            break
    return _python_chunk(path, base, chunk, stats)


def _python_chunk(path: str | os.PathLike[str], base: int, chunk: bytes, stats: BinpackStats) -> np.ndarray:
    """``RECORD_DTYPE`` records of one chunk through the Python reader (python-chess boards)."""
    rows = []
    for b, ep, score, bin_move, ply, result in _chunk_positions(path, base, chunk, stats):
        rows.append((b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings, b.occupied_co[chess.WHITE],
                     b.castling_rights, b.turn == chess.BLACK, -1 if ep is None else ep, b.halfmove_clock,
                     b.fullmove_number, score, bin_move, ply, result))
    return _records(path, rows)


def _records(path: str | os.PathLike[str], rows: list[tuple[int, ...]]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=RECORD_DTYPE)
    if rows:
        cols = list(zip(*rows, strict=True))
        bbs = [np.array(c, dtype=np.uint64) for c in cols[:8]]
        small = np.array(cols[8:], dtype=np.int64)
        try:
            out["sfen"] = pack_sfens(bbs, *small[:4])
        except ValueError as err:
            raise FormatError(path, str(err), field="position") from None
        out["score"], out["move"], out["ply"], out["result"] = small[4:]
    return out


# ---------------------------------------------------------------- vectorized PackedSfen (nnue_bin layout)




def _bits64(bb: np.ndarray) -> np.ndarray:
    """``[N] uint64`` bitboards -> ``[N,64] bool`` (square a1 = column 0)."""
    return np.unpackbits(bb.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little").astype(bool)


def pack_sfens(
    bbs: list[np.ndarray], black: np.ndarray, ep: np.ndarray, rule50: np.ndarray, fullmove: np.ndarray
) -> np.ndarray:
    """``[N,32] uint8`` packed sfens (the stream :func:`boardnet.nnue.data.bin.pack_sfen` writes), vectorized.

    ``bbs``: ``[N] uint64`` bitboards pawns, knights, bishops, rooks, queens, kings, white pieces, castling
    rights (rook squares); ``black [N]`` side to move is black; ``ep [N]`` square or -1.
    """
    pawns, knights, bishops, rooks, queens, kings, white, castle = bbs
    n = len(black)
    ptype = np.zeros((n, 64), dtype=np.int64)
    for t, bb in enumerate((pawns, knights, bishops, rooks, queens, kings), start=1):
        ptype[_bits64(bb)] = t
    is_black = (ptype > 0) & ~_bits64(white)
    king_bits = ptype == chess.KING
    kings_ok = ((king_bits & ~is_black).sum(axis=1) == 1) & ((king_bits & is_black).sum(axis=1) == 1)
    if not kings_ok.all():
        raise ValueError(f"position {int(np.argmin(kings_ok))} needs exactly one king of each colour")
    wk = np.argmax(king_bits & ~is_black, axis=1)
    bk = np.argmax(king_bits & is_black, axis=1)
    stream = STREAM_SQUARES
    t = ptype[:, stream]
    sq_val = SFEN_PIECE_CODE[t] | (is_black[:, stream].astype(np.int64) << 4)
    sq_len = np.where(t == 0, 1, np.where(t == chess.KING, 0, 5))
    cbits = _bits64(castle)
    has_ep = ep >= 0
    ones = np.ones(n, dtype=np.int64)
    vals = [black, wk, bk] + [sq_val[:, i] for i in range(64)] + [
        cbits[:, sq] for sq in (chess.H1, chess.A1, chess.H8, chess.A8)
    ] + [has_ep, np.maximum(ep, 0), rule50 & 63, fullmove & 255, (fullmove >> 8) & 255, (rule50 >> 6) & 1]
    lens = [ones, 6 * ones, 6 * ones] + [sq_len[:, i] for i in range(64)] + [ones] * 4 + [
        ones, np.where(has_ep, 6, 0), 6 * ones, 8 * ones, 8 * ones, ones]
    # append field after field at each row's own bit cursor into 4 little-endian uint64 words (+1 spill)
    words = np.zeros((n, 5), dtype=np.uint64)
    cursor = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    for v, ln in zip(vals, lens, strict=True):
        v = (np.asarray(v, dtype=np.int64) & ((1 << ln) - 1)).astype(np.uint64)
        word, shift = cursor >> 6, (cursor & 63).astype(np.uint64)
        lo = v << shift
        hi = (v >> np.uint64(1)) >> (np.uint64(63) - shift)  # = v >> (64 - shift), 0 when shift is 0
        words[rows, word] |= lo  # one word per row: no repeated index within an assignment
        words[rows, word + 1] |= hi
        cursor += ln
    if (cursor > 256).any():
        raise ValueError(f"position {int(np.argmax(cursor > 256))} does not fit in 256 bits")
    return np.ascontiguousarray(words[:, :4]).astype("<u8").view(np.uint8).reshape(n, 32)


# ---------------------------------------------------------------- writing


def _same_position(a: chess.Board, a_ep: int | None, b: chess.Board) -> bool:
    return (
        (a.pawns, a.knights, a.bishops, a.rooks, a.queens, a.kings, a.occupied_co[chess.WHITE])
        == (b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings, b.occupied_co[chess.WHITE])
        and a.turn == b.turn
        and a.clean_castling_rights() == b.clean_castling_rights()
        and a_ep == stockfish_ep(b)
        and a.halfmove_clock == b.halfmove_clock
    )


def encode_binpack(entries: Iterable[Entry], chunk_size: int = SUGGESTED_CHUNK) -> bytes:
    """``.binpack`` bytes of ``(board, score, move, ply, result)`` entries (score int16, result -1/0/1).

    An entry that is the previous one after its move (ply + 1, result negated, same position incl. rule50)
    goes into the movetext; anything else starts a stem. A new chunk starts at a stem once the current one
    holds ``chunk_size`` bytes. ValueError naming the entry's index for one that cannot be coded (e.g.
    an impossible move).
    """
    chunks: list[bytes] = []
    cur = bytearray()
    text: _BitWriter | None = None
    nplies = 0
    prev: tuple[chess.Board, int | None, int, int] | None = None  # (board after move, its ep, ply, result)
    last = 0

    def close_movetext() -> None:
        if text is not None:
            cur.extend(nplies.to_bytes(2, "big"))
            cur.extend(text.to_bytes())

    index = -1
    try:
        for index, (entry_board, score, move, ply, result) in enumerate(entries):  # noqa: B007 (the except names it)
            if not -32768 <= score <= 32767 or not 0 <= ply <= 0x3FFF:
                raise ValueError(f"score {score} or ply {ply} out of range")
            if (
                prev is not None and text is not None and nplies < 0xFFFF
                and prev[2] + 1 == ply and prev[3] == -result and _same_position(prev[0], prev[1], entry_board)
            ):
                # the chain's own board (the readers replay from it): the entry's may differ in unclean rights
                board, ep = prev[0], prev[1]
                if move is None:
                    raise ValueError("a continuation entry needs its move")
                _write_move(text, board, ep, move)
                text.put_vle(signed_to_unsigned(_int16(score - last)))
                last, nplies = -score, nplies + 1
            else:
                close_movetext()
                if len(cur) >= chunk_size:
                    chunks.append(bytes(cur))
                    cur = bytearray()
                ep = stockfish_ep(entry_board)
                cur.extend(pack_stem(entry_board, ep, move, score, ply, result))
                text, nplies, last = _BitWriter(), 0, -score
                board = entry_board.copy(stack=False)
                board.castling_rights = board.clean_castling_rights()  # what the stem stores
            if move is None:
                prev = None
            else:
                board.ep_square = ep
                prev = (board, _push(board, move), ply, result)
    except ValueError as err:
        raise ValueError(f"position {index}: {err}") from None
    close_movetext()
    if cur:
        chunks.append(bytes(cur))
    return b"".join(_frame(c) for c in chunks)


def write_binpack(path: str | os.PathLike[str], entries: Iterable[Entry], chunk_size: int = SUGGESTED_CHUNK) -> int:
    """Write entries (see :func:`encode_binpack`) atomically; returns the byte count."""
    data = encode_binpack(entries, chunk_size)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return len(data)


class NeedsPythonWriter(Exception):
    """A record the compiled encoder leaves to :func:`encode_binpack` (an odd move, ply or result)."""


def _frame(body: bytes | bytearray) -> bytes:
    return MAGIC + len(body).to_bytes(4, "little") + bytes(body)


def compiled_chunks(blocks: Iterable[np.ndarray], chunk_size: int = SUGGESTED_CHUNK) -> Iterator[bytes]:
    """Whole chunks (header + body) of the ``RECORD_DTYPE`` records in ``blocks``, byte for byte what
    :func:`encode_binpack` writes for their entries, from the compiled encoder
    (``nnue_binpack_kernel.encode_records``); a move chain may span blocks. Raises :class:`NeedsPythonWriter`
    at a record only the Python writer handles exactly, FormatError (from ``decode_records``) at a bad one."""
    from boardnet.nnue.data.bin import decode_records

    cur = bytearray()
    pending = np.empty(0, RECORD_DTYPE)
    it = iter(blocks)
    block = next(it, None)
    while block is not None:
        nxt = next(it, None)
        recs = np.concatenate([pending, block]) if len(pending) else np.asarray(block, RECORD_DTYPE)
        dec, _ = decode_records(recs)
        out = np.zeros(35 * len(recs) + 8, np.uint8)  # stem 34 bytes, movetext < 4 per ply + padding
        cuts = np.zeros(len(recs) + 1, np.int64)
        used, written, ncuts, _, status = kernel.encode_records(
            dec.pieces, dec.castling, dec.ep, dec.turn, dec.rule50, dec.score, dec.move, dec.ply, dec.result,
            nxt is None, chunk_size, len(cur), out, cuts)
        if status != kernel.ENC_OK:
            raise NeedsPythonWriter(f"record {used} of the block")
        start = 0
        for cut in cuts[:ncuts]:
            cur += out[start:cut].tobytes()
            yield _frame(cur)
            cur, start = bytearray(), int(cut)
        cur += out[start:written].tobytes()
        pending, block = recs[used:], nxt
    if cur:
        yield _frame(cur)


def write_binpack_records(path: str | os.PathLike[str], blocks: Iterable[np.ndarray],
                          chunk_size: int = SUGGESTED_CHUNK) -> None:
    """Write the records of ``blocks`` as a ``.binpack`` (compiled, streamed chunk by chunk, atomically).
    Raises :class:`NeedsPythonWriter` as :func:`compiled_chunks` does (and nothing is written)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for chunk in compiled_chunks(blocks, chunk_size):
                fh.write(chunk)

    atomic_write(path, write)
