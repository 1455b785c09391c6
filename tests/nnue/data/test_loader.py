"""NnueData: filters, deterministic chunk stream with/without worker processes, DDP sharding, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from boardnet.core.errors import FormatError
from boardnet.nnue.data import loader
from boardnet.nnue.data.bin import decode_records, read_bin, write_bin
from boardnet.nnue.data.features import sparse_batch
from boardnet.nnue.data.loader import Filters, NnueData, keep_mask
from boardnet.train.context import TrainContext
from tests.nnue.data.test_bin import random_positions


@pytest.fixture(scope="module")
def binfile(tmp_path_factory):
    recs = random_positions(3000, seed=5)
    path = tmp_path_factory.mktemp("d") / "d.bin"
    write_bin(path, recs)
    return path, recs


def make(path, ctx=None, **kw):
    cfg = NnueData.Config(type="nnue", paths=[str(path)], chunk_size=500, **kw)
    return NnueData(cfg, ctx or TrainContext(cfg=None, run_dir=path.parent, device="cpu"))


def test_filters_match_python_chess(binfile):
    path, recs = binfile
    dec, _ = read_bin(path)
    keep = keep_mask(dec, Filters(0.0, 10, True, True), np.random.default_rng(0))
    expected = [ply > 10 and not b.is_capture(m) and not b.is_check() for b, _, m, ply, _ in recs]
    assert keep.tolist() == expected
    some = keep_mask(dec, Filters(0.5, 0, False, False), np.random.default_rng(0)).mean()
    assert 0.45 < some < 0.55


def test_batches_are_the_filtered_positions(binfile):
    path, recs = binfile
    src = make(path, skip_captures=True, skip_in_check=True)
    batches = [src.next_batch(256) for _ in range(12)]
    keys = {"indices", "bucket", "score", "outcome", "ply"}
    assert all(set(b) == keys and b["indices"].shape == (256, 2, 32) for b in batches)
    # every served position is a kept record: match on (score, ply) pairs and check its features
    dec, _ = read_bin(path)
    keep = keep_mask(dec, Filters(), np.random.default_rng(0))
    kept = {(int(dec.score[i]), int(dec.ply[i])): i for i in np.flatnonzero(keep)}
    for b in batches[:3]:
        for j in range(0, 256, 17):
            i = kept[(int(b["score"][j]), int(b["ply"][j]))]
            ref = sparse_batch(
                dec.list_sq[i : i + 1], dec.list_code[i : i + 1], dec.turn[i : i + 1], "HalfKAv2_hm"
            )
            assert np.array_equal(b["indices"][j].numpy(), ref["indices"][0])
            assert float(b["outcome"][j]) == (int(dec.result[i]) + 1) / 2


def test_workers_give_same_stream_and_resume(binfile):
    path, _ = binfile
    a = make(path, skip_in_check=False)
    ref = [a.next_batch(700) for _ in range(6)]
    b = make(path, skip_in_check=False, num_workers=2)
    got = [b.next_batch(700) for _ in range(6)]
    b.close()
    for x, y in zip(ref, got):
        assert all(np.array_equal(x[k].numpy(), y[k].numpy()) for k in x)
    # resume mid-chunk: a fresh source loaded from the state serves exactly the batches the original
    # serves next (6 x 700 rows from 500-record chunks: the state falls inside a partly used chunk)
    state = a.state_dict()
    for workers in (0, 2):
        c = make(path, skip_in_check=False, num_workers=workers)
        c.load_state_dict(state)
        cont = [c.next_batch(300) for _ in range(4)]
        c.close()
        if workers == 0:
            nxt = [a.next_batch(300) for _ in range(4)]
        for x, y in zip(nxt, cont, strict=True):
            assert set(x) == set(y) and all(np.array_equal(x[k].numpy(), y[k].numpy()) for k in x)


def test_resume_at_every_point_continues_the_same_stream(binfile):
    path, _ = binfile
    ref_src = make(path, skip_in_check=False)
    ref = [ref_src.next_batch(130) for _ in range(14)]  # spans several chunks, incl. batches across two
    for cut in range(14):
        a = make(path, skip_in_check=False)
        for _ in range(cut):
            a.next_batch(130)
        b = make(path, skip_in_check=False)
        b.load_state_dict(a.state_dict())
        for want in ref[cut : cut + 3]:
            got = b.next_batch(130)
            assert all(np.array_equal(want[k].numpy(), got[k].numpy()) for k in want), cut


def test_ranks_shard_disjoint(binfile):
    path, _ = binfile
    seen = []
    for rank in (0, 1):
        ctx = TrainContext(cfg=None, run_dir=path.parent, device="cpu", rank=rank, world_size=2)
        src = make(path, ctx, skip_captures=False, skip_in_check=False)
        seen.append(
            {
                (int(s), int(p))
                for _ in range(2)
                for s, p in zip(*(lambda b: (b["score"], b["ply"]))(src.next_batch(600)))
            }
        )
    assert not seen[0] & seen[1]


def test_filters_rejecting_everything_stop_after_one_pass(tmp_path):
    """Only captures (and skip_captures=True): every chunk is empty; a full pass yields nothing -> one error."""
    import chess

    from boardnet.core.errors import TrainingError

    board = chess.Board("4k3/8/8/3p4/4P3/8/8/4K3 w - - 0 1")
    recs = [(board, 0, chess.Move.from_uci("e4d5"), 20, 0)] * 1200
    path = tmp_path / "captures.bin"
    write_bin(path, recs)
    for workers in (0, 2):
        data = make(path, num_workers=workers, early_ply_skip=0)
        with pytest.raises(TrainingError, match="a full pass over the training data kept no position"):
            data.next_batch(8)
        data.close()


def test_worker_format_error_surfaces_as_itself(tmp_path):
    """A bad record met inside a DataLoader worker is that FormatError (file, record, offset), not RuntimeError."""
    path = tmp_path / "bad.bin"
    write_bin(path, random_positions(1200, seed=3))
    raw = bytearray(path.read_bytes())
    raw[700 * 40 + 38] = 5  # record 700: result 5
    path.write_bytes(bytes(raw))
    for workers in (0, 1):
        data = make(path, num_workers=workers, early_ply_skip=0)
        with pytest.raises(FormatError) as info:
            for _ in range(40):
                data.next_batch(64)
        assert str(info.value) == f"{path}: offset {700 * 40 + 38}: field result: record 700: result 5 not in -1..1"
        data.close()


# --- .binpack: the one-pass path (read_chunk_lists) against the two-pass path (records -> decode -> filters) ---

NATIVE_BINPACK = Path(__file__).parents[1] / "fixtures" / "native" / "train.binpack"  # 3,000 labelled stems


@pytest.fixture(scope="module")
def chained_binpack(tmp_path_factory):
    """Random games as move chains (castling, ep, promotions) in ~1500-byte chunks."""
    from boardnet.nnue.data.binpack import write_binpack
    from tests.nnue.data.test_binpack import random_games

    path = tmp_path_factory.mktemp("bp") / "games.binpack"
    write_binpack(path, random_games(12, seed=8), chunk_size=1500)
    return path


def served(path, batches, features, two_pass, monkeypatch, **kw):
    """``batches`` batches of 200 from a source over ``path``; ``two_pass``: with the one-pass reader off."""
    with monkeypatch.context() as m:
        if two_pass:
            m.setattr(loader, "read_chunk_lists", lambda *a: None)
        src = make(path, features=features, **kw)
        out = [{k: v.numpy() for k, v in src.next_batch(200).items()} for _ in range(batches)]
        src.close()
    return out


FILTERS = [dict(skip_captures=False, skip_in_check=False, early_ply_skip=0),  # none (VALUE_NONE only)
           dict(),  # the defaults: captures and in-check skipped
           dict(early_ply_skip=16, random_skip=0.3, seed=4)]


@pytest.mark.parametrize("filters", FILTERS)
def test_binpack_one_pass_serves_the_two_pass_batches(chained_binpack, filters, monkeypatch):
    """Real data (the labelled fixture, stems only) and move chains: every served batch (indices, bucket, score,
    outcome, ply, order) is the two-pass path's, for each filter setting, across chunk boundaries and epochs."""
    for path, n in ((NATIVE_BINPACK, 18), (chained_binpack, 40)):
        fast = served(path, n, "HalfKAv2_hm^", False, monkeypatch, **filters)
        slow = served(path, n, "HalfKAv2_hm^", True, monkeypatch, **filters)
        assert all(set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a) for a, b in zip(fast, slow))
        assert len({int(b["ply"].sum()) for b in fast}) > 1  # not one batch repeated


