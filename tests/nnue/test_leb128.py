"""LEB128-compressed ``.nnue`` (spec §5): codec against a scalar reference, file round trips, strict validation."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.nnue import file as nnue
from boardnet.nnue import leb128 as nnue_leb128
from tests.conftest import fixture_path, stockfish_binary

MAGIC = b"COMPRESSED_LEB128"


def ref_encode(v: int) -> bytes:
    """§5 written as the engine's loop: 7 bits at a time, stop on 0/-1 with a matching bit 6."""
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if (v == 0 and not byte & 0x40) or (v == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def ref_decode(data: bytes) -> list[int]:
    vals, cur, shift = [], 0, 0
    for b in data:
        cur |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                cur -= 1 << shift
            vals.append(cur)
            cur, shift = 0, 0
    return vals


def _decode(data: bytes, count: int, dtype: str = "<i4") -> np.ndarray:
    return nnue_leb128.decode(np.frombuffer(data, np.uint8), count, np.dtype(dtype), path=Path("x.nnue"),
                              offset=100, field="ft.weight")


def test_known_encodings() -> None:
    cases = {0: "00", -1: "7f", 63: "3f", 64: "c000", -64: "40", -65: "bf7f", 127: "ff00", -32768: "80807e",
             32767: "ffff01", 2**31 - 1: "ffffffff07", -(2**31): "8080808078"}
    for v, hexed in cases.items():
        assert ref_encode(v).hex() == hexed
        assert nnue_leb128.encode(np.array([v])).hex() == hexed
    assert nnue_leb128.max_bytes(np.dtype("<i2")) == 3 and nnue_leb128.max_bytes(np.dtype("<i4")) == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=300))
def test_codec_matches_reference(values: list[int]) -> None:
    data = nnue_leb128.encode(np.array(values, np.int64))
    assert data == b"".join(ref_encode(v) for v in values)
    assert _decode(data, len(values)).tolist() == values == ref_decode(data)


def test_codec_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # small chunks exercise the chunk boundaries of both directions with mixed lengths
    monkeypatch.setattr(nnue_leb128, "CHUNK", 7)
    v = np.random.default_rng(0).integers(-(2**15), 2**15, 1000).astype(np.int16)
    data = nnue_leb128.encode(v)
    assert data == b"".join(ref_encode(int(x)) for x in v)
    np.testing.assert_array_equal(_decode(data, v.size, "<i2"), v)
    w = np.random.default_rng(1).integers(-(2**31), 2**31, 500).astype(np.int32)
    w[::3] //= 1 << 20  # mix 1..5-byte values
    data = nnue_leb128.encode(w)
    assert data == b"".join(ref_encode(int(x)) for x in w)
    np.testing.assert_array_equal(_decode(data, w.size, "<i4"), w)
    # a run of continuation bytes longer than a chunk is a too-long value, not a hang
    with pytest.raises(FormatError, match="value 1 is over 8 LEB128 bytes") as ei:
        _decode(b"\x01" + b"\x80" * 9 + b"\x00", 2, "<i4")
    assert ei.value.offset == 101


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 12))
def test_decode_fuzz(data: bytes, count: int) -> None:
    # arbitrary bytes: a result equal to the reference, or one FormatError; never anything else
    try:
        out = _decode(data, count, "<i2")
    except FormatError as err:
        assert err.field == "ft.weight" and err.offset is not None and err.offset >= 100
        return
    assert out.tolist() == ref_decode(data) and len(out) == count


def test_decode_errors() -> None:
    with pytest.raises(FormatError, match="ends inside a value") as ei:
        _decode(b"\x01\x81", 2)
    assert ei.value.offset == 101
    with pytest.raises(FormatError, match="2 LEB128 values; expected 3"):
        _decode(b"\x01\x02", 3)
    with pytest.raises(FormatError, match="4 LEB128 bytes; int16 needs at most 3") as ei:
        _decode(b"\x00\x80\x80\x80\x00", 2, "<i2")
    assert ei.value.offset == 101
    with pytest.raises(FormatError, match="40000 does not fit int16"):
        _decode(nnue_leb128.encode(np.array([1, 40000])), 2, "<i2")


