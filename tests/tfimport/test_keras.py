"""Keras reader: .weights.h5 and .keras reproduce Keras's outputs; corrupt files give one FormatError."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from boardnet.core.errors import BoardnetError
from boardnet.tfimport.keras import inspect_file
from tests.conftest import fixture_path


@pytest.mark.parametrize("name", ["model.weights.h5", "model.keras"])
def test_keras_forms_match_reference(name: str) -> None:
    io = np.load(fixture_path("tf", "gomoku_keras_15x15", "io.npz"))
    nf = read_net(fixture_path("tf", "gomoku_keras_15x15", name))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(io["states"]))
    np.testing.assert_allclose(lp.numpy(), io["log_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v.numpy(), io["values"].reshape(-1), atol=1e-5, rtol=0)


def test_inspect() -> None:
    text = inspect_file(fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5"))
    assert "layers/dense_1/vars/0 [900,225]" in text


@pytest.mark.parametrize("name", ["model.weights.h5", "model.keras"])
@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated(tmp_path: Path, name: str, frac: float) -> None:
    src = fixture_path("tf", "gomoku_keras_15x15", name)
    dst = tmp_path / name
    shutil.copy(src, dst)
    raw = dst.read_bytes()
    dst.write_bytes(raw[: int(len(raw) * frac)])
    with pytest.raises(BoardnetError):
        read_net(dst)


def _layout() -> dict[str, str]:
    """layout.txt (from TensorFlow): Keras layer name -> h5 group of its kernel."""
    out = {}
    for line in fixture_path("tf", "gomoku_keras_15x15", "layout.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split()
        out[cols[0]] = cols[2].split("/")[1]
    return out


def test_keras_layer_order_and_names_from_config() -> None:
    import json
    import zipfile

    from boardnet.tfimport.keras import read_layers

    path = fixture_path("tf", "gomoku_keras_15x15", "model.keras")
    with zipfile.ZipFile(path) as z:
        cfg = json.loads(z.read("config.json"))
    want = [(la["class_name"], la["config"]["name"]) for la in cfg["config"]["layers"]]
    layers, arrays = read_layers(path)
    assert [(la.class_name, la.name) for la in layers] == want  # every layer, in model order
    groups = {la.name: la.group for la in layers}
    assert {n: groups[n] for n in _layout()} == _layout()  # positional groups as TensorFlow wrote them
    assert groups["evaluation_conv"] == "conv2d_3" and arrays["conv2d_3"]["0"].shape == (1, 1, 128, 2)


def test_weights_h5_names_from_vars_attribute() -> None:
    """No config: names from the `name` attribute; the same readable names and arrays as the .keras file."""
    from boardnet.tfimport.keras import read_variables, readable_names

    h5 = fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5")
    keras = fixture_path("tf", "gomoku_keras_15x15", "model.keras")
    assert readable_names(h5) == readable_names(keras)
    assert readable_names(h5)["layers/dense_1/vars/0"] == "action_fc/kernel"
    a, b = read_variables(h5), read_variables(keras)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_readable_names_agree_with_tf2_object_graph() -> None:
    """The Keras files and the TF2 checkpoint of the same model name the same tensors identically."""
    from boardnet.tfimport.bundle import read_variables as read_ckpt
    from boardnet.tfimport.keras import read_variables, readable_names
    from boardnet.tfimport.object_graph import checkpoint_readable_names

    h5 = fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5")
    kv = {readable_names(h5)[k]: a for k, a in read_variables(h5).items()}
    ck = fixture_path("tf", "gomoku_keras_15x15", "ckpt.index")
    cv = {checkpoint_readable_names(ck)[k]: a for k, a in read_ckpt(ck).items()}
    assert sorted(kv) == sorted(cv)
    assert all(np.array_equal(kv[k], cv[k]) for k in kv)


def _rewrite_keras(src: Path, dst: Path, edit) -> None:  # noqa: ANN001
    import json
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                cfg = json.loads(data)
                edit(cfg)
                data = json.dumps(cfg).encode()
            zout.writestr(info.filename, data)


def test_config_disagreeing_with_weights_is_refused(tmp_path: Path) -> None:
    from boardnet.core.errors import FormatError

    def swap(cfg: dict) -> None:  # evaluation_conv and action_conv exchanged in the layer list
        ls = cfg["config"]["layers"]
        ls[5], ls[6] = ls[6], ls[5]

    dst = tmp_path / "swapped.keras"
    _rewrite_keras(fixture_path("tf", "gomoku_keras_15x15", "model.keras"), dst, swap)
    with pytest.raises(FormatError, match="conv2d_3"):
        read_net(dst)

    def drop(cfg: dict) -> None:
        del cfg["config"]["layers"]

    _rewrite_keras(fixture_path("tf", "gomoku_keras_15x15", "model.keras"), dst, drop)
    with pytest.raises(FormatError, match="config.json"):
        read_net(dst)


def test_weights_h5_without_name_attributes_keeps_group_names(tmp_path: Path) -> None:
    import h5py

    from boardnet.tfimport.keras import readable_names

    dst = tmp_path / "anon.weights.h5"
    shutil.copy(fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5"), dst)
    with h5py.File(dst, "r+") as f:
        for g in f["layers"].values():
            del g["vars"].attrs["name"]
    names = readable_names(dst)
    assert names["layers/conv2d_3/vars/0"] == "conv2d_3/kernel" and names["layers/dense/vars/1"] == "dense/bias"


def test_variable_names_by_class() -> None:
    from boardnet.tfimport.keras import layers_from_config, snake_case, variable_names

    assert snake_case("BatchNormalization") == "batch_normalization" and snake_case("Conv2D") == "conv2d"
    assert variable_names("BatchNormalization", {}, 4) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert variable_names("BatchNormalization", {"scale": False}, 3) == ["beta", "moving_mean", "moving_variance"]
    assert variable_names("Dense", {"use_bias": False}, 1) == ["kernel"]
    assert variable_names("Custom", {}, 2) == ["0", "1"]
    cfg = {"config": {"layers": [{"class_name": c, "config": {"name": n}} for c, n in
                                 [("Conv2D", "a"), ("BatchNormalization", "bn"), ("Conv2D", "b"),
                                  ("BatchNormalization", "bn2")]]}}
    assert [la.group for la in layers_from_config(cfg, Path("x"))] == [
        "conv2d", "batch_normalization", "conv2d_1", "batch_normalization_1"]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fuzz_keras_bytes(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Byte flips anywhere in a .keras (zip headers, config.json, h5 metadata or weights): the read either
    succeeds (h5 float data carries no checksum) or raises one BoardnetError, never another exception."""
    raw = bytearray(fixture_path("tf", "gomoku_keras_15x15", "model.keras").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    dst = tmp_path_factory.mktemp("kz") / "m.keras"
    dst.write_bytes(bytes(raw))
    with contextlib.suppress(BoardnetError):
        read_net(dst)


@pytest.mark.parametrize("cut", [0, 1, 100, 500, -2])
def test_truncated_config_json(tmp_path: Path, cut: int) -> None:
    """A config.json cut short is one FormatError naming config.json."""
    import zipfile

    src = fixture_path("tf", "gomoku_keras_15x15", "model.keras")
    dst = tmp_path / "cut.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, data[:cut] if info.filename == "config.json" else data)
    with pytest.raises(BoardnetError, match="config.json"):
        read_net(dst)


# --- hostile HDF5 (issue 19): nothing outside the file is read, declared sizes bounded by stored bytes --------


def _edit_h5(tmp_path: Path, name: str, edit) -> Path:  # noqa: ANN001
    import h5py

    dst = tmp_path / name
    shutil.copy(fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5"), dst)
    with h5py.File(dst, "r+") as f:
        vars_ = f["layers/dense/vars"]
        shape, dtype = vars_["1"].shape, vars_["1"].dtype
        del vars_["1"]
        edit(vars_, shape, dtype)
    return dst


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    np.full(4096, 7.5, np.float32).tofile(secret)
    return secret


def test_external_storage_is_refused_not_disclosed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from boardnet.cli import main

    secret = _secret(tmp_path)
    evil = _edit_h5(tmp_path, "evil.weights.h5", lambda g, shape, dtype: g.create_dataset(
        "1", shape=shape, dtype=dtype, external=[(str(secret), 0, int(np.prod(shape)) * 4)]))
    out = tmp_path / "out.pt"
    assert main(["convert", str(evil), str(out)]) == 2
    err = capsys.readouterr().err
    assert "external storage refused" in err and "layers/dense/vars/1" in err and err.count("\n") == 1
    assert not out.exists()


def test_virtual_dataset_and_external_link_are_refused(tmp_path: Path) -> None:
    import h5py

    from boardnet.core.errors import FormatError

    secret_h5 = tmp_path / "outside.h5"
    with h5py.File(secret_h5, "w") as f:
        f["data"] = np.full((64,), 7.5, np.float32)

    def virtual(g, shape, dtype) -> None:  # noqa: ANN001
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[:] = h5py.VirtualSource(str(secret_h5), "data", shape=shape)
        g.create_virtual_dataset("1", layout)

    def link(g, shape, dtype) -> None:  # noqa: ANN001, ARG001
        g["1"] = h5py.ExternalLink(str(secret_h5), "/data")

    with pytest.raises(FormatError, match="virtual dataset refused"):
        read_net(_edit_h5(tmp_path, "virtual.weights.h5", virtual))
    with pytest.raises(FormatError, match="external link"):
        read_net(_edit_h5(tmp_path, "link.weights.h5", link))


def test_chunked_dataset_never_written_is_refused_before_allocating(tmp_path: Path) -> None:
    from boardnet.core.errors import FormatError

    bomb = _edit_h5(tmp_path, "bomb.weights.h5", lambda g, shape, dtype: g.create_dataset(
        "1", shape=(1 << 15, 1 << 14), dtype="f4", chunks=(1024, 1024)))
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(FormatError, match=r"declares 2,147,483,648 bytes but the file stores 0"):
        inspect_file(bomb)


# --- libhdf5 may loop forever inside C on damaged bytes: the read runs in a child process with a time limit ----


def _children() -> set[int]:
    """Live (or zombie) child processes of this process."""
    import os

    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found |= {int(pid) for pid in (task / "children").read_text().split()}
    return found


@pytest.mark.parametrize("name", ["model.weights.h5", "model.keras"])
def test_hdf5_read_past_its_time_limit_is_one_error_and_the_child_is_gone(name: str) -> None:
    from boardnet.core.errors import FormatError
    from boardnet.tfimport.keras import h5_time_limit, read_layers, read_named

    path = fixture_path("tf", "gomoku_keras_15x15", name)
    before = _children()
    with pytest.raises(FormatError, match=rf"{name}: reading its HDF5 data took more than 0 s; a damaged file can "
                                          "make libhdf5 loop forever, so it is refused"):
        read_layers(path, h5_timeout=0.0)
    assert _children() == before  # killed and reaped
    variables, names = read_named(path, h5_timeout=h5_time_limit(path.stat().st_size))
    assert names["layers/dense_1/vars/0"] == "action_fc/kernel" and variables["layers/dense_1/vars/0"].ndim == 2
    assert _children() == before


def test_file_that_makes_libhdf5_loop_forever_is_one_error(tmp_path: Path) -> None:
    """Found by mutation (tests/fuzzing.py's "length" edit): 8 bytes at offset 2369 of the fixture set to 8 make
    libhdf5 spin inside C (> 60 s, no Python signal gets through). The child is killed at its limit."""
    import time

    from boardnet.core.errors import FormatError
    from boardnet.tfimport.keras import read_layers

    data = bytearray(fixture_path("tf", "gomoku_keras_15x15", "model.weights.h5").read_bytes())
    assert data[2368:2377] == b"\x0e" + bytes(7) + b"e"  # the fixture's bytes that the mutation found
    data[2369:2377] = (8).to_bytes(8, "little")
    path = tmp_path / "spin.weights.h5"
    path.write_bytes(bytes(data))
    before = _children()
    t0 = time.monotonic()
    with pytest.raises(FormatError, match=r"spin.weights.h5: reading its HDF5 data took more than 2 s"):
        read_layers(path, h5_timeout=2.0)
    assert time.monotonic() - t0 < 30 and _children() == before
