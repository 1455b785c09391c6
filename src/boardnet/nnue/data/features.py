"""Sparse feature batches and position filters for decoded ``.bin`` boards.

Input: piece lists ``list_sq/list_code [N,32] int8`` and boards ``pieces [N,64] int8`` from
:mod:`boardnet.nnue.data.bin` (codes 0 empty, 1..6 white pawn..king, 7..12 black), ``turn [N]`` (0 white).
Output indices are the REAL feature indices of the feature set, built by each block's vectorized builder
(``boardnet.nnue.features``), same values as its per-position index function; a factorized model adds its
virtual rows itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from boardnet.core.chess_moves import KING_ATTACKS, KNIGHT_ATTACKS, PAWN_ATTACKS
from boardnet.nnue.features import get_feature_set, layer_stack_bucket

_SQ = np.arange(64)
_FILE, _RANK = _SQ % 8, _SQ // 8


def sparse_batch(
    list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray, features: str
) -> dict[str, np.ndarray]:
    """Model inputs: ``indices [N,2,A] int64`` (stm, nstm real indices of the feature set ``features``, -1
    padded; A = 32 for one block) and ``bucket [N] int64``, the layer-stack index (kings counted).

    Each block builds its indices (``FeatureBlock.batch``); a ``^`` set gives the same real indices as its
    plain set. The lists must end with the white then the black king (as ``Decoded`` has them).
    """
    indices = get_feature_set(features).batch_indices(list_sq, list_code, turn)
    bucket = layer_stack_bucket(piece_counts(np.ascontiguousarray(list_code, np.int8)))
    return {"indices": indices, "bucket": bucket}


@njit(cache=True, nogil=True)
def piece_counts(list_code: np.ndarray) -> np.ndarray:
    """``int64 [N]`` pieces (kings included) of each ``list_code [N, 32]`` row: its nonzero slots (compiled: numpy's
    ``count_nonzero(axis=1)`` costs more than building the features)."""
    out = np.zeros(list_code.shape[0], np.int64)
    for i in range(list_code.shape[0]):
        for j in range(list_code.shape[1]):
            out[i] += list_code[i, j] != 0
    return out


# --- in-check test (vectorized attack lookups) ---

def _ray_table(deltas: list[tuple[int, int]]) -> np.ndarray:
    """``[len(deltas), 64, 7]`` target square of each ray step from each square, -1 off the board."""
    t = np.full((len(deltas), 64, 7), -1, dtype=np.int64)
    for d, (df, dr) in enumerate(deltas):
        for k in range(1, 8):
            f, r = _FILE + k * df, _RANK + k * dr
            ok = (f >= 0) & (f < 8) & (r >= 0) & (r < 8)
            t[d, ok, k - 1] = (8 * r + f)[ok]
    return t


def _bitboards(table: np.ndarray) -> np.ndarray:
    """``uint64`` bitboard of each row of a square table (``-1`` entries = off the board), over its last axis."""
    bits = np.where(table >= 0, np.left_shift(np.uint64(1), np.maximum(table, 0).astype(np.uint64)), 0)
    return np.bitwise_or.reduce(bits.astype(np.uint64), axis=-1)


# Step attacks are core/chess_moves' tables: knight and king [64]; pawns [colour, 64], the squares a pawn of
# that colour attacks = the squares enemy pawns attack a king of that colour from. Rays [4, 64] per slider
# direction: rays in +square directions find their nearest blocker as the lowest set bit, the others as the
# highest.
_UP_D, _DOWN_D = [(1, 0), (0, 1), (1, 1), (-1, 1)], [(-1, 0), (0, -1), (-1, -1), (1, -1)]
_RAYS_UP = _bitboards(_ray_table(_UP_D))
_RAYS_DOWN = _bitboards(_ray_table(_DOWN_D))
_ORTHOGONAL = np.array([True, True, False, False])  # per direction index above: rook-like, else bishop-like


def _packed(mask: np.ndarray) -> np.ndarray:
    """``[N] uint64`` bitboards (bit = square) of a ``[N,64] bool`` mask."""
    return np.packbits(mask, axis=1, bitorder="little").view("<u8")[:, 0]


def _highest_bit(b: np.ndarray) -> np.ndarray:
    """``[N] uint64``: the highest set bit of each nonzero ``b`` (0 for 0).

    float64 keeps the exponent exact here: a ray holds at most 7 set bits, so rounding the 53-bit mantissa
    can never carry into the next power of two.
    """
    exponent = np.frexp(b.astype(np.float64))[1]
    shift = (np.maximum(exponent, 1) - 1).astype(np.uint64)
    return np.where(b != 0, np.left_shift(np.uint64(1), shift), np.uint64(0))


def in_check(pieces: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """``[N] bool``: the side to move is in check (``pieces [N,64]`` codes, ``turn [N]`` 0 white).

    Bitboards per position: knight/king/pawn attack tables from the own king's square, and for each slider
    direction the nearest piece on the ray from the king (lowest or highest set bit of ray & occupied).
    """
    stm = turn.astype(np.int64)
    # enemy piece codes become 1..6 (own pieces and empty squares land outside 1..6)
    rel = pieces - (6 * (1 - turn)).astype(pieces.dtype)[:, None]
    king = np.argmax(pieces == (6 + 6 * turn).astype(pieces.dtype)[:, None], 1)
    occupied = _packed(pieces != 0)
    check = (KNIGHT_ATTACKS.take(king) & _packed(rel == 2)) != 0
    check |= (KING_ATTACKS.take(king) & _packed(rel == 6)) != 0
    check |= (PAWN_ATTACKS.ravel().take(stm * 64 + king) & _packed(rel == 1)) != 0
    queens = rel == 5
    rook_like = _packed(queens | (rel == 4))
    bishop_like = _packed(queens | (rel == 3))
    one = np.uint64(1)
    for d in range(4):
        sliders = rook_like if _ORTHOGONAL[d] else bishop_like
        up = _RAYS_UP[d].take(king) & occupied
        check |= (up & (~up + one) & sliders) != 0
        down = _RAYS_DOWN[d].take(king) & occupied
        check |= (_highest_bit(down) & sliders) != 0
    return check