@pytest.fixture(scope="module")
def halfkp_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture SF12 net, plain and LEB128-compressed by our writer."""
    d = tmp_path_factory.mktemp("leb")
    plain = d / "halfkp.nnue"
    with gzip.open(fixture_path("nnue", "halfkp_rand_a.nnue.gz"), "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    comp = d / "halfkp_leb128.nnue"
    nnue.write_leb128_net(nnue.read_net(plain), comp)
    return plain, comp


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def test_halfkp_leb128_round_trip(halfkp_files: tuple[Path, Path], tmp_path: Path) -> None:
    plain, comp = halfkp_files
    raw = comp.read_bytes()
    desc_end = 12 + len(nnue.HALFKP_DESCRIPTION)
    assert raw[:desc_end] == plain.read_bytes()[:desc_end]  # header unchanged
    assert raw[desc_end + 4:desc_end + 21] == MAGIC and raw.count(MAGIC) == 2  # FT bias + weight (no PSQT)
    assert nnue.is_leb128_compressed(comp) and not nnue.is_leb128_compressed(plain)
    assert comp.stat().st_size < plain.stat().st_size  # ±20 weights: 1 byte each instead of 2
    a, b = nnue.read_net(plain), nnue.read_leb128_net(comp)
    _same(a.state_dict, b.state_dict)
    assert b.spec.config == a.spec.config and b.spec.meta["compression"] == "leb128"
    assert b.spec.meta["description"] == nnue.HALFKP_DESCRIPTION
    again = tmp_path / "again.nnue"
    nnue.write_leb128_net(b, again)
    assert again.read_bytes() == raw
    nnue.write_net(b, tmp_path / "plain.nnue")  # decompressing gives the original file back
    assert (tmp_path / "plain.nnue").read_bytes() == plain.read_bytes()


def test_leb128_file_errors(halfkp_files: tuple[Path, Path], tmp_path: Path) -> None:
    _, comp = halfkp_files
    good = comp.read_bytes()
    ft = 12 + len(nnue.HALFKP_DESCRIPTION) + 4  # first magic
    (nbias,) = struct.unpack_from("<I", good, ft + 17)
    w = ft + 21 + nbias  # second magic (FT weight)
    p = tmp_path / "bad.nnue"

    def check(data: bytes, field: str, match: str) -> FormatError:
        p.write_bytes(data)
        with pytest.raises(FormatError, match=match) as ei:
            nnue.read_leb128_net(p)
        assert ei.value.field == field and "bad.nnue" in str(ei.value)
        return ei.value

    err = check(good[:w] + b"X" + good[w + 1:], "ft.weight", "COMPRESSED_LEB128 magic")
    assert err.offset == w
    check(good[:ft + 17] + struct.pack("<I", 10**8) + good[ft + 21:], "ft.bias", "byte count 100000000")
    check(good[:ft + 17] + struct.pack("<I", nbias + 1) + good[ft + 21:], "ft.bias", "LEB128 values")
    check(good + b"\0" * 5, "file size", "trailing bytes")
    p.write_bytes(good)
    os.truncate(p, 200_000_000)  # sparse: refused from its size, before anything is read
    with pytest.raises(FormatError, match="a compressed halfkp_256x2-32-32 is at most") as ei:
        nnue.read_leb128_net(p)
    assert ei.value.field == "file size"
    check(good[:-3], "stacks.0.out.weight", "truncated")
    stack = w + 21 + struct.unpack_from("<I", good, w + 17)[0]
    check(good[:stack] + b"\1\2\3\4" + good[stack + 4:], "stack hash", "stack hash")


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(0, 12_000_000), flip=st.integers(0, 12_000_000), bit=st.integers(0, 7))
def test_leb128_fuzz(halfkp_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory, cut: int,
                     flip: int, bit: int) -> None:
    _, comp = halfkp_files
    good = comp.read_bytes()
    d = tmp_path_factory.mktemp("fz")
    p = d / "t.nnue"
    p.write_bytes(good[:cut % len(good)])
    with pytest.raises(BoardnetError):
        nnue.read_leb128_net(p)
    # a flipped bit is either rejected with a boardnet error or decodes to tensors of the right shapes
    b = bytearray(good)
    b[flip % len(b)] ^= 1 << bit
    p.write_bytes(bytes(b))
    try:
        net = nnue.read_leb128_net(p)
    except BoardnetError:
        return
    assert net.state_dict["ft.weight"].shape == (41024, 256)


@pytest.mark.slow
def test_sf15_1_leb128_round_trip(tmp_path: Path) -> None:
    sf = stockfish_binary()
    exported = tmp_path / "sf.nnue"
    subprocess.run([sf], input=f"uci\nexport_net {exported}\nquit\n", text=True, capture_output=True,
                   timeout=120, check=True)
    net = nnue.read_net(exported)
    comp = tmp_path / "sf_leb128.nnue"
    nnue.write_leb128_net(net, comp)
    assert comp.read_bytes().count(MAGIC) == 3  # FT bias, weight and PSQT
    back = nnue.read_leb128_net(comp)
    _same(net.state_dict, back.state_dict)
    nnue.write_net(back, tmp_path / "plain.nnue")
    assert (tmp_path / "plain.nnue").read_bytes() == exported.read_bytes()


def test_nnue_reader_and_convert_accept_leb128(halfkp_files: tuple[Path, Path], tmp_path: Path) -> None:
    from boardnet.core.convert import convert, inspect_file

    plain, comp = halfkp_files
    _same(nnue.read_net(plain).state_dict, nnue.read_net(comp).state_dict)
    assert "LEB128-compressed FT" in str(inspect_file(comp)) and "halfkp_256x2-32-32" in str(inspect_file(comp))
    convert(comp, tmp_path / "out.nnue")  # boardnet convert decompresses: the original SF12 file again
    assert (tmp_path / "out.nnue").read_bytes() == plain.read_bytes()


def test_cli_convert_encoding_leb128(halfkp_files: tuple[Path, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from boardnet.cli import main

    plain, comp = halfkp_files
    out = tmp_path / "c.nnue"
    assert main(["convert", str(plain), str(out), "--encoding", "leb128"]) == 0
    assert out.read_bytes() == comp.read_bytes()
    assert main(["inspect", str(out)]) == 0
    assert "LEB128-compressed FT" in capsys.readouterr().out
    assert main(["convert", str(plain), str(tmp_path / "x.nnue"), "--encoding", "zip"]) == 2
    assert "--encoding zip" in capsys.readouterr().err
