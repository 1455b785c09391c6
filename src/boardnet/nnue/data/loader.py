"""NNUE training data source (``data: {type: nnue, ...}``): ``.bin``, ``.binpack`` and text files -> sparse
batches.

Pipeline (one chunk at a time: ``chunk_size`` records of a ``.bin`` or text file, or one whole ``.binpack``
chunk; in worker processes when ``num_workers > 0``):
read raw records -> vectorized decode -> filters (like nnue-pytorch: random skipping, early-ply skip,
best move is a capture, side to move in check, VALUE_NONE scores) -> shuffle inside the chunk -> piece lists and
labels of the kept positions in served order (:func:`take_rows`); each served batch then gets its feature
indices (:func:`rows_to_batch`, compiled per block). A ``.binpack`` chunk skips the ``.bin`` records: one compiled
pass walks its movetext into piece lists, labels and the fixed filters' verdict
(:func:`boardnet.nnue.data.binpack.read_chunk_lists`), with the same random draws, so the batches are the same.
Chunks are visited in a seeded random order each epoch, so shuffling spans the files at chunk
granularity and fully inside a chunk (``chunk_size`` is the shuffle buffer). Chunk ``i`` of an epoch goes to
DDP rank ``i % world_size``.

Batch keys: ``indices [B,2,32] int64`` (stm, nstm real feature indices, -1 padded), ``bucket [B] int64``,
``score [B] float32`` (engine score, side to move, internal units), ``outcome [B] float32`` (game result
for the side to move: 1 win, 0.5 draw, 0 loss), ``ply [B] int64``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import AfterValidator, Field

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import BoardnetError, FormatError, TrainingError
from boardnet.nnue.data.bin import RECORD_DTYPE, Decoded, count_records, decode_records, read_raw
from boardnet.nnue.data.binpack import (
    ChunkBuffers,
    ChunkLists,
    binpack_blocks,
    chunk_offsets,
    read_chunk,
    read_chunk_lists,
)
from boardnet.nnue.data.features import in_check, sparse_batch
from boardnet.nnue.data.text import TEXT_SUFFIXES, read_text
from boardnet.nnue.features import check_feature_name
from boardnet.train.context import TrainContext
from boardnet.train.data import DataSource

VALUE_NONE = 32002  # Stockfish "no score" marker; such records are never trained on


@dataclass(frozen=True)
class Filters:
    """Which positions to drop (nnue-pytorch ``SkipConfig`` semantics; probabilities per position)."""

    random_skip: float = 0.0
    early_ply_skip: int = 0
    skip_captures: bool = True
    skip_in_check: bool = True


def keep_mask(dec: Decoded, filters: Filters, rng: np.random.Generator) -> np.ndarray:
    """``[N] bool`` of records that pass ``filters``."""
    keep = np.abs(dec.score.astype(np.int32)) != VALUE_NONE
    if filters.early_ply_skip:
        keep &= dec.ply > filters.early_ply_skip
    if filters.random_skip:
        keep &= rng.random(len(dec)) >= filters.random_skip
    if filters.skip_captures:
        keep &= ~dec.is_capture()
    if filters.skip_in_check and keep.any():
        idx = np.flatnonzero(keep)
        keep[idx[in_check(dec.pieces.take(idx, axis=0), dec.turn[idx])]] = False
    return keep


# per-position fields a processed chunk keeps (in served order); features are built per served batch
ROW_FIELDS = ("list_sq", "list_code", "turn", "score", "result", "ply")


def take_rows(dec: Decoded | ChunkLists, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The :data:`ROW_FIELDS` of the records ``rows`` (``[B]`` index array, in order; None: all), copied: piece
    lists ``[B,32] int8``, turn, score, result, ply (64 + 8 bytes a position, the form a chunk waits in)."""
    if rows is None:
        return {k: np.asarray(getattr(dec, k)) for k in ROW_FIELDS}
    return {k: getattr(dec, k).take(rows, axis=0) for k in ROW_FIELDS}  # take: faster than a[rows]


def rows_to_batch(rows: dict[str, np.ndarray], features: str) -> dict[str, np.ndarray]:
    """Model inputs and targets (keys in the module docstring) of :func:`take_rows` fields; ``X^`` emits X's
    indices."""
    batch = sparse_batch(rows["list_sq"], rows["list_code"], rows["turn"], features)
    batch["score"] = rows["score"].astype(np.float32)
    batch["outcome"] = (rows["result"].astype(np.float32) + 1) / 2
    batch["ply"] = rows["ply"].astype(np.int64)
    return batch


