"""NnueData: filters, deterministic chunk stream with/without worker processes, DDP sharding, resume."""

from __future__ import annotations

import numpy as np
import pytest

from boardnet.nnue.data.bin import read_bin, write_bin
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
    from boardnet.core.errors import FormatError

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
