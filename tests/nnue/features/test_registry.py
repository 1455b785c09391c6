"""The block registry is the one place that knows the feature blocks: configs, nets, ``.nnue`` layouts and PSQT
init all ask it."""

from __future__ import annotations

import dataclasses

import chess
import numpy as np
import pytest
import torch
from pydantic import ValidationError

from boardnet.core.errors import ConfigError, FormatError
from boardnet.nnue.data.loader import NnueData
from boardnet.nnue.features import BLOCKS, FeatureSet, get_block, get_feature_set, plain_name
from boardnet.nnue.features.block import block_names
from boardnet.nnue.file import ARCHS, write_net
from boardnet.nnue.net import NnueHalfKP, NnueNet
from tests.conftest import random_boards

NP_VALUES = {chess.PAWN: 126, chess.KNIGHT: 781, chess.BISHOP: 825, chess.ROOK: 1276, chess.QUEEN: 2538,
             chess.KING: 0}  # nnue.md §6.4


def test_names_plain_and_factorized() -> None:
    assert block_names() == ["HalfKP", "HalfKP^", "HalfKAv2_hm", "HalfKAv2_hm^", "Full_Threats"]
    for name in block_names():
        block = get_block(name)
        assert block.name == name and block.plain == name.removesuffix("^")
        assert plain_name(name) == block.plain and (block.num_virtual > 0) == name.endswith("^")
    assert plain_name("HalfKP^+HalfKAv2_hm^") == "HalfKP+HalfKAv2_hm"


@pytest.mark.parametrize("config", [lambda f: NnueData.Config(type="nnue", paths=["x.bin"], features=f),
                                    lambda f: NnueNet.Config(type="nnue", features=f),
                                    lambda f: NnueHalfKP.Config(type="nnue_halfkp", features=f)])
def test_configs_take_every_registered_name(config) -> None:
    for name in [*block_names(), "HalfKP^+HalfKAv2_hm^"]:
        assert config(name).features == name
    with pytest.raises(ValidationError, match="unknown feature block 'HalfKX'.*HalfKAv2_hm\\^"):
        config("HalfKX")
    with pytest.raises(ValidationError, match="no factorized variant|unknown"):
        config("HalfKP^^")


def test_file_layouts_take_hash_and_size_from_the_block() -> None:
    for arch in ARCHS.values():
        *threats, pieces = [get_block(n) for n in arch.features.split("+")]  # Full_Threats+HalfKAv2_hm: own tensors
        assert all(n in BLOCKS for n in arch.features.split("+"))
        assert (arch.feature_hash, arch.num_features) == ((threats or [pieces])[0].hash, pieces.num_real)
        assert arch.threat_features == sum(b.num_real for b in threats)
    assert ARCHS["halfkp_256x2-32-32"].ft_hash == 0x5D69D7B8  # §2 table
    assert ARCHS["halfkav2_hm_1024x2-16-32x8"].ft_hash == 0x7F2344B8


def test_psqt_init_is_the_material_balance() -> None:
    """HalfKAv2_hm's §6.4 PSQT init summed over a perspective's active features = its material balance."""
    for name in ("HalfKAv2_hm", "HalfKAv2_hm^"):
        fs = get_feature_set(name)
        init = fs.psqt_init()
        assert init.shape == (fs.num_rows,) and not init[fs.num_real:].any()
        for b in random_boards(30, seed=2, plies=(0, 120), quiet=False):
            for persp in (chess.WHITE, chess.BLACK):
                balance = sum(NP_VALUES[p.piece_type] * (1 if p.color == persp else -1)
                              for p in b.piece_map().values())
                assert init[fs.active_features(b, persp)].sum() == balance
    assert not get_feature_set("HalfKP^").psqt_init().any()  # HalfKP has no PSQT values (NP-2022 #234)
    net = NnueNet(features="HalfKAv2_hm^", l1=8, l2=3, l3=4)
    expected = torch.from_numpy(get_feature_set("HalfKAv2_hm^").psqt_init()) / 600
    assert torch.equal(net.ft_psqt.detach(), expected[:, None].expand(-1, 8))


def test_a_net_on_features_its_file_layout_lacks_is_refused_on_export(tmp_path) -> None:
    net = NnueNet(features="HalfKP^", l1=8, l2=3, l3=4)  # trains (any registered set); no SF15.1 layout for it
    with pytest.raises(FormatError, match="halfkav2_hm_1024x2-16-32x8 files hold HalfKAv2_hm features, not HalfKP"):
        write_net(net.quantize(), tmp_path / "x.nnue")


def test_a_block_without_a_batch_builder_is_refused_by_the_loader() -> None:
    bare = dataclasses.replace(get_block("Full_Threats"), batch=None)  # every registered block has one now
    with pytest.raises(ConfigError, match="Full_Threats has no vectorized batch builder"):
        FeatureSet((bare,)).batch_indices(np.zeros((1, 32), np.int8), np.zeros((1, 32), np.int8),
                                          np.zeros(1, np.int8))


def test_unknown_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="HalfKX"):
        get_block("HalfKX^")
    assert np.array_equal(get_feature_set("HalfKP").factor_map, np.zeros((41024, 0), np.int64))
