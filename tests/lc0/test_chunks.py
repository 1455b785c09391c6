"""V6 chunks: layout facts, record <-> 112 planes, PGN -> records, validation, fuzz, and the data source."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import chess
import chess.pgn
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.core.pgn import GAME_OVER_RULES, iter_games
from boardnet.lc0.chunks import (
    RECORD_SIZE,
    V6_DTYPE,
    Lc0ChunkData,
    chunk_name,
    game_records,
    pgn_records,
    read_chunk,
    record_planes,
    record_wdl,
    write_chunk,
)
from boardnet.lc0.planes import encode, policy_index
from boardnet.train.context import TrainContext
from tests.core.test_pgn import GAMES
from tests.lc0 import pgn_reference as ref
from tests.lc0.pgn_reference import make_record

PGN = """[Event "win"]
[Result "1-0"]

1. e4 e5 2. Bc4 Nc6 3. Qh5 Nf6 4. Qxf7# 1-0

[Event "broken"]
[Result "0-1"]

1. e4 e5 2. Ke3 Nf6 0-1

[Event "draw from FEN"]
[Result "1/2-1/2"]
[FEN "r3k2r/8/8/3pP3/8/8/8/R3K2R w KQkq d6 0 30"]
[SetUp "1"]

30. exd6 O-O-O 31. O-O Rd7 1/2-1/2
"""


def random_games(n: int, plies: int, seed: int = 0) -> list[chess.Board]:
    """Positions (with history) along random games: captures, castling, promotions, black to move."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        board = chess.Board()
        for _ in range(plies):
            moves = list(board.legal_moves)
            if not moves:
                break
            board.push(rng.choice(moves))
            out.append(board.copy())
    return out


def test_layout_matches_trainingdata_v6() -> None:
    # offsets of lc0 trainingdata_v6.h (shared/specs/lc0.md §12)
    offsets = {"probabilities": 8, "planes": 7440, "castling_us_ooo": 8272, "side_to_move_or_enpassant": 8276,
               "rule50_count": 8277, "invariance_info": 8278, "root_q": 8280, "plies_left": 8304, "result_q": 8308,
               "played_q": 8316, "orig_q": 8328, "visits": 8340, "played_idx": 8344, "best_idx": 8346,
               "policy_kld": 8348, "q_st": 8352}
    assert RECORD_SIZE == V6_DTYPE.itemsize == 8356
    assert {k: V6_DTYPE.fields[k][1] for k in offsets} == offsets


def test_start_position_bitboards_are_bit_reversed_bytes() -> None:
    rec = make_record(chess.Board(), chess.Move.from_uci("e2e4"), 1.0, 0.0, 7)
    # our P N B R Q K: e1 king is bit 4 of byte 0, stored reversed (chunkparser unpacks bytes MSB first)
    assert int(rec["planes"][0]) == 0xFF00 and int(rec["planes"][5]) == 0x08 and int(rec["planes"][4]) == 0x10
    assert rec["version"] == 6 and rec["input_format"] == 1 and rec["played_idx"] == 322  # e2e4 = 322 (§7)
    assert rec["probabilities"][322] == 1 and (rec["probabilities"] == 0).sum() == 19
    assert (rec["probabilities"] == -1).sum() == 1858 - 20


def test_record_planes_equal_encoder_after_chunk_round_trip(tmp_path: Path) -> None:
    boards = random_games(6, 120) + [chess.Board("r3k2r/8/8/3pP3/8/8/8/R3K2R w KQkq d6 0 30")]
    recs = np.stack([make_record(b, next(iter(b.legal_moves)), 0.0, 1.0, 3) for b in boards
                     if any(b.legal_moves)])
    write_chunk(tmp_path / "c.gz", recs)
    back = read_chunk(tmp_path / "c.gz")
    assert back.tobytes() == recs.tobytes()
    planes = record_planes(back)
    expected = np.stack([encode(b) for b in boards if any(b.legal_moves)])
    assert planes.shape == (len(back), 112, 8, 8) and np.array_equal(planes, expected)
    assert planes[:, 108].max() == 1 and planes[:, 109].max() > 1  # black to move and raw rule-50 occur


