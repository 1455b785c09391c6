"""TF2 object graph: readable names for the Keras TF2 checkpoint fixture, slot variables, corruption."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boardnet.core.errors import BoardnetError, FormatError
from boardnet.tfimport.bundle import encode_varint, read_variables
from boardnet.tfimport.checkpoint import inspect_file
from boardnet.tfimport.object_graph import (
    checkpoint_readable_names,
    node_paths,
    parse_object_graph,
    read_object_graph,
    readable_names,
)
from tests.conftest import fixture_path


def _layout() -> dict[str, str]:
    """layout.txt (written with TensorFlow): ckpt kernel key -> Keras layer name."""
    out = {}
    for line in fixture_path("tf", "gomoku_keras_15x15", "layout.txt").read_text().splitlines():
        layer = line.split()[0] if line.strip() else ""
        for tok in line.split():
            if tok.startswith("model/_operations/") and "_kernel" in tok:
                out[tok] = layer
    return out


def test_fixture_readable_names_match_keras_layers() -> None:
    ckpt = fixture_path("tf", "gomoku_keras_15x15", "ckpt.index")
    names = checkpoint_readable_names(ckpt)
    assert set(names) == set(read_variables(ckpt))  # every tensor got a name, nothing else
    assert names["model/_operations/2/_kernel/.ATTRIBUTES/VARIABLE_VALUE"] == "conv1/kernel"
    assert names["model/_operations/5/bias/.ATTRIBUTES/VARIABLE_VALUE"] == "evaluation_conv/bias"
    assert names["model/_operations/10/_kernel/.ATTRIBUTES/VARIABLE_VALUE"] == "action_fc/kernel"
    nodes = read_object_graph(ckpt)
    assert nodes is not None
    paths = node_paths(nodes)
    # object paths reproduce the checkpoint keys: key = path + "/.ATTRIBUTES/" + attribute name
    for i, node in enumerate(nodes):
        for att in node.attributes:
            assert att.checkpoint_key == f"{paths[i]}/.ATTRIBUTES/{att.name}"


def test_layout_txt_agrees() -> None:
    layout = _layout()
    assert len(layout) == 8
    names = checkpoint_readable_names(fixture_path("tf", "gomoku_keras_15x15", "ckpt.index"))
    for key, layer in layout.items():
        assert names[key].split("/")[0] == layer


def test_tf1_checkpoint_has_no_graph() -> None:
    assert read_object_graph(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")) is None


def test_inspect_shows_readable_names() -> None:
    text = inspect_file(fixture_path("tf", "gomoku_keras_15x15", "ckpt.index"))
    assert "model/_operations/9/_kernel/.ATTRIBUTES/VARIABLE_VALUE [450,64] float32 = evaluation_fc1/kernel" in text


# --- a tiny protobuf encoder to build graphs with optimizer slots (the fixture has none) ---------------------
def _f(num: int, payload: bytes | int | str) -> bytes:
    if isinstance(payload, int):
        return encode_varint(num << 3) + encode_varint(payload)
    raw = payload.encode() if isinstance(payload, str) else payload
    return encode_varint(num << 3 | 2) + encode_varint(len(raw)) + raw


def _node(children: list[tuple[int, str]] = (), attrs: list[tuple[str, str, str]] = (),
          slots: list[tuple[int, str, int]] = ()) -> bytes:
    body = b"".join(_f(1, _f(1, c) + _f(2, n)) for c, n in children)
    body += b"".join(_f(2, _f(1, a) + _f(2, fn) + _f(3, k)) for a, fn, k in attrs)
    body += b"".join(_f(3, _f(1, o) + _f(2, s) + _f(3, t)) for o, s, t in slots)
    return _f(1, body)


def _graph_with_slots() -> bytes:
    key = "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    slot_m = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    slot_v = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE"
    return b"".join([
        _node(children=[(1, "model"), (4, "optimizer")]),                    # 0 root
        _node(children=[(2, "layer_with_weights-0")]),                       # 1 model
        _node(children=[(3, "kernel")]),                                     # 2 layer
        _node(attrs=[("VARIABLE_VALUE", "", key)]),                          # 3 kernel (no full_name)
        _node(children=[(7, "iter")], slots=[(3, "m", 5), (3, "v", 6)]),     # 4 optimizer
        _node(attrs=[("VARIABLE_VALUE", "", slot_m)]),                       # 5 slot m
        _node(attrs=[("VARIABLE_VALUE", "", slot_v)]),                       # 6 slot v
        _node(attrs=[("VARIABLE_VALUE", "Adam/iter", "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE")]),  # 7
    ])


def test_slot_variables_tied_to_their_variable() -> None:
    names = readable_names(parse_object_graph(_graph_with_slots()))
    assert names["model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"] == "model/layer_with_weights-0/kernel"
    m = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert names[m] == "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m"
    assert names[m.replace("/m/", "/v/")].endswith("/.OPTIMIZER_SLOT/optimizer/v")
    assert names["optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"] == "Adam/iter"


def test_bad_node_reference() -> None:
    with pytest.raises(FormatError, match="node reference 9"):
        parse_object_graph(_node(children=[(9, "x")]))


def test_graph_crc_flip(tmp_path: Path) -> None:
    src = fixture_path("tf", "gomoku_keras_15x15", "ckpt.index")
    for f in src.parent.glob("ckpt.*"):
        shutil.copy(f, tmp_path / f.name)
    data = tmp_path / "ckpt.data-00000-of-00001"
    b = bytearray(data.read_bytes())
    b[-100] ^= 0x10  # the object graph is the last tensor written
    data.write_bytes(bytes(b))
    with pytest.raises(FormatError, match="CRC32C"):
        read_object_graph(tmp_path / "ckpt.index")


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_fuzz_graph_bytes(data: st.DataObject) -> None:
    """Truncated or byte-flipped graph protos decode or raise a BoardnetError, nothing else."""
    raw = bytearray(_graph_with_slots())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(BoardnetError):
        readable_names(parse_object_graph(bytes(raw)))


def test_slot_keys_point_at_their_variable() -> None:
    from boardnet.tfimport.object_graph import slot_keys

    keys = slot_keys(parse_object_graph(_graph_with_slots()))
    var = "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    m = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert keys == {m: (var, "optimizer/m"), m.replace("/m/", "/v/"): (var, "optimizer/v")}


def test_tf2_checkpoint_with_adam_slots(tmp_path: Path) -> None:
    """A TF2-style checkpoint (object graph + slot tensors) written here: names, inspect, slot export."""
    import yaml

    from boardnet.tfimport.bundle import write_variables
    from boardnet.tfimport.checkpoint import read_slots

    rng = np.random.default_rng(1)
    key = "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    slot = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/{}/.ATTRIBUTES/VARIABLE_VALUE"
    kernel, m, v = (rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3))
    write_variables(tmp_path / "ckpt", {key: kernel, slot.format("m"): m, slot.format("v"): v,
                                        "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE": np.int64(7),
                                        "_CHECKPOINTABLE_OBJECT_GRAPH": _graph_with_slots()})
    idx = tmp_path / "ckpt.index"
    assert checkpoint_readable_names(idx)[slot.format("v")] == "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/v"
    text = inspect_file(idx)
    assert f"{slot.format('m')} [4,3] float32 = model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m" in text
    mapping = tmp_path / "m.yaml"  # written against the readable names
    mapping.write_text(yaml.safe_dump({"family": "policy_value", "rules": [
        {"src": "model/layer_with_weights-0/kernel", "dst": "fc.weight", "transform": "dense"}]}))
    slots = read_slots(idx, str(mapping))
    np.testing.assert_array_equal(slots["fc.weight/.OPTIMIZER_SLOT/optimizer/m"], m.T)
    np.testing.assert_array_equal(slots["fc.weight/.OPTIMIZER_SLOT/optimizer/v"], v.T)
    assert slots[".OPTIMIZER/Adam/iter"] == 7 and len(slots) == 3
