"""Leela Chess Zero's SE-ResNet (shared/specs/lc0.md §5), built from a :class:`~boardnet.core.spec.ModelSpec`.

Input ``planes [B, 112, 8, 8]`` float32 (row = rank, col = file, side-to-move frame). BatchNorm is kept
unfolded (eps 1e-5, eval statistics) so the state dict maps one to one onto ``net.proto`` fields and the net
trains; :meth:`Lc0Net.inference_form` folds it as lc0 does at load time (the fidelity / export form).
Implemented heads: policy ``convolution``, ``classical`` and ``attention`` (§5, §9: lc0's attention policy on a
residual body, with optional policy encoder layers), value ``wdl`` and ``classical``, moves-left.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from boardnet.core.spec import ModelSpec
from boardnet.lc0.fma import fma_f32
from boardnet.lc0.policy_map import (
    CONV_POLICY_CHANNELS,
    POLICY_SIZE,
    attention_policy_gather,
    conv_policy_gather,
)

INPUT_PLANES = 112
BN_EPS = 1e-5  # §3: TF and lc0
POLICY_FORMATS = ("convolution", "classical", "attention")
ATTENTION_KEYS = ("pol_embedding_size", "policy_d_model", "pol_encoder_layers", "pol_encoder_heads",
                  "pol_encoder_d_model", "pol_encoder_dff")  # config keys only attention-policy nets carry
LN_EPS = 1e-6  # lc0 LayerNorm2DWithSkipConnection for (policy) encoder layers
VALUE_FORMATS = ("wdl", "classical")
ACTIVATIONS = {"relu": F.relu, "mish": F.mish}


class ConvBlock(nn.Module):
    """conv k×k (bias optional) → BatchNorm (optional) → activation (optional)."""

    def __init__(self, cin: int, cout: int, kernel: int, bn: bool = True, bias: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS) if bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.bn(x) if self.bn is not None else x


def fold_batchnorm(block: ConvBlock) -> ConvBlock:
    """``block`` with its BatchNorm folded into the convolution exactly as lc0 folds it when it loads a net
    (``ConvBlock`` constructor of lc0's network_legacy.cc; float32, lc0's rounding steps):
    ``g = gamma · (1 / sqrt(var + 1e-5))``, ``W' = W · g[out]``, ``b' = fmaf(−g, mean − conv_bias, beta)``.
    A block without BatchNorm is returned unchanged. Weights ``[out, in, k, k]``, biases ``[out]``."""
    if block.bn is None:
        return block
    conv, bn = block.conv, block.bn

    def f32(t: torch.Tensor) -> np.ndarray:
        return t.detach().to(torch.float32).numpy()

    mean = f32(bn.running_mean) - (f32(conv.bias) if conv.bias is not None else np.float32(0.0))
    g = f32(bn.weight) * (np.float32(1.0) / np.sqrt(f32(bn.running_var) + np.float32(BN_EPS)))
    folded = ConvBlock(conv.in_channels, conv.out_channels, conv.kernel_size[0], bn=False, bias=True)
    with torch.no_grad():
        folded.conv.weight.copy_(torch.from_numpy(f32(conv.weight) * g[:, None, None, None]))
        folded.conv.bias.copy_(torch.from_numpy(fma_f32(-g, mean, f32(bn.bias))))
    return folded


class SqueezeExcite(nn.Module):
    """§3: ``e = fc2(act(fc1(mean_hw(x))))``; ``out = sigmoid(e[:C])·x + e[C:]``."""

    def __init__(self, channels: int, se_channels: int, act: Any) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, se_channels)
        self.fc2 = nn.Linear(se_channels, 2 * channels)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.fc2(self.act(self.fc1(x.mean(dim=(2, 3)))))
        gate, bias = e.chunk(2, dim=1)
        return torch.sigmoid(gate)[:, :, None, None] * x + bias[:, :, None, None]


class Residual(nn.Module):
    """conv → BN → act → conv → BN → SE → + skip → act."""

    def __init__(self, channels: int, se_channels: int, act: Any) -> None:
        super().__init__()
        self.conv1 = ConvBlock(channels, channels, 3)
        self.conv2 = ConvBlock(channels, channels, 3)
        self.se = SqueezeExcite(channels, se_channels, act) if se_channels else None
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        if self.se is not None:
            y = self.se(y)
        return self.act(y + x)


class MultiHeadAttention(nn.Module):
    """lc0 MHA on tokens ``[B, 64, E]``: dense q/k/v ``E → d`` split into ``heads`` contiguous chunks of
    ``d/heads``, ``softmax(q·kᵀ/sqrt(d/heads))·v`` per head, concatenated, dense ``d → E``."""

    def __init__(self, emb: int, d_model: int, heads: int) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"encoder d_model {d_model} is not a multiple of {heads} heads")
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(emb, d_model), nn.Linear(emb, d_model), nn.Linear(emb, d_model)
        self.dense = nn.Linear(d_model, emb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:  # [B,64,d] -> [B,heads,64,d/heads]
            return t.reshape(b, n, self.heads, -1).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        w = torch.softmax(q @ k.transpose(-1, -2) / float(q.shape[-1]) ** 0.5, dim=-1)
        return self.dense((w @ v).transpose(1, 2).reshape(b, n, -1))


class EncoderLayer(nn.Module):
    """Post-LN transformer layer (lc0 ``MakeEncoderLayer`` with alpha 1): ``x = LN1(x + MHA(x))``;
    ``x = LN2(x + dense2(selu(dense1(x))))``, LayerNorm eps 1e-6. Tokens ``[B, 64, E]``."""

    def __init__(self, emb: int, d_model: int, heads: int, dff: int) -> None:
        super().__init__()
        self.mha = MultiHeadAttention(emb, d_model, heads)
        self.ln1 = nn.LayerNorm(emb, eps=LN_EPS)
        self.ffn = nn.ModuleDict({"dense1": nn.Linear(emb, dff), "dense2": nn.Linear(dff, emb)})
        self.ln2 = nn.LayerNorm(emb, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ln1(x + self.mha(x))
        return self.ln2(x + self.ffn["dense2"](F.selu(self.ffn["dense1"](x))))


class AttentionPolicy(nn.Module):
    """lc0's attention policy on a residual body (§5, §9): tokens ``[B,64,C]`` (token = rank·8 + file) →
    ``ip_pol`` dense + SELU → policy encoder layers → ``q = ip2_pol``, ``k = ip3_pol`` ``[B,64,d]``;
    ``logits[from,to] = q·kᵀ/sqrt(d)``; promotions ``q_{48+f}·k_{56+t}/sqrt(d) + ppo_p·k_{56+t} + ppo_n·k_{56+t}``
    (``ip4_pol [4, d]``, no bias, rows q r b n); the ``[B, 4288]`` vector is gathered to ``[B, 1858]``."""

    def __init__(self, filters: int, embedding: int, d_model: int, encoder_layers: int, encoder_heads: int,
                 encoder_d_model: int, encoder_dff: int) -> None:
        super().__init__()
        self.ip_pol = nn.Linear(filters, embedding)
        self.pol_encoder = nn.ModuleList(EncoderLayer(embedding, encoder_d_model, encoder_heads, encoder_dff)
                                         for _ in range(encoder_layers))
        self.ip2_pol = nn.Linear(embedding, d_model)
        self.ip3_pol = nn.Linear(embedding, d_model)
        self.ip4_pol = nn.Linear(d_model, 4, bias=False)
        self.register_buffer("gather", torch.from_numpy(attention_policy_gather()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # [B, C, 8, 8] -> [B, 64, C]
        e = F.selu(self.ip_pol(tokens))
        for layer in self.pol_encoder:
            e = layer(e)
        q, k = self.ip2_pol(e), self.ip3_pol(e)
        scale = 1.0 / float(q.shape[-1]) ** 0.5
        qk = (q @ k.transpose(1, 2)) * scale  # [B, 64 from, 64 to]
        off = self.ip4_pol(k[:, 56:]).transpose(1, 2)  # [B, 4, 8 to-file]: offsets q, r, b, n
        off = off[:, :3] + off[:, 3:]
        promo = qk[:, 48:56, 56:64, None] + off.transpose(1, 2)[:, None]  # [B, 8 from-file, 8 to-file, 3]
        flat = torch.cat([qk.flatten(1), promo.flatten(1)], dim=1)  # [B, 4288]
        return flat[:, self.gather]


class Lc0Net(nn.Module):
    """An lc0 SE-ResNet; ``forward(planes) -> {"policy": [B,1858] logits, "value": [B,3] WDL logits or [B,1]
    tanh value, "mlh": [B,1]}`` (mlh only with a moves-left head)."""

    VERIFY_INPUT = "planes"  # reference-npz input key for ``boardnet verify``

    def __init__(self, blocks: int, filters: int, se_channels: int = 0, policy: str = "convolution",
                 value: str = "wdl", moves_left: bool = False, activation: str = "relu",
                 policy_channels: int = 32, value_channels: int = 32, value_hidden: int = 128,
                 mlh_channels: int = 8, mlh_hidden: int = 128, input_format: int = 1,
                 pol_embedding_size: int = 64, policy_d_model: int = 64, pol_encoder_layers: int = 0,
                 pol_encoder_heads: int = 4, pol_encoder_d_model: int = 64, pol_encoder_dff: int = 128) -> None:
        super().__init__()
        if policy not in POLICY_FORMATS or value not in VALUE_FORMATS or activation not in ACTIVATIONS:
            raise ValueError(f"unsupported lc0 net: policy={policy} value={value} activation={activation}")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")
                       and (policy == "attention" or k not in ATTENTION_KEYS)
                       and (pol_encoder_layers or not k.startswith("pol_encoder_") or k == "pol_encoder_layers")
                       and (policy == "classical" or k != "policy_channels")}
        act = ACTIVATIONS[activation]
        self.act = act
        self.input = ConvBlock(INPUT_PLANES, filters, 3)
        self.residual = nn.ModuleList(Residual(filters, se_channels, act) for _ in range(blocks))
        if policy == "convolution":
            self.policy1 = ConvBlock(filters, filters, 3)
            self.policy = ConvBlock(filters, CONV_POLICY_CHANNELS, 3, bn=False, bias=True)
            self.register_buffer("policy_gather", torch.from_numpy(conv_policy_gather()), persistent=False)
        elif policy == "attention":
            self.attn_policy = AttentionPolicy(filters, pol_embedding_size, policy_d_model, pol_encoder_layers,
                                               pol_encoder_heads, pol_encoder_d_model, pol_encoder_dff)
        else:
            self.policy = ConvBlock(filters, policy_channels, 1)
            self.ip_pol = nn.Linear(policy_channels * 64, POLICY_SIZE)
        self.value = ConvBlock(filters, value_channels, 1)
        self.ip1_val = nn.Linear(value_channels * 64, value_hidden)
        self.ip2_val = nn.Linear(value_hidden, 3 if value == "wdl" else 1)
        if moves_left:
            self.moves_left = ConvBlock(filters, mlh_channels, 1)
            self.ip1_mov = nn.Linear(mlh_channels * 64, mlh_hidden)
            self.ip2_mov = nn.Linear(mlh_hidden, 1)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Lc0Net:
        from boardnet.lc0.bounds import check_config

        check_config(spec.config, cls)  # bounded before allocating (a 1.6 KB spec declared 100k blocks)
        return cls(**spec.config)

    def spec(self) -> ModelSpec:
        return ModelSpec("lc0", dict(self.config))

    def forward(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.heads(self.body(planes)[-1])

    def inference_form(self) -> Lc0Net:
        """A copy in lc0's inference form, in eval mode: every BatchNorm folded into its convolution as lc0 folds
        it at load time (:func:`fold_batchnorm`). Its outputs are lc0's to float32 noise (≤ 2e-5 on maia's
        logits); the form ``boardnet verify`` and the ONNX export use. Train and write the unfolded module: this
        copy has no BatchNorm tensors for ``net.proto``."""
        folded = copy.deepcopy(self).eval()
        for name, module in list(folded.named_modules()):
            if isinstance(module, ConvBlock) and module.bn is not None:
                parent, _, attr = name.rpartition(".")
                setattr(folded.get_submodule(parent), attr, fold_batchnorm(module))
        return folded

    def body(self, planes: torch.Tensor) -> list[torch.Tensor]:
        """Activations ``[B, filters, 8, 8]`` of the input convolution, then of each residual block."""
        acts = [self.act(self.input(planes))]
        for block in self.residual:
            acts.append(block(acts[-1]))
        return acts

    def heads(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``policy [B,1858]`` logits, ``value`` (``[B,3]`` WDL logits or ``[B,1]`` tanh), ``mlh [B,1]``."""
        out = {"policy": self._policy(x)}
        v = self.act(self.ip1_val(self.act(self.value(x)).flatten(1)))
        v = self.ip2_val(v)
        out["value"] = v if self.config["value"] == "wdl" else torch.tanh(v)
        if self.config["moves_left"]:
            m = self.act(self.ip1_mov(self.act(self.moves_left(x)).flatten(1)))
            out["mlh"] = F.relu(self.ip2_mov(m))
        return out

    def _policy(self, x: torch.Tensor) -> torch.Tensor:
        if self.config["policy"] == "convolution":
            flat = self.policy(self.act(self.policy1(x))).flatten(1)  # [B, 80·64] in C,H,W order
            return flat[:, self.policy_gather]
        if self.config["policy"] == "attention":
            return self.attn_policy(x)
        return self.ip_pol(self.act(self.policy(x)).flatten(1))

    def random_verify_inputs(self, n: int, rng: np.random.Generator, max_plies: int = 80) -> np.ndarray:
        """``float32 [n, 112, 8, 8]``: lc0 classical planes of positions reached by 0..``max_plies`` random legal
        moves (80 fills lc0's 8-position history)."""
        import chess

        from boardnet.lc0.planes import encode

        if self.config.get("input_format", 1) != 1:
            raise ValueError(f"random planes exist only for lc0 input format 1 (classical 112), "
                             f"not {self.config['input_format']}")
        out = np.empty((n, 112, 8, 8), np.float32)
        for i in range(n):
            board = chess.Board()
            for _ in range(int(rng.integers(0, max_plies + 1))):
                moves = list(board.legal_moves)
                if not moves or board.is_game_over(claim_draw=False):
                    break
                board.push(moves[int(rng.integers(len(moves)))])
            out[i] = encode(board)
        return out

    def verify_outputs(self, planes: torch.Tensor) -> dict[str, torch.Tensor]:
        """``policy_logits [B,1858]``, ``q [B]`` (= W − L), ``d [B]``, as in the lc0 fixtures."""
        out = self(planes)
        if self.config["value"] == "wdl":
            wdl = torch.softmax(out["value"], dim=1)
            q, d = wdl[:, 0] - wdl[:, 2], wdl[:, 1]
        else:
            q, d = out["value"][:, 0], torch.zeros_like(out["value"][:, 0])
        return {"policy_logits": out["policy"], "q": q, "d": d}
