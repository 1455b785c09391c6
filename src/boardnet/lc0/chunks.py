"""lc0 V6 training chunks: the record layout, gzip chunk files, PGN -> chunks, and the ``lc0_chunks`` data source.

Layout: shared/specs/lc0.md §12, checked against lc0 ``src/trainingdata/trainingdata_v6.h`` and lczero-training
``tf/chunkparser.py``: packed little-endian records of 8,356 bytes, back to back in a gzip file (one game per
file). Bit planes are stored with the bits of every byte reversed, so ``np.unpackbits(bytes)`` (big bit order,
chunkparser's default) yields squares a1..h8 in order; they are already in the side-to-move frame.

A batch holds ``planes [B,112,8,8]`` float32, ``policy [B,1858]`` float32 (visit fractions, −1 = illegal),
``wdl [B,3]`` float32 (game result from the side to move) and ``mlh [B]`` float32 (plies left).
Aux planes follow boardnet's encoder (games/chess.py, = lc0's engine input for format 1): rule-50 is the raw
count, not chunkparser's count/99.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import torch
from pydantic import Field

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import FormatError
from boardnet.core.io import atomic_folder, atomic_write, check_user_file, open_user_file
from boardnet.core.pgn import GameStats, PgnGame, read_games
from boardnet.lc0.planes import game_bitplanes, game_castling, packed_policy_indices
from boardnet.lc0.policy_map import POLICY_SIZE
from boardnet.train.context import TrainContext
from boardnet.train.data import DataSource

V6_VERSION = 6  # trainingdata_v6.h: V6TrainingData::version
CLASSICAL_INPUT = 1  # pblczero.NetworkFormat.INPUT_CLASSICAL_112_PLANE: the only format boardnet encodes
BIT_PLANES = 104  # 8 history slots x 13 planes, u64 each
# §12 field order and types; "<" = little-endian, numpy packs without padding (8,356 bytes, asserted below).
V6_DTYPE = np.dtype([
    ("version", "<u4"), ("input_format", "<u4"),
    ("probabilities", "<f4", (POLICY_SIZE,)),
    ("planes", "<u8", (BIT_PLANES,)),
    ("castling_us_ooo", "u1"), ("castling_us_oo", "u1"), ("castling_them_ooo", "u1"), ("castling_them_oo", "u1"),
    ("side_to_move_or_enpassant", "u1"), ("rule50_count", "u1"), ("invariance_info", "u1"), ("dummy", "u1"),
    ("root_q", "<f4"), ("best_q", "<f4"), ("root_d", "<f4"), ("best_d", "<f4"),
    ("root_m", "<f4"), ("best_m", "<f4"), ("plies_left", "<f4"),
    ("result_q", "<f4"), ("result_d", "<f4"),
    ("played_q", "<f4"), ("played_d", "<f4"), ("played_m", "<f4"),
    ("orig_q", "<f4"), ("orig_d", "<f4"), ("orig_m", "<f4"),
    ("visits", "<u4"), ("played_idx", "<u2"), ("best_idx", "<u2"),
    ("policy_kld", "<f4"), ("q_st", "<f4"),
])
RECORD_SIZE = 8356
assert V6_DTYPE.itemsize == RECORD_SIZE
MAX_CHUNK_BYTES = 1 << 30  # refuse to inflate more than 1 GiB from one chunk file (gzip bomb guard)


# ------------------------------------------------------------------------------------------- records


def pack_bit_planes(bits: np.ndarray) -> np.ndarray:
    """``bits [104, 8, 8]`` (0/1, [rank, file]) -> ``[104]`` u64 as stored in a V6 record."""
    flat = np.asarray(bits, dtype=np.uint8).reshape(BIT_PLANES, 64)
    return np.packbits(flat, axis=-1, bitorder="big").view("<u8")[:, 0]


def record_planes(records: np.ndarray) -> np.ndarray:
    """``[N]`` V6 records -> ``[N, 112, 8, 8]`` float32 input planes (classical format 1)."""
    n = len(records)
    raw = np.ascontiguousarray(records["planes"]).view(np.uint8).reshape(n, BIT_PLANES, 8)
    planes = np.zeros((n, 112, 8, 8), np.float32)
    planes[:, :BIT_PLANES] = np.unpackbits(raw, axis=-1, bitorder="big").reshape(n, BIT_PLANES, 8, 8)
    aux = ("castling_us_ooo", "castling_us_oo", "castling_them_ooo", "castling_them_oo",
           "side_to_move_or_enpassant", "rule50_count")
    for i, name in enumerate(aux):
        planes[:, BIT_PLANES + i] = records[name].astype(np.float32)[:, None, None]
    planes[:, 111] = 1.0
    return planes


def record_wdl(records: np.ndarray) -> np.ndarray:
    """``[N, 3]`` win/draw/loss target from ``result_q``, ``result_d`` (side to move): (½(1−d+q), d, ½(1−d−q))."""
    q, d = records["result_q"].astype(np.float32), records["result_d"].astype(np.float32)
    return np.stack([0.5 * (1 - d + q), d, 0.5 * (1 - d - q)], axis=1)


# ------------------------------------------------------------------------------------------- files


def parse_records(data: bytes, path: str | Path) -> np.ndarray:
    """Uncompressed chunk bytes -> ``[N]`` V6 records; one FormatError naming file and record otherwise."""
    if not data:
        raise FormatError(path, "empty chunk: no records")
    for i in range(0, len(data), RECORD_SIZE):
        if len(data) - i < 4:
            break
        version = int.from_bytes(data[i:i + 4], "little")
        if version != V6_VERSION:
            raise FormatError(path, f"record {i // RECORD_SIZE}: version {version}; expected {V6_VERSION} (V6 chunk)",
                              offset=i, field="version")
    full, rest = divmod(len(data), RECORD_SIZE)
    if rest:
        raise FormatError(path, f"record {full}: truncated ({rest} of {RECORD_SIZE} bytes)", offset=full * RECORD_SIZE)
    records = np.frombuffer(data, V6_DTYPE).copy()
    bad = np.flatnonzero(records["input_format"] != CLASSICAL_INPUT)
    if len(bad):
        i = int(bad[0])
        raise FormatError(path, f"record {i}: input format {int(records['input_format'][i])}; boardnet reads "
                          f"format {CLASSICAL_INPUT} (classical 112 planes)", offset=i * RECORD_SIZE + 4,
                          field="input_format")
    probs = records["probabilities"]
    bad = np.flatnonzero(~np.all(((probs >= 0) & (probs <= 1)) | (probs == -1), axis=1))
    if len(bad):
        i = int(bad[0])
        raise FormatError(path, f"record {i}: probabilities outside [0, 1] (and not −1 = illegal)",
                          offset=i * RECORD_SIZE + 8, field="probabilities")
    return records


def inflate_bounded(fh: BinaryIO, path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of an open gzip (or plain) file, read in 1 MiB pieces so that nothing near ``limit`` is
    allocated before the data is there; FormatError when it holds more than ``limit`` bytes or is corrupt."""
    head = fh.read(2)
    fh.seek(0)
    stream: Any = gzip.GzipFile(fileobj=fh) if head == b"\x1f\x8b" else fh
    parts, size = [], 0
    try:
        while piece := stream.read(1 << 20):
            size += len(piece)
            if size > limit:
                raise FormatError(path, f"{what} inflates to more than {limit:,} bytes")
            parts.append(piece)
    except (OSError, EOFError, zlib.error) as err:
        raise FormatError(path, f"not a readable gzip {what} (truncated or corrupt?): {err}") from None
    return b"".join(parts)


