"""Declarative weight mapping: source variable names (TF/Keras) -> torch state-dict names + layout transforms.

A mapping file (YAML) has ``family`` (registered network), optional ``config`` (constructor kwargs; for
policy_value the board size and widths are inferred from the tensors when absent) and ``rules``, each
``{<source>, dst, transform}`` where the source is exactly one of:

- ``src: name`` (exact name), or ``src: [a, b, ...]`` with ``axis: N``: **merge**, the sources concatenated
  along axis N (source layout) into the single ``dst``;
- ``glob: "layers/*/kernel"``: ``*`` = one ``/``-segment, ``**`` = any text, ``?`` = one character; each
  wildcard is a capture group ``{1}``, ``{2}`` ... usable in ``dst``;
- ``regex: "block_(?P<i>\\d+)/(.*)"``: Python regex matched against the whole name; ``dst`` uses ``{1}`` /
  ``{i}`` for its groups.

``dst`` is a name, or a list of names with ``axis: N`` (and optional ``sizes: [..]``, else equal parts):
**split**, one source cut along axis N into several targets, each then transformed. ``preset: batchnorm``
expands one rule ``{src: bn, dst: bn}`` into ``bn/gamma -> bn.weight``, ``bn/beta -> bn.bias``,
``bn/moving_mean -> bn.running_mean``, ``bn/moving_variance -> bn.running_var`` (works with glob/regex too).
Transforms (tf-conversion.md §4):

- ``none``: copy;
- ``conv_hwio``: conv kernel ``[kh,kw,in,out] -> [out,in,kh,kw]``;
- ``dense``: ``[in,out] -> [out,in]``;
- ``dense_after_conv_nhwc``: first dense after a conv, whose input TF flattened in NHWC order
  (index ``(h*W+w)*C+c``) while torch flattens NCHW: ``[H*W*C,out] -> [out, C*H*W]``;
- ``dense_after_conv_nchw``: the same kernel read as if TF had flattened NCHW (only ``dense``'s transpose).
  This is deliberately wrong for TF models and exists to show that ``boardnet verify`` catches it.

Strict: an unmapped source variable, an absent source, a pattern matching nothing, a source taken twice, a
target written twice, a missing/unknown target or a shape mismatch raises ConversionError naming the tensor. Unknown keys raise ConfigError naming the key path.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from boardnet.core.errors import ConfigError, ConversionError

TRANSFORMS = ("none", "conv_hwio", "dense", "dense_after_conv_nhwc", "dense_after_conv_nchw")
# Named presets: one rule that expands into several (source suffix, target suffix) pairs.
# batchnorm: TF/Keras BatchNormalization -> torch BatchNorm (tf-conversion.md §3, transformers-style walk).
PRESETS: dict[str, tuple[tuple[str, str], ...]] = {
    "batchnorm": (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                  ("moving_variance", "running_var")),
}
_TOP_KEYS = {"family", "config", "rules"}
_RULE_KEYS = {"src", "glob", "regex", "dst", "transform", "axis", "sizes", "preset"}
_SOURCE_KEYS = ("src", "glob", "regex")
_GROUP_REF = re.compile(r"\{(\w+)\}")


def load_mapping(path_or_name: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a YAML mapping file, or a built-in one by name (``azg_tf1``, ``azg_keras``); validate keys.

    A file is read through the user-path wrapper (regular files, UTF-8) and parsed with the same bounds as a
    config (nesting depth, alias expansion); problems are one error naming the file or the key path.
    """
    from boardnet.core.config import parse_yaml
    from boardnet.core.io import read_user_text

    p = Path(path_or_name)
    if p.suffix in (".yaml", ".yml") or os.path.lexists(p):
        text, label = read_user_text(p, limit=4 << 20), str(p)
    else:
        res = resources.files("boardnet.tfimport.mappings") / f"{path_or_name}.yaml"
        if not res.is_file():
            raise ConfigError("mapping", f"no built-in mapping named {path_or_name!r}")
        text, label = res.read_text(), f"<built-in mapping {path_or_name}>"
    m = parse_yaml(text, label)
    if m is None:
        raise ConfigError("mapping", f"{label}: is empty")
    return validate_mapping(m)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) >= 2 and all(isinstance(x, str) for x in v)


