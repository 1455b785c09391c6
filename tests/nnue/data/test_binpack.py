""".binpack: a hand-coded stem + movetext, writer -> reader round trips, upstream sample, bad input, fuzz."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import chess
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.nnue.data.bin import RECORD_DTYPE, decode_records, encode_move, pack_record, pack_sfen
from boardnet.nnue.data.binpack import (
    BinpackStats,
    NeedsPythonWriter,
    chunk_offsets,
    compiled_chunks,
    encode_binpack,
    iter_entries,
    pack_sfens,
    read_binpack,
    signed_to_unsigned,
    unsigned_to_signed,
    write_binpack,
)
from boardnet.nnue.data.loader import NnueData
from boardnet.train.context import TrainContext

# Start position stem, every byte derived by hand from the format (module docstring of nnue_binpack):
START_STEM = bytes.fromhex(
    "ffff00000000ffff"  # occupancy, big-endian: ranks 1, 2, 7, 8
    # nibbles in square order a1..h1, a2..h2, a7..h7, a8..h8, low nibble first:
    # a1 rook with castling 13, b1 knight 2 -> 0x2d; c1 bishop 4, d1 queen 8 -> 0x84; e1 king 10, f1 bishop 4
    # -> 0x4a; g1 knight 2, h1 castling rook 13 -> 0xd2; white pawns 0 -> 00 x4; black pawns 1 -> 11 x4;
    # a8 castling rook 14, b8 knight 3 -> 0x3e; c8 bishop 5, d8 queen 9 -> 0x95; e8 black king with white
    # to move 11, f8 bishop 5 -> 0x5b; g8 knight 3, h8 castling rook 14 -> 0xe3
    "2d844ad2" "00000000" "11111111" "3e955be3"
    "0c70"  # move e2e4: type normal 0 (2 bits), from e2 = 12 (6), to e4 = 28 (6), promotion 0 (2)
    "0090"  # score 72, zigzag 144
    "4000"  # ply 0 (14 bits), result -1 zigzag 1 in the 2 high bits
    "0000"  # rule50
)
# Movetext: 1 ply. Black to move after e2e4 has 16 pieces (4 bits); e7 is the 5th (index 4 = 0100). Its
# destinations in square order are e5, e6 (1 bit): e5 = 0. Score -60: delta -60 - (-72) = 12, zigzag 24 =
# 0b11000 -> VLE blocks (4 value bits + "more" bit on top) 1_1000, 0_0001. Bits 0100 0 11000 00001 + pad 0.
START_MOVETEXT = bytes.fromhex("0001" "4602")


def chunk(data: bytes) -> bytes:
    return b"BINP" + len(data).to_bytes(4, "little") + data


def test_hand_coded_start_position(tmp_path: Path) -> None:
    path = tmp_path / "start.binpack"
    path.write_bytes(chunk(START_STEM + START_MOVETEXT))
    stats = BinpackStats()
    got = [(b.fen(), s, m, p, r) for b, s, m, p, r in iter_entries(path, stats)]
    e2e4, e7e5 = chess.Move.from_uci("e2e4"), chess.Move.from_uci("e7e5")
    after = chess.Board()
    after.push(e2e4)
    assert got == [
        (chess.STARTING_FEN, 72, encode_move(chess.Board(), e2e4), 0, -1),
        (after.fen(), -60, encode_move(after, e7e5), 1, 1),
    ]
    assert (stats.chunks, stats.stems, stats.positions) == (1, 1, 2)
    # our writer produces exactly these bytes
    entries = [(chess.Board(), 72, e2e4, 0, -1), (after, -60, e7e5, 1, 1)]
    assert encode_binpack(entries) == path.read_bytes()
    dec, _ = decode_records(read_binpack(path))
    assert [dec.fen(0), dec.fen(1)] == [chess.STARTING_FEN, after.fen()]
    assert [dec.move_uci(0), dec.move_uci(1)] == ["e2e4", "e7e5"]


def test_zigzag() -> None:
    assert [signed_to_unsigned(v) for v in (0, -1, 1, -2, 2, 32767, -32768)] == [0, 1, 2, 3, 4, 65534, 65535]
    assert all(unsigned_to_signed(signed_to_unsigned(v)) == v for v in range(-32768, 32768, 7))


def _special(board: chess.Board, move: chess.Move) -> bool:
    return board.is_castling(move) or board.is_en_passant(move) or move.promotion is not None


def random_games(n_games: int, seed: int) -> list[tuple[chess.Board, int, chess.Move, int, int]]:
    """Entries of random games (special moves preferred so castling, ep and promotions all occur).

    Some games are cut into pieces (a non-continuation starts a new stem); scores cover the int16 range.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n_games):
        board = chess.Board()
        result = rng.choice([-1, 0, 1])
        for ply in range(rng.randrange(1, 260)):
            moves = list(board.legal_moves)
            if not moves:
                break
            special = [m for m in moves if _special(board, m)]
            move = rng.choice(special if special and rng.random() < 0.7 else moves)
            score = rng.choice([rng.randint(-300, 300), rng.randint(-32768, 32767)])
            if rng.random() > 0.03:  # gaps: the next entry is no continuation
                out.append((board.copy(stack=False), score, move, ply, result if ply % 2 == 0 else -result))
            board.push(move)
    return out