def read_chunk(path: str | Path) -> np.ndarray:
    """``[N]`` V6 records of a gzip chunk file (a plain uncompressed file is read too)."""
    with open_user_file(path) as fh:
        data = inflate_bounded(fh, path, MAX_CHUNK_BYTES, "chunk")
    return parse_records(data, path)


CHUNK_COMPRESSION = 1  # zlib level: level 6 alone caps PGN -> chunks near 18,000 positions/s (bench/lc0_pgn2chunks)


def chunk_bytes(records: np.ndarray) -> bytes:
    """``[N]`` V6 records as the bytes of one gzip chunk file; the same records give the same bytes (no time
    stamp or name in the gzip header)."""
    return gzip.compress(np.ascontiguousarray(records, V6_DTYPE).tobytes(), CHUNK_COMPRESSION, mtime=0)


def write_chunk(path: str | Path, records: np.ndarray) -> None:
    """Write ``[N]`` V6 records as one gzip chunk file, atomically (:func:`chunk_bytes`)."""
    data = chunk_bytes(records)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


# --------------------------------------------------------------------------------------------- PGN


def reverse_bits_of_bytes(x: np.ndarray) -> np.ndarray:
    """uint64 array with the bits of each of its bytes reversed (the V6 bit-plane storage, §12)."""
    for shift, mask in ((1, 0x5555555555555555), (2, 0x3333333333333333), (4, 0x0F0F0F0F0F0F0F0F)):
        s, m = np.uint64(shift), np.uint64(mask)
        x = ((x >> s) & m) | ((x & m) << s)
    return x


