"""Feature blocks: sizes, hashes, factor maps against the board-level definition, coalescing."""

from __future__ import annotations

from collections import Counter

import chess
import numpy as np
import pytest
import torch

from boardnet.core.errors import ConfigError
from boardnet.nnue.features import get_feature_set
from boardnet.nnue.features import halfka_v2_hm as hka_f
from boardnet.nnue.features import halfkp as hkp_f
from tests.conftest import random_boards


@pytest.mark.parametrize(("name", "real", "virtual", "hash_"), [
    ("HalfKP", 41024, 0, 0x5D69D5B8), ("HalfKP^", 41024, 704, 0x5D69D5B8),
    ("HalfKAv2_hm", 22528, 0, 0x7F234CB8), ("HalfKAv2_hm^", 22528, 768, 0x7F234CB8),
])
def test_sizes_and_hashes(name: str, real: int, virtual: int, hash_: int) -> None:
    fs = get_feature_set(name)
    assert (fs.name, fs.num_real, fs.num_virtual, fs.num_rows, fs.hash) == (name, real, virtual, real + virtual,
                                                                             hash_)
    assert fs.plain_name == name.rstrip("^")
    fmap = fs.factor_map
    assert fmap.shape[0] == real and fmap.dtype == np.int64
    if virtual:
        assert fmap.min() >= real and fmap.max() < real + virtual


@pytest.mark.parametrize(("name", "module"), [("HalfKP^", hkp_f), ("HalfKAv2_hm^", hka_f)])
def test_factor_map_gives_board_virtual_features(name: str, module) -> None:
    """Gathering the factor map over the active real indices = nnue-pytorch's virtual features with values."""
    fs = get_feature_set(name)
    seen = set()
    for b in random_boards(150, seed=1, plies=(0, 150), quiet=False):
        for persp in (chess.WHITE, chess.BLACK):
            real = fs.active_features(b, persp)
            got = Counter(int(v) - fs.num_real for v in fs.factor_map[real].ravel())
            assert dict(got) == module.virtual_features(b, persp)
            seen.update(got)
    assert len(seen) > 300  # the positions exercise many virtual rows


def test_halfkp_dead_slot_and_kings() -> None:
    fmap = get_feature_set("HalfKP^").factor_map
    assert fmap[641 * 5].tolist() == [41024 + 5, 41024 + 63]  # dead slot -> HalfK[k], HalfK[63] (§6.2)
    assert fmap[1 + 641 * 5 + 64 * 3 + 17].tolist() == [41024 + 5, 41088 + 64 * 3 + 17]
    # HalfKAv2_hm^: white king e1 seen by white is bucket 31, oriented square e1 = 4, plane 10 -> A 10*64+4
    b = chess.Board()
    fs = get_feature_set("HalfKAv2_hm^")
    idx = 704 * 31 + 64 * 10 + 4
    assert idx in fs.active_features(b, chess.WHITE)
    assert fs.factor_map[idx, 0] == 22528 + 64 * 10 + 4
    opp = 704 * 31 + 64 * 10 + 60  # black king e8 (no file flip: white king on file e): theirs, A plane 11
    assert opp in fs.active_features(b, chess.WHITE)
    assert fs.factor_map[opp, 0] == 22528 + 64 * 11 + 60


@pytest.mark.parametrize("name", ["HalfKP^", "HalfKAv2_hm^", "HalfKP", "HalfKP^+HalfKAv2_hm^"])
def test_coalesced_rows_give_same_sums(name: str) -> None:
    """Sum of training rows over real+factor indices == sum of coalesced rows over real indices."""
    fs = get_feature_set(name)
    torch.manual_seed(0)
    w = torch.randn(fs.num_rows, 8, dtype=torch.float64)
    folded = fs.coalesce(w)
    assert folded.shape == (fs.num_real, 8)
    boards = random_boards(20, seed=3, plies=(0, 150), quiet=False)
    idx = torch.full((len(boards), 64), -1, dtype=torch.int64)
    for i, b in enumerate(boards):
        a = fs.active_features(b, b.turn)
        idx[i, : len(a)] = torch.tensor(a)
    rows = fs.with_factors(idx)

    def bag(table: torch.Tensor, ix: torch.Tensor) -> torch.Tensor:
        return (table[ix.clamp(min=0)] * (ix >= 0).unsqueeze(-1)).sum(1)

    assert torch.allclose(bag(w, rows), bag(folded, idx), atol=1e-10)
    assert torch.equal(fs.coalesce(fs.expand(folded)), folded)


def test_composition_and_errors() -> None:
    fs = get_feature_set("HalfKP^+HalfKAv2_hm^")
    assert fs.num_real == 41024 + 22528 and fs.num_virtual == 704 + 768
    h0, h1 = 0x5D69D5B8, 0x7F234CB8
    assert fs.hash == (h0 ^ (h1 << 1) ^ (h1 >> 1)) & 0xFFFFFFFF
    virt_a = 41024 + 22528 + 704  # A rows come after all real rows and the HalfKP^ virtual rows
    assert fs.factor_map[41024 + 640 + 63, 0] == virt_a + 640 + 63  # bucket 0 = own king on h8: plane 10
    assert fs.factor_map[41024 + 640 + 7, 0] == virt_a + 704 + 7  # a king on h1 with bucket 0: theirs
    assert fs.factor_map[41024, 1] == -1
    b = chess.Board()
    a = fs.active_features(b, chess.WHITE)
    assert len(a) == 30 + 32 and max(a[:30]) < 41024 and min(a[30:]) >= 41024  # HalfKP has no king features
    with pytest.raises(ConfigError, match="HalfKX"):
        get_feature_set("HalfKX")
    with pytest.raises(ConfigError):
        get_feature_set("")
