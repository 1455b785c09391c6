"""Vectorized sparse feature indices and position filters for decoded ``.bin`` boards.

Input: piece lists ``list_sq/list_code [N,32] int8`` and boards ``pieces [N,64] int8`` from
:mod:`boardnet.data.nnue_bin` (codes 0 empty, 1..6 white pawn..king, 7..12 black), ``turn [N]`` (0 white). Output indices are the REAL feature indices of the block
(spec ``nnue.md`` §6.1 HalfKP, §6.3 HalfKAv2_hm), same values as the per-position functions in
``boardnet.features``; a factorized model adds its virtual rows itself.
"""

from __future__ import annotations

import numpy as np

from boardnet.features import halfka_v2_hm, halfkp

MAX_ACTIVE = 32
_SQ = np.arange(64)
_FILE, _RANK = _SQ % 8, _SQ // 8


def _index_table(features: str) -> np.ndarray:
    """``[2, 64, 13, 64] int32`` feature index by (perspective, own king square, piece code, square); -1 = none.

    Built from the block's formulas (§6.1, §6.3) once, so a batch needs one gather per (position, square).
    """
    persp = np.arange(2)[:, None, None, None]
    king = np.arange(64)[None, :, None, None]
    code = np.arange(13)[None, None, :, None]
    sq = _SQ[None, None, None, :]
    ptype = (code - 1) % 6 + 1
    plane = 2 * (ptype - 1) + ((code > 6).astype(np.int64) != persp)
    if features == halfka_v2_hm.NAME:
        flip = np.where(king % 8 < 4, 7, 0) ^ (56 * persp)
        oking = king ^ flip
        bucket = 4 * (7 - oking // 8) + (7 - oking % 8)
        plane = np.where(ptype == 6, 10, plane)
        idx = 64 * halfka_v2_hm.PLANES * bucket + (sq ^ flip) + 64 * plane
        valid = code > 0
    elif features == halfkp.NAME:
        rot = 63 * persp
        idx = 1 + 641 * (king ^ rot) + (sq ^ rot) + 64 * plane
        valid = (code > 0) & (ptype != 6)
    else:
        raise ValueError(f"unknown feature set {features!r} (HalfKAv2_hm, HalfKP)")
    return np.where(valid, idx, -1).astype(np.int32)


_TABLES: dict[str, np.ndarray] = {}


def perspective_indices(
    list_sq: np.ndarray, list_code: np.ndarray, perspective: np.ndarray, features: str
) -> np.ndarray:
    """``[N,32] int64`` active indices (piece-list order, -1 padded) from ``perspective [N]`` (0 white, 1 black).

    ``list_sq``/``list_code [N,32]``: piece lists of :class:`boardnet.data.nnue_bin.Decoded` (pad square 64,
    code 0); the table maps code 0 (and HalfKP kings) to -1.
    """
    if features not in _TABLES:
        _TABLES[features] = _index_table(features)
    table = _TABLES[features].ravel()
    own_king = np.where(perspective == 0, 6, 12)[:, None]
    kings = np.argmax(list_code == own_king, 1)
    king_sq = list_sq[np.arange(len(list_sq)), kings].astype(np.int64)
    base = ((perspective.astype(np.int64) * 64 + king_sq) * 13)[:, None]
    return table.take(((base + list_code) << 6) + (list_sq & 63)).astype(np.int64)


def sparse_batch(
    list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray, features: str
) -> dict[str, np.ndarray]:
    """Model inputs: ``indices [N,2,32] int64`` (stm, nstm; -1 padded) and ``bucket [N] int64``.

    ``bucket`` is the layer-stack index ``(piece_count - 1) // 4`` (kings counted).
    """
    stm_colour = turn.astype(np.int64)
    stm = perspective_indices(list_sq, list_code, stm_colour, features)
    nstm = perspective_indices(list_sq, list_code, 1 - stm_colour, features)
    bucket = ((list_code != 0).sum(1) - 1) // 4
    return {"indices": np.stack([stm, nstm], 1), "bucket": bucket.astype(np.int64)}


# --- in-check test (vectorized attack lookups) ---

_KNIGHT_D = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
_KING_D = [(df, dr) for df in (-1, 0, 1) for dr in (-1, 0, 1) if df or dr]
_ROOK_D = [(1, 0), (-1, 0), (0, 1), (0, -1)]
_BISHOP_D = [(1, 1), (1, -1), (-1, 1), (-1, -1)]


def _step_table(deltas: list[tuple[int, int]], steps: int) -> np.ndarray:
    """``[len(deltas), 64, steps]`` target square of each ray step from each square, -1 off the board."""
    t = np.full((len(deltas), 64, steps), -1, dtype=np.int64)
    for d, (df, dr) in enumerate(deltas):
        for k in range(1, steps + 1):
            f, r = _FILE + k * df, _RANK + k * dr
            ok = (f >= 0) & (f < 8) & (r >= 0) & (r < 8)
            t[d, ok, k - 1] = (8 * r + f)[ok]
    return t


_KNIGHT_T = _step_table(_KNIGHT_D, 1)[:, :, 0]
_KING_T = _step_table(_KING_D, 1)[:, :, 0]
_ROOK_T = _step_table(_ROOK_D, 7)
_BISHOP_T = _step_table(_BISHOP_D, 7)


def in_check(pieces: np.ndarray, turn: np.ndarray) -> np.ndarray:
    """``[N] bool``: the side to move is in check."""
    n = len(pieces)
    rows = np.arange(n)
    padded = np.concatenate([pieces, np.zeros((n, 1), pieces.dtype)], 1)  # column 64 = off-board, empty
    enemy = 6 * (1 - turn.astype(np.int64))  # code offset of the enemy colour
    king = np.where(turn == 1, np.argmax(pieces == 12, 1), np.argmax(pieces == 6, 1))
    check = np.zeros(n, dtype=bool)

    def at(sq: np.ndarray) -> np.ndarray:
        return padded[rows, np.where(sq < 0, 64, sq)].astype(np.int64)

    for table, ptype in ((_KNIGHT_T, 2), (_KING_T, 6)):
        for d in range(table.shape[0]):
            check |= at(table[d, king]) == enemy + ptype
    # enemy pawns attack the king from one rank ahead of it (from the side to move's view)
    forward = np.where(turn == 1, -1, 1)
    for df in (-1, 1):
        f, r = king % 8 + df, king // 8 + forward
        sq = np.where((f >= 0) & (f < 8) & (r >= 0) & (r < 8), 8 * r + f, -1)
        check |= at(sq) == enemy + 1
    for table, slider in ((_ROOK_T, 4), (_BISHOP_T, 3)):
        for d in range(table.shape[0]):
            blocked = np.zeros(n, dtype=bool)
            for k in range(7):
                p = at(table[d, king, k])
                hit = (p == enemy + slider) | (p == enemy + 5)
                check |= hit & ~blocked
                blocked |= p != 0
    return check