def game_records(game: PgnGame) -> np.ndarray:
    """``[n]`` V6 records, one per move of a used game (:mod:`boardnet.core.pgn`: legal standard chess with a
    decisive or drawn result), built for the whole game at once from its plies.

    The policy target is the played move as one-hot (other legal moves 0, illegal −1); without a search,
    root/best/played q, d are the game result (side to move) and m the plies left.
    """
    plies = game.plies
    assert plies is not None and game.why is None, "game_records takes used games"
    n = len(plies.played)
    pos, state = plies.pos, plies.state
    black = state[:n, 0] == 1
    rec = np.zeros(n, V6_DTYPE)
    rec["version"], rec["input_format"] = V6_VERSION, CLASSICAL_INPUT
    rec["planes"] = reverse_bits_of_bytes(game_bitplanes(pos, state, n))
    castling = game_castling(pos, state, n)
    for i, name in enumerate(("castling_us_ooo", "castling_us_oo", "castling_them_ooo", "castling_them_oo")):
        rec[name] = castling[:, i]
    rec["side_to_move_or_enpassant"] = black
    rec["rule50_count"] = np.minimum(state[:n, 2], 255)
    counts = np.diff(plies.legal_start[: n + 1])
    legal = packed_policy_indices(plies.legal[: plies.legal_start[n]], np.repeat(black, counts))
    played = packed_policy_indices(plies.played, black)
    probs = rec["probabilities"]  # a view into the records
    probs.fill(-1.0)
    probs[np.repeat(np.arange(n), counts), legal] = 0.0
    probs[np.arange(n), played] = 1.0
    white = float(game.white_score)
    q = np.where(black, -white, white).astype(np.float32)
    d = 1.0 if white == 0 else 0.0
    plies_left = np.arange(n, 0, -1, dtype=np.float32)
    for prefix in ("root", "best", "played", "result"):
        rec[f"{prefix}_q"], rec[f"{prefix}_d"] = q, d
    for name in ("root_m", "best_m", "played_m", "plies_left"):
        rec[name] = plies_left
    rec["orig_q"] = rec["orig_d"] = rec["orig_m"] = np.nan  # §12: NaN if unknown
    rec["played_idx"] = rec["best_idx"] = played
    return rec


def pgn_records(path: str | Path, stats: GameStats | None = None) -> np.ndarray:
    """All positions of the used games of a PGN file as ``[N]`` V6 records (skipped games counted in
    ``stats``)."""
    parts = [game_records(g) for g in read_games(path, stats if stats is not None else GameStats())]
    return np.concatenate(parts) if parts else np.zeros(0, V6_DTYPE)


def chunk_name(game: int) -> str:
    """File name of the ``game``-th game's chunk (from 1): lc0's own ``game_NNNNNN.gz`` (src/trainingdata/writer.cc),
    which lczero-training's ``sort_type: number`` also parses (it strips letters, ``_-.`` and reads the digits)."""
    return f"game_{game:06d}.gz"


