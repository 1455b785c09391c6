"""lc0 ``.pb.gz`` weights (shared/specs/lc0.md §1–§4): a gzip stream of one ``pblczero.Net`` protobuf.

Reading returns a :class:`~boardnet.core.spec.NetFile` for :class:`boardnet.lc0.net.Lc0Net`; writing encodes
LINEAR16 (what lc0 v0.31/v0.32 read) or FLOAT32 (lc0 master's per-layer ``encoding``). Supported: networks
CLASSICAL/SE (with or without head format), policy CONVOLUTION/CLASSICAL/ATTENTION (with policy encoder
layers), value WDL/CLASSICAL, moves-left V1, RELU/MISH. Attention bodies (encoder layers) are handed to
:mod:`boardnet.lc0.transformer_weights`.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from google.protobuf.message import DecodeError

from boardnet.core.errors import FormatError
from boardnet.core.io import atomic_write
from boardnet.core.spec import ModelSpec, NetFile
from boardnet.lc0 import net_pb2 as pb
from boardnet.lc0.bounds import check_count
from boardnet.lc0.fma import fma_f32
from boardnet.lc0.transformer_weights import (
    attention_message,
    describe,
    fill_training_params,
    is_attention_body,
    read_attention,
)

MAGIC = 0x1C0  # §1: lc0 rejects any other value
MAX_UNCOMPRESSED = 2 << 30  # refuse absurd gzip bombs before protobuf parses them
NF = pb.NetworkFormat
POLICY_NAMES = {NF.POLICY_CONVOLUTION: "convolution", NF.POLICY_CLASSICAL: "classical",
                NF.POLICY_ATTENTION: "attention"}
VALUE_NAMES = {NF.VALUE_WDL: "wdl", NF.VALUE_CLASSICAL: "classical"}
CONVBLOCK_FIELDS = (("weights", "conv.weight"), ("biases", "conv.bias"), ("bn_means", "bn.running_mean"),
                    ("bn_stddivs", "bn.running_var"), ("bn_gammas", "bn.weight"), ("bn_betas", "bn.bias"))
SE_FIELDS = (("w1", "fc1.weight"), ("b1", "fc1.bias"), ("w2", "fc2.weight"), ("b2", "fc2.bias"))
DENSE_FIELDS = (("ip_pol", "ip_pol"), ("ip1_val", "ip1_val"), ("ip2_val", "ip2_val"),
                ("ip1_mov", "ip1_mov"), ("ip2_mov", "ip2_mov"))
ATTN_PREFIX = "attn_policy."  # §1 attention-policy fields -> AttentionPolicy's state-dict names
ATTN_FIELDS = (("ip_pol_w", "ip_pol.weight"), ("ip_pol_b", "ip_pol.bias"), ("ip2_pol_w", "ip2_pol.weight"),
               ("ip2_pol_b", "ip2_pol.bias"), ("ip3_pol_w", "ip3_pol.weight"), ("ip3_pol_b", "ip3_pol.bias"),
               ("ip4_pol_w", "ip4_pol.weight"))
ENCODER_FIELDS = tuple((f"mha.{n}_{wb}", f"mha.{m}.{key}") for n, m in (("q", "q"), ("k", "k"), ("v", "v"),
                                                                      ("dense", "dense"))
                       for wb, key in (("w", "weight"), ("b", "bias"))) + (
    ("ln1_gammas", "ln1.weight"), ("ln1_betas", "ln1.bias"), ("ffn.dense1_w", "ffn.dense1.weight"),
    ("ffn.dense1_b", "ffn.dense1.bias"), ("ffn.dense2_w", "ffn.dense2.weight"), ("ffn.dense2_b", "ffn.dense2.bias"),
    ("ln2_gammas", "ln2.weight"), ("ln2_betas", "ln2.bias"))


def _sublayer(msg: Any, dotted: str) -> Any:
    """``_sublayer(enc, "mha.q_w")`` -> ``enc.mha.q_w``."""
    for part in dotted.split("."):
        msg = getattr(msg, part)
    return msg


def _load_proto(path: Path) -> Any:
    """Gunzip and parse; every failure becomes one FormatError naming the file."""
    from boardnet.core.io import open_user_file
    from boardnet.lc0.chunks import inflate_bounded

    with open_user_file(path) as fh:
        if path.name.endswith(".gz") and fh.read(2) != b"\x1f\x8b":
            raise FormatError(path, "not a gzip stream (no gzip magic)", offset=0)
        fh.seek(0)
        raw = inflate_bounded(fh, path, MAX_UNCOMPRESSED, "net")
    net = pb.Net()
    try:
        net.ParseFromString(raw)
    except DecodeError as err:
        raise FormatError(path, f"truncated or corrupt protobuf ({err})") from None
    if net.magic != MAGIC:
        raise FormatError(path, f"bad magic 0x{net.magic:x}; expected 0x{MAGIC:x}", field="magic", offset=0)
    return net


def _layer_values(path: Path, layer: Any, field: str) -> np.ndarray:
    """Decode one ``Layer`` to float32 (§2). LINEAR16 as lc0 v0.31.2 computes it: ``u / 65535.0f * (max − min) +
    min``, the last multiply-add fused into one rounding (:mod:`boardnet.lc0.fma`); two roundings make the input
    conv's tiny rule-50 weights up to 1.5e-8 off, which the raw count 99 turns into 1.2e-4 on maia's logits."""
    enc = layer.encoding if layer.HasField("encoding") else pb.Weights.Layer.LINEAR16
    params = layer.params
    if enc == pb.Weights.Layer.FLOAT32:
        if len(params) % 4:
            raise FormatError(path, f"FLOAT32 params of {len(params)} bytes", field=field)
        return np.frombuffer(params, dtype="<f4").astype(np.float32)
    if enc in (pb.Weights.Layer.FLOAT16, pb.Weights.Layer.BFLOAT16):
        if len(params) % 2:
            raise FormatError(path, f"16-bit params of odd length {len(params)}", field=field)
        u = np.frombuffer(params, dtype="<u2")
        if enc == pb.Weights.Layer.FLOAT16:
            return u.view("<f2").astype(np.float32)
        return (u.astype(np.uint32) << 16).view(np.float32)
    if enc != pb.Weights.Layer.LINEAR16:
        raise FormatError(path, f"unknown layer encoding {enc}", field=field)
    if len(params) % 2:
        raise FormatError(path, f"LINEAR16 params of odd length {len(params)}", field=field)
    u = np.frombuffer(params, dtype="<u2").astype(np.float32)
    lo, hi = np.float32(layer.min_val), np.float32(layer.max_val)
    return fma_f32(u / np.float32(65535.0), hi - lo, lo)


def _conv_block_tensors(path: Path, block: Any, field: str) -> dict[str, np.ndarray]:
    """The present layers of a ``ConvBlock`` keyed by the model's names (``conv.weight``, ``bn.running_var``...)."""
    return {key: _layer_values(path, getattr(block, name), f"{field}.{name}")
            for name, key in CONVBLOCK_FIELDS if getattr(block, name).params}