def check_read_back(path: Path, entries: list) -> None:
    got = [(b.fen(), s, m, p, r) for b, s, m, p, r in iter_entries(path)]
    want = [(b.fen(), s, encode_move(b, m), p, r) for b, s, m, p, r in entries]
    assert got == want
    dec, bad = decode_records(read_binpack(path))
    assert bad == 0 and len(dec) == len(entries)
    assert [dec.fen(i) for i in range(len(dec))] == [w[0] for w in want]
    assert [dec.move_uci(i) for i in range(len(dec))] == [m.uci() for _, _, m, _, _ in entries]
    assert dec.score.tolist() == [w[1] for w in want] and dec.result.tolist() == [w[4] for w in want]


def test_round_trip_random_games(tmp_path: Path) -> None:
    entries = random_games(40, seed=3)
    assert any(b.is_castling(m) for b, _, m, _, _ in entries)
    assert any(b.is_en_passant(m) for b, _, m, _, _ in entries)
    assert any(m.promotion for _, _, m, _, _ in entries)
    assert any(m.promotion and m.promotion != chess.QUEEN for _, _, m, _, _ in entries)
    path = tmp_path / "g.binpack"
    write_binpack(path, entries, chunk_size=2000)  # small chunks: several chunk boundaries
    stats = BinpackStats()
    assert sum(1 for _ in iter_entries(path, stats)) == len(entries)
    assert stats.chunks > 3 and stats.stems < len(entries) // 10  # chains, not one stem per position
    check_read_back(path, entries)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_compiled_reader_equals_python_reader(tmp_path: Path, seed: int) -> None:
    """The numba chunk decoder gives the Python reader's records byte for byte, and the same statistics."""
    path = tmp_path / "g.binpack"
    write_binpack(path, random_games(30, seed=seed), chunk_size=1500)
    fast_stats, slow_stats = BinpackStats(), BinpackStats()
    fast = read_binpack(path, fast_stats)
    slow = read_binpack(path, slow_stats, compiled=False)
    assert fast.tobytes() == slow.tobytes() and len(fast) > 1000
    assert fast_stats == slow_stats


def _records(entries: list) -> np.ndarray:
    return np.frombuffer(b"".join(pack_record(*e) for e in entries), RECORD_DTYPE).copy()


def _python_bytes(records: np.ndarray, chunk_size: int) -> bytes:
    from boardnet.nnue.data.convert import entries as record_entries

    return encode_binpack(record_entries(records), chunk_size)


def _compiled_bytes(records: np.ndarray, block: int, chunk_size: int) -> bytes:
    return b"".join(compiled_chunks((records[i:i + block] for i in range(0, len(records), block)), chunk_size))


@pytest.mark.parametrize("seed", [3, 4])
def test_compiled_writer_equals_python_writer(seed: int) -> None:
    """The numba encoder writes the Python writer's bytes, whatever the block size (move chains and chunk
    boundaries across blocks) and chunk size."""
    records = _records(random_games(30, seed=seed))
    for chunk_size in (1500, 1 << 20):
        want = _python_bytes(records, chunk_size)
        for block in (len(records), 1, 7, 500):
            assert _compiled_bytes(records, block, chunk_size) == want
    assert len(records) > 3000 and len(want) < 6 * len(records)  # chained, not one stem per position


