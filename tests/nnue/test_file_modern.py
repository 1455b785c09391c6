"""SF16 / SF17.1 / SF18 `.nnue` layouts: byte-exact round trips of the shipped nets, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.convert import inspect_file as convert_inspect
from boardnet.core.errors import BoardnetError, ConversionError, FormatError
from boardnet.core.spec import NetFile
from boardnet.nnue import file as nnue
from tests.conftest import fixture_path
from tests.nnue.conftest import sf16_net

SF18_BIG = "full_threats+halfkav2_hm_1024x2-16-32x8"


def test_layout_hashes_match_real_files() -> None:
    # (FT hash, stack hash, header hash) as found in the real nets' headers
    want = {"halfkav2_hm_1536x2-16-32x8": (0x7F2340B8, 0x63336BCA, 0x1C102B72),
            "halfkav2_hm_3072x2-16-32x8": (0x7F2354B8, 0x6333744A, 0x1C1020F2),
            "halfkav2_hm_128x2-16-32x8": (0x7F234DB8, 0x6333712A, 0x1C103C92),
            SF18_BIG: (0x8F2344B8, 0x63336A4A, 0xEC102EF2)}
    for name, hashes in want.items():
        a = nnue.ARCHS[name]
        assert (a.ft_hash, a.net_hash, a.header_hash) == hashes, name


def _round_trip(path: Path, tmp_path: Path, arch: str) -> NetFile:
    net = nnue.read_net(path)
    assert net.spec.config["arch"] == arch and net.spec.meta["compression"] == "leb128"
    out = tmp_path / "rt.nnue"
    nnue.write_net(net, out)  # default encoding: the engine's own (LEB128)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert digest[:12] == path.name[3:15]  # Stockfish names a net after its sha256
    assert out.read_bytes() == path.read_bytes()
    return net


def test_small_net_round_trip(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    _round_trip(modern_nets["small"], tmp_path, "halfkav2_hm_128x2-16-32x8")


@pytest.mark.slow
def test_sf18_big_net_round_trip(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    sd = _round_trip(modern_nets["sf18-big"], tmp_path, SF18_BIG).state_dict
    assert tuple(sd["ft.threat_weight"].shape) == (79856, 1024) and tuple(sd["ft.threat_psqt"].shape) == (79856, 8)
    assert tuple(sd["ft.weight"].shape) == (22528, 1024)


@pytest.mark.slow
def test_sf17_1_big_net_round_trip(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    _round_trip(modern_nets["sf17.1-big"], tmp_path, "halfkav2_hm_3072x2-16-32x8")


@pytest.mark.slow
def test_sf16_net_round_trip(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    _round_trip(sf16_net(modern_nets), tmp_path, "halfkav2_hm_1536x2-16-32x8")


def test_gz_read_directly_and_inspect(modern_nets: dict[str, Path]) -> None:
    gz = fixture_path("nnue_modern", "nn-37f18f62d772.nnue.gz")
    a, b = nnue.read_net(gz), nnue.read_net(modern_nets["small"])
    assert a.spec == b.spec and all((a.state_dict[k] == b.state_dict[k]).all() for k in b.state_dict)
    info = str(convert_inspect(fixture_path("nnue_modern", "nn-c288c895ea92.nnue.gz")))
    for text in ("Stockfish 18 big net", SF18_BIG, "22,528 + 79,856 inputs", "0xEC102EF2", "0x8F2344B8",
                 "ft.threat_weight (raw)", "ft.threat_psqt+ft.psqt (LEB128)", "1024x2 + PSQT 8"):
        assert text in info, (text, info)


def test_truncated_threat_block_is_one_error_at_its_offset(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.nnue"
    with open(modern_nets["sf18-big"], "rb") as fh:
        cut.write_bytes(fh.read(50_000_000))  # inside the 81,772,544-byte int8 threat block at offset 1,366
    with pytest.raises(FormatError) as ei:
        nnue.read_net(cut)
    assert (ei.value.field, ei.value.offset) == ("ft.threat_weight", 1366)
    assert "cut.nnue" in str(ei.value) and "81,772,544" in str(ei.value)


def test_wrong_version_names_both(modern_nets: dict[str, Path]) -> None:
    with pytest.raises(FormatError) as ei:
        nnue.read_quantized(modern_nets["sf17.1-big"], engine="sf18")
    msg = str(ei.value)
    assert "Stockfish 17.1 big net" in msg and "sf18" in msg and "Stockfish 18 big net" in msg
    with pytest.raises(FormatError, match="Stockfish 16 net"):
        nnue.read_quantized(modern_nets["small"], engine="sf16")
    assert nnue.read_quantized(modern_nets["small"], engine="sf17.1").spec.config["arch"] == \
        nnue.read_quantized(modern_nets["small"], engine="sf18").spec.config["arch"]


def test_sf16_plus_nets_are_only_written_as_leb128(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    net = nnue.read_net(modern_nets["small"])
    with pytest.raises(ConversionError, match="stored leb128, not plain"):
        nnue.write_net(net, tmp_path / "x.nnue", encoding="plain")
    assert not (tmp_path / "x.nnue").exists()


def test_corrupt_stack_hash(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(modern_nets["small"].read_bytes())
    stack = 4 + 16 * 4 + 16 * 128 + 32 * 4 + 32 * 32 + 4 + 32  # hash + fc_0 + fc_1 + fc_2 of L1 128
    first = len(data) - 8 * stack
    data[first + 1] ^= 0xFF
    bad = tmp_path / "bad.nnue"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="stack hash") as ei:
        nnue.read_net(bad)
    assert (ei.value.field, ei.value.offset) == ("stack hash", first)


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(cut=st.integers(0, 3_519_629), flip=st.integers(0, 3_519_629), bit=st.integers(0, 7))
def test_fuzz_small_net(modern_nets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, cut: int,
                        flip: int, bit: int) -> None:
    good = modern_nets["small"].read_bytes()
    d = tmp_path_factory.mktemp("fz")
    p = d / "t.nnue"
    p.write_bytes(good[:cut])
    with pytest.raises(BoardnetError):
        nnue.read_net(p)
    b = bytearray(good)
    b[flip] ^= 1 << bit
    p.write_bytes(bytes(b))
    try:
        net = nnue.read_net(p)
    except BoardnetError:
        return
    assert tuple(net.state_dict["ft.weight"].shape) == (22528, 128)


def test_inspect_of_a_cut_compressed_net_is_an_error(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    """A LEB128 body has no fixed size, so the header alone looked fine: inspect now decodes it."""
    cut = tmp_path / "cut.nnue"
    cut.write_bytes(modern_nets["small"].read_bytes()[:5000])
    with pytest.raises(FormatError, match="truncated"):
        convert_inspect(cut)