def _formats(path: Path, net: Any) -> dict[str, Any]:
    """Resolve the format enums (with lc0's legacy upgrade) into Lc0Net options; refuse what is not supported."""
    nf = net.format.network_format
    network = nf.network if nf.HasField("network") else NF.NETWORK_CLASSICAL
    if network in (NF.NETWORK_CLASSICAL, NF.NETWORK_SE):  # §1 legacy upgrade: classical heads
        policy, value = NF.POLICY_CLASSICAL, NF.VALUE_CLASSICAL
    elif network in (NF.NETWORK_CLASSICAL_WITH_HEADFORMAT, NF.NETWORK_SE_WITH_HEADFORMAT):
        policy, value = nf.policy, nf.value
    else:
        raise FormatError(path, f"unsupported network format {NF.NetworkStructure.Name(network)}",
                          field="format.network_format.network")
    if net.weights.encoder:
        raise FormatError(path, "unsupported network format: attention body (encoder layers)", field="weights.encoder")
    if policy not in POLICY_NAMES:
        raise FormatError(path, f"unsupported policy format {NF.PolicyFormat.Name(policy)}",
                          field="format.network_format.policy")
    if value not in VALUE_NAMES:
        raise FormatError(path, f"unsupported value format {NF.ValueFormat.Name(value)}",
                          field="format.network_format.value")
    return {"policy": POLICY_NAMES[policy], "value": VALUE_NAMES[value],
            "moves_left": nf.moves_left == NF.MOVES_LEFT_V1,
            "activation": "mish" if nf.default_activation == NF.DEFAULT_ACTIVATION_MISH else "relu",
            "input_format": int(nf.input) or 1}