def test_pgn_targets_policy_wdl_plies_left(tmp_path: Path) -> None:
    (tmp_path / "g.pgn").write_text(PGN)
    recs = pgn_records(tmp_path / "g.pgn")
    assert len(recs) == 7 + 4  # the broken game is skipped
    wdl = record_wdl(recs)
    # 1-0: white to move wins, black to move loses; then a draw
    assert np.array_equal(wdl[:7], np.array([[1, 0, 0], [0, 0, 1]] * 3 + [[1, 0, 0]], np.float32))
    assert np.array_equal(wdl[7:], np.tile(np.array([0, 1, 0], np.float32), (4, 1)))
    assert recs["plies_left"].tolist() == [7, 6, 5, 4, 3, 2, 1, 4, 3, 2, 1]
    board = chess.Board("r3k2r/8/8/3pP3/8/8/8/R3K2R w KQkq d6 0 30")
    for rec, uci in zip(recs[7:], ["e5d6", "e8c8", "e1g1", "d8d7"]):
        move = chess.Move.from_uci(uci)
        assert rec["played_idx"] == policy_index(board, move) == int(np.argmax(rec["probabilities"]))
        assert (rec["probabilities"] >= 0).sum() == board.legal_moves.count()
        assert np.array_equal(record_planes(rec[None])[0], encode(board))
        board.push(move)


def _raw_chunk(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(data))
    return path


def test_bad_chunks_name_file_and_record(tmp_path: Path) -> None:
    recs = np.stack([make_record(b, next(iter(b.legal_moves)), 1.0, 0.0, 1) for b in random_games(1, 3)])
    good = recs.tobytes()
    wrong = bytearray(good)
    wrong[RECORD_SIZE:RECORD_SIZE + 4] = (5).to_bytes(4, "little")
    cases = {
        bytes(wrong): "record 1: version 5",
        good[:-100]: f"record 2: truncated ({RECORD_SIZE - 100} of {RECORD_SIZE} bytes)",
        b"": "empty chunk",
    }
    fmt = bytearray(good)
    fmt[4:8] = (3).to_bytes(4, "little")
    cases[bytes(fmt)] = "record 0: input format 3"
    probs = recs.copy()
    probs["probabilities"][2, 5] = 7.0
    cases[probs.tobytes()] = "record 2: probabilities"
    for data, words in cases.items():
        with pytest.raises(FormatError) as err:
            read_chunk(_raw_chunk(tmp_path, data))
        assert words in str(err.value) and "bad.gz" in str(err.value)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-30])
    with pytest.raises(FormatError, match="cut.gz"):
        read_chunk(tmp_path / "cut.gz")


@settings(max_examples=25, deadline=None)
@given(cut=st.floats(0.0, 1.0), flip=st.integers(0, 10**9), raw=st.booleans())
def test_fuzz_truncate_and_flip(tmp_path_factory: pytest.TempPathFactory, cut: float, flip: int, raw: bool) -> None:
    recs = np.stack([make_record(b, next(iter(b.legal_moves)), -1.0, 0.0, 2) for b in random_games(1, 2, seed=3)])
    blob = bytearray(recs.tobytes() if raw else gzip.compress(recs.tobytes()))
    blob = blob[: max(1, int(len(blob) * cut))] if cut < 1 else blob
    blob[flip % len(blob)] ^= 0x5A
    path = tmp_path_factory.mktemp("fuzz") / "f.gz"
    path.write_bytes(bytes(blob))
    try:
        out = read_chunk(path)
    except BoardnetError:
        return
    assert out.dtype == V6_DTYPE and len(out) >= 1  # a flip inside a value may still be a valid record


def _source(tmp_path: Path, **cfg: object) -> Lc0ChunkData:
    for i, board_list in enumerate([random_games(1, 30, seed=s) for s in range(4)]):
        recs = np.stack([make_record(b, next(iter(b.legal_moves)), 0.0, 1.0, 30 - j)
                         for j, b in enumerate(board_list) if any(b.legal_moves)])
        write_chunk(tmp_path / f"g{i}.gz", recs)
    config = Lc0ChunkData.Config(paths=[str(tmp_path)], **cfg)
    ctx = TrainContext(cfg=None, run_dir=tmp_path, device=torch.device("cpu"), rng=np.random.default_rng(1))
    return Lc0ChunkData(config, ctx)


