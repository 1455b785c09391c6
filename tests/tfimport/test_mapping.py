"""Mapping rules: built-in AZG mappings reproduce TensorFlow's outputs; strictness and key validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from boardnet.core.errors import ConfigError, ConversionError
from boardnet.tfimport.bundle import read_variables
from boardnet.tfimport.mapping import load_mapping, to_netfile
from tests.conftest import fixture_path

CASES = [("gomoku_tf1_8x8", "model.ckpt"), ("gomoku_tf1_15x15", "model.ckpt"), ("gomoku_keras_15x15", "ckpt")]


def _outputs(nf, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(states))
    return lp.numpy(), v.numpy().reshape(-1)


@pytest.mark.parametrize("folder,prefix", CASES)
def test_tf_checkpoint_matches_tensorflow_outputs(folder: str, prefix: str) -> None:
    io = np.load(fixture_path("tf", folder, "io.npz"))
    nf = read_net(fixture_path("tf", folder, prefix + ".index"))
    lp, v = _outputs(nf, io["states"])
    np.testing.assert_allclose(lp, io["log_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v, io["values"].reshape(-1), atol=1e-5, rtol=0)


def test_nchw_flatten_mapping_is_wrong() -> None:
    """Reading the first dense kernels as NCHW-flattened gives visibly different outputs."""
    io = np.load(fixture_path("tf", "gomoku_tf1_8x8", "io.npz"))
    m = load_mapping("azg_tf1")
    for r in m["rules"]:
        if r.get("transform") == "dense_after_conv_nhwc":
            r["transform"] = "dense_after_conv_nchw"
    nf = to_netfile(read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")), m)
    lp, _ = _outputs(nf, io["states"])
    assert np.abs(lp - io["log_probs"]).max() > 1e-2


def test_unknown_key_names_path(tmp_path: Path) -> None:
    m = load_mapping("azg_tf1")
    m["rules"][3]["trnsform"] = "dense"
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(m))
    with pytest.raises(ConfigError, match=r"rules\[3\]\.trnsform"):
        load_mapping(p)
    p.write_text(yaml.safe_dump({"family": "policy_value", "rules": m["rules"], "extra": 1}))
    with pytest.raises(ConfigError, match=r"mapping\.extra"):
        load_mapping(p)


def test_strict_unmapped_and_shape() -> None:
    v = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    m = load_mapping("azg_tf1")
    m["rules"] = m["rules"][:-1]  # drop dense_2/bias
    with pytest.raises(ConversionError, match="dense_2/bias"):
        to_netfile(v, m)
    m = load_mapping("azg_tf1")
    m["rules"][0]["dst"], m["rules"][2]["dst"] = "conv2.weight", "conv1.weight"
    with pytest.raises(ConversionError, match="shape"):
        to_netfile(v, m)


# --- mapping language on small synthetic tensors ------------------------------------------------------------
def _m(*rules: dict) -> dict:
    from boardnet.tfimport.mapping import validate_mapping

    return validate_mapping({"family": "policy_value", "rules": list(rules)})


def _arange(*shape: int) -> np.ndarray:
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


def test_glob_captures_substitute_into_target() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    v = {"blk_0/conv/kernel": _arange(1, 1, 2, 3), "blk_1/conv/kernel": _arange(1, 1, 3, 3) + 100}
    out = apply_mapping(v, _m({"glob": "blk_*/conv/kernel", "dst": "blocks.{1}.conv.weight", "transform": "conv_hwio"}))
    assert sorted(out) == ["blocks.0.conv.weight", "blocks.1.conv.weight"]
    np.testing.assert_array_equal(out["blocks.1.conv.weight"], v["blk_1/conv/kernel"].transpose(3, 2, 0, 1))
    # ** crosses "/" and * does not
    out = apply_mapping({"a/b/c": _arange(2)}, _m({"glob": "**/c", "dst": "x.{1}"}))
    assert list(out) == ["x.a/b"]
    with pytest.raises(ConversionError, match="unmapped source variables \\['a/b/c'\\]"):
        apply_mapping({"a/b/c": _arange(2)}, _m({"glob": "*/c", "dst": "x"}))


def test_regex_named_and_numbered_groups() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    v = {"dense_3/kernel": _arange(4, 2), "dense_3/bias": _arange(2)}
    out = apply_mapping(v, _m({"regex": r"dense_(?P<i>\d+)/kernel", "dst": "fc{i}.weight", "transform": "dense"},
                              {"regex": r"dense_(\d+)/(bias)", "dst": "fc{1}.{2}"}))
    np.testing.assert_array_equal(out["fc3.weight"], v["dense_3/kernel"].T)
    np.testing.assert_array_equal(out["fc3.bias"], v["dense_3/bias"])
    with pytest.raises(ConfigError, match=r"rules\[0\]\.dst.*\{2\}"):
        apply_mapping({"dense_3/kernel": _arange(2)}, _m({"regex": r"dense_(\d+)/kernel", "dst": "fc{2}"}))


def test_batchnorm_preset_renames() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    names = ("gamma", "beta", "moving_mean", "moving_variance")
    v = {f"res_{b}/bn/{n}": _arange(3) + 10 * i + 100 * b for b in (0, 1) for i, n in enumerate(names)}
    out = apply_mapping(v, _m({"glob": "res_*/bn", "dst": "blocks.{1}.bn", "preset": "batchnorm"}))
    assert sorted(out) == sorted(f"blocks.{b}.bn.{t}" for b in (0, 1)
                                 for t in ("weight", "bias", "running_mean", "running_var"))
    np.testing.assert_array_equal(out["blocks.1.bn.running_var"], v["res_1/bn/moving_variance"])
    np.testing.assert_array_equal(out["blocks.0.bn.weight"], v["res_0/bn/gamma"])
    exact = apply_mapping({f"bn/{n}": _arange(3) for n in names}, _m({"src": "bn", "dst": "bn1", "preset": "batchnorm"}))
    assert sorted(exact) == ["bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.weight"]
    # a BN layer missing one of its four tensors is named
    with pytest.raises(ConversionError, match="bn/moving_variance"):
        apply_mapping({f"bn/{n}": _arange(3) for n in names[:3]}, _m({"src": "bn", "dst": "bn1", "preset": "batchnorm"}))


def test_split_one_source_into_targets() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    qkv = _arange(4, 9)  # dense [in, 3*out]
    out = apply_mapping({"attn/qkv": qkv}, _m({"src": "attn/qkv", "dst": ["q.weight", "k.weight", "v.weight"],
                                              "axis": 1, "transform": "dense"}))
    for j, n in enumerate(("q", "k", "v")):
        np.testing.assert_array_equal(out[f"{n}.weight"], qkv[:, 3 * j:3 * j + 3].T)
    out = apply_mapping({"w": _arange(5, 2)}, _m({"src": "w", "dst": ["a", "b"], "axis": 0, "sizes": [2, 3]}))
    np.testing.assert_array_equal(out["b"], _arange(5, 2)[2:])
    with pytest.raises(ConversionError, match="do not add up"):
        apply_mapping({"w": _arange(5, 2)}, _m({"src": "w", "dst": ["a", "b"], "axis": 0}))


def test_merge_sources_into_one_target() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    a, b = _arange(2, 3), _arange(2, 2) + 50
    out = apply_mapping({"a": a, "b": b}, _m({"src": ["a", "b"], "dst": "ab.weight", "axis": 1, "transform": "dense"}))
    np.testing.assert_array_equal(out["ab.weight"], np.concatenate([a, b], 1).T)
    with pytest.raises(ConversionError, match="cannot merge"):
        apply_mapping({"a": a, "b": b}, _m({"src": ["a", "b"], "dst": "ab", "axis": 0}))


def test_language_strictness_and_validation() -> None:
    from boardnet.tfimport.mapping import apply_mapping

    v = {"x": _arange(2), "y": _arange(2)}
    with pytest.raises(ConversionError, match="taken by several rules"):
        apply_mapping(v, _m({"glob": "*", "dst": "t.{1}"}, {"src": "x", "dst": "u"}))
    with pytest.raises(ConversionError, match="written by several rules"):
        apply_mapping(v, _m({"src": "x", "dst": "t"}, {"src": "y", "dst": "t"}))
    with pytest.raises(ConversionError, match="regex 'z\\+'"):
        apply_mapping(v, _m({"glob": "*", "dst": "t.{1}"}, {"regex": "z+", "dst": "w"}))
    bad = [({"src": "x", "glob": "x", "dst": "t"}, r"rules\[0\]"),
           ({"src": "x", "dst": ["a", "b"]}, r"rules\[0\]\.axis"),
           ({"src": ["x", "y"], "dst": ["a", "b"], "axis": 0}, "not both"),
           ({"regex": "(", "dst": "t"}, r"rules\[0\]\.regex"),
           ({"src": "x", "dst": "t", "preset": "layernorm"}, r"rules\[0\]\.preset"),
           ({"src": "x", "dst": ["a", "b"], "axis": 0, "sizes": [1]}, r"rules\[0\]\.sizes")]
    for rule, msg in bad:
        with pytest.raises(ConfigError, match=msg):
            _m(rule)


def test_pattern_mapping_on_tf2_readable_names(tmp_path: Path) -> None:
    """A user mapping written with regexes over the object-graph names converts the Keras TF2 checkpoint."""
    io = np.load(fixture_path("tf", "gomoku_keras_15x15", "io.npz"))
    rules = [{"regex": r"(conv\d)/kernel", "dst": "{1}.weight", "transform": "conv_hwio"},
             {"regex": r"(conv\d)/bias", "dst": "{1}.bias"}]
    for keras, torch_name, how in (("action_conv", "act_conv1", "conv_hwio"), ("action_fc", "act_fc1",
                                   "dense_after_conv_nhwc"), ("evaluation_conv", "val_conv1", "conv_hwio"),
                                   ("evaluation_fc1", "val_fc1", "dense_after_conv_nhwc"),
                                   ("evaluation_fc2", "val_fc2", "dense")):
        rules += [{"src": f"{keras}/kernel", "dst": f"{torch_name}.weight", "transform": how},
                  {"src": f"{keras}/bias", "dst": f"{torch_name}.bias"}]
    p = tmp_path / "readable.yaml"
    p.write_text(yaml.safe_dump({"family": "policy_value", "rules": rules}))
    nf = read_net(fixture_path("tf", "gomoku_keras_15x15", "ckpt.index"), mapping=str(p))
    lp, v = _outputs(nf, io["states"])
    np.testing.assert_allclose(lp, io["log_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v, io["values"].reshape(-1), atol=1e-5, rtol=0)


# --- hostile mapping files (issue 17): one error naming the file or key path, nothing allocated ---------------


def _mapping_file(tmp_path: Path, **changes) -> Path:  # noqa: ANN003
    m = {**load_mapping("azg_tf1"), **changes}
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(m))
    return p


def test_mapping_network_section_is_validated_against_the_network(tmp_path: Path) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    cfg = {"height": 8, "width": 8, "channels": [32, 64, 128], "bogus": 1}
    with pytest.raises(ConfigError, match=r"mapping\.config\.bogus.*unknown option of network 'policy_value'"):
        read_net(ckpt, mapping=str(_mapping_file(tmp_path, config=cfg)))
    with pytest.raises(ConfigError, match=r"mapping\.config\.blocks.*missing option of network 'lc0'"):
        load_mapping(_mapping_file(tmp_path, family="lc0", config={"filters": 64}))


def test_mapping_with_a_huge_declared_shape_is_refused_before_allocating(tmp_path: Path) -> None:
    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    huge = {"height": 8, "width": 8, "channels": [32, 60000, 60000], "value_hidden": 60000}
    with pytest.raises(ConfigError, match=r"mapping\.config.*declares [\d,]+ parameters"):
        read_net(ckpt, mapping=str(_mapping_file(tmp_path, config=huge)))
    big = {"height": 8, "width": 8, "channels": [32, 64, 60000]}  # 35 M parameters: only shapes compared
    with pytest.raises(ConversionError, match=r"conv3.weight: shape \[128, 64, 3, 3\] does not match"):
        read_net(ckpt, mapping=str(_mapping_file(tmp_path, config=big)))
    with pytest.raises(ConfigError, match=r"mapping\.config\.value_hidden.*beyond the limit"):
        load_mapping(_mapping_file(tmp_path, config={**huge, "value_hidden": 1 << 40}))


def test_mapping_deep_nesting_aliases_and_bad_bytes_are_one_error(tmp_path: Path) -> None:
    from boardnet.core.errors import BoardnetError, FormatError

    p = tmp_path / "m.yaml"
    p.write_text("family: policy_value\nrules: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than"):
        load_mapping(p)
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p_] * 10)}]\n" for p_, c in zip("abcdefgh", "bcdefghi", strict=True))
    p.write_text(laughs)
    with pytest.raises(ConfigError, match="aliases are expanded"):
        load_mapping(p)
    p.write_bytes(b"family: policy_value\nrules: [\xff]\n")
    with pytest.raises(FormatError, match=r"offset 29: not UTF-8"):
        load_mapping(p)
    with pytest.raises(BoardnetError, match="is a directory"):
        load_mapping(tmp_path)
