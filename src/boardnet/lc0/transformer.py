"""Leela Chess Zero's attention body ("BT" transformer nets), built from a :class:`~boardnet.spec.ModelSpec`.

Read top to bottom: activations, :class:`Embedding` (PE_MAP / PE_DENSE input, input gating, embedding FFN),
:class:`Smolgen`, :class:`MultiHeadAttention`, :class:`EncoderLayer`, the heads (:class:`AttentionPolicyHead`,
:class:`ValueHead`, :class:`MovesLeftHead`) and :class:`Lc0Transformer`, which strings them together.

Semantics and order of operations follow lc0 v0.31.2's blas backend (``network_blas.cc``), as written out
in ``shared/fixtures/lc0_transformer/README.md``. Input ``planes [B, 112, 8, 8]`` float32 with the raw
rule-50 count in plane 109 (as the engine feeds it). Tokens are the 64 squares in plane order
(``sq = 8·rank + file``); every dense layer is an ``nn.Linear`` whose ``weight [out, in]`` is the
``net.proto`` layer as stored.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from boardnet.core.spec import ModelSpec
from boardnet.lc0.net import Lc0Net
from boardnet.lc0.policy_map import attention_policy_gather, position_encoding

INPUT_PLANES = 112
SQUARES = 64
PE_DENSE_PLANES = 12  # PE_DENSE preprocessing reads the current position's 12 piece planes
SMOLGEN_LN_EPS = 1e-3  # lc0 blas: smolgen LayerNorms always use 1e-3
EMBEDDING_LN_EPS = 1e-3  # PE_DENSE embedding LayerNorms
EMBEDDINGS = ("pe_map", "pe_dense")
VALUE_FORMATS = ("wdl", "classical")


def relu2(x: torch.Tensor) -> torch.Tensor:
    """lc0 ``ACTIVATION_RELU_2``: ``max(x, 0)²``; in place when no gradient is wanted (inference: the input is a
    dense layer's fresh output, and two passes over it without new buffers are what this costs)."""
    if torch.is_grad_enabled() and x.requires_grad:
        r = F.relu(x)
        return r * r
    return x.relu_().square_()


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


# lc0 ActivationFunction names (net.proto) -> element-wise function; "default" is resolved by the reader.
ACTIVATIONS = {"relu": F.relu, "mish": F.mish, "swish": F.silu, "relu2": relu2, "selu": F.selu,
               "tanh": torch.tanh, "sigmoid": torch.sigmoid, "none": identity}


def ln_skip(ln: nn.LayerNorm, x: torch.Tensor, alpha: float, skip: torch.Tensor) -> torch.Tensor:
    """lc0 ``LayerNorm2DWithSkipConnection``: ``LN(alpha·x + skip)`` (one pass: ``torch.add``'s ``alpha``)."""
    return ln(torch.add(skip, x, alpha=alpha))


class Embedding(nn.Module):
    """Planes ``[B,112,8,8]`` -> tokens ``[B,64,E]``.

    PE_MAP: token = 112 plane values ++ lc0's fixed 64-entry position row (176 inputs). PE_DENSE: ``preproc``
    (``768 -> 64·Dp``) over the 12 piece planes laid out ``[sq][plane]``, read back as ``[sq][Dp]``; token =
    112 planes ++ those Dp values. Then ``act(dense(token))``; PE_DENSE: LayerNorm ``ln`` (eps 1e-3). Gating:
    ``h[sq,c]·mult_gate[c,sq] + add_gate[c,sq]``. PE_DENSE: ``ffn_ln(alpha·ffn(h) + h)`` (eps 1e-3).
    """

    def __init__(self, embedding: str, size: int, act: Any, ffn_act: Any, alpha: float,
                 pe_dense_channels: int = 0, dff: int = 0, gating: bool = False) -> None:
        super().__init__()
        self.act, self.ffn_act, self.alpha = act, ffn_act, alpha
        self.pe_dense = embedding == "pe_dense"
        if self.pe_dense:
            self.preproc = nn.Linear(SQUARES * PE_DENSE_PLANES, SQUARES * pe_dense_channels)
            width = INPUT_PLANES + pe_dense_channels
        else:
            self.register_buffer("position", torch.from_numpy(position_encoding()), persistent=False)
            width = INPUT_PLANES + SQUARES
        self.dense = nn.Linear(width, size)
        if self.pe_dense:
            self.ln = nn.LayerNorm(size, eps=EMBEDDING_LN_EPS)
        if gating:
            self.mult_gate = nn.Parameter(torch.ones(size, SQUARES))  # lc0 layout [E, 64]
            self.add_gate = nn.Parameter(torch.zeros(size, SQUARES))
        self.gating = gating
        if self.pe_dense:
            self.ffn = FeedForward(size, dff, ffn_act)
            self.ffn_ln = nn.LayerNorm(size, eps=EMBEDDING_LN_EPS)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        b = planes.shape[0]
        tokens = planes.reshape(b, INPUT_PLANES, SQUARES).transpose(1, 2)  # [B, 64, 112]
        if self.pe_dense:
            pieces = tokens[:, :, :PE_DENSE_PLANES].reshape(b, SQUARES * PE_DENSE_PLANES)
            extra = self.preproc(pieces).reshape(b, SQUARES, -1)  # [B, 64, Dp]
        else:
            extra = self.position.expand(b, SQUARES, SQUARES)
        h = self.act(self.dense(torch.cat([tokens, extra], dim=2)))  # [B, 64, E]
        if self.pe_dense:
            h = self.ln(h)
        if self.gating:
            h = torch.addcmul(self.add_gate.t(), h, self.mult_gate.t())  # h·mult + add in one pass
        if self.pe_dense:
            h = ln_skip(self.ffn_ln, self.ffn(h), self.alpha, h)
        return h


class FeedForward(nn.Module):
    """``dense2(act(dense1(x)))``, tokens ``[B, 64, E] -> [B, 64, E]`` through ``dff`` hidden units."""

    def __init__(self, size: int, dff: int, act: Any) -> None:
        super().__init__()
        self.dense1, self.dense2, self.act = nn.Linear(size, dff), nn.Linear(dff, size), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense2(self.act(self.dense1(x)))


class Smolgen(nn.Module):
    """Per-position attention biases ``[B, H, 64, 64]``: ``compress`` (no bias, ``E -> Hc``) per token (run by
    :meth:`MultiHeadAttention.projections`),
    flattened square-major (``64·Hc``), ``LN1(act(dense1))`` ``-> S``, ``LN2(act(dense2))`` ``-> H·G`` (both
    eps 1e-3), then each head's ``G`` values through the net-wide ``weight_gen`` (``G -> 4096``, no bias)."""

    def __init__(self, size: int, heads: int, channels: int, hidden: int, gen: int, act: Any) -> None:
        super().__init__()
        self.heads, self.act = heads, act
        self.compress = nn.Linear(size, channels, bias=False)
        self.dense1 = nn.Linear(SQUARES * channels, hidden)
        self.ln1 = nn.LayerNorm(hidden, eps=SMOLGEN_LN_EPS)
        self.dense2 = nn.Linear(hidden, heads * gen)
        self.ln2 = nn.LayerNorm(heads * gen, eps=SMOLGEN_LN_EPS)

    def biases(self, compressed: torch.Tensor, weight_gen: nn.Linear) -> torch.Tensor:
        """Compressed tokens ``[B, 64, Hc]`` (``compress(x)``, computed with the attention's q/k/v) ->
        ``[B, H, 64, 64]``."""
        b = compressed.shape[0]
        c = self.ln1(self.act(self.dense1(compressed.reshape(b, -1))))  # [B, 64·Hc] -> [B, S]
        c = self.ln2(self.act(self.dense2(c)))
        return weight_gen(c.reshape(b, self.heads, -1)).reshape(b, self.heads, SQUARES, SQUARES)


class MultiHeadAttention(nn.Module):
    """lc0 MHA over tokens ``[B, 64, E]``: q/k/v ``E -> D`` split into ``heads`` contiguous chunks of
    ``dk = D/H``; ``softmax(q·kᵀ/sqrt(dk) + smolgen)`` over keys; heads concatenated; ``dense`` ``D -> E``.

    q, k, v and smolgen's ``compress`` (it reads the same tokens) run as one matrix product on their
    concatenated weights (one pass over the tokens, one larger GEMM); the parameters stay one ``nn.Linear`` per
    ``net.proto`` layer.
    """

    def __init__(self, size: int, d_model: int, heads: int, smolgen: Smolgen | None) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(size, d_model), nn.Linear(size, d_model), nn.Linear(size, d_model)
        self.dense = nn.Linear(d_model, size)
        self.smolgen = smolgen
        self.scale = 1.0 / math.sqrt(d_model // heads)

    def projections(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 64, E]`` -> ``[B, 64, 3·D (+ Hc)]``: q, k, v (and smolgen's compressed tokens) side by side."""
        weights, biases = [self.q.weight, self.k.weight, self.v.weight], [self.q.bias, self.k.bias, self.v.bias]
        if self.smolgen is not None:
            weights.append(self.smolgen.compress.weight)
            biases.append(x.new_zeros(self.smolgen.compress.out_features))  # compress has no bias
        return F.linear(x, torch.cat(weights), torch.cat(biases))

    def forward(self, x: torch.Tensor, weight_gen: nn.Linear | None) -> torch.Tensor:
        b, d = x.shape[0], self.q.out_features
        proj = self.projections(x)

        def split(i: int) -> torch.Tensor:  # the i-th D columns -> [B, H, 64, dk]
            return proj[..., i * d:(i + 1) * d].reshape(b, SQUARES, self.heads, -1).transpose(1, 2)

        bias = None  # [B, H, 64 query, 64 key]
        if self.smolgen is not None:
            bias = self.smolgen.biases(proj[..., 3 * d:], weight_gen)
        out = F.scaled_dot_product_attention(split(0), split(1), split(2), attn_mask=bias, scale=self.scale)
        return self.dense(out.transpose(1, 2).reshape(b, SQUARES, -1))  # [B, H, 64, dk] -> [B, 64, D] -> E


class EncoderLayer(nn.Module):
    """Post-LN encoder layer with DeepNorm: ``x = LN1(alpha·MHA(x) + x)``; ``x = LN2(alpha·FFN(x) + x)``."""

    def __init__(self, size: int, d_model: int, heads: int, dff: int, ffn_act: Any, alpha: float,
                 eps: float, smolgen: Smolgen | None) -> None:
        super().__init__()
        self.alpha = alpha
        self.mha = MultiHeadAttention(size, d_model, heads, smolgen)
        self.ln1 = nn.LayerNorm(size, eps=eps)
        self.ffn = FeedForward(size, dff, ffn_act)
        self.ln2 = nn.LayerNorm(size, eps=eps)

    def forward(self, x: torch.Tensor, weight_gen: nn.Linear | None) -> torch.Tensor:
        x = ln_skip(self.ln1, self.mha(x, weight_gen), self.alpha, x)
        return ln_skip(self.ln2, self.ffn(x), self.alpha, x)


def attention_policy_logits(q: torch.Tensor, k: torch.Tensor, ppo: torch.Tensor,
                            gather: torch.Tensor) -> torch.Tensor:
    """lc0's attention policy from queries/keys ``[B, 64, d]`` and ``ppo [4, d]`` -> ``[B, 1858]`` logits.

    ``qk[from, to] = q·k/sqrt(d)``; promotion offsets ``o[i, f] = ppo[i]·k[56+f]`` (rows q, r, b, n),
    ``o[i] += o[3]`` for q/r/b; promotion logit (from-file a, to-file f, piece i) =
    ``qk[48+a, 56+f] + o[i, f]``; the ``[B, 64·64 + 8·24]`` vector is gathered to the 1858 moves (knight
    promotions use the plain from->to entry).
    """
    qk = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(q.shape[-1]))  # [B, 64 from, 64 to]
    off = k[:, 56:] @ ppo.t()  # [B, 8 to-file, 4]
    off = off[:, :, :3] + off[:, :, 3:]
    promo = qk[:, 48:56, 56:64, None] + off[:, None]  # [B, 8 from-file, 8 to-file, 3]
    return torch.cat([qk.flatten(1), promo.flatten(1)], dim=1)[:, gather]


class AttentionPolicyHead(nn.Module):
    """``p = act(ip_pol(tokens))`` (``E -> P``; the embedding may be shared by all heads), ``q = ip2_pol(p)``,
    ``k = ip3_pol(p)`` (``P -> Pd``), ``ip4_pol [4, Pd]`` promotion offsets -> ``[B, 1858]`` logits."""

    def __init__(self, size: int, d_model: int, act: Any, embedding: int = 0) -> None:
        super().__init__()
        self.act = act
        self.ip_pol = nn.Linear(size, embedding) if embedding else None
        width = embedding or size
        self.ip2_pol, self.ip3_pol = nn.Linear(width, d_model), nn.Linear(width, d_model)
        self.ip4_pol = nn.Linear(d_model, 4, bias=False)
        self.register_buffer("gather", torch.from_numpy(attention_policy_gather()), persistent=False)

    def forward(self, tokens: torch.Tensor, shared: nn.Linear | None) -> torch.Tensor:
        embed = self.ip_pol if self.ip_pol is not None else shared
        p = self.act(embed(tokens))
        return attention_policy_logits(self.ip2_pol(p), self.ip3_pol(p), self.ip4_pol.weight, self.gather)


class ValueHead(nn.Module):
    """``act(ip_val)`` per token (``E -> Vc``), flattened square-major (``64·Vc``), ``act(ip1_val)``
    ``-> Vh``, ``ip2_val`` -> ``[B, 3]`` W/D/L logits (``wdl``) or ``[B, 1]`` tanh value (``classical``)."""

    def __init__(self, size: int, channels: int, hidden: int, act: Any, value: str) -> None:
        super().__init__()
        self.act, self.wdl = act, value == "wdl"
        self.ip_val = nn.Linear(size, channels)
        self.ip1_val = nn.Linear(SQUARES * channels, hidden)
        self.ip2_val = nn.Linear(hidden, 3 if self.wdl else 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        v = self.act(self.ip_val(tokens)).flatten(1)
        v = self.ip2_val(self.act(self.ip1_val(v)))
        return v if self.wdl else torch.tanh(v)


class MovesLeftHead(nn.Module):
    """Like the value head with ``ip_mov``/``ip1_mov``/``ip2_mov``; output ``relu(ip2_mov) [B, 1]``
    (plies left)."""

    def __init__(self, size: int, channels: int, hidden: int, act: Any) -> None:
        super().__init__()
        self.act = act
        self.ip_mov = nn.Linear(size, channels)
        self.ip1_mov = nn.Linear(SQUARES * channels, hidden)
        self.ip2_mov = nn.Linear(hidden, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        m = self.act(self.ip_mov(tokens)).flatten(1)
        return F.relu(self.ip2_mov(self.act(self.ip1_mov(m))))


class Lc0Transformer(nn.Module):
    """An lc0 attention-body net.

    ``forward(planes) -> {"policy": [B,1858] logits, "value": [B,3] WDL logits (or [B,1] tanh),
    "mlh": [B,1]}``
    for the first policy / value head (``vanilla`` / ``winner``), plus ``"policy/<name>"`` and
    ``"value/<name>"`` for every further head of a multi-head net.

    Config (all sizes as lc0 reads them from bias lengths): ``embedding`` pe_map | pe_dense,
    ``embedding_size`` E, ``encoder_layers`` L, ``encoder_heads`` H, ``encoder_d_model`` D, ``encoder_dff``
    F, ``activation`` (default: relu | mish), ``ffn_activation``, ``smolgen_activation``, ``smolgen``
    ``{channels, hidden, gen}`` (gen per head) or None, ``pe_dense_channels`` / ``embedding_dff``
    (PE_DENSE), ``gating``, ``policy_embedding_size`` (an embedding shared by all policy heads, 0 if each
    has its own),
    ``policy_heads {name: {d_model, embedding_size?}}``, ``value``, ``value_heads {name: {channels,
    hidden}}``, ``moves_left`` (+ ``mlh_channels``, ``mlh_hidden``), ``multihead`` (file format),
    ``input_format``.
    """

    VERIFY_INPUT = "planes"

    def __init__(self, embedding: str, embedding_size: int, encoder_layers: int, encoder_heads: int,
                 encoder_d_model: int, encoder_dff: int, policy_heads: dict[str, dict[str, int]],
                 value_heads: dict[str, dict[str, int]], activation: str = "mish", ffn_activation: str = "mish",
                 smolgen_activation: str = "swish", smolgen: dict[str, int] | None = None,
                 pe_dense_channels: int = 0, embedding_dff: int = 0, gating: bool = False,
                 policy_embedding_size: int = 0, value: str = "wdl", moves_left: bool = True,
                 mlh_channels: int = 8, mlh_hidden: int = 128, multihead: bool = False,
                 input_format: int = 1) -> None:
        super().__init__()
        for name, act in (("activation", activation), ("ffn_activation", ffn_activation),
                          ("smolgen_activation", smolgen_activation)):
            if act not in ACTIVATIONS:
                raise ValueError(f"unknown {name} '{act}'; expected one of {', '.join(ACTIVATIONS)}")
        if embedding not in EMBEDDINGS or value not in VALUE_FORMATS:
            raise ValueError(f"unsupported lc0 attention body: embedding={embedding} value={value}")
        if not policy_heads or not value_heads:
            raise ValueError("an lc0 attention body needs at least one policy head and one value head")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__", "name", "act")}
        act, ffn_act = ACTIVATIONS[activation], ACTIVATIONS[ffn_activation]
        alpha = (2.0 * encoder_layers) ** -0.25 if encoder_layers else 1.0  # DeepNorm, always on in lc0
        eps = 1e-3 if embedding == "pe_dense" else 1e-6  # lc0 blas: encoder LayerNorm eps
        self.embedding = Embedding(embedding, embedding_size, act, ffn_act, alpha, pe_dense_channels,
                                   embedding_dff, gating)
        self.encoder = nn.ModuleList(
            EncoderLayer(embedding_size, encoder_d_model, encoder_heads, encoder_dff, ffn_act, alpha, eps,
                         Smolgen(embedding_size, encoder_heads, smolgen["channels"], smolgen["hidden"],
                                 smolgen["gen"], ACTIVATIONS[smolgen_activation]) if smolgen else None)
            for _ in range(encoder_layers))
        self.smolgen_w = nn.Linear(smolgen["gen"], SQUARES * SQUARES, bias=False) if smolgen else None
        self.policy_embedding = (nn.Linear(embedding_size, policy_embedding_size) if policy_embedding_size
                                 else None)
        self.policy_heads = nn.ModuleDict({
            name: AttentionPolicyHead(embedding_size, cfg["d_model"], act, cfg.get("embedding_size", 0))
            for name, cfg in policy_heads.items()})
        self.value_heads = nn.ModuleDict({
            name: ValueHead(embedding_size, cfg["channels"], cfg["hidden"], act, value)
            for name, cfg in value_heads.items()})
        self.moves_left = MovesLeftHead(embedding_size, mlh_channels, mlh_hidden, act) if moves_left else None

    random_verify_inputs = Lc0Net.random_verify_inputs  # random legal games -> planes (reads config only)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Lc0Transformer:
        return cls(**spec.config)

    def spec(self) -> ModelSpec:
        return ModelSpec("lc0_transformer", dict(self.config))

    def body(self, planes: torch.Tensor) -> torch.Tensor:
        """Tokens ``[B, 64, E]`` after the embedding and every encoder layer."""
        x = self.embedding(planes)
        for layer in self.encoder:
            x = layer(x, self.smolgen_w)
        return x

    def forward(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.body(planes)
        out: dict[str, torch.Tensor] = {}
        for i, (name, head) in enumerate(self.policy_heads.items()):
            out["policy" if i == 0 else f"policy/{name}"] = head(x, self.policy_embedding)
        for i, (name, head) in enumerate(self.value_heads.items()):
            out["value" if i == 0 else f"value/{name}"] = head(x)
        if self.moves_left is not None:
            out["mlh"] = self.moves_left(x)
        return out

    def onnx_graph(self, outputs: list[str] | None) -> tuple[nn.Module, torch.Tensor, list[str], list[str]]:
        """(module, example input, input names, output names) for ``boardnet convert NET.onnx``."""
        from boardnet.lc0.transformer_onnx import onnx_graph

        return onnx_graph(self, outputs)

    def verify_outputs(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        """``policy_logits [B,1858]``, ``q [B]`` (= W − L), ``d [B]`` of the first policy / value head, as in the
        lc0 fixtures (``boardnet verify``'s keys; moves-left is ``forward()["mlh"]``)."""
        out = self(planes)
        if self.config["value"] == "wdl":
            wdl = torch.softmax(out["value"], dim=1)
            res = {"q": wdl[:, 0] - wdl[:, 2], "d": wdl[:, 1]}
        else:
            res = {"q": out["value"][:, 0], "d": torch.zeros_like(out["value"][:, 0])}
        res["policy_logits"] = out["policy"]
        return res