def to_batch(dec: Decoded | ChunkLists, features: str, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Model inputs and targets of decoded records (keys in the module docstring), optionally of the records
    ``rows`` only (``[B]`` index array, in order)."""
    return rows_to_batch(take_rows(dec, rows), features)


_TEXT_CACHE: dict[str, np.ndarray] = {}  # text files are parsed once per process, then sliced like .bin


def is_text(path: str) -> bool:
    return path.lower().endswith(TEXT_SUFFIXES)


def is_binpack(path: str) -> bool:
    return path.lower().endswith(".binpack")


ERROR_KEY = "boardnet_error"  # a worker's BoardnetError travels to the trainer under this key of a chunk

# ``count`` of a training chunk that is one whole ``.binpack`` chunk; its ``start`` is the chunk's file offset
BINPACK_CHUNK = -1


def read_records(
    path: str, start: int = 0, count: int | None = None, *, skip_bad: bool = False
) -> np.ndarray:
    """Raw records ``start .. start+count`` of a ``.bin``, text (good lines only, parsed and cached) or
    ``.binpack`` file; ``count == BINPACK_CHUNK``: the ``.binpack`` chunk at file offset ``start``."""
    if is_binpack(path):
        return _binpack_records(path, start, count)
    if is_text(path):
        if path not in _TEXT_CACHE:
            _TEXT_CACHE[path] = read_text(path)[0]
        arr = _TEXT_CACHE[path]
        return arr[start : len(arr) if count is None else start + count]
    return read_raw(path, start, count, skip_bad=skip_bad)


def _binpack_records(path: str, start: int, count: int | None) -> np.ndarray:
    """One ``.binpack`` chunk (``count == BINPACK_CHUNK``), else positions ``start .. start+count`` in file
    order, decoding chunks from the first one only until that many are read."""
    if count == BINPACK_CHUNK:
        return read_chunk(path, start)
    parts, have = [np.zeros(0, dtype=RECORD_DTYPE)], 0
    for block in binpack_blocks(path):
        if count is not None and have >= start + count:
            break
        parts.append(block)
        have += len(block)
    arr = np.concatenate(parts)
    return arr[start : len(arr) if count is None else start + count]


def load_positions(
    path: str,
    features: str,
    *,
    start: int = 0,
    count: int | None = None,
    filters: Filters | None = None,
    skip_bad: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Records ``start..start+count`` of one data file as a batch dict (filtered when ``filters`` given)."""
    raw = read_records(path, start, count, skip_bad=skip_bad)
    dec, _ = decode_records(raw, path=path, first_index=start, skip_bad=skip_bad)
    if filters is not None:
        dec = dec.select(keep_mask(dec, filters, np.random.default_rng(seed)))
    return to_batch(dec, features)


class ChunkStream(torch.utils.data.IterableDataset):
    """Endless stream of processed chunks (numpy batch dicts) for one rank, deterministic in the seed.

    ``chunks`` is a list of ``(path, start, count)``; epoch ``e`` visits them in ``permutation(seed, e)``,
    keeps those with ``i % world_size == rank``, starting after ``skip`` chunks of epoch ``epoch``. Under a
    DataLoader with workers, worker ``w`` processes every ``num_workers``-th of those (the loader returns them
    in order, so the stream is the same with any number of workers).
    """

    def __init__(
        self,
        chunks: list[tuple[str, int, int]],
        features: str,
        filters: Filters,
        *,
        seed: int,
        rank: int,
        world_size: int,
        epoch: int = 0,
        skip: int = 0,
        skip_bad: bool = False,
    ) -> None:
        super().__init__()
        self.chunks, self.features, self.filters = chunks, features, filters
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.skip, self.skip_bad = epoch, skip, skip_bad
        self.buffers = ChunkBuffers()  # the one-pass reader's output, reused chunk after chunk

    def schedule(self) -> Iterator[tuple[int, int, tuple[str, int, int]]]:
        """``(epoch, index_in_epoch, chunk)`` for this rank, forever."""
        epoch, skip = self.epoch, self.skip
        while True:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.chunks))
            mine = [int(c) for i, c in enumerate(order) if i % self.world_size == self.rank]
            for j, c in enumerate(mine[skip:], start=skip):
                yield epoch, j, self.chunks[c]
            epoch, skip = epoch + 1, 0

    def process(self, epoch: int, j: int, chunk: tuple[str, int, int]) -> dict[str, np.ndarray]:
        """Chunk ``j`` of ``epoch``: filtered, shuffled (seeded by epoch, index and rank), as :func:`take_rows`
        fields (plus ``epoch``); :class:`NnueData` builds the features of each batch it serves from them.

        A ``.binpack`` chunk takes the one-pass path (:func:`read_chunk_lists`: piece lists, labels and the
        fixed filters straight from the movetext); the same random draws then give the same batch as decoding
        its ``.bin`` records (the path every other file, and a chunk that kernel refuses, takes).
        """
        path, start, count = chunk
        rng = np.random.default_rng([self.seed, epoch, j, self.rank])
        f = self.filters
        fast = (read_chunk_lists(path, start, f.early_ply_skip, f.skip_captures, f.skip_in_check, self.buffers)
                if count == BINPACK_CHUNK else None)
        if fast is not None:
            keep = ~fast.drop
            if f.random_skip:
                keep &= rng.random(len(fast)) >= f.random_skip
            kept, dec = np.flatnonzero(keep), fast
        else:
            raw = read_records(path, start, count, skip_bad=self.skip_bad)
            first = 0 if count == BINPACK_CHUNK else start  # record index for error messages
            dec, _ = decode_records(raw, path=path, first_index=first, skip_bad=self.skip_bad)
            kept = np.flatnonzero(keep_mask(dec, f, rng))
        # shuffled kept records (copies: ``fast`` lives in the reused buffers), features built later
        chunk = take_rows(dec, kept[rng.permutation(len(kept))])
        chunk["epoch"] = np.array([epoch, j + 1], dtype=np.int64)  # position marker for resuming
        return chunk

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        info = torch.utils.data.get_worker_info()
        wid, nw = (0, 1) if info is None else (info.id, info.num_workers)
        for k, (epoch, j, chunk) in enumerate(self.schedule()):
            if k % nw == wid:
                try:
                    yield self.process(epoch, j, chunk)
                except BoardnetError as err:
                    if info is None:
                        raise
                    # torch would re-raise it as a RuntimeError holding the worker's traceback: hand it over
                    yield {ERROR_KEY: err}  # type: ignore[dict-item]
                    return