def test_data_source_batches_split_and_resume(tmp_path: Path) -> None:
    data = _source(tmp_path, shuffle_buffer=40, validation_fraction=0.25, validation_batch=16)
    assert [p.name for p in data.val_files] == ["g3.gz"] and len(data.files) == 3
    batch = data.next_batch(32)
    assert batch["planes"].shape == (32, 112, 8, 8) and batch["policy"].shape == (32, 1858)
    assert batch["wdl"].shape == (32, 3) and batch["mlh"].shape == (32,)
    assert torch.all(batch["wdl"][:, 1] == 1) and torch.all(batch["planes"][:, 111] == 1)
    assert torch.allclose((batch["policy"].clamp(min=0)).sum(1), torch.ones(32))
    val = data.validation_batches()
    assert sum(len(b["mlh"]) for b in val) == 30 and len(val[0]["mlh"]) == 16
    state, rng_state = data.state_dict(), data.ctx.rng.bit_generator.state
    ahead = [data.next_batch(32) for _ in range(4)]  # crosses an epoch boundary (90 training positions)
    resumed = _source(tmp_path, shuffle_buffer=40, validation_fraction=0.25, validation_batch=16)
    resumed.load_state_dict(state)
    resumed.ctx.rng.bit_generator.state = rng_state  # the trainer restores the run's generator
    for want, got in zip(ahead, [resumed.next_batch(32) for _ in range(4)]):
        assert all(torch.equal(want[k], got[k]) for k in want)
    assert data.stats()["epoch"] >= 1


# ------------------------------------------------------------------------------------- pgn2chunks safety


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    from boardnet.cli import main

    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err.splitlines()


def test_pgn2chunks_skips_and_counts_what_it_cannot_learn_from(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Null moves (KeyError '0909' before), Crazyhouse drops (KeyError 'P@e2'), atomic, unfinished games."""
    pgn = tmp_path / "g.pgn"
    pgn.write_text(PGN + '\n[Result "1-0"]\n\n1. e4 -- 2. d4 e5 1-0\n'
                   '\n[Variant "Crazyhouse"]\n[Result "1-0"]\n\n1. e4 d5 2. exd5 Qxd5 3. P@e4 1-0\n'
                   '\n[Variant "Atomic"]\n[Result "1-0"]\n\n1. e4 d5 2. exd5 1-0\n'
                   '\n[Result "*"]\n\n1. e4 e5 *\n')
    rc, out, err = _run(["lc0", "pgn2chunks", str(pgn), str(tmp_path / "out"), "--no-progress"], capsys)
    assert rc == 0 and err == []
    assert out[0].endswith("11 positions in 2 chunk files in " + str(tmp_path / "out") + "; 2 games used; 5 skipped "
                           "(illegal or unreadable moves: 1, null move: 1, unfinished (result *): 1, "
                           "variant Atomic: 1, variant Crazyhouse: 1)")
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_pgn2chunks_progress_lines_without_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line per game at --progress-every 0 and a closing count on stderr; stdout and the chunks unchanged."""
    pgn = tmp_path / "g.pgn"
    pgn.write_text(PGN + '\n[Result "*"]\n\n1. e4 e5 *\n' + PGN)
    rc, quiet_out, quiet_err = _run(["lc0", "pgn2chunks", str(pgn), str(tmp_path / "q"), "--no-progress"], capsys)
    assert rc == 0 and quiet_err == []
    rc, out, err = _run(["lc0", "pgn2chunks", str(pgn), str(tmp_path / "t"), "--progress-every", "0"], capsys)
    assert rc == 0 and out == [line.replace(str(tmp_path / "q"), str(tmp_path / "t")) for line in quiet_out]
    chunks = sorted(p.name for p in (tmp_path / "t").iterdir())
    assert chunks == sorted(p.name for p in (tmp_path / "q").iterdir()) and len(chunks) == 4
    # the same records (the gzip header's mtime may differ by a second)
    assert all(gzip.decompress((tmp_path / "t" / c).read_bytes()) == gzip.decompress((tmp_path / "q" / c).read_bytes())
               for c in chunks)
    # a line per used game (games 1, 3, 5, 7 of 7: the broken and unfinished ones are skipped)
    assert [line.split(" (")[0] for line in err[:-1]] == [f"lc0 pgn2chunks: {n} game{'s' * (n > 1)}"
                                                          for n in (1, 3, 5, 7)]
    assert err[-2].endswith("(4 used)")
    assert err[-1].startswith("lc0 pgn2chunks: done, 7 games in ") and err[-1].endswith("from 4 games used")


def test_pgn2chunks_output_is_swapped_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pgn = tmp_path / "g.pgn"
    pgn.write_text(PGN)
    out = tmp_path / "out"
    # OUT an existing file: one error, the file untouched
    (tmp_path / "file").write_bytes(b"precious")
    rc, _, err = _run(["lc0", "pgn2chunks", str(pgn), str(tmp_path / "file")], capsys)
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:") and "not a folder" in err[0]
    assert (tmp_path / "file").read_bytes() == b"precious"
    # a folder of an earlier run with more games: replaced as a whole (no stale chunks)
    out.mkdir()
    for i in range(5):
        (out / chunk_name(i + 1)).write_bytes(b"stale")
    assert _run(["lc0", "pgn2chunks", str(pgn), str(out)], capsys)[0] == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(first) == ["game_000001.gz", "game_000002.gz"] and b"stale" not in first.values()
    # failing on game 2 (here: the disk filling up) leaves the earlier output as it was, no temp folder
    import errno

    import boardnet.lc0.chunks as lc0c

    real, calls = lc0c.chunk_bytes, []

    def fail_second(records: np.ndarray) -> bytes:
        calls.append(len(records))
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(records)

    monkeypatch.setattr(lc0c, "chunk_bytes", fail_second)
    rc, _, err = _run(["lc0", "pgn2chunks", str(pgn), str(out)], capsys)
    assert rc == 2 and len(err) == 1 and "no space left" in err[0] and str(out) in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "g.pgn", "out"]
    # a folder holding other things is never replaced
    (out / "notes.txt").write_text("mine")
    rc, _, err = _run(["lc0", "pgn2chunks", str(pgn), str(out)], capsys)
    assert rc == 2 and "notes.txt" in err[0] and (out / "notes.txt").read_text() == "mine"


