"""lczero-training checkpoints (``tf/tfprocess.py``, TF2 / Keras 2) read without TF: attention-body nets, and
residual (SE-ResNet) nets with an attention policy head (policy encoder layers included).

tfprocess saves ``tf.train.Checkpoint(optimizer, model, global_step, swa_count)`` plus ``listed`` = the SWA
copies of ``model.weights``. In the bundle (tests/lc0/fixtures/lczero_training/README.md):

- model variables: ``model/layer_with_weights-<n>/<kernel|bias|gamma|beta|gate>/.ATTRIBUTES/VARIABLE_VALUE``,
  readable (object-graph ``full_name``) as the Keras names ``embedding/kernel``, ``encoder_1/mha/wq/bias``,
  ``smol_weight_gen/kernel``, ``policy/attention/ppo/kernel``, ``value/dense2/bias`` ...;
- SWA: ``listed/<i>/.ATTRIBUTES/VARIABLE_VALUE`` (readable name only ``Variable``), ``i`` = position in
  ``model.weights`` = layers in ``layer_with_weights`` order, each layer's variables in creation order
  (kernel, bias / gamma, beta / gate);
- SGD momentum slots, ``optimizer/*``, ``global_step``, ``swa_count``, ``save_counter``: not weights.

The result is a NetFile of family ``lc0_transformer`` (attention body) or ``lc0`` (residual body) with the same
tensors lczero-training's ``net.py`` writes to ``.pb.gz`` (``fill_net_v2``), but float32 where net.py quantizes
to LINEAR16: Keras dense kernels ``[in, out]`` transposed to ``[out, in]``, convolution kernels ``[kh, kw, in,
out]`` to ``[out, in, kh, kw]``, the gates ``[64, E]`` to lc0's ``[E, 64]``, BatchNorm kept unfolded (moving
mean / variance; gamma 1 where tfprocess builds the layer with ``scale=False``), and, for input formats before
``..._HECTOPLIES`` (4), the weights of input plane 109 (embedding or input convolution) divided by 99
(lczero-training trains on rule-50 / 99, engines feed the raw count).
A checkpoint does not record activations, head count or input type: they come from the YAML config the net
was trained with (``train_config``; its ``model:`` section, lczero-training's defaults for absent keys).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from boardnet.core.errors import ConfigError, ConversionError
from boardnet.tfimport.bundle import read_variables
from boardnet.tfimport.object_graph import checkpoint_readable_names

# Variables only an lczero-training model has (Keras layer names from tfprocess.py): per body, and the head.
BODY_MARKERS = {"attention": ("embedding/kernel", "encoder_1/mha/wq/kernel"),
                "residual": ("input/conv2d/kernel", "input/bn/moving_variance")}
HEAD_MARKER = "value/dense2/kernel"
_MODEL_KEY = re.compile(r"^model/layer_with_weights-(\d+)/(\w+)/\.ATTRIBUTES/VARIABLE_VALUE$")
_SWA_KEY = re.compile(r"^listed/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE$")
# creation order inside one Keras layer (Dense, LayerNormalization / BatchNormalization, Gating)
_VAR_ORDER = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance", "gate")
RULE50_PLANE = 109
HECTOPLIES = 4  # INPUT_112_WITH_CANONICALIZATION_HECTOPLIES: from here on the net takes rule50 / 100 itself
# tfprocess input_type -> pblczero.NetworkFormat.InputFormat
INPUT_TYPES = {"classic": 1, "frc_castling": 2, "canonical": 3, "canonical_100": 4, "canonical_armageddon": 132,
               "canonical_v2": 5, "canonical_v2_armageddon": 133}
# Keras activation names tfprocess passes to smolgen Dense layers -> Lc0Transformer names (lc0 enums net.py sets)
SMOLGEN_ACTIVATIONS = {"swish": "swish", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "selu": "selu",
                       "mish": "mish"}
_MAX_CONFIG_BYTES = 1 << 20


def body_kind(names: Iterable[str]) -> str | None:
    """``"attention"`` or ``"residual"``: the body of the lczero-training model these readable variable names
    belong to; None when they are not an lczero-training model's."""
    have = set(names)
    if HEAD_MARKER not in have:
        return None
    return next((kind for kind, marks in BODY_MARKERS.items() if all(m in have for m in marks)), None)


def looks_like_lczero(names: Iterable[str]) -> bool:
    """Whether a checkpoint's readable variable names are those of an lczero-training model."""
    return body_kind(names) is not None


