"""Declarative weight mapping: source variable names (TF/Keras) -> torch state-dict names + layout transforms.

A mapping file (YAML) has ``family`` (registered network), optional ``config`` (constructor kwargs; for
policy_value the board size and widths are inferred from the tensors when absent) and ``rules``: a list of
``{src, dst, transform}``. Transforms (tf-conversion.md, mapping rules):

- ``none``: copy;
- ``conv_hwio``: conv kernel ``[kh,kw,in,out] -> [out,in,kh,kw]``;
- ``dense``: ``[in,out] -> [out,in]``;
- ``dense_after_conv_nhwc``: first dense after a conv, whose input TF flattened in NHWC order
  (index ``(h*W+w)*C+c``) while torch flattens NCHW: ``[H*W*C,out] -> [out, C*H*W]``;
- ``dense_after_conv_nchw``: the same kernel read as if TF had flattened NCHW (only ``dense``'s transpose).
  This is deliberately wrong for TF models and exists to show that ``boardnet verify`` catches it.

Strict: an unmapped source variable, a missing/unknown target or a shape mismatch raises ConversionError
naming the tensor. Unknown keys raise ConfigError naming the key path.
"""

from __future__ import annotations

import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from boardnet.errors import ConfigError, ConversionError

TRANSFORMS = ("none", "conv_hwio", "dense", "dense_after_conv_nhwc", "dense_after_conv_nchw")
_TOP_KEYS = {"family", "config", "rules"}
_RULE_KEYS = {"src", "dst", "transform"}