def test_pgn2chunks_empty_pgn_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "e.pgn").write_bytes(b"")
    rc, out, err = _run(["lc0", "pgn2chunks", str(tmp_path / "e.pgn"), str(tmp_path / "o")], capsys)
    assert rc == 2 and err == [f"error: {tmp_path / 'e.pgn'}: no games in this PGN file (empty file)"]
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ fast path = python-chess path

GAMES_PGN = Path(__file__).parent / "fixtures" / "games" / "stockfish-selfplay.pgn"
FEN_STARTS = ["r3k2r/8/8/3pP3/8/8/8/R3K2R w KQkq d6 0 30", "4k3/1P6/8/8/8/8/6p1/4K3 b - - 12 60",
              "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", "8/8/4k3/8/2pP4/8/8/4K3 b - d3 0 1"]


def random_pgn(n: int, seed: int) -> str:
    """Random legal games exported by python-chess: castling, en passant, (under)promotions, long quiet endgames
    (rule-50 counts), repetitions (a side often undoes its last move, so some games reach a fivefold and are
    refused), FEN starts, the three results, and movetext python-chess reads but does not write (comments, side
    lines, NAGs, 0-0, fully specified moves)."""
    rng = random.Random(seed)
    games = []
    for g in range(n):
        fen = rng.choice(FEN_STARTS) if g % 4 == 3 else None
        board = chess.Board(fen) if fen else chess.Board()
        last: dict[bool, chess.Move] = {}
        for _ in range(rng.randint(1, 300)):
            moves = list(board.legal_moves)
            if not moves:
                break
            back = last.get(board.turn)
            undo = back and chess.Move(back.to_square, back.from_square)
            move = undo if undo in moves and rng.random() < 0.6 else rng.choice(moves)
            last[board.turn] = move
            board.push(move)
        game = chess.pgn.Game.from_board(board)
        game.headers["Result"] = rng.choice(["1-0", "0-1", "1/2-1/2"])
        text = str(game)
        if g % 5 == 1:  # python-chess's reader takes these too: comments, NAGs, side lines, 0-0, e2e4
            text = text.replace(" 2. ", " { a comment } $1 ( 1... a6 2. a3 ) 2. ", 1).replace("O-O ", "0-0 ", 1)
            text = text.replace("1. e4 ", "1. e2e4 ", 1).replace("Nf3 ", "Ng1f3 ", 1)
        games.append(text)
    return "\n\n".join(games) + "\n"


def _same_as_reference(path: Path) -> int:
    """Assert that every game of ``path`` is read (used or skipped, why, moves, result) and converted to records
    exactly as the python-chess reference path does; returns the positions compared."""
    fast, slow = list(iter_games(path)), list(ref.iter_games(path))
    assert len(fast) == len(slow)
    positions = 0
    for f, s in zip(fast, slow):
        assert (f.why, f.moves, f.result) == (s.why, s.moves, s.result)
        if f.why is None:
            assert game_records(f).tobytes() == ref.game_records(s).tobytes()
            positions += len(s.moves)
    return positions