def glob_to_regex(glob: str) -> str:
    """Glob over ``/``-separated names -> regex: ``*`` = one path segment, ``**`` = any text, ``?`` = one char.

    Each wildcard is a capture group, numbered left to right (``{1}``, ``{2}`` ... in ``dst``).
    """
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**", i):
            out.append("(.*)")
            i += 2
        elif glob[i] == "*":
            out.append("([^/]*)")
            i += 1
        elif glob[i] == "?":
            out.append("([^/])")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def _validate_rule(i: int, r: Any) -> None:
    where = f"mapping.rules[{i}]"
    if not isinstance(r, dict):
        raise ConfigError(where, "must be a mapping")
    for k in r:
        if k not in _RULE_KEYS:
            raise ConfigError(f"{where}.{k}", f"unknown key (allowed: {sorted(_RULE_KEYS)})")
    given = [k for k in _SOURCE_KEYS if k in r]
    if len(given) != 1:
        raise ConfigError(where, f"needs exactly one of {list(_SOURCE_KEYS)}, got {given}")
    kind = given[0]
    src, dst = r[kind], r.get("dst")
    merge = kind == "src" and isinstance(src, list)
    split = isinstance(dst, list)
    if not (isinstance(src, str) or merge and _str_list(src)):
        raise ConfigError(f"{where}.{kind}", "required string" + (" or list of >= 2 strings" if kind == "src" else ""))
    if not (isinstance(dst, str) or _str_list(dst)):
        raise ConfigError(f"{where}.dst", "required string, or a list of >= 2 strings to split into")
    if merge and split:
        raise ConfigError(where, "a rule either merges (src list) or splits (dst list), not both")
    if kind == "regex":
        try:
            re.compile(src)
        except re.error as e:
            raise ConfigError(f"{where}.regex", f"invalid regular expression: {e}") from None
    if r.get("transform", "none") not in TRANSFORMS:
        raise ConfigError(f"{where}.transform", f"unknown transform; one of {TRANSFORMS}")
    if (merge or split) != ("axis" in r) or ("axis" in r and not isinstance(r["axis"], int)):
        raise ConfigError(f"{where}.axis", "an integer axis is required exactly when splitting or merging")
    if "sizes" in r and (not split or not isinstance(r["sizes"], list) or len(r["sizes"]) != len(dst)
                         or not all(isinstance(n, int) and n > 0 for n in r["sizes"])):
        raise ConfigError(f"{where}.sizes", "positive integers, one per dst of a split")
    if "preset" in r:
        if r["preset"] not in PRESETS:
            raise ConfigError(f"{where}.preset", f"unknown preset; one of {sorted(PRESETS)}")
        if merge or split or r.get("transform", "none") != "none":
            raise ConfigError(f"{where}.preset", "a preset rule takes one src/glob/regex, one dst, no transform")


def validate_mapping(m: Any) -> dict[str, Any]:
    """Check a parsed mapping: known keys only, each rule well formed (see module docstring)."""
    if not isinstance(m, dict):
        raise ConfigError("mapping", "must be a mapping with family and rules")
    for k in m:
        if k not in _TOP_KEYS:
            raise ConfigError(f"mapping.{k}", f"unknown key (allowed: {sorted(_TOP_KEYS)})")
    if not isinstance(m.get("family"), str):
        raise ConfigError("mapping.family", "required string")
    if "config" in m:
        from boardnet.core.build import check_spec_config
        from boardnet.core.spec import ModelSpec

        if not isinstance(m["config"], dict):
            raise ConfigError("mapping.config", "must be a mapping of the network's options")
        check_spec_config(ModelSpec(m["family"], m["config"]), "mapping.config")
    rules = m.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ConfigError("mapping.rules", "required non-empty list")
    for i, r in enumerate(rules):
        _validate_rule(i, r)
    return m


@dataclass(frozen=True)
class Step:
    """One concrete mapping step after pattern expansion: sources -> targets (1->1, n->1 merge, 1->n split)."""

    rule: int
    srcs: tuple[str, ...]
    dsts: tuple[str, ...]
    transform: str = "none"
    axis: int | None = None
    sizes: tuple[int, ...] | None = None