def load_mapping(path_or_name: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a YAML mapping file, or a built-in one by name (``azg_tf1``, ``azg_keras_ckpt``); validate keys."""
    p = Path(path_or_name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        try:
            text = p.read_text()
        except OSError as e:
            raise ConfigError(str(p), f"cannot read mapping file: {e.strerror}") from None
    else:
        res = resources.files("boardnet.mappings") / f"{path_or_name}.yaml"
        if not res.is_file():
            raise ConfigError("mapping", f"no built-in mapping named {path_or_name!r}")
        text = res.read_text()
    try:
        m = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(str(p), f"invalid YAML: {e}") from None
    return validate_mapping(m)


def validate_mapping(m: Any) -> dict[str, Any]:
    """Check a parsed mapping: known keys only, each rule has src/dst and a known transform."""
    if not isinstance(m, dict):
        raise ConfigError("mapping", "must be a mapping with family and rules")
    for k in m:
        if k not in _TOP_KEYS:
            raise ConfigError(f"mapping.{k}", f"unknown key (allowed: {sorted(_TOP_KEYS)})")
    if not isinstance(m.get("family"), str):
        raise ConfigError("mapping.family", "required string")
    rules = m.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ConfigError("mapping.rules", "required non-empty list")
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            raise ConfigError(f"mapping.rules[{i}]", "must be a mapping")
        for k in r:
            if k not in _RULE_KEYS:
                raise ConfigError(f"mapping.rules[{i}].{k}", f"unknown key (allowed: {sorted(_RULE_KEYS)})")
        for k in ("src", "dst"):
            if not isinstance(r.get(k), str):
                raise ConfigError(f"mapping.rules[{i}].{k}", "required string")
        if r.get("transform", "none") not in TRANSFORMS:
            raise ConfigError(f"mapping.rules[{i}].transform", f"unknown transform; one of {TRANSFORMS}")
    return m


def _transform(a: np.ndarray, how: str, name: str) -> np.ndarray:
    """Apply one layout transform (see module docstring) to a source array."""
    if how == "none":
        return a
    if how == "conv_hwio":
        if a.ndim != 4:
            raise ConversionError(f"{name}: conv_hwio needs a 4-d kernel, got shape {list(a.shape)}")
        return a.transpose(3, 2, 0, 1)
    if a.ndim != 2:
        raise ConversionError(f"{name}: {how} needs a 2-d kernel, got shape {list(a.shape)}")
    return a.T


def _nhwc_reorder(a: np.ndarray, channels: int, name: str) -> np.ndarray:
    """``[H*W*C, out]`` (NHWC flatten) -> ``[out, C*H*W]`` (NCHW flatten)."""
    rows, out = a.shape
    hw = rows // channels
    if hw * channels != rows:
        raise ConversionError(f"{name}: {rows} inputs not divisible by {channels} channels")
    return a.reshape(hw, channels, out).transpose(1, 0, 2).reshape(rows, out).T


def apply_mapping(variables: dict[str, np.ndarray], mapping: dict[str, Any]) -> dict[str, np.ndarray]:
    """Rename and re-layout source variables; strict about unmapped sources (report all by name)."""
    rules = mapping["rules"]
    srcs = {r["src"] for r in rules}
    unmapped = sorted(set(variables) - srcs)
    missing = sorted(srcs - set(variables))
    if unmapped or missing:
        raise ConversionError(f"mapping does not fit the file: unmapped source variables {unmapped}; "
                              f"sources named by the mapping but absent {missing}")
    out: dict[str, np.ndarray] = {}
    # Channels of the conv feeding a dense layer: the conv whose dst prefix precedes it in rule order.
    last_conv_out = 0
    for r in rules:
        a = variables[r["src"]]
        how = r.get("transform", "none")
        if how == "conv_hwio":
            last_conv_out = a.shape[3] if a.ndim == 4 else 0
        if how == "dense_after_conv_nhwc":
            if a.ndim != 2 or not last_conv_out:
                raise ConversionError(f"{r['src']}: dense_after_conv_nhwc needs a 2-d kernel after a conv rule")
            out[r["dst"]] = _nhwc_reorder(a, last_conv_out, r["src"])
        else:
            out[r["dst"]] = _transform(a, how, r["src"])
    return out


def infer_policy_value_config(sd: dict[str, np.ndarray]) -> dict[str, Any]:
    """Constructor kwargs of PolicyValueNet from mapped tensor shapes (square board assumed)."""
    try:
        channels, i = [], 1
        while f"conv{i}.weight" in sd:
            channels.append(int(sd[f"conv{i}.weight"].shape[0]))
            i += 1
        area = int(sd["act_fc1.weight"].shape[0])
        side = math.isqrt(area)
        return dict(height=side, width=area // side, in_planes=int(sd["conv1.weight"].shape[1]),
                    channels=channels, policy_filters=int(sd["act_conv1.weight"].shape[0]),
                    value_filters=int(sd["val_conv1.weight"].shape[0]),
                    value_hidden=int(sd["val_fc1.weight"].shape[0]))
    except (KeyError, IndexError) as e:
        raise ConversionError(f"cannot infer policy_value config: missing tensor {e}") from None


def to_netfile(variables: dict[str, np.ndarray], mapping: dict[str, Any], model: str | None = None):  # noqa: ANN201
    """Mapped tensors -> NetFile; builds the model to check every target name and shape strictly."""
    from boardnet.models import build_from_spec
    from boardnet.spec import ModelSpec, NetFile

    sd = apply_mapping(variables, mapping)
    config = dict(mapping.get("config") or {})
    if not config and mapping["family"] == "policy_value":
        config = infer_policy_value_config(sd)
    spec = ModelSpec(mapping["family"], config, {"source_mapping": mapping.get("name", "")})
    if model:
        import importlib

        mod, _, cls_name = model.partition(":")
        try:
            net = getattr(importlib.import_module(mod), cls_name)(**config)
        except (ImportError, AttributeError) as e:
            raise ConfigError("model", f"cannot import {model}: {e}") from None
        spec.meta["model_class"] = model
    else:
        net = build_from_spec(spec)
    target = net.state_dict()
    unknown = sorted(set(sd) - set(target))
    absent = sorted(k for k in target if k not in sd and not k.endswith("num_batches_tracked"))
    if unknown or absent:
        raise ConversionError(f"mapping targets do not fit the model: unknown targets {unknown}; "
                              f"model tensors not filled {absent}")
    tensors = {}
    for k, a in sd.items():
        if tuple(a.shape) != tuple(target[k].shape):
            raise ConversionError(f"{k}: shape {list(a.shape)} does not match model {list(target[k].shape)}")
        tensors[k] = torch.from_numpy(np.array(a, order="C", copy=True)).to(target[k].dtype)  # copy: size-1 flips keep <0 strides
    return NetFile(spec, tensors)


def builtin_for(names: set[str]) -> dict[str, Any] | None:
    """The built-in mapping whose source names are exactly ``names``, if any."""
    for name in ("azg_tf1", "azg_keras_ckpt", "azg_keras_h5"):
        m = load_mapping(name)
        if {r["src"] for r in m["rules"]} == names:
            m["name"] = name
            return m
    return None