# --------------------------------------------------------------------------------------------- variables


def model_weight_keys(keys: Iterable[str]) -> list[str]:
    """The checkpoint keys of the model variables in ``model.weights`` order (the order of ``listed/<i>``)."""
    found = []
    for k in keys:
        m = _MODEL_KEY.match(k)
        if m:
            attr = m.group(2)
            rank = _VAR_ORDER.index(attr) if attr in _VAR_ORDER else len(_VAR_ORDER)
            found.append((int(m.group(1)), rank, attr, k))
    return [k for *_, k in sorted(found)]


def swa_keys(keys: Iterable[str]) -> list[str]:
    """``listed/<i>`` checkpoint keys by ``i``."""
    found = [(int(m.group(1)), k) for k in keys if (m := _SWA_KEY.match(k))]
    return [k for _, k in sorted(found)]


def read_weights(path: str | os.PathLike[str], swa: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """Keras name (``encoder_1/mha/wq/kernel``) -> array as stored, raw or SWA; and ``global_step`` (-1 if absent).

    SWA copies are paired with the model variables by position and must match them in count and shape.
    """
    everything = read_variables(path)
    readable = checkpoint_readable_names(path)
    order = model_weight_keys(everything)
    if not order:
        raise ConversionError(f"{path}: no model/layer_with_weights-* variables (not a tfprocess.py checkpoint)")
    source = dict(zip(order, order, strict=True))
    if swa:
        listed = swa_keys(everything)
        if not listed:
            raise ConversionError(f"{path}: --swa asked for, but the checkpoint holds no SWA weights (listed/<i>); "
                                  "it was trained with training.swa off")
        if len(listed) != len(order):
            raise ConversionError(f"{path}: {len(listed)} SWA tensors (listed/<i>) for {len(order)} model variables")
        for var, copy in zip(order, listed, strict=True):
            if everything[var].shape != everything[copy].shape:
                raise ConversionError(f"{path}: SWA tensor {copy} {list(everything[copy].shape)} does not match "
                                      f"model variable {readable.get(var, var)} {list(everything[var].shape)}")
        source = dict(zip(order, listed, strict=True))
    out = {}
    for var in order:
        name = readable.get(var)
        if not name:
            raise ConversionError(f"{path}: model variable {var} has no name in the object graph")
        out[name] = np.asarray(everything[source[var]], dtype=np.float32)
    step = everything.get("global_step/.ATTRIBUTES/VARIABLE_VALUE")
    return out, int(step) if step is not None else -1


# --------------------------------------------------------------------------------------------- training config


def read_train_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``model:`` section of an lczero-training YAML config."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_CONFIG_BYTES:
            raise ConfigError(str(p), f"training config larger than {_MAX_CONFIG_BYTES} bytes")
        raw = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(str(p), f"cannot read training config: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(str(p), f"invalid YAML: {e}") from None
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict):
        raise ConfigError(f"{p}: model", "an lczero-training config needs a 'model:' section")
    return model


def _positive(model: dict[str, Any], key: str, default: int, where: str) -> int:
    value = model.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: model.{key}", f"expected a positive integer, got {value!r}")
    return value


def format_options(model: dict[str, Any], where: str) -> dict[str, Any]:
    """Options a checkpoint does not record, from tfprocess's ``model:`` keys and its defaults for absent keys.

    Returns ``encoder_heads``, ``pol_encoder_heads``, ``activation``, ``ffn_activation``, ``smolgen_activation``,
    ``input_format``, ``value``, ``moves_left``, ``arc_encoding``.
    """
    def get(key: str, default: Any, allowed: Iterable[Any]) -> Any:
        value = model.get(key, default)
        if value not in allowed:
            raise ConfigError(f"{where}: model.{key}", f"{value!r} is not one of {sorted(map(str, allowed))}")
        return value

    if get("policy", "convolution", ("attention", "convolution", "classical")) != "attention":
        raise ConfigError(f"{where}: model.policy", "only attention-policy nets are read (an attention body "
                          "requires it; residual nets with convolution or classical policy heads are not read)")
    default = get("default_activation", "relu", ("relu", "mish"))
    return {"encoder_heads": _positive(model, "encoder_heads", 2, where),
            "pol_encoder_heads": _positive(model, "pol_encoder_heads", 2, where), "activation": default,
            "ffn_activation": "relu2" if get("square_relu_ffn", False, (True, False)) else default,
            "smolgen_activation": SMOLGEN_ACTIVATIONS[get("smolgen_activation", "swish", SMOLGEN_ACTIVATIONS)],
            "input_format": INPUT_TYPES[get("input_type", "classic", INPUT_TYPES)],
            "value": get("value", "wdl", ("wdl", "classical")),
            "moves_left": get("moves_left", "v1", ("v1", "none")) == "v1",
            "arc_encoding": get("arc_encoding", True, (True, False))}


# --------------------------------------------------------------------------------------------- mapping


# A mapping row: (Keras name, state-dict key, how): how "" copies, "T" transposes a dense kernel or gate, "C" turns
# a convolution kernel [kh, kw, in, out] into [out, in, kh, kw], "?" copies a variable tfprocess may not create
# (BatchNorm gamma with scale=False: lc0's default 1 is filled in).


def _dense(src: str, dst: str) -> list[tuple[str, str, str]]:
    """Keras Dense ``src`` -> nn.Linear ``dst``: kernel ``[in, out]`` transposed, bias copied."""
    return [(f"{src}/kernel", f"{dst}.weight", "T"), (f"{src}/bias", f"{dst}.bias", "")]


def _ln(src: str, dst: str) -> list[tuple[str, str, str]]:
    return [(f"{src}/gamma", f"{dst}.weight", ""), (f"{src}/beta", f"{dst}.bias", "")]


def _encoder(src: str, dst: str) -> list[tuple[str, str, str]]:
    """tfprocess ``encoder_layer`` (MHA, ln1, FFN, ln2) without smolgen -> an encoder layer's state-dict keys."""
    rows = []
    for s, d in (("wq", "q"), ("wk", "k"), ("wv", "v"), ("dense", "dense")):
        rows += _dense(f"{src}/mha/{s}", f"{dst}.mha.{d}")
    rows += _ln(f"{src}/ln1", f"{dst}.ln1") + _dense(f"{src}/ffn/dense1", f"{dst}.ffn.dense1")
    return rows + _dense(f"{src}/ffn/dense2", f"{dst}.ffn.dense2") + _ln(f"{src}/ln2", f"{dst}.ln2")


def _conv_bn(src: str, dst: str) -> list[tuple[str, str, str]]:
    """tfprocess conv (no bias) + BatchNorm ``src/conv2d``, ``src/bn`` -> Lc0Net ConvBlock ``dst``."""
    return [(f"{src}/conv2d/kernel", f"{dst}.conv.weight", "C"), (f"{src}/bn/gamma", f"{dst}.bn.weight", "?"),
            (f"{src}/bn/beta", f"{dst}.bn.bias", ""), (f"{src}/bn/moving_mean", f"{dst}.bn.running_mean", ""),
            (f"{src}/bn/moving_variance", f"{dst}.bn.running_var", "")]


def residual_table(blocks: int, se: bool, pol_layers: int, moves_left: bool) -> list[tuple[str, str, str]]:
    """Every mapping row of a tfprocess residual body (``create_residual_body``) with the attention policy head
    (``policy/embedding``, ``policy/enc_layer_<i>``, ``policy/attention/*``) and the convolutional value and
    moves-left heads, onto :class:`boardnet.lc0.net.Lc0Net`'s state dict."""
    rows = _conv_bn("input", "input")
    for i in range(blocks):
        src, dst = f"residual_{i + 1}", f"residual.{i}"
        rows += _conv_bn(f"{src}/1", f"{dst}.conv1") + _conv_bn(f"{src}/2", f"{dst}.conv2")
        if se:
            rows += _dense(f"{src}/se/se/dense1", f"{dst}.se.fc1") + _dense(f"{src}/se/se/dense2", f"{dst}.se.fc2")
    pol = "attn_policy"
    rows += _dense("policy/embedding", f"{pol}.ip_pol")
    for i in range(pol_layers):
        rows += _encoder(f"policy/enc_layer_{i + 1}", f"{pol}.pol_encoder.{i}")
    rows += _dense("policy/attention/wq", f"{pol}.ip2_pol") + _dense("policy/attention/wk", f"{pol}.ip3_pol")
    rows.append(("policy/attention/ppo/kernel", f"{pol}.ip4_pol.weight", "T"))
    rows += _conv_bn("value", "value") + _dense("value/dense1", "ip1_val") + _dense("value/dense2", "ip2_val")
    if moves_left:
        rows += _conv_bn("moves_left", "moves_left") + _dense("moves_left/dense1", "ip1_mov")
        rows += _dense("moves_left/dense2", "ip2_mov")
    return rows


def tensor_table(layers: int, smolgen: bool, moves_left: bool, gating: bool) -> list[tuple[str, str, str]]:
    """Every mapping row (Keras name, Lc0Transformer state-dict key, how) of a tfprocess attention body.

    Names as ``tf/net.py`` (``tf_name_to_pb_name``) pairs them with net.proto fields.
    """
    rows = _dense("embedding", "embedding.dense")
    if gating:
        rows += [("embedding/mult_gate/gate", "embedding.mult_gate", "T"),
                 ("embedding/add_gate/gate", "embedding.add_gate", "T")]
    for i in range(layers):
        src, dst = f"encoder_{i + 1}", f"encoder.{i}"
        rows += _encoder(src, dst)
        if smolgen:
            sg, dg = f"{src}/mha/smolgen", f"{dst}.mha.smolgen"
            rows.append((f"{sg}/compress/kernel", f"{dg}.compress.weight", "T"))
            rows += _dense(f"{sg}/hidden1_dense", f"{dg}.dense1") + _ln(f"{sg}/hidden1_ln", f"{dg}.ln1")
            rows += _dense(f"{sg}/gen_from", f"{dg}.dense2") + _ln(f"{sg}/gen_from_ln", f"{dg}.ln2")
    if smolgen:
        rows.append(("smol_weight_gen/kernel", "smolgen_w.weight", "T"))
    pol = "policy_heads.vanilla"
    rows += _dense("policy/embedding", f"{pol}.ip_pol") + _dense("policy/attention/wq", f"{pol}.ip2_pol")
    rows += _dense("policy/attention/wk", f"{pol}.ip3_pol")
    rows.append(("policy/attention/ppo/kernel", f"{pol}.ip4_pol.weight", "T"))
    val = "value_heads.winner"
    rows += _dense("value/embedding", f"{val}.ip_val") + _dense("value/dense1", f"{val}.ip1_val")
    rows += _dense("value/dense2", f"{val}.ip2_val")
    if moves_left:
        rows += _dense("moves_left/embedding", "moves_left.ip_mov") + _dense("moves_left/dense1", "moves_left.ip1_mov")
        rows += _dense("moves_left/dense2", "moves_left.ip2_mov")
    return rows


def _size(w: dict[str, np.ndarray], name: str, axis: int, path: str | os.PathLike[str]) -> int:
    if name not in w:
        raise ConversionError(f"{path}: lczero-training attention body without variable {name}")
    return int(w[name].shape[axis])


def _count(w: dict[str, np.ndarray], pattern: str) -> int:
    """How many consecutive ``pattern.format(1), pattern.format(2), ...`` variables there are."""
    n = 0
    while pattern.format(n + 1) in w:
        n += 1
    return n


def _head_config(w: dict[str, np.ndarray], cfg: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Check the value / moves-left variables against the training config's ``value`` and ``moves_left``."""
    outputs = _size(w, "value/dense2/kernel", 1, path)
    if outputs != (3 if cfg["value"] == "wdl" else 1):
        raise ConversionError(f"{path}: value/dense2 has {outputs} outputs but the training config says value "
                              f"{cfg['value']!r}")
    has_mlh = "moves_left/dense2/kernel" in w
    if has_mlh != cfg["moves_left"]:
        raise ConversionError(f"{path}: the training config says moves_left {'v1' if cfg['moves_left'] else 'none'} "
                              f"but the checkpoint {'has' if has_mlh else 'has no'} moves_left/* variables")


def infer_residual_config(w: dict[str, np.ndarray], opts: dict[str, Any], path: str | os.PathLike[str]
                          ) -> dict[str, Any]:
    """Lc0Net keyword arguments of a residual body with an attention policy, from the variables' shapes and the
    training config's options (policy encoder heads, activation, value / moves-left formats, input format)."""
    cfg: dict[str, Any] = {k: opts[k] for k in ("activation", "value", "moves_left", "input_format")}
    kernel = w.get("input/conv2d/kernel")
    if kernel is None or kernel.ndim != 4 or kernel.shape[2] != 112:
        got = "absent" if kernel is None else list(kernel.shape)
        raise ConversionError(f"{path}: input/conv2d/kernel is {got}; an lc0 residual body takes [3, 3, 112, F]")
    blocks = _count(w, "residual_{}/1/conv2d/kernel")
    se = blocks > 0 and "residual_1/se/se/dense1/kernel" in w
    cfg.update(policy="attention", blocks=blocks, filters=int(kernel.shape[3]),
               se_channels=_size(w, "residual_1/se/se/dense1/kernel", 1, path) if se else 0,
               pol_embedding_size=_size(w, "policy/embedding/kernel", 1, path),
               policy_d_model=_size(w, "policy/attention/wq/kernel", 1, path),
               pol_encoder_layers=_count(w, "policy/enc_layer_{}/mha/wq/kernel"))
    if cfg["pol_encoder_layers"]:
        heads, d_model = opts["pol_encoder_heads"], _size(w, "policy/enc_layer_1/mha/wq/kernel", 1, path)
        if d_model % heads:
            raise ConversionError(f"{path}: pol_encoder_heads {heads} (training config) does not divide the policy "
                                  f"encoder d_model {d_model} (policy/enc_layer_1/mha/wq/kernel)")
        cfg.update(pol_encoder_heads=heads, pol_encoder_d_model=d_model,
                   pol_encoder_dff=_size(w, "policy/enc_layer_1/ffn/dense1/kernel", 1, path))
    cfg.update(value_channels=_size(w, "value/conv2d/kernel", 3, path),
               value_hidden=_size(w, "value/dense1/kernel", 1, path))
    _head_config(w, cfg, path)
    if cfg["moves_left"]:
        cfg.update(mlh_channels=_size(w, "moves_left/conv2d/kernel", 3, path),
                   mlh_hidden=_size(w, "moves_left/dense1/kernel", 1, path))
    return cfg


def infer_config(w: dict[str, np.ndarray], opts: dict[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """Lc0Transformer keyword arguments from the variables' shapes and the training config's options."""
    if not opts["arc_encoding"]:
        raise ConversionError(f"{path}: arc_encoding false (training config) has no lc0 equivalent (lc0 PE_MAP "
                              "always concatenates the 64 position-encoding inputs)")
    layers = 0
    while f"encoder_{layers + 1}/mha/wq/kernel" in w:
        layers += 1
    heads, d_model = opts["encoder_heads"], _size(w, "encoder_1/mha/wq/kernel", 1, path)
    if d_model % heads:
        raise ConversionError(f"{path}: encoder_heads {heads} (training config) does not divide the encoder "
                              f"d_model {d_model} (encoder_1/mha/wq/kernel)")
    emb = _size(w, "embedding/kernel", 1, path)
    emb_in = _size(w, "embedding/kernel", 0, path)
    if emb_in != 112 + 64:
        raise ConversionError(f"{path}: embedding/kernel takes {emb_in} inputs; lc0's PE_MAP embedding takes "
                              "112 planes + 64 position-encoding values = 176")
    cfg: dict[str, Any] = {k: opts[k] for k in ("activation", "ffn_activation", "smolgen_activation", "value",
                                                "moves_left", "input_format")}
    cfg.update(embedding="pe_map", embedding_size=emb, encoder_layers=layers, encoder_heads=heads,
               encoder_d_model=d_model, encoder_dff=_size(w, "encoder_1/ffn/dense1/kernel", 1, path),
               gating="embedding/mult_gate/gate" in w, multihead=False, policy_embedding_size=0)
    if "smol_weight_gen/kernel" in w:
        gen_out = _size(w, "encoder_1/mha/smolgen/gen_from/kernel", 1, path)
        if gen_out % heads:
            raise ConversionError(f"{path}: smolgen gen_from width {gen_out} is not a multiple of encoder_heads "
                                  f"{heads} (training config)")
        cfg["smolgen"] = {"channels": _size(w, "encoder_1/mha/smolgen/compress/kernel", 1, path),
                          "hidden": _size(w, "encoder_1/mha/smolgen/hidden1_dense/kernel", 1, path),
                          "gen": gen_out // heads}
    else:
        cfg["smolgen"] = None
    cfg["policy_heads"] = {"vanilla": {"d_model": _size(w, "policy/attention/wq/kernel", 1, path),
                                       "embedding_size": _size(w, "policy/embedding/kernel", 1, path)}}
    cfg["value_heads"] = {"winner": {"channels": _size(w, "value/embedding/kernel", 1, path),
                                     "hidden": _size(w, "value/dense1/kernel", 1, path)}}
    _head_config(w, cfg, path)
    if cfg["moves_left"]:
        cfg.update(mlh_channels=_size(w, "moves_left/embedding/kernel", 1, path),
                   mlh_hidden=_size(w, "moves_left/dense1/kernel", 1, path))
    return cfg


def to_state_dict(w: dict[str, np.ndarray], rows: list[tuple[str, str, str]], input_format: int, body: str,
                  path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Keras variables -> the model's tensors (as lc0 stores them) by mapping ``rows``; every variable used
    exactly once. A ``"?"`` row's absent variable is left out (the caller fills lc0's default)."""
    left = dict(w)
    out = {}
    for src, dst, how in rows:
        if src not in left:
            if how == "?":
                continue
            raise ConversionError(f"{path}: lczero-training {body} body without variable {src}")
        a = left.pop(src)
        a = a.T.copy() if how == "T" else a.transpose(3, 2, 0, 1).copy() if how == "C" else a.copy()
        if src in ("embedding/kernel", "input/conv2d/kernel") and input_format < HECTOPLIES:
            a[:, RULE50_PLANE] /= 99  # net.py fill_net_v2: the net trained on rule50 / 99, engines feed the count
        out[dst] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if left:
        raise ConversionError(f"{path}: variables this {body}-body mapping does not place: {sorted(left)[:8]}"
                              + (" (policy encoder layers belong to residual bodies)"
                                 if body == "attention" and any(n.startswith("policy/enc_layer_") for n in left)
                                 else ""))
    return out


def _spec_and_state(weights: dict[str, np.ndarray], opts: dict[str, Any], path: str | os.PathLike[str]
                    ) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """(family, config, mapped tensors) for the body the variables are of."""
    body = body_kind(weights)
    if body == "residual":
        cfg = infer_residual_config(weights, opts, path)
        rows = residual_table(cfg["blocks"], cfg["se_channels"] > 0, cfg["pol_encoder_layers"], cfg["moves_left"])
        return "lc0", cfg, to_state_dict(weights, rows, cfg["input_format"], body, path)
    if body == "attention":
        cfg = infer_config(weights, opts, path)
        rows = tensor_table(cfg["encoder_layers"], cfg["smolgen"] is not None, cfg["moves_left"], cfg["gating"])
        return "lc0_transformer", cfg, to_state_dict(weights, rows, cfg["input_format"], body, path)
    found = [m for marks in BODY_MARKERS.values() for m in (*marks, HEAD_MARKER) if m not in weights]
    raise ConversionError(f"{path}: not an lczero-training attention or residual model (no {found[0]})")


def _fill_defaults(state: dict[str, torch.Tensor], target: dict[str, torch.Size]) -> None:
    """lc0's defaults for what tfprocess does not create: BatchNorm gamma 1 (``scale=False``), and PyTorch's
    ``num_batches_tracked`` counters."""
    for key, shape in target.items():
        if key not in state and key.endswith("bn.weight"):
            state[key] = torch.ones(shape)
        elif key not in state and key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.long)


def read_net(path: str | os.PathLike[str], swa: bool = False,
             train_config: str | os.PathLike[str] | None = None):  # noqa: ANN201 - NetFile
    """An lczero-training checkpoint as a NetFile (raw or ``swa`` weights): family ``lc0_transformer`` for an
    attention body, ``lc0`` for a residual body with an attention policy.

    ``train_config`` is the YAML the net was trained with; it is required, since the checkpoint does not
    record activations, head counts or input type.
    """
    from boardnet.core.build import build_from_spec
    from boardnet.core.spec import ModelSpec, NetFile

    if train_config is None:
        raise ConversionError(f"{path}: an lczero-training checkpoint does not record its activations, head count "
                              "or input type; pass --train-config CONFIG.yaml (the YAML it was trained with)")
    opts = format_options(read_train_config(train_config), str(train_config))
    weights, step = read_weights(path, swa)
    family, cfg, state = _spec_and_state(weights, opts, path)
    meta: dict[str, Any] = {"source": "lczero-training", "weights": "swa" if swa else "raw"}
    if step >= 0:
        meta["training_params"] = {"training_steps": step}
    spec = ModelSpec(family, cfg, meta)
    with torch.device("meta"):  # shapes only
        target = {k: v.shape for k, v in build_from_spec(spec).state_dict().items()}
    _fill_defaults(state, target)
    if set(target) != set(state):
        raise ConversionError(f"{path}: mapped tensors do not fit {family}: missing "
                              f"{sorted(set(target) - set(state))}, unknown {sorted(set(state) - set(target))}")
    for k, t in state.items():
        if t.shape != target[k]:
            raise ConversionError(f"{path}: {k} has shape {list(t.shape)}; the model needs {list(target[k])}")
    return NetFile(spec, state)