def _expand_presets(rules: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(rule index, rule) with every preset rule replaced by one rule per (source, target) suffix pair."""
    out = []
    for i, r in enumerate(rules):
        if "preset" not in r:
            out.append((i, r))
            continue
        kind = next(k for k in _SOURCE_KEYS if k in r)
        for s_suffix, d_suffix in PRESETS[r["preset"]]:
            tail = re.escape("/" + s_suffix) if kind == "regex" else "/" + s_suffix
            out.append((i, {kind: r[kind] + tail, "dst": f"{r['dst']}.{d_suffix}"}))
    return out


def _substitute(template: str, m: re.Match[str], rule: int) -> str:
    def one(g: re.Match[str]) -> str:
        key = g.group(1)
        try:
            val = m.group(int(key) if key.isdigit() else key)
        except IndexError:  # unknown group number or name
            raise ConfigError(f"mapping.rules[{rule}].dst", f"{{{key}}} names no capture group of the pattern") from None
        return val or ""

    return _GROUP_REF.sub(one, template)



def expand_rules(names: list[str], mapping: dict[str, Any]) -> list[Step]:
    """Expand presets and patterns against the source ``names`` (file order) into concrete steps.

    Strict: an exact source that is absent, a pattern matching nothing, a source taken by two rules, a
    target written twice, or a source no rule takes raises one ConversionError listing every such name.
    """
    steps: list[Step] = []
    missing: list[str] = []
    for i, r in _expand_presets(mapping["rules"]):
        how, axis = r.get("transform", "none"), r.get("axis")
        sizes = tuple(r["sizes"]) if "sizes" in r else None
        if "src" in r:
            srcs = tuple(r["src"]) if isinstance(r["src"], list) else (r["src"],)
            missing += [s for s in srcs if s not in names]
            dsts = tuple(r["dst"]) if isinstance(r["dst"], list) else (r["dst"],)
            steps.append(Step(i, srcs, dsts, how, axis, sizes))
            continue
        pattern = re.compile(glob_to_regex(r["glob"]) if "glob" in r else r["regex"])
        hits = [(n, mm) for n in names if (mm := pattern.fullmatch(n))]
        if not hits:
            missing.append(f"<rules[{i}] {'glob' if 'glob' in r else 'regex'} {r.get('glob', r.get('regex'))!r}>")
        for n, mm in hits:
            dst = r["dst"]
            dsts = tuple(_substitute(d, mm, i) for d in dst) if isinstance(dst, list) else (_substitute(dst, mm, i),)
            steps.append(Step(i, (n,), dsts, how, axis, sizes))
    taken: dict[str, list[int]] = {}
    written: dict[str, list[int]] = {}
    for st in steps:
        for s in st.srcs:
            taken.setdefault(s, []).append(st.rule)
        for d in st.dsts:
            written.setdefault(d, []).append(st.rule)
    unmapped = [n for n in names if n not in taken]
    twice = sorted(f"{s} (rules {r})" for s, r in taken.items() if len(r) > 1)
    dup = sorted(f"{d} (rules {r})" for d, r in written.items() if len(r) > 1)
    if unmapped or missing or twice or dup:
        parts = [f"unmapped source variables {unmapped}", f"sources named by the mapping but absent {missing}"]
        parts += [f"sources taken by several rules {twice}"] if twice else []
        parts += [f"targets written by several rules {dup}"] if dup else []
        raise ConversionError("mapping does not fit the file: " + "; ".join(parts))
    return steps


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


def _merge(arrays: list[np.ndarray], axis: int, srcs: tuple[str, ...]) -> np.ndarray:
    """Concatenate source tensors along ``axis`` (source layout); other dims must agree."""
    shapes = [list(a.shape) for a in arrays]
    nd = arrays[0].ndim
    if not -nd <= axis < nd or any(a.ndim != nd for a in arrays) or any(
            s[:axis % nd] + s[axis % nd + 1:] != shapes[0][:axis % nd] + shapes[0][axis % nd + 1:] for s in shapes):
        raise ConversionError(f"cannot merge {list(srcs)} along axis {axis}: shapes {shapes}")
    return np.concatenate(arrays, axis=axis)


def _split(a: np.ndarray, st: Step) -> list[np.ndarray]:
    """Cut one source tensor along ``axis`` into ``sizes`` (equal parts when absent), one per target."""
    axis, n = st.axis or 0, len(st.dsts)
    if not -a.ndim <= axis < a.ndim:
        raise ConversionError(f"{st.srcs[0]}: split axis {axis} outside a {a.ndim}-d tensor {list(a.shape)}")
    length = a.shape[axis]
    sizes = list(st.sizes) if st.sizes else [length // n] * n
    if sum(sizes) != length:
        raise ConversionError(f"{st.srcs[0]}: split sizes {sizes} do not add up to dim {axis} = {length}")
    return np.split(a, np.cumsum(sizes)[:-1].tolist(), axis=axis)


def apply_mapping(variables: dict[str, np.ndarray], mapping: dict[str, Any]) -> dict[str, np.ndarray]:
    """Rename, merge/split and re-layout source variables; strict about every name (see expand_rules).

    Merge concatenates the sources, then applies the transform; split cuts the source, then transforms each
    piece; ``axis`` is always in the source (TF) layout.
    """
    out: dict[str, np.ndarray] = {}
    # Channels of the conv feeding a dense layer: the last conv_hwio step before it in rule order.
    last_conv_out = 0
    for st in expand_rules(list(variables), mapping):
        arrays = [variables[s] for s in st.srcs]
        a = _merge(arrays, st.axis or 0, st.srcs) if len(arrays) > 1 else arrays[0]
        pieces = _split(a, st) if len(st.dsts) > 1 else [a]
        label = "+".join(st.srcs)
        for dst, piece in zip(st.dsts, pieces, strict=True):
            if st.transform == "conv_hwio":
                last_conv_out = piece.shape[3] if piece.ndim == 4 else 0
            if st.transform == "dense_after_conv_nhwc":
                if piece.ndim != 2 or not last_conv_out:
                    raise ConversionError(f"{label}: dense_after_conv_nhwc needs a 2-d kernel after a conv rule")
                out[dst] = _nhwc_reorder(piece, last_conv_out, label)
            else:
                out[dst] = _transform(piece, st.transform, label)
    return out


def mapping_fits(names: list[str], mapping: dict[str, Any]) -> bool:
    """True when ``mapping`` takes exactly these source names (no error from :func:`expand_rules`)."""
    try:
        expand_rules(names, mapping)
    except ConversionError:
        return False
    return True


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
    """Mapped tensors -> NetFile; every target name and shape is checked against the model built on the
    ``meta`` device (declared shapes are never allocated)."""
    from boardnet.core.spec import ModelSpec, NetFile

    sd = apply_mapping(variables, mapping)
    config = dict(mapping.get("config") or {})
    if not config and mapping["family"] == "policy_value":
        config = infer_policy_value_config(sd)
    spec = ModelSpec(mapping["family"], config, {"source_mapping": mapping.get("name", "")})
    if model:
        import importlib

        mod, _, cls_name = model.partition(":")
        try:
            cls = getattr(importlib.import_module(mod), cls_name)
        except (ImportError, AttributeError) as e:
            raise ConfigError("model", f"cannot import {model}: {e}") from None
        try:
            with torch.device("meta"):  # shapes only: a declared size never allocates
                net = cls(**config)
        except (TypeError, ValueError) as e:
            raise ConfigError("mapping.config", f"{model} cannot be built: {e}") from None
        target = net.state_dict()
        spec.meta["model_class"] = model
    else:
        from boardnet.core.build import expected_tensors

        target = expected_tensors(spec, "mapping.config")
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


BUILTINS = ("azg_tf1", "azg_keras")  # tried in order by select_mapping when no --mapping is given


def builtin_for(names: set[str]) -> dict[str, Any] | None:
    """The built-in mapping that takes exactly ``names``, if any."""
    for name in BUILTINS:
        m = load_mapping(name)
        if mapping_fits(sorted(names), m):
            m["name"] = name
            return m
    return None


def select_mapping(variables: dict[str, np.ndarray], readable: dict[str, str], mapping: str | None,
                   path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Pick the mapping and the naming of ``variables`` it is written for.

    A file's tensors have their stored keys and, for Keras files and TF2 checkpoints, readable names
    (``readable``: key -> ``layer/variable``). The stored keys are tried first, then the readable names;
    without ``mapping`` the built-ins are tried the same way. When a user mapping fits neither, the naming
    sharing most exact sources with it is kept so that the strict error lists the right names.
    """
    views = [variables]
    if readable:
        views.append({readable.get(k, k): a for k, a in variables.items()})
    if mapping is None:
        for view in views:
            m = builtin_for(set(view))
            if m is not None:
                return view, m
        raise ConversionError(f"{path}: no built-in mapping ({', '.join(BUILTINS)}) fits these variables; "
                              "pass --mapping FILE.yaml")
    m = load_mapping(mapping)
    for view in views:
        if mapping_fits(list(view), m):
            return view, m
    exact = {s for r in m["rules"] for s in (r["src"] if isinstance(r.get("src"), list) else [r.get("src")])}
    return max(views, key=lambda v: len(exact & set(v))), m