def pgn_to_chunks(pgn: str | Path, out_dir: str | Path,
                  report: Callable[[GameStats], None] | None = None) -> tuple[GameStats, int]:
    """One chunk file per used game of ``pgn`` (:func:`chunk_name`) in folder ``out_dir``; returns the game
    counts and positions. ``report(counts so far)`` is called after each used game.

    The chunks are written into a fresh temp folder that replaces ``out_dir`` whole once every game is done and
    on disk (:func:`boardnet.core.io.atomic_folder`: one fsync pass at the end, not one per file), so a failure
    leaves an earlier ``out_dir`` as it was and a rerun never mixes in stale chunks. An existing ``out_dir`` must
    be a folder holding nothing but chunk files (``*.gz``).
    """
    out = Path(out_dir)
    _check_chunk_folder(out)
    check_user_file(pgn)
    stats = GameStats()

    def fill(tmp: Path) -> int:
        positions = 0
        for game in read_games(pgn, stats):
            records = game_records(game)
            positions += len(records)
            (tmp / chunk_name(stats.used)).write_bytes(chunk_bytes(records))
            if report is not None:
                report(stats)
        return positions

    return stats, atomic_folder(out, fill)


def _check_chunk_folder(out: Path) -> None:
    """Refuse an output that is a file, or a folder holding anything but chunk files (it is replaced)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise FormatError(out, "exists and is not a folder; name a new folder (or one of earlier chunks)")
    if out.is_dir():
        other = next((p for p in out.iterdir() if not (p.is_file() and p.name.endswith(".gz"))), None)
        if other is not None:
            raise FormatError(out, f"holds {other.name!r}, not a chunk file; name a new folder (a folder of "
                              "earlier chunks is replaced as a whole)")


# -------------------------------------------------------------------------------------- data source


def find_files(paths: list[str]) -> list[Path]:
    """Chunk files (``*.gz``) and PGN files (``*.pgn``) named by ``paths`` (files or directories), sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith((".gz", ".pgn")))
        elif p.is_file():
            found.append(p)
        else:
            raise FormatError(p, "no such file or directory")
    return found


def read_positions(path: Path) -> np.ndarray:
    """``[N]`` V6 records of a chunk file or a PGN file (converted each time it is read: the compiled PGN reader
    is faster than inflating a cached conversion)."""
    return pgn_records(path) if path.suffix == ".pgn" else read_chunk(path)


def records_to_batch(records: np.ndarray) -> dict[str, torch.Tensor]:
    """``[N]`` records -> ``planes [N,112,8,8]``, ``policy [N,1858]``, ``wdl [N,3]``, ``mlh [N]`` tensors."""
    return {
        "planes": torch.from_numpy(record_planes(records)),
        "policy": torch.from_numpy(np.ascontiguousarray(records["probabilities"], np.float32)),
        "wdl": torch.from_numpy(record_wdl(records)),
        "mlh": torch.from_numpy(records["plies_left"].astype(np.float32)),
    }


