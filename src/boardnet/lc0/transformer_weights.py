"""lc0 attention-body ("BT") weights in ``.pb.gz`` (shared/specs/lc0.md §1–§2,
shared/fixtures/lc0_transformer/README.md); :mod:`boardnet.lc0.weights` hands these nets over to this module.

Handles ``NETWORK_ATTENTIONBODY_WITH_HEADFORMAT`` (single heads in the top-level ``Weights`` fields),
``NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT`` (``policy_heads`` vanilla / optimistic_st / soft / opponent and
``value_heads`` winner / q / st on one body) and the older files lc0's loader upgrades
(``FixOlderWeightsFile``):
``NETWORK_SE_WITH_HEADFORMAT`` with encoder layers (BT2/BT3; with ``smolgen_w`` the FFN becomes relu² and
smolgen swish), ``NETWORK_AB_LEGACY_WITH_MULTIHEADFORMAT``, single-head-format files carrying both head groups
(-> multihead, PE_DENSE) and an unset ``input_embedding`` (-> PE_MAP).

One table, :func:`tensor_table`, pairs every ``net.proto`` layer path with its state-dict key in
:class:`~boardnet.lc0.transformer.Lc0Transformer`; the reader and the writer both walk it. Layers are decoded /
encoded by the functions ``lc0.weights`` passes in (LINEAR16 as lc0 v0.31.2 computes it; FLOAT32/16, BFLOAT16
per layer as lc0 master writes them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from google.protobuf import unknown_fields

from boardnet.core.errors import ConversionError, FormatError
from boardnet.core.spec import ModelSpec, NetFile
from boardnet.lc0 import net_pb2 as pb

NF = pb.NetworkFormat
ATTENTION_NETWORKS = (NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT, NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT,
                      NF.NETWORK_AB_LEGACY_WITH_MULTIHEADFORMAT)
# net.proto ActivationFunction -> Lc0Transformer activation names (lc0 v0.31 blas runs these; not SOFTMAX).
ACTIVATION_NAMES = {NF.ACTIVATION_MISH: "mish", NF.ACTIVATION_RELU: "relu", NF.ACTIVATION_NONE: "none",
                    NF.ACTIVATION_TANH: "tanh", NF.ACTIVATION_SIGMOID: "sigmoid", NF.ACTIVATION_SELU: "selu",
                    NF.ACTIVATION_SWISH: "swish", NF.ACTIVATION_RELU_2: "relu2"}
ACTIVATION_ENUMS = {v: k for k, v in ACTIVATION_NAMES.items()}
VALUE_NAMES = {NF.VALUE_WDL: "wdl", NF.VALUE_CLASSICAL: "classical"}
# multi-head names (lc0's) -> PolicyHeads / ValueHeads field, in lc0's order (the first is the default head).
POLICY_HEAD_FIELDS = {"vanilla": "vanilla", "optimistic": "optimistic_st", "soft": "soft",
                      "opponent": "opponent"}
VALUE_HEAD_FIELDS = {"winner": "winner", "q": "q", "st": "st"}
# NetworkFormat enum fields by number: a value this net.proto does not know is refused by name and number.
ENUM_FIELDS = {1: "input", 2: "output", 3: "network", 4: "policy", 5: "value", 6: "moves_left",
               7: "default_activation", 8: "smolgen_activation", 9: "ffn_activation", 10: "input_embedding"}
LN = (("gammas", "weight"), ("betas", "bias"))
WB = (("w", "weight"), ("b", "bias"))


def is_attention_body(net: Any) -> bool:
    """Whether lc0 (after ``FixOlderWeightsFile``) runs this ``Net`` as an attention body."""
    nf = net.format.network_format
    return nf.network in ATTENTION_NETWORKS or (nf.network == NF.NETWORK_SE_WITH_HEADFORMAT
                                                and len(net.weights.encoder) > 0)


# --------------------------------------------------------------------------------------------- format flags


def _check_enums(path: Path, nf: Any) -> None:
    """Refuse NetworkFormat enum values unknown to net.proto (protobuf keeps them as unknown fields)."""
    for field in unknown_fields.UnknownFieldSet(nf):
        name = ENUM_FIELDS.get(field.field_number)
        if name is not None:
            raise FormatError(path, f"unknown {name} value {field.data}", field=f"format.network_format.{name}")


def _activation(path: Path, field: str, value: int, default: str) -> str:
    """A resolved ActivationFunction name (ACTIVATION_DEFAULT -> the default activation)."""
    if value == NF.ACTIVATION_DEFAULT:
        return default
    if value not in ACTIVATION_NAMES:
        raise FormatError(path, f"unsupported {field} {NF.ActivationFunction.Name(value)} ({value})",
                          field=f"format.network_format.{field}")
    return ACTIVATION_NAMES[value]


def fix_older_format(net: Any) -> tuple[Any, list[str]]:
    """lc0's ``FixOlderWeightsFile`` for attention bodies: the upgraded ``NetworkFormat`` (a copy) and what
    changed, in words."""
    nf, w = NF(), net.weights
    nf.CopyFrom(net.format.network_format)
    changes = []
    if nf.network == NF.NETWORK_SE_WITH_HEADFORMAT:
        nf.network = NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT
        changes.append("SE_WITH_HEADFORMAT with encoder layers -> ATTENTIONBODY_WITH_HEADFORMAT")
        if w.HasField("smolgen_w"):
            nf.ffn_activation, nf.smolgen_activation = NF.ACTIVATION_RELU_2, NF.ACTIVATION_SWISH
            changes.append("smolgen: ffn_activation RELU_2, smolgen_activation SWISH")
    elif nf.network == NF.NETWORK_AB_LEGACY_WITH_MULTIHEADFORMAT:
        nf.network = NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT
        changes.append("AB_LEGACY_WITH_MULTIHEADFORMAT -> ATTENTIONBODY_WITH_MULTIHEADFORMAT")
    if nf.network == NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT:
        if w.HasField("policy_heads") and w.HasField("value_heads"):
            nf.network = NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT
            nf.input_embedding = NF.INPUT_EMBEDDING_PE_DENSE
            changes.append("policy_heads + value_heads -> ATTENTIONBODY_WITH_MULTIHEADFORMAT, PE_DENSE")
        if not nf.HasField("input_embedding"):
            nf.input_embedding = NF.INPUT_EMBEDDING_PE_MAP
            changes.append("input_embedding unset -> PE_MAP")
    return nf, changes


def resolve_format(path: Path, net: Any) -> dict[str, Any]:
    """The (upgraded) format flags as Lc0Transformer options; refuses what lc0 v0.31.2 would not run.

    Returns ``network`` (the upgraded enum name), ``upgraded`` (what changed, or ""), and the config keys
    ``embedding``, ``activation``, ``ffn_activation``, ``smolgen_activation``, ``value``, ``moves_left``,
    ``multihead``, ``input_format``.
    """
    _check_enums(path, net.format.network_format)
    nf, changes = fix_older_format(net)
    if nf.policy != NF.POLICY_ATTENTION:
        raise FormatError(path, f"attention body with policy {NF.PolicyFormat.Name(nf.policy)}; lc0 runs only "
                          "POLICY_ATTENTION on attention bodies", field="format.network_format.policy")
    if nf.value not in VALUE_NAMES:
        raise FormatError(path, f"unsupported value format {NF.ValueFormat.Name(nf.value)} ({nf.value})",
                          field="format.network_format.value")
    default = "mish" if nf.default_activation == NF.DEFAULT_ACTIVATION_MISH else "relu"
    return {"network": NF.NetworkStructure.Name(nf.network), "upgraded": "; ".join(changes),
            # lc0 blas runs INPUT_EMBEDDING_NONE (left on multi-head files) like PE_MAP
            "embedding": "pe_dense" if nf.input_embedding == NF.INPUT_EMBEDDING_PE_DENSE else "pe_map",
            "activation": default,
            "ffn_activation": _activation(path, "ffn_activation", nf.ffn_activation, default),
            "smolgen_activation": _activation(path, "smolgen_activation", nf.smolgen_activation, default),
            "value": VALUE_NAMES[nf.value], "moves_left": nf.moves_left == NF.MOVES_LEFT_V1,
            "multihead": nf.network == NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT,
            "input_format": int(nf.input) or 1}


# --------------------------------------------------------------------------------------------- the tensor table


def _dense(proto: str, key: str, suffixes: tuple[tuple[str, str], ...] = WB) -> list[tuple[str, str]]:
    """``_dense("ip_emb", "embedding.dense")`` ->
    ``[("ip_emb_w", "embedding.dense.weight"), ("ip_emb_b", "embedding.dense.bias")]``."""
    return [(f"{proto}_{a}", f"{key}.{b}") for a, b in suffixes]


def _encoder_rows(i: int, smolgen: bool) -> list[tuple[str, str]]:
    p, k = f"encoder[{i}].", f"encoder.{i}."
    rows = []
    for name in ("q", "k", "v", "dense"):
        rows += _dense(f"{p}mha.{name}", f"{k}mha.{name}")
    if smolgen:
        s, ks = f"{p}mha.smolgen.", f"{k}mha.smolgen."
        rows.append((f"{s}compress", f"{ks}compress.weight"))
        for n in ("1", "2"):
            rows += _dense(f"{s}dense{n}", f"{ks}dense{n}") + _dense(f"{s}ln{n}", f"{ks}ln{n}", LN)
    rows += _dense(f"{p}ln1", f"{k}ln1", LN) + _dense(f"{p}ffn.dense1", f"{k}ffn.dense1")
    return rows + _dense(f"{p}ffn.dense2", f"{k}ffn.dense2") + _dense(f"{p}ln2", f"{k}ln2", LN)


def _head_prefixes(cfg: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Proto path prefix of each policy / value head: top-level fields for single-head files."""
    if not cfg.get("multihead"):
        return {name: "" for name in cfg["policy_heads"]}, {name: "" for name in cfg["value_heads"]}
    return ({n: f"policy_heads.{POLICY_HEAD_FIELDS[n]}." for n in cfg["policy_heads"]},
            {n: f"value_heads.{VALUE_HEAD_FIELDS[n]}." for n in cfg["value_heads"]})


