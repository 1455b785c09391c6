"""PackedSfenValue .bin round trip with python-chess positions, corrupt-file errors, fuzz."""

from __future__ import annotations

import random

import chess
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.nnue.data.bin import RECORD_SIZE, decode_move, pack_record, read_bin, write_bin


def random_positions(n: int, seed: int = 0) -> list[tuple[chess.Board, int, chess.Move, int, int]]:
    """Positions from random games (castling, ep, promotions occur), each with a legal move and labels."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        board = chess.Board()
        for ply in range(rng.randrange(1, 200)):
            moves = list(board.legal_moves)
            if not moves:
                break
            move = rng.choice(moves)
            out.append((board.copy(), rng.randint(-32000, 32000), move, ply, rng.choice([-1, 0, 1])))
            board.push(move)
    return out[:n]


def test_round_trip(tmp_path):
    recs = random_positions(3000)
    # make sure the sample exercises the rare stream paths
    assert any(b.has_legal_en_passant() for b, *_ in recs)
    assert any(m.promotion for _, _, m, _, _ in recs)
    assert any(b.is_castling(m) for b, _, m, _, _ in recs)
    path = tmp_path / "d.bin"
    write_bin(path, recs)
    assert path.stat().st_size == RECORD_SIZE * len(recs)
    dec, n_bad = read_bin(path)
    assert n_bad == 0 and len(dec) == len(recs)
    for i, (board, score, move, ply, result) in enumerate(recs):
        assert dec.fen(i) == board.fen()
        assert dec.move_uci(i) == move.uci()
        assert (int(dec.score[i]), int(dec.ply[i]), int(dec.result[i])) == (score, ply, result)
    captures = np.array([b.is_capture(m) for b, _, m, _, _ in recs])
    assert np.array_equal(dec.is_capture(), captures)
    part, _ = read_bin(path, start=100, count=50)
    assert [part.fen(i) for i in range(50)] == [recs[100 + i][0].fen() for i in range(50)]


def test_large_clocks(tmp_path):
    board = chess.Board("8/8/4k3/8/8/3K4/8/8 w - - 99 300")
    write_bin(tmp_path / "c.bin", [(board, 5, chess.Move.from_uci("d3d4"), 598, 0)])
    dec, _ = read_bin(tmp_path / "c.bin")
    assert dec.fen(0) == board.fen()
    assert decode_move(int(dec.move[0]), chess.WHITE).uci() == "d3d4"


def test_partial_record_and_skip_bad(tmp_path):
    path = tmp_path / "p.bin"
    write_bin(path, random_positions(5))
    path.write_bytes(path.read_bytes() + b"\0" * 17)
    with pytest.raises(FormatError, match="record 5: partial record") as e:
        read_bin(path)
    assert e.value.offset == 5 * RECORD_SIZE
    dec, _ = read_bin(path, skip_bad=True)
    assert len(dec) == 5


def test_corrupt_record_index_and_skip(tmp_path):
    recs = random_positions(10, seed=3)
    path = tmp_path / "c.bin"
    write_bin(path, recs)
    data = bytearray(path.read_bytes())
    data[3 * RECORD_SIZE : 3 * RECORD_SIZE + 32] = b"\xff" * 32  # both kings on h8, invalid piece codes
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="record 3: invalid packed sfen"):
        read_bin(path)
    dec, n_bad = read_bin(path, skip_bad=True)
    assert n_bad == 1 and len(dec) == 9
    assert dec.fen(3) == recs[4][0].fen()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz(tmp_path, data):
    base = FUZZ_BYTES
    kind = data.draw(st.sampled_from(["truncate", "flip", "random"]))
    if kind == "truncate":
        blob = base[: data.draw(st.integers(0, len(base) - 1))]
    elif kind == "flip":
        blob = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(0, len(base) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        blob = bytes(blob)
    else:
        blob = data.draw(st.binary(min_size=0, max_size=4 * RECORD_SIZE))
    path = tmp_path / "f.bin"
    path.write_bytes(blob)
    try:
        dec, _ = read_bin(path)
    except BoardnetError:
        return
    for i in range(len(dec)):  # a decoded record is always a settable python-chess board
        dec.board(i).fen()


FUZZ_BYTES = b"".join(pack_record(*r) for r in random_positions(4, 9))
