"""Feature blocks and feature sets (spec ``nnue.md`` §6, §7), composed by name like nnue-pytorch ``--features``.

A block has REAL features (what the engine sees, what the data loader emits) and optionally VIRTUAL features
(factorizers, training only). Each real feature also activates the virtual rows of its factor map, so a data
batch of real indices is independent of factorization: the model gathers ``factor_map[idx]`` itself.
Coalescing (§6.5) folds the virtual rows into the real rows for export.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import chess
import numpy as np
import torch

from boardnet.core.errors import ConfigError

MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class FeatureBlock:
    """One block, e.g. ``HalfKP^``.

    Attributes:
        name: nnue-pytorch block name (``"HalfKP"``, ``"HalfKP^"``, ...).
        hash: feature-set hash written in ``.nnue`` files (§2; a factorized block has its plain block's hash).
        num_real: real feature count (rows written to ``.nnue``).
        num_virtual: virtual (factor) feature count, 0 for a plain block.
        active: ``active(board, perspective) -> list[int]``, sorted real indices of a python-chess board.
        factors: ``factors() -> int64 [num_real, n_factors]``, the block-local virtual index (0..num_virtual-1)
            each real feature also activates; ``[num_real, 0]`` for a plain block.
        plain: name of the non-factorized block with the same real features.
    """

    name: str
    hash: int
    num_real: int
    num_virtual: int
    active: Callable[[chess.Board, chess.Color], list[int]] = field(repr=False)
    factors: Callable[[], np.ndarray] = field(repr=False)
    plain: str


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

    def with_factors(self, idx: torch.Tensor) -> torch.Tensor:
        """Real indices ``[..., A]`` (-1 padded) -> ``[..., A * (1 + n_factors)]`` embedding rows (-1 padded)."""
        fmap = self.factor_map
        if fmap.shape[1] == 0:
            return idx
        table = torch.from_numpy(fmap).to(idx.device)
        virt = torch.where((idx >= 0).unsqueeze(-1), table[idx.clamp(min=0)], -1)
        return torch.cat([idx, virt.flatten(-2)], -1)

    def coalesce(self, weight: torch.Tensor) -> torch.Tensor:
        """§6.5: ``[num_rows, D]`` training rows -> ``[num_real, D]`` with virtual rows folded in.

        ``W_real[i] = W[i] + sum_k W[factor_map[i, k]]``.
        """
        if weight.shape[0] != self.num_rows:
            raise ValueError(f"{self.name}: weight has {weight.shape[0]} rows; expected {self.num_rows}")
        real = weight[: self.num_real]
        fmap = torch.from_numpy(self.factor_map).to(weight.device)
        if fmap.shape[1] == 0:
            return real.clone()
        mask = (fmap >= 0).to(weight.dtype).unsqueeze(-1)
        return real + (weight[fmap.clamp(min=0)] * mask).sum(1)

    def expand(self, weight: torch.Tensor) -> torch.Tensor:
        """``[num_real, D]`` (e.g. read from ``.nnue``) -> ``[num_rows, D]`` with zero virtual rows, so factorized
        training resumes from a plain net with identical outputs."""
        if weight.shape[0] != self.num_real:
            raise ValueError(f"{self.name}: weight has {weight.shape[0]} rows; expected {self.num_real}")
        zeros = weight.new_zeros((self.num_virtual, *weight.shape[1:]))
        return torch.cat([weight, zeros], 0)


# name -> "module" holding a module-level ``BLOCK`` (imported lazily)
BLOCKS: dict[str, str] = {
    "HalfKP": "boardnet.nnue.features.halfkp",
    "HalfKP^": "boardnet.nnue.features.halfkp_factorized",
    "HalfKAv2_hm": "boardnet.nnue.features.halfka_v2_hm",
    "HalfKAv2_hm^": "boardnet.nnue.features.halfka_v2_hm_factorized",
    "Full_Threats": "boardnet.nnue.features.full_threats",
}


def get_block(name: str) -> FeatureBlock:
    import importlib

    if name not in BLOCKS:
        raise ConfigError("features", f"unknown feature block {name!r}; expected one of {', '.join(BLOCKS)}")
    return importlib.import_module(BLOCKS[name]).BLOCK


def get_feature_set(name: str) -> FeatureSet:
    """Feature set from an nnue-pytorch style ``--features`` string, e.g. ``"HalfKAv2_hm^"``."""
    if not name:
        raise ConfigError("features", "empty feature set name")
    return FeatureSet(tuple(get_block(n) for n in name.split("+")))
