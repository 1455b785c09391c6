"""`.nnue` reader/writer: byte-exact round trips on real nets, strict validation, fuzzing."""

from __future__ import annotations

import hashlib
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.convert import inspect_file as convert_inspect
from boardnet.core.errors import BoardnetError, FormatError
from boardnet.nnue import file as nnue
from tests.conftest import stockfish_binary

HALFKP_SHA = "102945fc30e3b993f6a0b99cf5706b404e111f08ced6adca482278b5e584b949"


def test_spec_hashes() -> None:
    kp, ka = nnue.ARCHS["halfkp_256x2-32-32"], nnue.ARCHS["halfkav2_hm_1024x2-16-32x8"]
    assert (kp.ft_hash, kp.net_hash, kp.header_hash) == (0x5D69D7B8, 0x63337156, 0x3E5AA6EE)
    assert (ka.ft_hash, ka.net_hash, ka.header_hash) == (0x7F2344B8, 0x63336A4A, 0x1C102EF2)


def test_halfkp_round_trip(halfkp_file: Path, tmp_path: Path) -> None:
    net = nnue.read_net(halfkp_file)
    sd = net.state_dict
    assert sd["ft.weight"].shape == (41024, 256) and sd["ft.weight"].dtype == torch.int16
    assert sd["stacks.0.l1.weight"].shape == (32, 512) and sd["stacks.0.l1.weight"].dtype == torch.int8
    # README: FT weights are uniform in ±20, FT biases ±40
    assert int(sd["ft.weight"].abs().max()) <= 20 and int(sd["ft.bias"].abs().max()) <= 40
    assert net.spec.meta["description"] == nnue.HALFKP_DESCRIPTION
    out = tmp_path / "rt.nnue"
    nnue.write_net(net, out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == HALFKP_SHA
    info = convert_inspect(halfkp_file)
    assert "halfkp" in str(info).lower()


@pytest.mark.slow
def test_sf15_1_default_net_round_trip(tmp_path: Path) -> None:
    sf = stockfish_binary()
    exported = tmp_path / "sf.nnue"
    subprocess.run([sf], input=f"uci\nexport_net {exported}\nquit\n", text=True, capture_output=True,
                   timeout=120, check=True)
    assert exported.stat().st_size == 47_001_499
    net = nnue.read_net(exported)
    assert net.state_dict["ft.psqt"].shape == (22528, 8)
    assert net.state_dict["stacks.7.l2.weight"][:, 30:].abs().sum() == 0  # padded fc_1 columns
    out = tmp_path / "rt.nnue"
    nnue.write_net(net, out)
    assert out.read_bytes() == exported.read_bytes()


def _mini_header(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "bad.nnue"
    p.write_bytes(data)
    return p


def test_errors_name_field_and_offset(halfkp_file: Path, tmp_path: Path) -> None:
    good = halfkp_file.read_bytes()
    cases = {
        "version": (struct.pack("<I", 0x12345678) + good[4:], 0),
        "header hash": (good[:4] + struct.pack("<I", 0xDEADBEEF) + good[8:], 4),
        "description length": (good[:8] + struct.pack("<I", 1 << 30) + good[12:], 8),
        "ft hash": (good[:189] + b"\0\0\0\0" + good[193:], 189),
        "file size": (good + b"\0", None),
    }
    for field, (data, offset) in cases.items():
        with pytest.raises(FormatError) as ei:
            nnue.read_net(_mini_header(tmp_path, data))
        assert ei.value.field == field
        if offset is not None:
            assert ei.value.offset == offset
        assert "bad.nnue" in str(ei.value)
    stack = 12 + 177 + 4 + 512 + 41024 * 256 * 2
    with pytest.raises(FormatError, match="stack hash"):
        nnue.read_net(_mini_header(tmp_path, good[:stack] + b"\1\2\3\4" + good[stack + 4:]))


def test_write_rejects_out_of_range(halfkp_file: Path, tmp_path: Path) -> None:
    net = nnue.read_net(halfkp_file)
    net.state_dict["stacks.0.out.weight"] = net.state_dict["stacks.0.out.weight"].to(torch.int32) * 0 + 300
    with pytest.raises(FormatError, match="do not fit"):
        nnue.write_net(net, tmp_path / "x.nnue")
    assert not (tmp_path / "x.nnue").exists()



@pytest.mark.parametrize(("config", "meta", "words"), [
    ({"arch": ["x"]}, {}, "field arch: unknown nnue arch"),  # an unhashable arch from a crafted .pt
    ({"arch": None}, {}, "field arch: unknown nnue arch"),
    ({}, {"description": "a\u20acb"}, "field description: the description holds '\u20ac'"),
])
def test_write_refuses_a_spec_the_file_cannot_hold(halfkp_file: Path, tmp_path: Path, config, meta, words) -> None:
    from boardnet.core.spec import ModelSpec, NetFile

    net = nnue.read_net(halfkp_file)
    bad = NetFile(ModelSpec("nnue", {**net.spec.config, **config}, {**net.spec.meta, **meta}), net.state_dict)
    with pytest.raises(FormatError, match=words):
        nnue.write_net(bad, tmp_path / "x.nnue")
    assert not (tmp_path / "x.nnue").exists()

@settings(max_examples=25, deadline=None)
@given(cut=st.integers(0, 21_022_696), flip=st.integers(0, 199), bit=st.integers(0, 7))
def test_fuzz_truncate_and_flip(halfkp_file: Path, tmp_path_factory: pytest.TempPathFactory, cut: int,
                                flip: int, bit: int) -> None:
    head = np.fromfile(halfkp_file, dtype=np.uint8, count=4096).tobytes()
    d = tmp_path_factory.mktemp("fz")
    # truncation anywhere (header region and body) must be a FormatError
    p = d / "t.nnue"
    with open(halfkp_file, "rb") as fh:
        p.write_bytes(fh.read(cut))
    with pytest.raises(BoardnetError):
        nnue.read_net(p)
    # a flipped bit in the header/hash region is rejected; elsewhere it changes weights only
    if flip < 200:
        b = bytearray(head)
        b[flip] ^= 1 << bit
        q = d / "f.nnue"
        with open(halfkp_file, "rb") as fh:
            fh.seek(4096)
            q.write_bytes(bytes(b) + fh.read())
        if flip < 12 or 189 <= flip < 193:  # version, header hash, length, FT hash
            with pytest.raises(BoardnetError):
                nnue.read_net(q)
        elif 12 <= flip < 189:  # description content is not checked by the engine either
            assert nnue.read_net(q).spec.meta["description"] != nnue.HALFKP_DESCRIPTION


def test_convert_nnue_pt_nnue_is_byte_exact(halfkp_file: Path, tmp_path: Path) -> None:
    from boardnet.core.convert import convert

    convert(halfkp_file, tmp_path / "kp.pt")
    convert(tmp_path / "kp.pt", tmp_path / "back.nnue")
    assert (tmp_path / "back.nnue").read_bytes() == halfkp_file.read_bytes()
