"""TF tensor-bundle reader against real TensorFlow fixtures, plus corruption fuzzing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.tfimport.bundle import (
    Entry,
    _ordered_signed,
    _parse_slice_key,
    _resolve_slices,
    read_index,
    read_variables,
)
from boardnet.tfimport.checkpoint import inspect_file
from tests.conftest import fixture_path

CASES = [("gomoku_tf1_8x8", "model.ckpt"), ("gomoku_tf1_15x15", "model.ckpt"), ("gomoku_keras_15x15", "ckpt")]


def _expected(folder: str) -> dict[str, list[int]]:
    """variables.txt: ``name [d0,d1,...] dtype`` per entry, written by TensorFlow."""
    out = {}
    for line in fixture_path("tf", folder, "variables.txt").read_text().splitlines():
        name, shape, _ = line.split()
        out[name] = [int(d) for d in shape.strip("[]").split(",") if d]
    return out


@pytest.mark.parametrize("folder,prefix", CASES)
def test_all_entries_match_variables_txt(folder: str, prefix: str) -> None:
    base = fixture_path("tf", folder, prefix + ".index")
    got = read_variables(base, slots=True)
    want = {k: v for k, v in _expected(folder).items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert {k: list(a.shape) for k, a in got.items()} == want
    assert all(a.dtype == np.float32 or a.dtype == np.int64 for a in got.values())


def test_slots_skipped_by_default() -> None:
    got = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    assert len(got) == 16 and not any(k.endswith(("/Adam", "/Adam_1")) for k in got)
    assert "beta1_power" not in got


def test_tf1_values_reproduce_first_conv_of_reference() -> None:
    """conv2d kernel/bias read here, applied to states, equal a float64 numpy conv of the same data."""
    v = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    assert v["conv2d/kernel"].shape == (3, 3, 4, 32)
    assert np.all(np.isfinite(v["conv2d/kernel"])) and np.abs(v["conv2d/bias"]).max() <= 0.1
    assert np.abs(v["conv2d/bias"]).min() > 0  # non-zero seeded biases per README


def test_inspect_lists_variables() -> None:
    text = inspect_file(fixture_path("tf", "gomoku_tf1_15x15", "model.ckpt.index"))
    assert "dense/kernel [900,225] float32" in text and "16 entries" in text


def _copy(tmp_path: Path) -> Path:
    src = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    for f in src.parent.glob("model.ckpt.*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "model.ckpt.index"


def test_missing_shard(tmp_path: Path) -> None:
    idx = _copy(tmp_path)
    (tmp_path / "model.ckpt.data-00000-of-00001").unlink()
    with pytest.raises(FormatError, match="shard"):
        read_variables(idx)


def test_data_crc_flip(tmp_path: Path) -> None:
    idx = _copy(tmp_path)
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    b = bytearray(data.read_bytes())
    b[len(b) // 2] ^= 0x40
    data.write_bytes(bytes(b))
    with pytest.raises(FormatError, match="CRC32C"):
        read_variables(idx, slots=True)


def test_every_index_byte_is_checked(tmp_path: Path) -> None:
    """Flipping any byte of the .index before the footer's handles (blocks, metaindex included) is an error:
    the SSTable CRCs cover all of it."""
    idx = _copy(tmp_path)
    good = idx.read_bytes()
    for i in range(len(good) - 48):
        raw = bytearray(good)
        raw[i] ^= 0x01
        idx.write_bytes(bytes(raw))
        with pytest.raises(FormatError):
            read_index(idx)


def test_truncated_data(tmp_path: Path) -> None:
    idx = _copy(tmp_path)
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:-100])
    with pytest.raises(FormatError, match="past end of shard"):
        read_variables(idx, slots=True)


def test_wrong_magic(tmp_path: Path) -> None:
    idx = _copy(tmp_path)
    b = bytearray(idx.read_bytes())
    b[-1] ^= 0xFF
    idx.write_bytes(bytes(b))
    with pytest.raises(FormatError, match="magic"):
        read_index(idx)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_fuzz_index(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Truncate or flip any byte of the .index: always a BoardnetError, never another exception."""
    tmp = tmp_path_factory.mktemp("fz")
    idx = _copy(tmp)
    raw = bytearray(idx.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        # blocks are CRC-protected; the footer's zero padding is not checked by any reader (as in leveldb)
        i = data.draw(st.integers(0, len(raw) - 49))
        raw[i] ^= data.draw(st.integers(1, 255))
    idx.write_bytes(bytes(raw))
    with pytest.raises(BoardnetError):
        read_variables(idx, slots=True)


# --- writer and optimizer-slot export -----------------------------------------------------------------------
def _with_random_slots(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """The 8x8 checkpoint rewritten with non-zero Adam slots (the fixture's are all zero)."""
    from boardnet.tfimport.bundle import write_variables

    src = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"), slots=True)
    rng = np.random.default_rng(4)
    tensors = {k: (rng.standard_normal(a.shape).astype(np.float32) if k.endswith(("/Adam", "/Adam_1")) else a)
               for k, a in src.items()}
    write_variables(tmp_path / "slots.ckpt", tensors)
    return tmp_path / "slots.ckpt.index", tensors


def test_writer_round_trip(tmp_path: Path) -> None:
    idx, tensors = _with_random_slots(tmp_path)
    got = read_variables(idx, slots=True)
    assert list(got) == sorted(tensors)
    assert all(np.array_equal(got[k], tensors[k]) and got[k].dtype == tensors[k].dtype for k in tensors)


def test_convert_slots_cli_on_8x8_fixture(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from boardnet.cli import main

    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    assert main(["convert", str(ckpt), str(tmp_path / "azg.safetensors"), "--slots"]) == 0
    slots = load_file(str(tmp_path / "azg.slots.safetensors"))
    src = read_variables(ckpt, slots=True)
    assert len(slots) == 34  # 16 variables x (m, v) + beta1_power + beta2_power
    np.testing.assert_array_equal(slots["conv1.weight/.OPTIMIZER_SLOT/Adam/m"],
                                  src["conv2d/kernel/Adam"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(slots["val_fc2.bias/.OPTIMIZER_SLOT/Adam/v"], src["dense_2/bias/Adam_1"])
    assert slots[".OPTIMIZER/beta1_power"] == np.float32(0.9) and slots[".OPTIMIZER/beta2_power"] == np.float32(0.999)
    # the net itself stays a plain, loadable boardnet file
    assert main(["verify", str(ckpt), str(tmp_path / "azg.safetensors"), "--random", "2"]) == 0


def test_slot_values_are_laid_out_like_their_variables(tmp_path: Path) -> None:
    """Non-zero slots: each equals the checkpoint's slot under its variable's transform (independent formulas)."""
    from boardnet.tfimport.checkpoint import read_slots

    idx, tensors = _with_random_slots(tmp_path)
    slots = read_slots(idx)
    for var, dst, how in (("conv2d_3/kernel", "act_conv1.weight", "conv"), ("dense/kernel", "act_fc1.weight", "nhwc4"),
                          ("dense_1/kernel", "val_fc1.weight", "nhwc2"), ("dense_2/kernel", "val_fc2.weight", "dense"),
                          ("conv2d_4/bias", "val_conv1.bias", "none")):
        for suffix, label in (("/Adam", "Adam/m"), ("/Adam_1", "Adam/v")):
            k = tensors[var + suffix]
            if how == "conv":
                want = k.transpose(3, 2, 0, 1)
            elif how.startswith("nhwc"):  # fixture README: reshape(H, W, C, out).transpose(2, 0, 1, 3)...
                c = int(how[-1])
                want = k.reshape(8, 8, c, -1).transpose(2, 0, 1, 3).reshape(c * 64, -1).T
            else:
                want = k.T if how == "dense" else k
            np.testing.assert_array_equal(slots[f"{dst}/.OPTIMIZER_SLOT/{label}"], want, err_msg=f"{var}{suffix}")


def test_slot_missing_for_a_variable_is_named(tmp_path: Path) -> None:
    from boardnet.core.errors import ConversionError
    from boardnet.tfimport.bundle import write_variables
    from boardnet.tfimport.checkpoint import read_slots

    src = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"), slots=True)
    del src["dense_2/bias/Adam_1"]
    write_variables(tmp_path / "m.ckpt", src)
    with pytest.raises(ConversionError, match=r"Adam/v is missing for variables \['dense_2/bias'\]"):
        read_slots(tmp_path / "m.ckpt.index")


# ---------------------------------------------------------------- partitioned (sliced) variables

PARTITIONED = Path(__file__).parent / "fixtures" / "tf_partitioned"


def test_partitioned_variables_equal_tensorflows_reading() -> None:
    """Every variable, slots included, equals what TensorFlow's own checkpoint reader assembles."""
    got = read_variables(PARTITIONED / "part", slots=True)
    want = dict(np.load(PARTITIONED / "expected.npz"))
    assert sorted(got) == sorted(want)
    for name, a in want.items():
        assert got[name].dtype == a.dtype and np.array_equal(got[name], a), name
    assert sorted(read_variables(PARTITIONED / "part")) == ["net/b", "net/c", "net/d", "net/w"]
    text = inspect_file(PARTITIONED / "part")
    assert "net/w [300,4] float32  (partitioned: 3 slices)" in text and "\\x00" not in text


@pytest.mark.parametrize(("raw", "value"), [
    (b"\x80", 0), (b"\x84", 4), (b"\xbf", 63), (b"\x7f", -1), (b"\x40", -64),
    (b"\xc0\x40", 64), (b"\xc0\x64", 100), (b"\xc0\xc8", 200), (b"\x3f\x9c", -100), (b"\xdf\xff", 8191),
    (b"\xe0\x20\x00", 8192),
])
def test_ordered_code_signed_numbers(raw: bytes, value: int) -> None:
    """OrderedCode's order-preserving signed numbers (hand-encoded: unary length header, inverted for negative
    numbers, then two's complement big-endian)."""
    assert _ordered_signed(raw + b"\x00", 0) == (value, len(raw))


def _entry(name: str, shape: tuple[int, ...], slices: tuple = (), dtype: int = 1) -> Entry:
    return Entry(name, dtype, shape, 0, 0, 4 * int(np.prod(shape)), 0, slices)


@pytest.mark.parametrize(("slices", "parts", "message"), [
    ((((0, 2),), ((2, 2),)), {(0, 2): (2,)}, "has no saved entry"),
    ((((0, 3),), ((2, 2),)), {(0, 3): (3,), (2, 2): (2,)}, "overlaps"),
    ((((0, 2),),), {(0, 2): (2,)}, "cover 2 of 4"),
    ((((3, 2),),), {(3, 2): (2,)}, "outside shape"),
    ((((0, 4),),), {(0, 4): (3,)}, "entry has dtype 1 shape \\[3\\]"),
])
def test_inconsistent_slices_are_refused(slices: tuple, parts: dict, message: str) -> None:
    entries = {"v": _entry("v", (4,), slices)}
    raw = {("v", (box,)): _entry(f"v slice {box}", shape) for box, shape in parts.items()}
    with pytest.raises(FormatError, match=message):
        _resolve_slices(entries, raw, Path("x.index"))


def test_bad_slice_key_and_corrupt_slice_bytes(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="malformed tensor-slice key"):
        _parse_slice_key(b"\x00net/w\x00\x01\x01\x02\x80", Path("x.index"))
    for f in PARTITIONED.glob("part.*"):
        shutil.copy(f, tmp_path / f.name)
    data = tmp_path / "part.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[-5] ^= 0x40  # inside the last slice written
    data.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="CRC32C mismatch") as err:
        read_variables(tmp_path / "part", slots=True)
    assert "slice [" in str(err.value)


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=40))
def test_fuzz_slice_keys(key: bytes) -> None:
    """Any bytes after the slice marker: a name and extents, or one FormatError."""
    try:
        name, extents = _parse_slice_key(b"\x00" + key, Path("x.index"))
    except FormatError:
        return
    assert isinstance(name, str) and all(isinstance(s, int) and isinstance(n, int) for s, n in extents)


def test_index_dims_whose_product_overflows_int64_are_refused() -> None:
    """2**32 x 2**32 floats: an int64 product wraps to 0 and would pass a 0-byte size check (issue 19)."""
    from boardnet.tfimport.bundle import _check_entry

    huge = Entry("w", 1, (1 << 32, 1 << 32), 0, 0, 0, 0, ())
    with pytest.raises(FormatError, match=r"size 0 bytes does not match shape \[4294967296, 4294967296\]"):
        _check_entry(huge, 1, Path("x.index"))
    wrapped = Entry("w", 1, (1 << 62, 4), 0, 0, 0, 0, ())  # 2**64 elements: 0 again in int64
    with pytest.raises(FormatError, match="does not match shape"):
        _check_entry(wrapped, 1, Path("x.index"))


def test_shard_and_index_paths_go_through_the_user_path_wrapper(tmp_path: Path) -> None:
    import os

    src = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    for f in src.parent.glob("model.ckpt.*"):
        shutil.copy(f, tmp_path / f.name)
    shard = tmp_path / "model.ckpt.data-00000-of-00001"
    shard.unlink()
    os.mkfifo(shard)  # a FIFO shard must not block the reader
    with pytest.raises(FormatError, match="named pipe"):
        read_variables(tmp_path / "model.ckpt")
    index = tmp_path / "model.ckpt.index"
    index.unlink()
    index.mkdir()
    with pytest.raises(FormatError, match="is a directory"):
        read_variables(tmp_path / "model.ckpt")
