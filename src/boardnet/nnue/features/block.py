"""Feature blocks and feature sets (spec ``nnue.md`` §6, §7), composed by name like nnue-pytorch ``--features``.

A block has REAL features (what the engine sees, what the data loader emits) and optionally VIRTUAL features
(factorizers, training only). Each real feature also activates the virtual rows of its factor map, so a data
batch of real indices is independent of factorization: the model gathers ``factor_map[idx]`` itself.
Coalescing (§6.5) folds the virtual rows into the real rows for export.

Adding a block = one module in this folder defining ``BLOCK`` (and ``FACTORIZED``, its ``^`` variant, if it
has factors) plus one line in :data:`BLOCKS`. Everything else (data loader, float nets, ``.nnue`` files,
integer evaluation) asks the block through :func:`get_block` / :func:`get_feature_set`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import chess
import numpy as np
import torch
from numba import njit

from boardnet.core.errors import ConfigError

MASK32 = 0xFFFFFFFF  # §2: hash arithmetic is mod 2^32
MAX_ACTIVE = 32  # piece-list slots of a position (32 pieces, kings included): width of a block's index rows
FACTORIZED_SUFFIX = "^"  # §7: ``X^`` = block ``X`` with its factorizer (virtual features)

# ``(list_sq [N,32] int8, list_code [N,32] int8, turn [N]) -> int64 [N, 2, max_active]``, see ``FeatureBlock.batch``
BatchBuilder = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def layer_stack_bucket(piece_count: np.ndarray | int) -> np.ndarray | int:
    """PSQT column / layer stack of a position, ``(piece_count_including_kings - 1) // 4`` (0..7, §9.1 step 1);
    emitted as ``bucket`` next to the feature indices of every batch."""
    return (piece_count - 1) // 4


@dataclass(frozen=True)
class FeatureBlock:
    """One block, e.g. ``HalfKP^``: everything the loader, the nets, the file code and the evaluator need.

    Attributes:
        name: nnue-pytorch block name (``"HalfKP"``, ``"HalfKP^"``, ...).
        hash: feature-set hash written in ``.nnue`` files (§2; a factorized block has its plain block's hash).
        num_real: real feature count (rows written to ``.nnue``, in this order: export needs no re-layout
            beyond coalescing).
        num_virtual: virtual (factor) feature count, 0 for a plain block.
        active: ``active(board, perspective) -> list[int]``, sorted real indices of a python-chess board (the
            index formula, used by the integer evaluator and as the reference for ``batch``).
        factors: ``factors() -> int64 [num_real, n_factors]``, the block-local virtual index (0..num_virtual-1)
            each real feature also activates; ``[num_real, 0]`` for a plain block (factorized form, §6.5).
        plain: name of the non-factorized block with the same real features.
        batch: vectorized ``active`` for the data loader, ``(list_sq, list_code, turn) -> int64 [N, 2,
            max_active]`` real indices for (side to move, side not to move), -1 padded; ``list_sq/list_code
            [N, 32] int8`` are the piece lists of :class:`boardnet.nnue.data.bin.Decoded` (codes 1..6 white pawn..
            king, 7..12 black, 0 empty; the white then the black king last), ``turn [N]`` 0 white.
            :func:`piece_square_batch` builds one from an index table.
        psqt: ``psqt() -> float32 [num_real]`` initial PSQT value of each real feature in internal units (the
            same in every bucket), or None: PSQT rows start at zero.
        max_active: width of ``batch`` rows (most active features per perspective, padded).
    """

    name: str
    hash: int
    num_real: int
    num_virtual: int
    active: Callable[[chess.Board, chess.Color], list[int]] = field(repr=False)
    factors: Callable[[], np.ndarray] = field(repr=False)
    plain: str
    batch: BatchBuilder | None = field(default=None, repr=False)
    psqt: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    max_active: int = MAX_ACTIVE

    def factorized(self, num_virtual: int, factors: Callable[[], np.ndarray]) -> FeatureBlock:
        """The ``^`` variant of this plain block: same real features, hash, loader and PSQT init, plus factors."""
        return FeatureBlock(self.name + FACTORIZED_SUFFIX, self.hash, self.num_real, num_virtual, self.active, factors, plain=self.name,
                            batch=self.batch, psqt=self.psqt, max_active=self.max_active)


def piece_plane(piece: chess.Piece, perspective: chess.Color) -> int:
    """``p_idx = 2*type + (colour != perspective)`` (0..11; types P..K = 0..5), the plane of a piece (§6)."""
    return 2 * (piece.piece_type - 1) + (piece.color != perspective)


def piece_square_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Broadcastable grids over a ``[2, 64, 13, 64]`` index table: perspective (0 white, 1 black), that side's
    king square, piece code (0 empty, 1..6 white P..K, 7..12 black), square, and the piece's ``p_idx`` (as
    :func:`piece_plane`; meaningless for code 0). Returns ``(perspective, king, code, square, p_idx)``."""
    persp = np.arange(2)[:, None, None, None]
    king = np.arange(64)[None, :, None, None]
    code = np.arange(13)[None, None, :, None]
    sq = np.arange(64)[None, None, None, :]
    p_idx = 2 * ((code - 1) % 6) + ((code > 6).astype(np.int64) != persp)
    return persp, king, code, sq, p_idx


def no_factors(num_real: int) -> Callable[[], np.ndarray]:
    """``factors`` of a plain block: ``int64 [num_real, 0]``."""
    return lambda: np.zeros((num_real, 0), np.int64)


def piece_square_batch(index_table: Callable[[], np.ndarray]) -> BatchBuilder:
    """Batch builder of a block whose index depends only on (perspective, own king square, piece, square).

    ``index_table() -> int [2, 64, 13, 64]``: feature index by (perspective 0 white / 1 black, that side's king
    square, piece code 0..12, square), -1 = no feature (always for code 0, the lists' padding). Built once on first use; a batch is then one gather per
    (position, perspective, list slot), compiled.
    """
    cache: list[np.ndarray] = []

    def batch(list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray) -> np.ndarray:
        if not cache:  # flat int32 copy (half the cache footprint of int64)
            cache.append(np.ascontiguousarray(index_table(), dtype=np.int32).ravel())
        return gather_piece_squares(cache[0], list_sq, list_code, turn)

    return batch


def gather_piece_squares(table: np.ndarray, list_sq: np.ndarray, list_code: np.ndarray,
                         turn: np.ndarray) -> np.ndarray:
    """``int64 [N, 2, 32]``: flat ``[2*64*13*64]`` index table gathered at (perspective, king, code, square) of
    every list slot, for (side to move, side not to move). The lists end with the white then the black king."""
    out = np.empty((len(turn), 2, list_code.shape[1]), dtype=np.int64)
    _gather_kernel(table, np.ascontiguousarray(list_sq, np.int8), np.ascontiguousarray(list_code, np.int8),
                   np.ascontiguousarray(turn, np.int8), out)
    return out


@njit(cache=True, nogil=True)
def _gather_kernel(table: np.ndarray, list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray,
                   out: np.ndarray) -> None:
    """Fill ``out [N, 2, W]`` for :func:`gather_piece_squares` (one compiled pass; padding slots, code 0: -1)."""
    n, width = list_code.shape
    for i in range(n):
        sq_row, code_row, o_stm, o_nstm = list_sq[i], list_code[i], out[i, 0], out[i, 1]
        count = 0
        for j in range(width):
            count += code_row[j] != 0
        stm = np.int64(turn[i])  # kings: white at slot count - 2, black at count - 1
        base_stm = ((stm * 64 + np.int64(sq_row[count - 2 + stm])) * 13) << 6
        base_nstm = (((1 - stm) * 64 + np.int64(sq_row[count - 1 - stm])) * 13) << 6
        for j in range(count):
            piece = (np.int64(code_row[j]) << 6) | np.int64(sq_row[j])
            o_stm[j] = table[base_stm + piece]
            o_nstm[j] = table[base_nstm + piece]
        o_stm[count:] = -1
        o_nstm[count:] = -1


def factor_rows(idx: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
    """Real indices ``idx [..., A]`` (-1 padded) -> ``[..., A * (1 + n_factors)]`` embedding rows, each real row
    followed by the virtual rows ``fmap [num_real, n_factors]`` gives it (-1 padded)."""
    if fmap.shape[1] == 0:
        return idx
    virt = torch.where((idx >= 0).unsqueeze(-1), fmap[idx.clamp(min=0)], -1)
    return torch.cat([idx, virt.flatten(-2)], -1)


def coalesce_rows(table: torch.Tensor, fmap: torch.Tensor) -> torch.Tensor:
    """§6.5 coalescing, differentiable: ``[num_rows, D] -> [num_real, D]``,
    ``W_real[i] = W[i] + W[fmap[i, 0]] + W[fmap[i, 1]] + ...`` (added in that order; -1 entries skipped)."""
    real = table[: fmap.shape[0]]
    if fmap.shape[1] == 0:
        return real.clone()
    for k in range(fmap.shape[1]):
        col = fmap[:, k]
        if bool((col < 0).any()):  # only multi-block sets pad with -1; the masked path costs ~50% more
            real = real + torch.where((col >= 0).unsqueeze(1), table[col.clamp(min=0)], 0)
        else:
            real = real + table[col]
    return real


@dataclass(frozen=True)
class FeatureSet:
    """Blocks joined by ``+``. Real features of all blocks come first (block order), then all virtual ones."""

    blocks: tuple[FeatureBlock, ...]

    @property
    def name(self) -> str:
        return "+".join(b.name for b in self.blocks)

    @property
    def plain_name(self) -> str:
        """Name of the same set without factorizers (what a ``.nnue`` file holds)."""
        return "+".join(b.plain for b in self.blocks)

    @property
    def num_real(self) -> int:
        return sum(b.num_real for b in self.blocks)

    @property
    def num_virtual(self) -> int:
        return sum(b.num_virtual for b in self.blocks)

    @property
    def num_rows(self) -> int:
        """Rows of a training embedding: real + virtual."""
        return self.num_real + self.num_virtual

    @property
    def factorized(self) -> bool:
        return self.num_virtual > 0

    @property
    def hash(self) -> int:
        """§2: single block = its hash; more blocks combine as nnue-pytorch does."""
        h = 0
        for i, b in enumerate(self.blocks):
            h = b.hash if i == 0 else (h ^ (b.hash << 1) ^ ((b.hash >> 1) & MASK32)) & MASK32
        return h

    @cached_property
    def factor_map(self) -> np.ndarray:
        """``int64 [num_real, n_factors]``: absolute embedding rows (>= num_real) each real feature also
        activates; -1 where a block has fewer factors than the widest one."""
        width = max(b.factors().shape[1] for b in self.blocks)
        out = np.full((self.num_real, width), -1, dtype=np.int64)
        real_off, virt_off = 0, self.num_real
        for b in self.blocks:
            f = b.factors()
            out[real_off:real_off + b.num_real, : f.shape[1]] = f + virt_off
            real_off += b.num_real
            virt_off += b.num_virtual
        return out

    @property
    def max_active(self) -> int:
        return sum(b.max_active for b in self.blocks)

    def batch_indices(self, list_sq: np.ndarray, list_code: np.ndarray, turn: np.ndarray) -> np.ndarray:
        """``int64 [N, 2, max_active]`` real indices of decoded piece lists (see ``FeatureBlock.batch``), block
        offsets applied, each block's columns after the previous block's."""
        parts, off = [], 0
        for b in self.blocks:
            if b.batch is None:
                raise ConfigError("features", f"feature block {b.name} has no vectorized batch builder for the "
                                  "data loader")
            idx = b.batch(list_sq, list_code, turn)
            parts.append(idx if off == 0 else np.where(idx >= 0, idx + off, -1))
            off += b.num_real
        return parts[0] if len(parts) == 1 else np.concatenate(parts, 2)

    def board_batch(self, boards: list[chess.Board]) -> tuple[list[list[list[int]]], list[int]]:
        """Per board ``[stm, nstm]`` real index lists padded with -1 to ``max_active``, and the layer-stack
        bucket: the python-chess form of a data batch (tests, benchmarks)."""
        indices, buckets = [], []
        for board in boards:
            pair = []
            for idx in self.active_pair(board):
                pair.append(idx + [-1] * (self.max_active - len(idx)))
            indices.append(pair)
            buckets.append(int(layer_stack_bucket(len(board.piece_map()))))
        return indices, buckets

    def psqt_init(self) -> np.ndarray:
        """``float32 [num_rows]`` initial PSQT value per embedding row in internal units; virtual rows 0."""
        out = np.zeros(self.num_rows, np.float32)
        off = 0
        for b in self.blocks:
            if b.psqt is not None:
                out[off:off + b.num_real] = b.psqt()
            off += b.num_real
        return out

    def active_features(self, board: chess.Board, perspective: chess.Color) -> list[int]:
        """Real indices active for ``perspective`` (block offsets applied)."""
        out, off = [], 0
        for b in self.blocks:
            out += [off + i for i in b.active(board, perspective)]
            off += b.num_real
        return out

    def active_pair(self, board: chess.Board) -> tuple[list[int], list[int]]:
        """Real indices for (side to move, side not to move)."""
        return self.active_features(board, board.turn), self.active_features(board, not board.turn)

    def factor_table(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """:attr:`factor_map` as an ``int64`` tensor on ``device``."""
        return torch.from_numpy(self.factor_map).to(device)

    def with_factors(self, idx: torch.Tensor) -> torch.Tensor:
        """Real indices ``[..., A]`` (-1 padded) -> ``[..., A * (1 + n_factors)]`` embedding rows (-1 padded)."""
        return factor_rows(idx, self.factor_table(idx.device))

    def coalesce(self, weight: torch.Tensor) -> torch.Tensor:
        """§6.5: ``[num_rows, D]`` training rows -> ``[num_real, D]`` with virtual rows folded in."""
        if weight.shape[0] != self.num_rows:
            raise ValueError(f"{self.name}: weight has {weight.shape[0]} rows; expected {self.num_rows}")
        return coalesce_rows(weight, self.factor_table(weight.device))

    def expand(self, weight: torch.Tensor) -> torch.Tensor:
        """``[num_real, D]`` (e.g. read from ``.nnue``) -> ``[num_rows, D]`` with zero virtual rows, so factorized
        training resumes from a plain net with identical outputs."""
        if weight.shape[0] != self.num_real:
            raise ValueError(f"{self.name}: weight has {weight.shape[0]} rows; expected {self.num_real}")
        zeros = weight.new_zeros((self.num_virtual, *weight.shape[1:]))
        return torch.cat([weight, zeros], 0)


# Plain block name -> module defining ``BLOCK`` (and ``FACTORIZED`` for the ``^`` variant), imported lazily.
BLOCKS: dict[str, str] = {
    "HalfKP": "boardnet.nnue.features.halfkp",
    "HalfKAv2_hm": "boardnet.nnue.features.halfka_v2_hm",
    "Full_Threats": "boardnet.nnue.features.full_threats",
}


def block_names() -> list[str]:
    """Every valid block name, plain and ``^`` (imports each block module)."""
    names = []
    for plain in BLOCKS:
        names.append(plain)
        if hasattr(importlib.import_module(BLOCKS[plain]), "FACTORIZED"):
            names.append(plain + FACTORIZED_SUFFIX)
    return names


def get_block(name: str) -> FeatureBlock:
    """The block called ``name``; ``X^`` is the ``FACTORIZED`` block of ``X``'s module."""
    plain = name.removesuffix(FACTORIZED_SUFFIX)
    if plain not in BLOCKS:
        raise ConfigError("features", f"unknown feature block {name!r}; expected one of {', '.join(block_names())}")
    module = importlib.import_module(BLOCKS[plain])
    if plain == name:
        return module.BLOCK
    if not hasattr(module, "FACTORIZED"):
        raise ConfigError("features", f"feature block {plain} has no factorized variant {name!r}")
    return module.FACTORIZED


def get_feature_set(name: str) -> FeatureSet:
    """Feature set from an nnue-pytorch style ``--features`` string, e.g. ``"HalfKAv2_hm^"``."""
    if not name:
        raise ConfigError("features", "empty feature set name")
    return FeatureSet(tuple(get_block(n) for n in name.split("+")))


def plain_name(name: str) -> str:
    """``name`` without factorizers (what a ``.nnue`` file holds): ``"HalfKP^"`` -> ``"HalfKP"``."""
    return get_feature_set(name).plain_name


def check_feature_name(name: str) -> str:
    """Pydantic validator: ``name`` must be a known feature set (raises ``ValueError`` naming the choices)."""
    try:
        get_feature_set(name)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    return name