class NnueData(DataSource):
    """Sparse NNUE batches from Stockfish ``.bin``/``.binpack`` or text training data, see the module docstring."""

    class Config(ComponentConfig):
        type: Literal["nnue"] = "nnue"
        paths: list[str] = Field(min_length=1)
        # a factorized set ("^") gets the same REAL indices; the model adds its virtual rows itself
        features: Annotated[str, AfterValidator(check_feature_name)] = "HalfKAv2_hm"  # a features/ registry name
        chunk_size: int = Field(65536, gt=0)
        num_workers: int = Field(0, ge=0)
        random_skip: float = Field(0.0, ge=0, lt=1)
        early_ply_skip: int = Field(0, ge=0)
        skip_captures: bool = True
        skip_in_check: bool = True
        skip_bad: bool = False
        validation_path: str | None = None
        validation_size: int = Field(16384, ge=0)
        seed: int = 0

    def __init__(self, cfg: Any, ctx: TrainContext) -> None:
        super().__init__(cfg, ctx)
        self.filters = Filters(cfg.random_skip, cfg.early_ply_skip, cfg.skip_captures, cfg.skip_in_check)
        self.chunks = []
        for path in cfg.paths:
            try:
                if is_binpack(path):
                    # streamed: each .binpack chunk (~400k positions for Stockfish's 1 MiB chunks) is one
                    # training chunk (shuffle window), decoded when its turn comes
                    offsets = chunk_offsets(path)
                    self.chunks += [(path, offset, BINPACK_CHUNK) for offset in offsets]
                    if ctx.is_main:
                        print(f"{path}: {len(offsets)} binpack chunks, streamed")
                    continue
                if is_text(path):
                    arr, tstats = read_text(path)
                    _TEXT_CACHE[path] = arr
                    n = len(arr)
                    if ctx.is_main:
                        print(f"{path}: {tstats.summary()}")
                else:
                    n = count_records(path, skip_bad=cfg.skip_bad)
            except FileNotFoundError:
                raise FormatError(path, "no such file") from None
            self.chunks += [(path, s, min(cfg.chunk_size, n - s)) for s in range(0, n, cfg.chunk_size)]
        if not self.chunks:
            raise FormatError(cfg.paths[0], "no training records")
        self.seed = cfg.seed  # same on every rank: all ranks must agree on the chunk order to shard it
        self.epoch, self.done = 0, 0  # stream position: the next chunk to fetch is chunk ``done`` of ``epoch``
        # fetched chunks not fully served, each with its own stream position (epoch, index in epoch)
        self.pending: list[tuple[tuple[int, int], dict[str, np.ndarray]]] = []
        self.n_pending, self.offset = 0, 0  # unserved rows; rows of pending[0] already served
        self.resume_offset = 0  # rows of the first fetched chunk already served before a resume
        self.positions = 0
        self.wait_s = 0.0
        self._iter: Iterator[dict[str, Any]] | None = None
        self._loader: Any = None

    def _stream(self) -> Iterator[dict[str, Any]]:
        if self._iter is None:
            ds = ChunkStream(
                self.chunks,
                self.cfg.features,
                self.filters,
                seed=self.seed,
                rank=self.ctx.rank,
                world_size=self.ctx.world_size,
                epoch=self.epoch,
                skip=self.done,
                skip_bad=self.cfg.skip_bad,
            )
            if self.cfg.num_workers:
                self._loader = torch.utils.data.DataLoader(
                    ds,
                    batch_size=None,
                    num_workers=self.cfg.num_workers,
                    prefetch_factor=2,
                    persistent_workers=False,
                )
                self._iter = iter(self._loader)
            else:
                self._iter = iter(ds)
        return self._iter

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        t0 = time.perf_counter()
        stream = self._stream()
        empty = 0  # chunks in a row that kept no position
        while self.n_pending < batch_size:
            chunk = next(stream)
            if ERROR_KEY in chunk:
                raise chunk[ERROR_KEY]
            marker = np.asarray(chunk.pop("epoch"))
            self.epoch, self.done = int(marker[0]), int(marker[1])
            chunk = {k: np.asarray(v) for k, v in chunk.items()}
            skip, self.resume_offset = self.resume_offset, 0
            if len(chunk["score"]) > skip:
                if not self.pending:
                    self.offset = skip
                self.pending.append(((self.epoch, self.done - 1), chunk))
                self.n_pending += len(chunk["score"]) - skip
                empty = 0
            elif (empty := empty + 1) >= self._chunks_per_pass():
                raise TrainingError(f"{', '.join(self.cfg.paths)}: a full pass over the training data kept no "
                                    "position (all filtered out: early_ply_skip, skip_captures, skip_in_check, "
                                    "random_skip, skip_bad)")
        # rows are taken as views of the pending chunks (self.offset rows of the first one are used up; only a
        # batch that spans two chunks is copied), then its features are built (batch-sized buffers: reused
        # memory, no chunk-sized index array)
        parts, need = [], batch_size
        while need:
            head = self.pending[0][1]
            size = min(need, len(head["score"]) - self.offset)
            parts.append({k: v[self.offset : self.offset + size] for k, v in head.items()})
            self.offset += size
            need -= size
            if self.offset == len(head["score"]):
                self.pending.pop(0)
                self.offset = 0
        merged = parts[0] if len(parts) == 1 else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        batch = {k: torch.from_numpy(v) for k, v in rows_to_batch(merged, self.cfg.features).items()}
        self.n_pending -= batch_size
        self.positions += batch_size
        self.wait_s += time.perf_counter() - t0
        return batch

    def _chunks_per_pass(self) -> int:
        """Chunks this rank sees per epoch: that many empty ones in a row are a whole pass without a position."""
        return max(1, -(-len(self.chunks) // self.ctx.world_size))

    def validation_batches(self) -> list[dict[str, torch.Tensor]]:
        if not self.cfg.validation_path or not self.cfg.validation_size:
            return []
        if not hasattr(self, "_val"):
            arrays = load_positions(
                self.cfg.validation_path,
                self.cfg.features,
                count=self.cfg.validation_size,
                filters=Filters(0.0, self.cfg.early_ply_skip, self.cfg.skip_captures, self.cfg.skip_in_check),
                skip_bad=self.cfg.skip_bad,
            )
            self._val = [{k: torch.from_numpy(v) for k, v in arrays.items()}] if len(arrays["bucket"]) else []
        return self._val

    def stats(self) -> dict[str, float]:
        return {"epoch": float(self.epoch), "loader_wait_s": self.wait_s}

    def state_dict(self) -> dict[str, Any]:
        """Seed and the exact stream position of the next unserved row: chunk ``done`` of ``epoch``, of which
        ``offset`` rows were served. A chunk is a pure function of (seed, epoch, index, rank), so a resumed
        source fetches that chunk again, drops the served rows, and serves the same batches as the original."""
        if self.pending:
            (epoch, index), _ = self.pending[0]
            return {"seed": self.seed, "epoch": epoch, "done": index, "offset": self.offset}
        return {"seed": self.seed, "epoch": self.epoch, "done": self.done, "offset": self.resume_offset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.close()
        self.seed, self.epoch, self.done = int(state["seed"]), int(state["epoch"]), int(state["done"])
        self.pending, self.n_pending, self.offset = [], 0, 0
        self.resume_offset = int(state.get("offset", 0))  # states saved before exact resume: start of the chunk

    def close(self) -> None:
        self._iter = None
        self._loader = None
