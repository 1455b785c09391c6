"""core/chess_moves' shared bitboard helpers against Python's integers and python-chess's attack tables (the PGN
player itself is tested through core/pgn in test_pgn.py)."""

from __future__ import annotations

import chess
import numpy as np

from boardnet.core.chess_moves import (
    KING_ATTACKS,
    KNIGHT_ATTACKS,
    PAWN_ATTACKS,
    bishop_attacks,
    bits_for,
    lsb,
    msb,
    nth_bit,
    popcount,
    rook_attacks,
)


def bitboards(n: int, seed: int) -> list[int]:
    """Random bitboards of every density (sparse, dense, single squares), plus the edge cases."""
    rng = np.random.default_rng(seed)
    out = [1, 1 << 63, (1 << 64) - 1, 0x8000000000000001]
    for _ in range(n):
        x = int(rng.integers(0, 1 << 63, dtype=np.uint64)) << 1 | int(rng.integers(0, 2))
        for _ in range(int(rng.integers(0, 4))):  # each AND halves the density
            x &= int(rng.integers(0, 1 << 63, dtype=np.uint64)) << 1 | int(rng.integers(0, 2))
        out.append(x or 1 << int(rng.integers(64)))
    return out


def test_bit_scans_and_counts() -> None:
    for x in bitboards(400, seed=1):
        u = np.uint64(x)
        squares = [sq for sq in range(64) if x >> sq & 1]
        assert popcount(u) == len(squares)
        assert lsb(u) == squares[0] and msb(u) == squares[-1]
        assert [nth_bit(u, k) for k in range(len(squares))] == squares
    assert lsb(np.uint64(0)) == 64 and popcount(np.uint64(0)) == 0
    assert [bits_for(n) for n in range(300)] == [max(n - 1, 0).bit_length() for n in range(300)]


def test_attacks_are_python_chess_attacks() -> None:
    for sq in range(64):
        assert int(KNIGHT_ATTACKS[sq]) == chess.BB_KNIGHT_ATTACKS[sq]
        assert int(KING_ATTACKS[sq]) == chess.BB_KING_ATTACKS[sq]
        for colour in (chess.WHITE, chess.BLACK):
            assert int(PAWN_ATTACKS[0 if colour else 1, sq]) == chess.BB_PAWN_ATTACKS[colour][sq]
    for i, occ in enumerate(bitboards(150, seed=2)):
        sq = i % 64
        rook = (chess.BB_RANK_ATTACKS[sq][occ & chess.BB_RANK_MASKS[sq]]
                | chess.BB_FILE_ATTACKS[sq][occ & chess.BB_FILE_MASKS[sq]])
        assert int(rook_attacks(sq, np.uint64(occ))) == rook
        assert int(bishop_attacks(sq, np.uint64(occ))) == chess.BB_DIAG_ATTACKS[sq][occ & chess.BB_DIAG_MASKS[sq]]