def test_fast_reader_equals_python_chess_on_stockfish_games() -> None:
    assert _same_as_reference(GAMES_PGN) == 31237


def test_fast_reader_equals_python_chess_on_random_games(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pgn = tmp_path / "r.pgn"
    pgn.write_text(random_pgn(60, seed=5))
    assert _same_as_reference(pgn) > 3000
    whys = {g.why for g in iter_games(pgn)}
    assert None in whys and GAME_OVER_RULES in whys  # used games and fivefold refusals both occur
    # the chunk files: byte for byte what the reference records make (deterministic gzip)
    rc, _, _ = _run(["lc0", "pgn2chunks", str(pgn), str(tmp_path / "out")], capsys)
    used = [g for g in ref.iter_games(pgn) if g.why is None]
    assert rc == 0 and len(list((tmp_path / "out").iterdir())) == len(used)
    for i, game in enumerate(used):
        write_chunk(tmp_path / "want.gz", ref.game_records(game))
        assert (tmp_path / "out" / chunk_name(i + 1)).read_bytes() == (tmp_path / "want.gz").read_bytes()


def test_fast_reader_refuses_what_python_chess_refuses(tmp_path: Path) -> None:
    """Every skip rule (tests/core/test_pgn.GAMES) and SAN python-chess reads its own way: ambiguous,
    over-specified, pinned pieces, castling through check or as a king move, missing or king promotions."""
    odd = ['[Result "1-0"]\n\n1. e4 e5 2. Nf3 Nc6 3. Nc3 Nf6 4. Nd5 Nd4 5. Nxd4 1-0',  # fine
           '[Result "1-0"]\n\n1. d4 e5 2. Nd2 exd4 3. Ngf3 Bb4 4. c3 dxc3 5. bxc3 Ba5 6. Nbd2 1-0',  # no such knight
           '[Result "1-0"]\n\n1. e4 e5 2. Nf3 Nf6 3. Nc3 Nc6 4. Nd5 Ne4 5. Nd4 1-0',  # "Nd4": ambiguous
           '[Result "1-0"]\n\n1. e4 d5 2. Bb5+ c6 3. Bxc6+ Nxc6 4. Nf3 Nd4 5. Nxd4 1-0',  # a capture on d4 by the only knight that can
           '[Result "1-0"]\n\n1. e4 e5 2. Nf3 Nc6 3. Bc4 Bc5 4. Kg1 1-0',  # castling written as a king move
           '[Result "1-0"]\n\n1. e4 e5 2. Nf3 Nc6 3. Bc4 Bc5 4. e1h1 1-0',  # king takes rook = castling
           '[Result "1-0"]\n\n1. e4 d5 2. Qh5 Bg4 3. Qxh7 Bxd1 4. O-O 1-0',  # no right path
           '[FEN "8/1P6/8/8/8/8/6k1/K7 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. b8 1-0',  # missing promotion
           '[FEN "8/1P6/8/8/8/8/6k1/K7 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. b7b8 1-0',
           '[FEN "8/1P6/8/8/8/8/6k1/K7 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. b8=K 1-0',
           '[FEN "8/1P6/8/8/8/8/6k1/K7 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. b8N 1-0',
           '[FEN "8/1P6/8/8/8/8/6k1/K7 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. b7b8r 1-0',
           '[FEN "4k3/8/8/8/1b6/8/3N4/4K3 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. Nf3 1-0',  # pinned
           '[FEN "4k3/8/8/2KPp2r/8/8/8/8 w - e6 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. dxe6 1-0',  # ep into check
           '[FEN "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. O-O-O O-O 2. Rd7 1-0',
           '[FEN "r3k2r/8/8/8/8/8/5r2/R3K2R w KQkq - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1. O-O 1-0',
           '[Result "1-0"]\n\n1. e4 e5 2. Nf3 Nc6 3. Nxe5 Nxe5 4. Qh5 Nf3+ 5. gxf3 1-0',
           '[Result "1-0"]\n\n1. P@e4 1-0', '[Result "1-0"]\n\n1. e4 Z0 1-0', '[Result "1-0"]\n\n1. e4 e5 2. Qxe5 1-0',
           '1. e4 e5 2. Nf3 (2. Nc3 Nc6) Nc6 1-0\n']
    pgn = tmp_path / "odd.pgn"
    pgn.write_text("\n\n".join(list(GAMES.values()) + odd) + "\n")
    _same_as_reference(pgn)