@pytest.mark.parametrize("features", ["HalfKP^", "HalfKAv2_hm", "Full_Threats", "HalfKAv2_hm+Full_Threats"])
def test_binpack_one_pass_feeds_every_block(chained_binpack, features, monkeypatch):
    fast = served(chained_binpack, 6, features, False, monkeypatch)
    slow = served(chained_binpack, 6, features, True, monkeypatch)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(fast, slow) for k in a)


def test_read_chunk_lists_are_the_decoded_records(chained_binpack):
    """Piece lists, side to move and labels of every chunk equal decoding its ``.bin`` records, and ``drop`` is
    exactly ``keep_mask``'s rejection for the fixed filters."""
    from boardnet.nnue.data.binpack import chunk_offsets, read_chunk, read_chunk_lists

    for path in (NATIVE_BINPACK, chained_binpack):
        for offset in chunk_offsets(path):
            dec, _ = decode_records(read_chunk(path, offset))
            for early, captures, check in ((0, False, False), (0, True, True), (12, True, False), (30, False, True)):
                lists = read_chunk_lists(path, offset, early, captures, check)
                for k in ("list_sq", "list_code", "turn", "score", "move", "ply", "result"):
                    assert np.array_equal(getattr(lists, k), getattr(dec, k)), k
                keep = keep_mask(dec, Filters(0.0, early, captures, check), np.random.default_rng(0))
                assert np.array_equal(~lists.drop, keep)


def test_malformed_binpack_chunk_is_the_readers_error(chained_binpack, tmp_path, monkeypatch):
    """Flipped bytes: the one-pass loader serves what the two-pass loader serves, or raises its FormatError
    (file, offset) — the kernel refuses the chunk and the Python reader names what is wrong."""
    from boardnet.nnue.data.binpack import chunk_offsets, read_chunk_lists

    good = chained_binpack.read_bytes()
    rng = np.random.default_rng(1)
    errors = 0
    for trial in range(12):
        raw = bytearray(good)
        for at in rng.integers(8, 1400, size=3):  # inside the first chunk
            raw[at] ^= int(rng.integers(1, 256))
        path = tmp_path / f"bad{trial}.binpack"
        path.write_bytes(bytes(raw))
        outcomes = []
        for two_pass in (False, True):
            try:
                outcomes.append(served(path, 12, "HalfKAv2_hm", two_pass, monkeypatch, early_ply_skip=0))
            except FormatError as err:
                outcomes.append(str(err))
        if isinstance(outcomes[0], str):
            errors += 1
            assert outcomes[0] == outcomes[1] and "offset" in outcomes[0]
            assert read_chunk_lists(path, chunk_offsets(path)[0], 0, True, True) is None
        else:
            assert all(np.array_equal(a[k], b[k]) for a, b in zip(*outcomes) for k in a)
    assert errors >= 6