class Lc0ChunkData(DataSource):
    """Positions streamed from V6 chunk files (and PGN files) through a shuffle buffer.

    Files are split into training and validation files (the last ``validation_fraction`` of them, sorted by
    name); training files are visited in a new random order each epoch, sharded by DDP rank. Each batch draws
    positions at random from a buffer of ``shuffle_buffer`` positions, refilled from the files (lczero-training's
    shuffle buffer; it decorrelates the positions of one game). A PGN file is converted each time it is read.
    """

    class Config(ComponentConfig):
        type: Literal["lc0_chunks"] = "lc0_chunks"
        paths: list[str]
        shuffle_buffer: int = Field(20000, gt=0)
        validation_fraction: float = Field(0.0, ge=0, lt=1)
        validation_positions: int = Field(4096, gt=0)
        validation_batch: int = Field(512, gt=0)

    def __init__(self, cfg: Any, ctx: TrainContext) -> None:
        super().__init__(cfg, ctx)
        files = find_files(cfg.paths)
        if not files:
            raise FormatError(", ".join(cfg.paths), "no chunk (.gz) or PGN files")
        n_val = int(len(files) * cfg.validation_fraction) if len(files) > 1 else 0
        self.val_files = files[len(files) - n_val:] if n_val else []
        self.files = files[: len(files) - n_val][ctx.rank::ctx.world_size]
        if not self.files:
            raise FormatError(", ".join(cfg.paths), f"no training files for rank {ctx.rank}")
        self.order = ctx.rng.permutation(len(self.files))
        self.file_cursor = 0
        self.epoch = 0
        self.pending = np.zeros(0, V6_DTYPE)  # records of the current file not yet in the buffer
        self.buffer = np.zeros(0, V6_DTYPE)
        self.drop: np.ndarray | None = None  # buffer rows served by the last batch, removed by _compact
        self.served = 0

    def _next_file(self) -> np.ndarray:
        if self.file_cursor >= len(self.files):
            self.order = self.ctx.rng.permutation(len(self.files))
            self.file_cursor = 0
            self.epoch += 1
        path = self.files[int(self.order[self.file_cursor])]
        self.file_cursor += 1
        return read_positions(path)

    def _fill(self, want: int) -> None:
        """Top the buffer up to ``max(shuffle_buffer, want)`` positions."""
        target = max(self.cfg.shuffle_buffer, want)
        parts: list[np.ndarray] = []
        have = len(self.buffer) - (0 if self.drop is None else len(self.drop))
        empty_reads = 0
        while have < target:
            if not len(self.pending):
                self.pending = self._next_file()
                empty_reads = empty_reads + 1 if not len(self.pending) else 0
                if empty_reads > len(self.files):
                    raise FormatError(self.files[0].parent, "the training files hold no positions")
                continue
            take = self.pending[: target - have]
            self.pending = self.pending[len(take):]
            parts.append(take)
            have += len(take)
        self._compact(parts)

    def _compact(self, new: list[np.ndarray]) -> None:
        """Buffer = its rows not in ``drop`` (order kept), then ``new``: one copy of the buffer per batch."""
        if self.drop is None and not new:
            return
        keep = np.ones(len(self.buffer), bool)
        if self.drop is not None:
            keep[self.drop] = False
        kept = int(keep.sum())
        out = np.empty(kept + sum(len(p) for p in new), V6_DTYPE)
        np.compress(keep, self.buffer, out=out[:kept])
        at = kept
        for p in new:
            out[at : at + len(p)] = p
            at += len(p)
        self.buffer, self.drop = out, None

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor]:
        self._fill(batch_size)
        pick = self.ctx.rng.choice(len(self.buffer), size=batch_size, replace=False)
        batch = self.buffer[pick]
        self.drop = pick  # removed on the next fill (or checkpoint), together with the refill
        self.served += batch_size
        return records_to_batch(batch)

    def validation_batches(self) -> list[dict[str, torch.Tensor]]:
        if not hasattr(self, "_val"):
            parts, have = [], 0
            for path in self.val_files:
                if have >= self.cfg.validation_positions:
                    break
                recs = read_positions(path)[: self.cfg.validation_positions - have]
                parts.append(recs)
                have += len(recs)
            recs = np.concatenate(parts) if parts else np.zeros(0, V6_DTYPE)
            step = self.cfg.validation_batch
            self._val = [records_to_batch(recs[i:i + step]) for i in range(0, len(recs), step)]
        return self._val

    def stats(self) -> dict[str, float]:
        return {"epoch": self.epoch + self.file_cursor / len(self.files), "positions": float(self.served)}

    def state_dict(self) -> dict[str, Any]:
        self._compact([])
        return {"order": torch.from_numpy(self.order.astype(np.int64)), "file_cursor": self.file_cursor,
                "epoch": self.epoch, "served": self.served,
                "pending": torch.from_numpy(self.pending.view(np.uint8).copy()),
                "buffer": torch.from_numpy(self.buffer.view(np.uint8).copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order = state["order"].numpy()
        self.file_cursor = int(state["file_cursor"])
        self.epoch = int(state["epoch"])
        self.served = int(state["served"])
        self.pending = state["pending"].numpy().view(V6_DTYPE).copy()
        self.buffer = state["buffer"].numpy().view(V6_DTYPE).copy()
        self.drop = None