def _raw_tensors(path: Path, w: Any, opts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every weight in the file as flat float32 arrays under the model's state-dict names."""
    out: dict[str, np.ndarray] = {}
    blocks = [("input", w.input, "input")]
    for i, res in enumerate(w.residual):
        blocks += [(f"residual.{i}.conv1", res.conv1, f"residual[{i}].conv1"),
                   (f"residual.{i}.conv2", res.conv2, f"residual[{i}].conv2")]
        for name, key in SE_FIELDS:
            if getattr(res.se, name).params:
                out[f"residual.{i}.se.{key}"] = _layer_values(path, getattr(res.se, name), f"residual[{i}].se.{name}")
    if opts["policy"] == "convolution":
        blocks.append(("policy1", w.policy1, "policy1"))
    if opts["policy"] == "attention":
        out.update(_attention_tensors(path, w))
    else:
        blocks.append(("policy", w.policy, "policy"))
    blocks.append(("value", w.value, "value"))
    if opts["moves_left"]:
        blocks.append(("moves_left", w.moves_left, "moves_left"))
    for prefix, block, field in blocks:
        for key, arr in _conv_block_tensors(path, block, field).items():
            out[f"{prefix}.{key}"] = arr
    for field, prefix in DENSE_FIELDS:
        if field == "ip_pol" and opts["policy"] == "attention":
            continue
        for suffix, key in (("_w", "weight"), ("_b", "bias")):
            layer = getattr(w, field + suffix)
            if layer.params:
                out[f"{prefix}.{key}"] = _layer_values(path, layer, field + suffix)
    return out


def _attention_tensors(path: Path, w: Any) -> dict[str, np.ndarray]:
    """The attention policy's dense layers and policy encoder layers (smolgen / RPE refused: lc0 has none there)."""
    out = {ATTN_PREFIX + key: _layer_values(path, getattr(w, field), field)
           for field, key in ATTN_FIELDS if getattr(w, field).params}
    for i, enc in enumerate(w.pol_encoder):
        if enc.mha.HasField("smolgen") or enc.mha.rpe_q.params or enc.mha.rpe_k.params or enc.mha.rpe_v.params:
            raise FormatError(path, "unsupported policy encoder layer: smolgen / relative position encoding",
                              field=f"pol_encoder[{i}].mha")
        for field, key in ENCODER_FIELDS:
            layer = _sublayer(enc, field)
            if layer.params:
                out[f"{ATTN_PREFIX}pol_encoder.{i}.{key}"] = _layer_values(path, layer, f"pol_encoder[{i}].{field}")
    return out


def _config(path: Path, w: Any, opts: dict[str, Any], raw: dict[str, np.ndarray]) -> dict[str, Any]:
    """Lc0Net keyword arguments inferred from the layer sizes."""
    if "input.bn.running_mean" not in raw:
        raise FormatError(path, "input conv block has no BatchNorm means", field="input.bn_means")
    cfg = dict(opts, blocks=len(w.residual), filters=int(raw["input.bn.running_mean"].size))
    se = raw.get("residual.0.se.fc1.bias")
    cfg["se_channels"] = int(se.size) if se is not None else 0
    if opts["policy"] == "classical":
        cfg["policy_channels"] = int(raw.get("policy.bn.running_mean", np.zeros(32)).size)
    if opts["policy"] == "attention":
        cfg.update(_attention_config(path, w, raw))
    cfg["value_channels"] = int(raw.get("value.bn.running_mean", np.zeros(32)).size)
    cfg["value_hidden"] = int(raw.get("ip1_val.bias", np.zeros(128)).size)
    if opts["moves_left"]:
        cfg["mlh_channels"] = int(raw.get("moves_left.bn.running_mean", np.zeros(8)).size)
        cfg["mlh_hidden"] = int(raw.get("ip1_mov.bias", np.zeros(128)).size)
    return cfg


def _attention_config(path: Path, w: Any, raw: dict[str, np.ndarray]) -> dict[str, Any]:
    """Attention-policy sizes from the bias lengths (as lc0 does) and ``pol_headcount``."""

    def size(key: str) -> int:
        if ATTN_PREFIX + key not in raw:
            raise FormatError(path, f"attention policy without {key}", field=key)
        return int(raw[ATTN_PREFIX + key].size)

    cfg = {"pol_embedding_size": size("ip_pol.bias"), "policy_d_model": size("ip2_pol.bias"),
           "pol_encoder_layers": len(w.pol_encoder)}
    if w.pol_encoder:
        heads = int(w.pol_headcount)
        d_model, dff = size("pol_encoder.0.mha.q.bias"), size("pol_encoder.0.ffn.dense1.bias")
        if heads <= 0 or d_model % heads:
            raise FormatError(path, f"pol_headcount {heads} does not divide the encoder width {d_model}",
                              field="pol_headcount")
        cfg.update(pol_encoder_heads=heads, pol_encoder_d_model=d_model, pol_encoder_dff=dff)
    return cfg


def _fit(path: Path, raw: dict[str, np.ndarray], template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Shape the flat arrays like the model's tensors; fill BN defaults (γ = 1, β = 0); fold conv biases."""
    state: dict[str, torch.Tensor] = {}
    for key, ref in template.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros((), dtype=torch.long)
            continue
        arr = raw.get(key)
        if arr is None and key.endswith("bn.weight"):
            arr = np.ones(ref.numel(), np.float32)
        elif arr is None and key.endswith("bn.bias"):
            arr = np.zeros(ref.numel(), np.float32)
        if arr is None:
            raise FormatError(path, f"missing tensor for {key} {tuple(ref.shape)}", field=key)
        if arr.size != ref.numel():
            raise FormatError(path, f"{key} has {arr.size} values; the declared shape {tuple(ref.shape)} needs "
                              f"{ref.numel()}", field=key)
        state[key] = torch.from_numpy(arr.copy()).reshape(ref.shape)
    for key, arr in raw.items():
        if key.endswith("conv.bias") and key not in template:  # conv bias before BN: fold into the mean (§3)
            mean = key.replace("conv.bias", "bn.running_mean")
            if mean not in state or arr.size != state[mean].numel():
                raise FormatError(path, f"{key} has no matching BatchNorm", field=key)
            state[mean] = state[mean] - torch.from_numpy(arr.copy())
        elif key not in template:
            raise FormatError(path, f"unexpected tensor {key} for this network format", field=key)
    return state


def _check_declared(path: Path, cfg: dict[str, Any], raw: dict[str, np.ndarray]) -> None:
    """The net the layer sizes declare must fit the documented limits and the values the file holds (checked
    before the net is built: a 1.2 MB file declaring 200k blocks allocated gigabytes)."""
    from boardnet.lc0.bounds import check_config
    from boardnet.lc0.net import Lc0Net

    shapes = check_config(cfg, Lc0Net, path)
    defaults = ("bn.weight", "bn.bias", "num_batches_tracked")  # filled by _fit when absent
    needed = sum(s.numel() for k, s in shapes.items() if not k.endswith(defaults))
    present = sum(a.size for a in raw.values())
    if needed > present:
        raise FormatError(path, f"declares a net of {needed:,} weights but holds {present:,} values", field="weights")


def _check_state(cfg: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
    """A net to write must be within the limits and hold every tensor its config declares, in its shape."""
    from boardnet.core.errors import ConversionError
    from boardnet.lc0.bounds import check_config
    from boardnet.lc0.net import Lc0Net

    for key, shape in check_config(cfg, Lc0Net).items():
        if key.endswith("num_batches_tracked"):
            continue
        if key not in state or tuple(state[key].shape) != tuple(shape):
            got = "missing" if key not in state else f"shape {tuple(state[key].shape)}"
            raise ConversionError(f"lc0 net tensor {key}: {got}; its config needs {tuple(shape)}")


def read_net(path: str | os.PathLike[str]) -> NetFile:
    """Read an lc0 ``.pb.gz`` into a NetFile (family ``lc0``); tensors are float32, BN unfolded."""
    from boardnet.lc0.net import Lc0Net

    path = Path(path)
    net = _load_proto(path)
    w = net.weights
    for key, count in (("blocks", len(w.residual)), ("pol_encoder_layers", len(w.pol_encoder)),
                       ("encoder_layers", len(w.encoder))):
        check_count(key, count, path)  # before any layer is decoded: 200k empty blocks are refused at once
    if net.HasField("onnx_model"):
        raise FormatError(path, "unsupported network format: embedded ONNX model", field="onnx_model")
    if is_attention_body(net):
        return read_attention(path, net, _layer_values)
    opts = _formats(path, net)
    raw = _raw_tensors(path, net.weights, opts)
    cfg = _config(path, net.weights, opts, raw)
    _check_declared(path, cfg, raw)
    template = Lc0Net(**cfg).state_dict()
    meta = {"license": net.license, "min_version": [net.min_version.major, net.min_version.minor,
                                                     net.min_version.patch]}
    if net.HasField("training_params"):
        tp = net.training_params
        meta["training_params"] = {f.name: v for f, v in tp.ListFields()}
    return NetFile(ModelSpec("lc0", cfg, meta), _fit(path, raw, template))


def _encode(layer: Any, values: torch.Tensor, encoding: str) -> None:
    """Fill a ``Layer`` (§2): LINEAR16 with net.py's min/max rules, or raw FLOAT32."""
    p = values.detach().to(torch.float32).reshape(-1).numpy()
    if encoding == "float32":
        layer.encoding = pb.Weights.Layer.FLOAT32
        layer.params = p.astype("<f4").tobytes()
        return
    lo = 0.0 if p.size == 1 else float(p.min())
    hi = 1.0 if (p.size == 1 and float(p.max()) == 0.0) else float(p.max())
    layer.min_val, layer.max_val = lo, hi
    if hi == lo:
        u = np.zeros(p.size, "<u2")
    else:
        u = np.round((p.astype(np.float64) - lo) / (hi - lo) * 65535.0).clip(0, 65535).astype("<u2")
    layer.params = u.tobytes()


def write_net(netfile: NetFile, path: str | os.PathLike[str], encoding: str = "linear16") -> None:
    """Write a NetFile of family ``lc0`` as ``.pb.gz`` (atomically). ``encoding``: linear16 | float32."""
    from boardnet.core.errors import ConversionError

    if netfile.spec.family == "lc0_transformer":
        net = attention_message(netfile, encoding.lower(), _encode)
        net.magic = MAGIC
        data = gzip.compress(net.SerializeToString(), mtime=0)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return
    if netfile.spec.family != "lc0":
        raise ConversionError(f"cannot write a {netfile.spec.family} network as lc0 weights")
    encoding = encoding.lower()
    if encoding not in ("linear16", "float32"):
        raise ConversionError(f"unknown lc0 weights encoding '{encoding}'; expected linear16 or float32")
    cfg, state = netfile.spec.config, netfile.state_dict
    _check_state(cfg, state)
    net = pb.Net(magic=MAGIC, license=str(netfile.spec.meta.get("license", "")))
    net.min_version.major, net.min_version.minor = 0, 29 if cfg.get("activation") == "mish" else 21
    net.format.weights_encoding = pb.Format.LINEAR16
    nf = net.format.network_format
    nf.input = cfg.get("input_format", 1)
    nf.network = NF.NETWORK_SE_WITH_HEADFORMAT if cfg.get("se_channels") else NF.NETWORK_CLASSICAL_WITH_HEADFORMAT
    nf.policy = {v: k for k, v in POLICY_NAMES.items()}[cfg.get("policy", "convolution")]
    nf.value = {v: k for k, v in VALUE_NAMES.items()}[cfg.get("value", "wdl")]
    nf.output = NF.OUTPUT_WDL if cfg.get("value", "wdl") == "wdl" else NF.OUTPUT_CLASSICAL
    nf.moves_left = NF.MOVES_LEFT_V1 if cfg.get("moves_left") else NF.MOVES_LEFT_NONE
    if cfg.get("activation") == "mish":
        nf.default_activation = NF.DEFAULT_ACTIVATION_MISH
    fill_training_params(net, netfile.spec.meta.get("training_params"))
    _fill_weights(net.weights, state, cfg, encoding)
    data = gzip.compress(net.SerializeToString(), mtime=0)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def _fill_weights(w: Any, state: dict[str, torch.Tensor], cfg: dict[str, Any], encoding: str) -> None:
    """Copy the state dict into the ``Weights`` message, field by field (§4 names)."""

    def conv_block(block: Any, prefix: str) -> None:
        for name, key in CONVBLOCK_FIELDS:
            if f"{prefix}.{key}" in state:
                _encode(getattr(block, name), state[f"{prefix}.{key}"], encoding)

    conv_block(w.input, "input")
    for i in range(cfg["blocks"]):
        res = w.residual.add()
        conv_block(res.conv1, f"residual.{i}.conv1")
        conv_block(res.conv2, f"residual.{i}.conv2")
        for name, key in SE_FIELDS:
            if f"residual.{i}.se.{key}" in state:
                _encode(getattr(res.se, name), state[f"residual.{i}.se.{key}"], encoding)
    if cfg.get("policy", "convolution") == "convolution":
        conv_block(w.policy1, "policy1")
    if cfg.get("policy") == "attention":
        _fill_attention(w, state, cfg, encoding)
    else:
        conv_block(w.policy, "policy")
    conv_block(w.value, "value")
    if cfg.get("moves_left"):
        conv_block(w.moves_left, "moves_left")
    for field, prefix in DENSE_FIELDS:
        for suffix, key in (("_w", "weight"), ("_b", "bias")):
            if f"{prefix}.{key}" in state:
                _encode(getattr(w, field + suffix), state[f"{prefix}.{key}"], encoding)


def _fill_attention(w: Any, state: dict[str, torch.Tensor], cfg: dict[str, Any], encoding: str) -> None:
    """Attention-policy dense layers, policy encoder layers and ``pol_headcount`` (§1, §4 names)."""
    for field, key in ATTN_FIELDS:
        _encode(getattr(w, field), state[ATTN_PREFIX + key], encoding)
    for i in range(cfg.get("pol_encoder_layers", 0)):
        enc = w.pol_encoder.add()
        for field, key in ENCODER_FIELDS:
            _encode(_sublayer(enc, field), state[f"{ATTN_PREFIX}pol_encoder.{i}.{key}"], encoding)
    if cfg.get("pol_encoder_layers", 0):
        w.pol_headcount = cfg["pol_encoder_heads"]


def inspect_file(path: str | os.PathLike[str]) -> str:
    """Formats, blocks × filters, SE, heads, parameter count and training parameters of a ``.pb.gz``."""
    nf = read_net(path)
    if nf.spec.family == "lc0_transformer":
        return "\n".join([f"lc0 net {path}", *describe(nf)])
    cfg = nf.spec.config
    params = nf.n_parameters
    lines = [f"lc0 net {path}",
             f"body: {cfg['blocks']} blocks x {cfg['filters']} filters, "
             f"SE {cfg['se_channels'] or 'none'}, activation {cfg['activation']}, input format {cfg['input_format']}",
             f"heads: policy {cfg['policy']}{_attention_summary(cfg)}, value {cfg['value']}, "
             f"moves-left {'yes' if cfg['moves_left'] else 'no'}",
             f"parameters: {params:,}"]
    if nf.spec.meta.get("training_params"):
        lines.append("training: " + ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                              for k, v in nf.spec.meta["training_params"].items()))
    return "\n".join(lines)


def _attention_summary(cfg: dict[str, Any]) -> str:
    """`` (embedding 64, d_model 64, encoder 1 x 4 heads, d 64, dff 128)`` for attention policies, else ``""``."""
    if cfg["policy"] != "attention":
        return ""
    enc = (f"encoder {cfg['pol_encoder_layers']} x {cfg['pol_encoder_heads']} heads, d {cfg['pol_encoder_d_model']}, "
           f"dff {cfg['pol_encoder_dff']}" if cfg["pol_encoder_layers"] else "no encoder")
    return f" (embedding {cfg['pol_embedding_size']}, d_model {cfg['policy_d_model']}, {enc})"