def tensor_table(cfg: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (net.proto layer path, state-dict key) of an Lc0Transformer config, in file order."""
    rows: list[tuple[str, str]] = []
    pe_dense = cfg["embedding"] == "pe_dense"
    if pe_dense:
        rows += _dense("ip_emb_preproc", "embedding.preproc")
    rows += _dense("ip_emb", "embedding.dense")
    if pe_dense:
        rows += _dense("ip_emb_ln", "embedding.ln", LN)
    if cfg.get("gating"):
        rows += [("ip_mult_gate", "embedding.mult_gate"), ("ip_add_gate", "embedding.add_gate")]
    if pe_dense:
        rows += _dense("ip_emb_ffn.dense1", "embedding.ffn.dense1")
        rows += _dense("ip_emb_ffn.dense2", "embedding.ffn.dense2")
        rows += _dense("ip_emb_ffn_ln", "embedding.ffn_ln", LN)
    for i in range(cfg["encoder_layers"]):
        rows += _encoder_rows(i, bool(cfg.get("smolgen")))
    if cfg.get("smolgen"):
        rows.append(("smolgen_w", "smolgen_w.weight"))
    policy, value = _head_prefixes(cfg)
    if cfg.get("policy_embedding_size"):
        rows += _dense("policy_heads.ip_pol", "policy_embedding")
    for name, p in policy.items():
        k = f"policy_heads.{name}."
        if cfg["policy_heads"][name].get("embedding_size"):
            rows += _dense(f"{p}ip_pol", f"{k}ip_pol")
        rows += _dense(f"{p}ip2_pol", f"{k}ip2_pol") + _dense(f"{p}ip3_pol", f"{k}ip3_pol")
        rows.append((f"{p}ip4_pol_w", f"{k}ip4_pol.weight"))
    for name, p in value.items():
        k = f"value_heads.{name}."
        rows += _dense(f"{p}ip_val", f"{k}ip_val") + _dense(f"{p}ip1_val", f"{k}ip1_val")
        rows += _dense(f"{p}ip2_val", f"{k}ip2_val")
    if cfg.get("moves_left"):
        rows += _dense("ip_mov", "moves_left.ip_mov") + _dense("ip1_mov", "moves_left.ip1_mov")
        rows += _dense("ip2_mov", "moves_left.ip2_mov")
    return rows


# --------------------------------------------------------------------------------------------- reading


def _populated_layers(msg: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every ``Layer`` with params under ``msg``, as (dotted path with ``[i]`` indices, layer), in field order."""
    out = []
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        items = list(enumerate(value)) if field.is_repeated else [(None, value)]
        for i, item in items:
            path = f"{prefix}{field.name}" + (f"[{i}]" if i is not None else "")
            if field.message_type.full_name == "pblczero.Weights.Layer":
                if item.params:
                    out.append((path, item))
            else:
                out.extend(_populated_layers(item, path + "."))
    return out


class _Sizes:
    """Value counts of the decoded layers; a missing one is one FormatError naming its field."""

    def __init__(self, path: Path, raw: dict[str, np.ndarray]) -> None:
        self.path, self.raw = path, raw

    def __call__(self, field: str) -> int:
        if field not in self.raw:
            raise FormatError(self.path, f"attention body without {field}", field=f"weights.{field}")
        return int(self.raw[field].size)

    def per(self, field: str, divisor: int, what: str) -> int:
        n = self(field)
        if divisor <= 0 or n % divisor:
            raise FormatError(self.path, f"{field} has {n} values, not a multiple of {what} {divisor}",
                              field=f"weights.{field}")
        return n // divisor


def _heads(path: Path, w: Any, multihead: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Which heads the file has and where (lc0 ``MultiHeadWeights``: without a ``policy_heads`` / ``value_heads``
    message the top-level fields are ``vanilla`` / ``winner``)."""
    if not multihead:
        return {"vanilla": ""}, {"winner": ""}
    for group, maps in (("policy_heads", "policy_head_map"), ("value_heads", "value_head_map")):
        if getattr(getattr(w, group), maps):
            raise FormatError(path, f"named extra heads ({group}.{maps}) are not read by lc0 v0.31 and not "
                              "supported", field=f"weights.{group}.{maps}")
    policy = ({n: f"policy_heads.{f}." for n, f in POLICY_HEAD_FIELDS.items() if w.policy_heads.HasField(f)}
              if w.HasField("policy_heads") else {"vanilla": ""})
    value = ({n: f"value_heads.{f}." for n, f in VALUE_HEAD_FIELDS.items() if w.value_heads.HasField(f)}
             if w.HasField("value_heads") else {"winner": ""})
    if "vanilla" not in policy:
        raise FormatError(path, "multi-head net without a vanilla policy head",
                          field="weights.policy_heads.vanilla")
    if "winner" not in value:
        raise FormatError(path, "multi-head net without a winner value head", field="weights.value_heads.winner")
    return policy, value


def _infer_config(path: Path, w: Any, opts: dict[str, Any], raw: dict[str, np.ndarray]) -> dict[str, Any]:
    """Lc0Transformer keyword arguments from the layer sizes (as lc0 reads them: bias lengths) and counts."""
    size = _Sizes(path, raw)
    layers, heads = len(w.encoder), int(w.headcount)
    if layers == 0:
        raise FormatError(path, "attention body without encoder layers", field="weights.encoder")
    emb = size("ip_emb_b")
    d_model = size("encoder[0].mha.q_b")
    if heads <= 0 or d_model % heads:
        raise FormatError(path, f"headcount {heads} does not divide the encoder d_model {d_model} "
                          "(encoder[0].mha.q_b)", field="weights.headcount")
    cfg = {k: opts[k] for k in ("embedding", "activation", "ffn_activation", "smolgen_activation", "value",
                                "moves_left", "multihead", "input_format")}
    cfg.update(embedding_size=emb, encoder_layers=layers, encoder_heads=heads, encoder_d_model=d_model,
               encoder_dff=size("encoder[0].ffn.dense1_b"))
    with_smolgen = [enc.mha.HasField("smolgen") for enc in w.encoder]
    if any(with_smolgen) != all(with_smolgen):
        i = with_smolgen.index(not with_smolgen[0])
        raise FormatError(path, "smolgen in some encoder layers only", field=f"weights.encoder[{i}].mha.smolgen")
    cfg["smolgen"] = ({"channels": size.per("encoder[0].mha.smolgen.compress", emb, "embedding size"),
                       "hidden": size("encoder[0].mha.smolgen.dense1_b"),
                       "gen": size.per("encoder[0].mha.smolgen.dense2_b", heads, "headcount")}
                      if with_smolgen[0] else None)
    if cfg["embedding"] == "pe_dense":
        cfg["pe_dense_channels"] = size.per("ip_emb_preproc_b", 64, "squares")
        cfg["embedding_dff"] = size("ip_emb_ffn.dense1_b")
    cfg["gating"] = "ip_mult_gate" in raw or "ip_add_gate" in raw
    policy, value = _heads(path, w, opts["multihead"])
    shared = "policy_heads.ip_pol_b" if "policy_heads.ip_pol_b" in raw else "ip_pol_b"
    cfg["policy_embedding_size"] = size(shared) if opts["multihead"] and shared in raw else 0
    cfg["policy_heads"] = {}
    for name, p in policy.items():
        head = {"d_model": size(f"{p}ip2_pol_b")}
        if f"{p}ip_pol_b" in raw and not (p == "" and cfg["policy_embedding_size"]):
            head["embedding_size"] = size(f"{p}ip_pol_b")
        elif not cfg["policy_embedding_size"]:
            size(f"{p}ip_pol_b")  # raises: this head has no embedding and there is no shared one
        cfg["policy_heads"][name] = head
    cfg["value_heads"] = {name: {"channels": size(f"{p}ip_val_b"), "hidden": size(f"{p}ip1_val_b")}
                          for name, p in value.items()}
    if cfg["moves_left"]:
        cfg.update(mlh_channels=size("ip_mov_b"), mlh_hidden=size("ip1_mov_b"))
    return cfg


def read_attention(path: Path, net: Any, decode: Callable[[Path, Any, str], np.ndarray]) -> NetFile:
    """An attention-body ``Net`` (already parsed) as a NetFile of family ``lc0_transformer``; ``decode(path,
    layer, field)`` turns one ``Layer`` into float32 values."""
    from boardnet.lc0.transformer import Lc0Transformer

    w = net.weights
    if len(w.residual) or w.input.weights.params:
        network = NF.NetworkStructure.Name(net.format.network_format.network)
        raise FormatError(path, f"{network} with a residual tower (attention body after residual blocks) is not "
                          "supported", field="weights.residual")
    if w.pol_encoder or any(getattr(w.policy_heads, f).pol_encoder for f in POLICY_HEAD_FIELDS.values()):
        raise FormatError(path, "policy encoder layers on an attention body are not supported",
                          field="weights.pol_encoder")
    opts = resolve_format(path, net)
    raw = {p: decode(path, layer, f"weights.{p}") for p, layer in _populated_layers(w)}
    cfg = _infer_config(path, w, opts, raw)
    policy, value = _heads(path, w, opts["multihead"])
    rows = tensor_table(cfg)
    if cfg["multihead"]:  # the file may keep some heads top-level (lc0 MultiHeadWeights falls back to them)
        where = {**{f"policy_heads.{POLICY_HEAD_FIELDS[n]}.": p for n, p in policy.items()},
                 **{f"value_heads.{VALUE_HEAD_FIELDS[n]}.": p for n, p in value.items()},
                 "policy_heads.ip_pol_": "policy_heads.ip_pol_" if "policy_heads.ip_pol_b" in raw else "ip_pol_"}
        rows = [(_relocate(proto, where), key) for proto, key in rows]
    with torch.device("meta"):  # shapes only: no second copy of the weights
        shapes = {k: v.shape for k, v in Lc0Transformer(**cfg).state_dict().items()}
    state = {}
    for proto, key in rows:
        if proto not in raw:
            raise FormatError(path, f"missing tensor {proto} {tuple(shapes[key])}", field=f"weights.{proto}")
        arr = raw.pop(proto)
        if arr.size != shapes[key].numel():
            raise FormatError(path, f"{proto} has {arr.size} values; this net's sizes need {tuple(shapes[key])} = "
                              f"{shapes[key].numel()}", field=f"weights.{proto}")
        state[key] = torch.from_numpy(arr.copy()).reshape(shapes[key])
    if raw:
        extra = next(iter(raw))
        raise FormatError(path, f"unexpected tensor {extra} for this network format ({opts['network']})",
                          field=f"weights.{extra}")
    meta = {"license": net.license, "network": opts["network"], "upgraded": opts["upgraded"],
            "min_version": [net.min_version.major, net.min_version.minor, net.min_version.patch]}
    if net.HasField("training_params"):
        meta["training_params"] = {f.name: v for f, v in net.training_params.ListFields()}
    return NetFile(ModelSpec("lc0_transformer", cfg, meta), state)


def _relocate(proto: str, where: dict[str, str]) -> str:
    """Swap a canonical multi-head prefix for where this file keeps that head."""
    for canonical, actual in where.items():
        if proto.startswith(canonical):
            return actual + proto[len(canonical):]
    return proto


# --------------------------------------------------------------------------------------------- writing


def _layer_at(msg: Any, path: str) -> Any:
    """The ``Layer`` at a table path, creating repeated entries on the way (``encoder[3].mha.q_w``)."""
    for part in path.split("."):
        name, _, index = part.partition("[")
        msg = getattr(msg, name)
        if index:
            i = int(index[:-1])
            while len(msg) <= i:
                msg.add()
            msg = msg[i]
    return msg


def _check_heads_writable(cfg: dict[str, Any]) -> None:
    """Heads net.proto can hold: lc0's names in a multi-head file; vanilla + winner (own embedding) otherwise."""
    policy, value = list(cfg["policy_heads"]), list(cfg["value_heads"])
    if cfg.get("multihead"):
        unknown = [n for n in policy if n not in POLICY_HEAD_FIELDS] + [n for n in value if n not in VALUE_HEAD_FIELDS]
        if unknown or policy[0] != "vanilla" or value[0] != "winner":
            raise ConversionError(f"lc0 multi-head nets hold policy heads {', '.join(POLICY_HEAD_FIELDS)} (vanilla "
                                  f"first) and value heads {', '.join(VALUE_HEAD_FIELDS)} (winner first); got "
                                  f"{policy} and {value}")
    elif policy != ["vanilla"] or value != ["winner"] or cfg.get("policy_embedding_size"):
        raise ConversionError(f"a single-head lc0 net holds policy head vanilla (with its own embedding) and value "
                              f"head winner; got {policy} and {value} (set multihead for more)")


def fill_training_params(net: Any, params: Any) -> None:
    """Copy a spec's ``meta["training_params"]`` (``{field: value}``, from any file) into ``net.training_params``;
    a name the message lacks or a value of the wrong type is one ConversionError naming the field."""
    if not params:
        return
    if not isinstance(params, dict):
        raise ConversionError(f"spec meta training_params: expected a mapping of TrainingParams fields, "
                              f"got {type(params).__name__}")
    for name, value in params.items():
        if not isinstance(name, str) or name not in pb.TrainingParams.DESCRIPTOR.fields_by_name:
            raise ConversionError(f"spec meta training_params: lc0's TrainingParams has no field {name!r}")
        try:
            setattr(net.training_params, name, value)
        except (TypeError, ValueError) as err:
            raise ConversionError(f"spec meta training_params.{name}: {err}") from None


def attention_message(netfile: NetFile, encoding: str,
                      encode: Callable[[Any, torch.Tensor, str], None]) -> Any:
    """The ``pblczero.Net`` (all but ``magic``) of an ``lc0_transformer`` NetFile; ``encode(layer, tensor,
    encoding)`` fills one ``Layer`` (``encoding`` linear16, what lc0 v0.31/v0.32 read, or float32)."""
    cfg, state = netfile.spec.config, netfile.state_dict
    if encoding not in ("linear16", "float32"):
        raise ConversionError(f"unknown lc0 weights encoding '{encoding}'; expected linear16 or float32")
    _check_heads_writable(cfg)
    net = pb.Net(license=str(netfile.spec.meta.get("license", "")))
    pe_dense = cfg["embedding"] == "pe_dense"
    minor = 31 if pe_dense or cfg.get("multihead") else 30  # lc0 0.31 added PE_DENSE and multi-head nets
    net.min_version.major, net.min_version.minor, net.min_version.patch = 0, minor, 0
    net.format.weights_encoding = pb.Format.LINEAR16
    nf = net.format.network_format
    nf.input = cfg.get("input_format", 1)
    nf.output = NF.OUTPUT_WDL if cfg["value"] == "wdl" else NF.OUTPUT_CLASSICAL
    nf.network = (NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT if cfg.get("multihead")
                  else NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT)
    nf.policy = NF.POLICY_ATTENTION
    nf.value = NF.VALUE_WDL if cfg["value"] == "wdl" else NF.VALUE_CLASSICAL
    nf.moves_left = NF.MOVES_LEFT_V1 if cfg.get("moves_left") else NF.MOVES_LEFT_NONE
    mish = cfg["activation"] == "mish"
    nf.default_activation = NF.DEFAULT_ACTIVATION_MISH if mish else NF.DEFAULT_ACTIVATION_RELU
    nf.ffn_activation = ACTIVATION_ENUMS[cfg["ffn_activation"]]
    if cfg.get("smolgen"):
        nf.smolgen_activation = ACTIVATION_ENUMS[cfg["smolgen_activation"]]
    nf.input_embedding = NF.INPUT_EMBEDDING_PE_DENSE if pe_dense else NF.INPUT_EMBEDDING_PE_MAP
    fill_training_params(net, netfile.spec.meta.get("training_params"))
    for proto, key in tensor_table(cfg):
        if key not in state:
            raise ConversionError(f"lc0 attention body: state dict has no {key} (for {proto})")
        encode(_layer_at(net.weights, proto), state[key], encoding)
    net.weights.headcount = cfg["encoder_heads"]
    return net


# --------------------------------------------------------------------------------------------- inspecting


def describe(nf: NetFile) -> list[str]:
    """Inspect lines: format, embedding, encoder, smolgen, activations, every head, parameter count."""
    cfg, meta = nf.spec.config, nf.spec.meta
    pe_dense, smol = cfg["embedding"] == "pe_dense", cfg.get("smolgen")
    lines = [f"format: {meta.get('network', '?')}, input format {cfg['input_format']}, min_version "
             f"{'.'.join(map(str, meta.get('min_version', [])))}"]
    if meta.get("upgraded"):
        lines.append(f"upgraded on load (as lc0 does): {meta['upgraded']}")
    extra = (f", {cfg['pe_dense_channels']} dense position channels, embedding FFN dff {cfg['embedding_dff']}"
             if pe_dense else "")
    lines.append(f"embedding: {cfg['embedding'].upper()}{extra}, input gating {'yes' if cfg.get('gating') else 'no'}")
    lines.append(f"encoder: {cfg['encoder_layers']} layers x {cfg['encoder_heads']} heads, embedding "
                 f"{cfg['embedding_size']}, d_model {cfg['encoder_d_model']}, dff {cfg['encoder_dff']}, LayerNorm "
                 f"eps {'1e-3' if pe_dense else '1e-6'}, DeepNorm alpha {(2.0 * cfg['encoder_layers']) ** -0.25:.4f}")
    lines.append("smolgen: " + (f"{smol['channels']} compress channels, hidden {smol['hidden']}, {smol['gen']} "
                                f"per head, activation {cfg['smolgen_activation']}" if smol else "none"))
    lines.append(f"activations: default {cfg['activation']}, ffn {cfg['ffn_activation']}")
    for name, head in cfg["policy_heads"].items():
        own = head.get("embedding_size")
        lines.append(f"policy head {name}: attention, embedding {own or cfg['policy_embedding_size']}"
                     f"{'' if own else ' (shared)'}, d_model {head['d_model']}")
    for name, head in cfg["value_heads"].items():
        lines.append(f"value head {name}: {cfg['value']}, {head['channels']} channels/square, "
                     f"hidden {head['hidden']}")
    lines.append(f"moves-left: {cfg['mlh_channels']} channels/square, hidden {cfg['mlh_hidden']}"
                 if cfg.get("moves_left") else "moves-left: none")
    lines.append(f"parameters: {nf.n_parameters:,}")
    return lines