def test_compiled_writer_leaves_odd_records_to_python() -> None:
    """Records with unclean castling rights, moves that are not pseudo-legal (or capture a king) and chains
    broken at random: the compiled writer either gives the Python writer's bytes or hands over with
    NeedsPythonWriter, never different bytes; a ply above 16383 always hands over."""
    rng = random.Random(11)
    base = random_games(12, seed=7)
    handed_over = same = 0
    for trial in range(60):
        entries = []
        for board, score, move, ply, result in base[: rng.randrange(50, len(base))]:
            board = board.copy(stack=False)
            if rng.random() < 0.05:
                board.castling_rights |= rng.choice([chess.BB_A1, chess.BB_H1, chess.BB_A8, chess.BB_H8])
            if rng.random() < 0.02:
                move = chess.Move(rng.randrange(64), rng.randrange(64))
            entries.append((board, score, move, ply, result))
        records = _records(entries)
        try:
            got = _compiled_bytes(records, rng.choice([13, 200, len(records)]), 700)
        except NeedsPythonWriter:
            handed_over += 1
            continue
        assert got == _python_bytes(records, 700), trial
        same += 1
    assert handed_over and same
    records = _records(base[:40])
    records["ply"][20] = 0x4000
    with pytest.raises(NeedsPythonWriter):
        _compiled_bytes(records, 40, 700)
    with pytest.raises(ValueError, match="ply"):
        _python_bytes(records, 700)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_compiled_reader_on_corrupt_files(tmp_path: Path, data: st.DataObject) -> None:
    """Flipped bytes anywhere: the compiled path returns what the Python reader returns or raises its error."""
    path = tmp_path / "c.binpack"
    if not path.exists():
        write_binpack(path, random_games(4, seed=21), chunk_size=400)
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(8, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    bad = tmp_path / "flipped.binpack"
    bad.write_bytes(bytes(raw))
    outcomes = []
    for compiled in (True, False):
        try:
            outcomes.append(read_binpack(bad, compiled=compiled).tobytes())
        except FormatError as err:
            outcomes.append(str(err))
    assert outcomes[0] == outcomes[1]


def test_vectorized_sfen_packing_matches_pack_sfen() -> None:
    boards = [b for b, *_ in random_games(6, seed=9)]
    boards += [chess.Board("8/8/4k3/8/8/3K4/8/8 w - - 99 300"), chess.Board("4k3/8/8/3Pp3/8/8/8/4K3 w - e6 0 1")]
    cols = [[b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings, b.occupied_co[chess.WHITE],
             b.castling_rights] for b in boards]
    bbs = [np.array(c, dtype=np.uint64) for c in zip(*cols, strict=True)]
    ep = [b.ep_square if b.has_legal_en_passant() else -1 for b in boards]
    small = np.array([[b.turn == chess.BLACK for b in boards], ep, [b.halfmove_clock for b in boards],
                      [b.fullmove_number for b in boards]], dtype=np.int64)
    assert any(e >= 0 for e in ep)
    want = np.stack([np.frombuffer(pack_sfen(b), dtype=np.uint8) for b in boards])
    assert np.array_equal(pack_sfens(bbs, *small), want)


def test_en_passant_rules(tmp_path: Path) -> None:
    # ep stored only when Stockfish allows the capture: here the capturing pawn is pinned on the rank
    pinned = chess.Board("8/8/8/8/k2Pp2R/8/8/4K3 b - d3 0 1")
    free = chess.Board("8/8/8/8/3Pp3/8/8/k3K3 b - d3 0 1")
    entries = [
        (free, 10, chess.Move.from_uci("e4d3"), 1, 0),
        (pinned, 20, chess.Move.from_uci("a4b5"), 1, 0),
    ]
    path = tmp_path / "ep.binpack"
    write_binpack(path, entries)
    check_read_back(path, entries)
    data = path.read_bytes()
    # occupancy d4 e4 (+ kings); the nibble of d4 (white pawn) is 12 only in the position where ep is possible
    assert data[8 + 8 + 1] & 0x0F == 12 and data[8 + 34 + 8 + 1] & 0x0F == 0


def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.binpack"
    write_binpack(path, random_games(3, seed=11)[:120], chunk_size=300)
    return path


def test_bad_files(tmp_path: Path) -> None:
    path = small_file(tmp_path)
    data = path.read_bytes()
    size = int.from_bytes(data[4:8], "little")
    bad = tmp_path / "bad.binpack"
    bad.write_bytes(data[: 8 + size - 3])
    with pytest.raises(FormatError, match=rf"bad\.binpack: offset {8 + size - 3}: truncated chunk"):
        read_binpack(bad)
    bad.write_bytes(data[:-1])
    with pytest.raises(FormatError, match="truncated chunk"):
        read_binpack(bad)
    bad.write_bytes(data + b"BIN")
    with pytest.raises(FormatError, match=rf"offset {len(data)}: truncated chunk header"):
        read_binpack(bad)
    bad.write_bytes(b"BINX" + data[4:])
    with pytest.raises(FormatError, match=r"offset 0: bad chunk magic"):
        read_binpack(bad)
    bad.write_bytes(b"BINP" + (200 * 2**20).to_bytes(4, "little"))
    with pytest.raises(FormatError, match=r"offset 4: field chunk_size"):
        read_binpack(bad)
    # a movetext cut short inside its chunk (chunk size shrunk to match)
    stem_only = START_STEM + START_MOVETEXT[:3]
    bad.write_bytes(chunk(stem_only))
    with pytest.raises(FormatError, match=r"field movetext: bad movetext of the stem at 8: .*past the end"):
        read_binpack(bad)
    # a stem with two white kings (e1 nibble 10 -> d1 queen 8 becomes king 10)
    two_kings = bytearray(START_STEM)
    two_kings[9] = 0xA4
    bad.write_bytes(chunk(bytes(two_kings) + b"\0\0"))
    with pytest.raises(FormatError, match=r"offset 8: field position: bad stem: white must have exactly one king"):
        read_binpack(bad)
    # result code 3 is not a result
    bad_result = bytearray(START_STEM)
    bad_result[28] |= 0xC0
    bad.write_bytes(chunk(bytes(bad_result) + b"\0\0"))
    with pytest.raises(FormatError, match="bad result"):
        read_binpack(bad)
    with pytest.raises(FormatError, match="no such file"):
        read_binpack(tmp_path / "missing.binpack")
    bad.write_bytes(b"")
    assert len(read_binpack(bad)) == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "f.binpack"
    if not path.exists():
        path.write_bytes(chunk(START_STEM + START_MOVETEXT) + small_file(tmp_path).read_bytes())
    good = path.read_bytes()
    blob = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    out = tmp_path / "fz.binpack"
    out.write_bytes(bytes(blob))
    with contextlib.suppress(BoardnetError):  # a flipped byte may still give a readable file
        read_binpack(out)


def test_truncated_everywhere(tmp_path: Path) -> None:
    good = small_file(tmp_path).read_bytes()
    out = tmp_path / "t.binpack"
    for cut in range(0, len(good), 7):
        out.write_bytes(good[:cut])
        if cut == 0:
            assert len(read_binpack(out)) == 0
            continue
        with pytest.raises(FormatError):
            read_binpack(out)


def test_nnue_data_reads_binpack(tmp_path: Path) -> None:
    entries = random_games(4, seed=5)
    path = tmp_path / "d.binpack"
    write_binpack(path, entries)
    ctx = TrainContext(cfg=None, run_dir=tmp_path, device="cpu")
    cfg = NnueData.Config(type="nnue", paths=[str(path)], skip_in_check=False, skip_captures=False,
                          validation_path=str(path))
    src = NnueData(cfg, ctx)
    batch = src.next_batch(64)
    assert batch["indices"].shape == (64, 2, 32)
    assert np.isin(batch["score"].numpy(), [s for _, s, *_ in entries]).all()
    assert len(src.validation_batches()[0]["bucket"]) == min(len(entries), cfg.validation_size)


def test_nnue_data_streams_binpack_chunks(tmp_path: Path) -> None:
    """Each .binpack chunk is one training chunk, decoded on demand: one epoch serves every position once."""
    entries = random_games(8, seed=6)
    path = tmp_path / "s.binpack"
    write_binpack(path, entries, chunk_size=300)
    n_chunks = len(chunk_offsets(path))
    assert n_chunks > 3
    ctx = TrainContext(cfg=None, run_dir=tmp_path, device="cpu")
    cfg = NnueData.Config(type="nnue", paths=[str(path)], skip_in_check=False, skip_captures=False,
                          early_ply_skip=0, num_workers=0, validation_path=str(path), validation_size=50)
    src = NnueData(cfg, ctx)
    assert len(src.chunks) == n_chunks
    served = np.concatenate([src.next_batch(len(entries) // 4)["score"].numpy() for _ in range(4)])
    assert sorted(served.tolist()) == sorted(float(s) for _, s, *_ in entries)
    val = src.validation_batches()[0]
    assert val["score"].numpy().tolist() == [float(s) for _, s, *_ in entries[:50]]
