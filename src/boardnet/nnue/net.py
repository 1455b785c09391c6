"""Float NNUE models (spec ``nnue.md`` §3, §4, §8) with optional factorized feature sets (§6.2, §6.4, §6.5).

- :class:`NnueNet`: SF15.1 SFNNv5, HalfKAv2_hm[^] 1024x2 + PSQT8, 8 layer stacks 16-32-1 chosen by piece count;
  the same stack at L1 1536 (SF16), 3072 / 128 (SF17.1 big / small), and with ``Full_Threats+HalfKAv2_hm[^]``
  at L1 1024, SF18's big net (threat rows first, int8 in the file, FT 1.0 = 255, see ``quantize.THREAT_FT_ONE``).
- :class:`NnueHalfKP`: SF12 HalfKP[^] 256x2-32-32-1.

Batch (what the data loader emits; the ForwardInjector passes ``in: [indices, bucket]``):

- ``indices [B, 2, A] int64``: REAL feature indices for (side to move, side not to move), padded with -1
  (A = 32 for one piece-square block; 128 + 32 with Full_Threats). A factorized model adds the virtual rows itself via the feature set's
  factor map, so the same data trains ``HalfKP`` and ``HalfKP^``.
- ``bucket [B] int64``: layer-stack / PSQT bucket ``(piece_count_including_kings - 1) // 4``; ignored by HalfKP.

Output ``[B]`` float, side to move, in units of 600 internal points (NP ``nnue2score``).

Weights: ``ft_weight [rows, L1]`` and ``ft_psqt [rows, 8]`` have ``rows = num_real + num_virtual``; virtual rows
start at zero so a fresh factorized model equals its plain coalesced model. :meth:`quantize` coalesces and
returns the integer NetFile :func:`boardnet.nnue.file.write_net` writes; :func:`dequantize` is the inverse.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, Field
from torch import nn

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import ConversionError
from boardnet.core.spec import ModelSpec, NetFile
from boardnet.nnue.features import FeatureSet, check_feature_name, get_feature_set, plain_name
from boardnet.nnue.features.block import coalesce_rows, factor_rows
from boardnet.nnue.features.full_threats import NAME as THREATS
from boardnet.nnue.quantize import (
    BIAS_SCALE,
    FT_ONE,
    HIDDEN_CLIP,
    HIDDEN_SCALE,
    NNUE2SCORE,
    OUT_B_SCALE,
    OUT_CLIP,
    OUT_W_SCALE,
    PAIR_SCALE,
    THREAT_CLIP,
    THREAT_FT_ONE,
    to_int,
)

HALFKP_ARCH = "halfkp_256x2-32-32"
# HalfKAv2_hm L1x2 + PSQT8, 8 stacks 16-32-1: SF15.1 (L1 1024), SF16 (1536), SF17.1 big (3072), SF17.1/18 small (128)
SFNN_L1 = (1024, 1536, 3072, 128)


THREATS_L1 = 1024  # Full_Threats+HalfKAv2_hm: SF18 big


def sfnn_arch(l1: int, threats: bool = False) -> str:
    """``.nnue`` arch name (``boardnet.nnue.file.ARCHS``) of a HalfKAv2_hm (+ Full_Threats) net with FT width
    ``l1``."""
    return ("full_threats+" if threats else "") + f"halfkav2_hm_{l1}x2-16-32x8"


SFNNV5_ARCH = sfnn_arch(1024)
# a feature-set name of the features/ registry (``+``-joined blocks, ``^`` = factorized)
FeatureName = Annotated[str, AfterValidator(check_feature_name)]


class _SparseFT(nn.Module):
    """Feature transformer over sparse real indices: embedding-bag sums, never a dense 22,528-wide matmul."""

    fs: FeatureSet
    fc0: nn.Linear
    fc1: nn.Linear
    fc2: nn.Linear

    def _init_ft(self, features: str, l1: int, psqt: int, init_std: float = 0.01) -> None:
        self.features = features
        self.fs = get_feature_set(features)
        self.description: str | None = None  # .nnue description to write; None = the format's default
        self.threat_rows = self._threat_rows()
        # FT 1.0 in the file's int16 units: 255 for a threat net (SF18 big), else 127 (§8)
        self.ft_one = THREAT_FT_ONE if self.threat_rows else FT_ONE
        rows = self.fs.num_rows
        w = torch.randn(rows, l1) * init_std
        w[self.fs.num_real:] = 0  # virtual rows start at zero (§6.5)
        self.ft_weight = nn.Parameter(w)
        self.ft_bias = nn.Parameter(torch.full((l1,), 0.3))
        if psqt:
            # each block's PSQT init (e.g. §6.4 material values) / 600 in every bucket; virtual rows 0
            init = torch.from_numpy(self.fs.psqt_init()) / NNUE2SCORE
            self.ft_psqt = nn.Parameter(init[:, None].repeat(1, psqt))
        # factor map as a non-persistent buffer so it follows .to(device) and stays out of the state dict
        self.register_buffer("factor_map", self.fs.factor_table(), persistent=False)

    def _threat_rows(self) -> int:
        """Full_Threats rows at the start of the FT (SF18's order: threat rows, then piece rows); 0 without
        threats. Full_Threats anywhere but first is refused: no engine reads that layout."""
        names = [b.plain for b in self.fs.blocks]
        if THREATS not in names:
            return 0
        if names[0] != THREATS:
            raise ConversionError(f"feature set {self.fs.name}: {THREATS} must be the first block "
                                  f"(Stockfish 18 order, e.g. {THREATS}+HalfKAv2_hm^)")
        return self.fs.blocks[0].num_real

    def ft_bags(self, idx: torch.Tensor, tables: list[torch.Tensor]) -> list[torch.Tensor]:
        """``sum`` of each table's rows for real indices ``idx [N, A]``, factor rows included -> ``[N, D]`` each.

        Two exact ways to the same sums: gather the factor rows per feature (small batches), or fold the
        virtual rows into the real ones once and gather real rows only, when the batch touches more rows
        (``N * A * n_factors``) than the table has; at batch 16384 that halves the feature-transformer traffic.
        """
        n_fact = self.factor_map.shape[1]
        if n_fact and idx.numel() * n_fact > self.fs.num_real:
            return [self.bag(coalesce_rows(t, self.factor_map), idx) for t in tables]
        rows = factor_rows(idx, self.factor_map)
        return [self.bag(t, rows) for t in tables]

    @staticmethod
    def bag(table: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``sum_j table[rows[n, j]]`` over ``rows >= 0`` -> ``[N, D]`` (no [N, A, D] intermediate).

        The -1 padding is dropped and the bags passed as offsets: ~13% faster forward+backward than
        per-sample 0/1 weights at batch 16384 (1 CPU thread).
        """
        valid = rows >= 0
        counts = valid.sum(1)
        offsets = torch.cumsum(counts, 0) - counts
        return F.embedding_bag(rows[valid], table, offsets, mode="sum")

    @torch.no_grad()
    def clip_weights(self) -> None:
        """Keep the quantized hidden/output weights (``fc0``, ``fc1``, ``fc2`` of every subclass) inside int8
        (§8); call after every optimizer step."""
        self.fc0.weight.clamp_(-HIDDEN_CLIP, HIDDEN_CLIP)
        self.fc1.weight.clamp_(-HIDDEN_CLIP, HIDDEN_CLIP)
        self.fc2.weight.clamp_(-OUT_CLIP, OUT_CLIP)
        if self.threat_rows:  # int8 threat weights: round(x*255) in -128..127 (``quantize.THREAT_CLIP``)
            self.ft_weight[: self.threat_rows].clamp_(*THREAT_CLIP)

    def coalesced_ft(self) -> dict[str, torch.Tensor]:
        """FT tensors with virtual rows folded in (§6.5): ``ft_weight [num_real, L1]`` (+ ``ft_psqt``)."""
        out = {"ft_weight": self.fs.coalesce(self.ft_weight.detach()), "ft_bias": self.ft_bias.detach().clone()}
        if hasattr(self, "ft_psqt"):
            out["ft_psqt"] = self.fs.coalesce(self.ft_psqt.detach())
        return out

    def quantized_ft(self) -> dict[str, torch.Tensor]:
        """Coalesced FT tensors in ``.nnue`` integers (§8): ``ft.bias``/``ft.weight`` int16, ``ft.psqt`` int32,
        scaled by :attr:`ft_one`; a threat net's first rows go to ``ft.threat_weight`` int8 and
        ``ft.threat_psqt`` int32 (the layout of ``boardnet.nnue.file``)."""
        ft = self.coalesced_ft()
        t = self.threat_rows
        sd = {"ft.bias": to_int(ft["ft_bias"], self.ft_one, torch.int16),
              "ft.weight": to_int(ft["ft_weight"][t:], self.ft_one, torch.int16)}
        if t:
            sd["ft.threat_weight"] = to_int(ft["ft_weight"][:t], self.ft_one, torch.int8)
        if "ft_psqt" in ft:
            sd["ft.psqt"] = to_int(ft["ft_psqt"][t:], OUT_B_SCALE, torch.int32)
            if t:
                sd["ft.threat_psqt"] = to_int(ft["ft_psqt"][:t], OUT_B_SCALE, torch.int32)
        return sd

    def load_quantized_ft(self, sd: dict[str, torch.Tensor]) -> None:
        """Float FT weights from ``.nnue`` integers (inverse of :meth:`quantized_ft`; zero virtual rows)."""
        f32 = {k: v.to(torch.float32) for k, v in sd.items() if k.startswith("ft.")}
        weight, psqt = f32["ft.weight"], f32.get("ft.psqt")
        if self.threat_rows:
            weight = torch.cat([f32["ft.threat_weight"], weight])
            psqt = torch.cat([f32["ft.threat_psqt"], psqt])
        self.ft_weight.copy_(self.fs.expand(weight / self.ft_one))
        self.ft_bias.copy_(f32["ft.bias"] / self.ft_one)
        if psqt is not None:
            self.ft_psqt.copy_(self.fs.expand(psqt / OUT_B_SCALE))

    def coalesced(self) -> nn.Module:
        """The same network on the plain feature set (virtual rows folded in): same float outputs."""
        kwargs = dict(self.spec().config)
        kwargs["features"] = self.fs.plain_name
        plain = type(self)(**kwargs)
        sd = {k: v.detach().clone() for k, v in self.state_dict().items()}
        sd.update(self.coalesced_ft())
        plain.load_state_dict(sd)
        plain.description = self.description
        return plain

    def spec(self) -> ModelSpec:
        raise NotImplementedError

    def _meta(self) -> dict:
        return {} if self.description is None else {"description": self.description}

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> _SparseFT:
        """Float model of a float spec (``.pt``); quantized ``.nnue`` tensors go through :func:`dequantize`."""
        if spec.meta.get("quantized") or "arch" in spec.config:
            raise ConversionError(f"{spec.config.get('arch')} holds quantized integers; use "
                                  "boardnet.nnue.net.dequantize (or boardnet convert NET.nnue NET.pt)")
        model = cls(**spec.config)
        model.description = spec.meta.get("description")
        return model


class NnueNet(_SparseFT):
    """SFNNv5: HalfKAv2_hm[^] -> 1024x2 (+PSQT 8) -> pairwise product -> 8 stacks of 16 -> sqr/CReLU 30 -> 32 -> 1.

    Args:
        features: feature set name, ``"HalfKAv2_hm^"`` (factorized, A 768 virtual rows) or ``"HalfKAv2_hm"`` for
            the SF15.1 ``.nnue`` layout; ``"Full_Threats+HalfKAv2_hm^"`` for SF18's big net (79,856 threat rows
            before the 22,528 piece rows).
        l1: feature transformer width per perspective; l2: first stack layer outputs minus the skip output;
        l3: second stack layer width; stacks: layer stacks; psqt: PSQT buckets.
        ft_init_std: standard deviation of the normal init of the real FT rows (0: they start at zero, the net
            at its biases and PSQT material values; rows no training position touches then stay zero).
            Not part of the architecture (``spec``).
    """

    class Config(ComponentConfig):
        type: Literal["nnue"] = "nnue"
        features: FeatureName = "HalfKAv2_hm^"
        l1: int = Field(1024, gt=0, multiple_of=2)
        l2: int = Field(15, gt=0)
        l3: int = Field(32, gt=0)
        stacks: int = Field(8, gt=0)
        psqt: int = Field(8, gt=0)
        ft_init_std: float = Field(0.01, ge=0)

    def __init__(self, features: str = "HalfKAv2_hm^", l1: int = 1024, l2: int = 15, l3: int = 32,
                 stacks: int = 8, psqt: int = 8, ft_init_std: float = 0.01) -> None:
        super().__init__()
        self.l1, self.l2, self.l3, self.stacks, self.psqt = l1, l2, l3, stacks, psqt
        self._init_ft(features, l1, psqt, ft_init_std)
        self.pair_scale = PAIR_SCALE[self.ft_one]  # pairwise product of 1.0 * 1.0 in hidden-layer floats
        self.fc0 = nn.Linear(l1, (l2 + 1) * stacks)
        self.fc1 = nn.Linear(2 * l2, l3 * stacks)
        self.fc2 = nn.Linear(l3, stacks)

    def spec(self) -> ModelSpec:
        return ModelSpec("nnue", {"features": self.features, "l1": self.l1, "l2": self.l2, "l3": self.l3,
                                  "stacks": self.stacks, "psqt": self.psqt}, self._meta())

    def forward(self, indices: torch.Tensor, bucket: torch.Tensor) -> torch.Tensor:
        """``indices [B, 2, A]`` real indices (stm, nstm; -1 pad), ``bucket [B]`` -> ``[B]`` (x600 internal)."""
        b = indices.shape[0]
        acc, psq = self.ft_bags(indices.reshape(b * 2, -1), [self.ft_weight, self.ft_psqt])
        acc = (acc + self.ft_bias).reshape(b, 2, self.l1)
        psq = psq.reshape(b, 2, -1)
        psq = psq.gather(2, bucket.view(b, 1, 1).expand(b, 2, 1))[..., 0]
        a = acc.clamp(0, 1)
        half = self.l1 // 2
        u = (a[..., :half] * a[..., half:] * self.pair_scale).reshape(b, self.l1)
        sel = torch.arange(b, device=indices.device)
        y0 = self.fc0(u).view(b, self.stacks, -1)[sel, bucket]
        x1 = torch.cat([(y0[:, : self.l2] ** 2 * (127 / 128)).clamp(0, 1), y0[:, : self.l2].clamp(0, 1)], 1)
        x2 = self.fc1(x1).view(b, self.stacks, -1)[sel, bucket].clamp(0, 1)
        y2 = (x2 * self.fc2.weight[bucket]).sum(1) + self.fc2.bias[bucket]
        return y2 + y0[:, self.l2] + (psq[:, 0] - psq[:, 1]) / 2

    @torch.no_grad()
    def quantize(self, description: str | None = None) -> NetFile:
        """Integer tensors in ``.nnue`` layout (§8 scales), virtual rows coalesced, as ``read_net`` gives them."""
        sd = self.quantized_ft()
        w0 = self.fc0.weight.view(self.stacks, self.l2 + 1, -1)
        b0 = self.fc0.bias.view(self.stacks, -1)
        w1 = self.fc1.weight.view(self.stacks, self.l3, -1)
        b1 = self.fc1.bias.view(self.stacks, -1)
        pad_in = -(-2 * self.l2 // 32) * 32  # §3 padding rule: inputs padded to a multiple of 32
        for k in range(self.stacks):
            sd[f"stacks.{k}.l1.weight"] = to_int(w0[k], HIDDEN_SCALE, torch.int8)
            sd[f"stacks.{k}.l1.bias"] = to_int(b0[k], BIAS_SCALE, torch.int32)
            wk = F.pad(w1[k], (0, pad_in - 2 * self.l2))
            sd[f"stacks.{k}.l2.weight"] = to_int(wk, HIDDEN_SCALE, torch.int8)
            sd[f"stacks.{k}.l2.bias"] = to_int(b1[k], BIAS_SCALE, torch.int32)
            sd[f"stacks.{k}.out.weight"] = to_int(self.fc2.weight[k: k + 1], OUT_W_SCALE, torch.int8)
            sd[f"stacks.{k}.out.bias"] = to_int(self.fc2.bias[k: k + 1], OUT_B_SCALE, torch.int32)
        return NetFile(_quantized_spec(self.arch_name(), self.fs.plain_name, description or self.description), sd)

    def arch_name(self) -> str:
        """The ``.nnue`` arch this net exports to, picked by FT width and threat block (another width gets the
        nearest name and the file writer names the misfit)."""
        if self.threat_rows:
            return sfnn_arch(THREATS_L1, threats=True)
        return sfnn_arch(self.l1 if self.l1 in SFNN_L1 else 1024)

    @torch.no_grad()
    def load_quantized(self, net: NetFile) -> None:
        """Set float weights from integer ``.nnue`` tensors (inverse of :meth:`quantize`; zero virtual rows)."""
        sd = net.state_dict
        f32 = {k: v.to(torch.float32) for k, v in sd.items()}
        self.load_quantized_ft(sd)
        ks = range(self.stacks)
        self.fc0.weight.copy_(torch.cat([f32[f"stacks.{k}.l1.weight"] for k in ks]) / HIDDEN_SCALE)
        self.fc0.bias.copy_(torch.cat([f32[f"stacks.{k}.l1.bias"] for k in ks]) / BIAS_SCALE)
        self.fc1.weight.copy_(torch.cat([f32[f"stacks.{k}.l2.weight"][:, : 2 * self.l2] for k in ks]) / HIDDEN_SCALE)
        self.fc1.bias.copy_(torch.cat([f32[f"stacks.{k}.l2.bias"] for k in ks]) / BIAS_SCALE)
        self.fc2.weight.copy_(torch.cat([f32[f"stacks.{k}.out.weight"] for k in ks]) / OUT_W_SCALE)
        self.fc2.bias.copy_(torch.cat([f32[f"stacks.{k}.out.bias"] for k in ks]) / OUT_B_SCALE)


class NnueHalfKP(_SparseFT):
    """SF12 HalfKP[^] 256x2-32-32-1: clipped ReLU after the FT and both hidden layers (§3, §9.2).

    Args:
        features: feature set name, ``"HalfKP^"`` (HalfK 64 + P 640 virtual rows) or ``"HalfKP"`` for the SF12
            ``.nnue`` layout.
        l1, l2, l3: widths (the ``.nnue`` format is 256, 32, 32).
    """

    class Config(ComponentConfig):
        type: Literal["nnue_halfkp"] = "nnue_halfkp"
        features: FeatureName = "HalfKP^"
        l1: int = Field(256, gt=0)
        l2: int = Field(32, gt=0)
        l3: int = Field(32, gt=0)

    def __init__(self, features: str = "HalfKP^", l1: int = 256, l2: int = 32, l3: int = 32) -> None:
        super().__init__()
        self.l1, self.l2, self.l3 = l1, l2, l3
        self._init_ft(features, l1, 0)
        self.fc0 = nn.Linear(2 * l1, l2)
        self.fc1 = nn.Linear(l2, l3)
        self.fc2 = nn.Linear(l3, 1)

    def spec(self) -> ModelSpec:
        return ModelSpec("nnue_halfkp", {"features": self.features, "l1": self.l1, "l2": self.l2, "l3": self.l3},
                         self._meta())

    def forward(self, indices: torch.Tensor, bucket: torch.Tensor | None = None) -> torch.Tensor:
        """``indices [B, 2, A]`` real HalfKP indices (stm, nstm; -1 pad) -> ``[B]`` (x600 internal)."""
        b = indices.shape[0]
        acc = self.ft_bags(indices.reshape(b * 2, -1), [self.ft_weight])[0] + self.ft_bias
        x = acc.reshape(b, 2 * self.l1).clamp(0, 1)
        x = self.fc0(x).clamp(0, 1)
        x = self.fc1(x).clamp(0, 1)
        return self.fc2(x)[:, 0]

    @torch.no_grad()
    def quantize(self, description: str | None = None) -> NetFile:
        """Integer tensors of the SF12 ``.nnue`` layout (virtual rows coalesced)."""
        sd = self.quantized_ft()
        for name, fc, last in (("l1", self.fc0, False), ("l2", self.fc1, False), ("out", self.fc2, True)):
            sd[f"stacks.0.{name}.weight"] = to_int(fc.weight, OUT_W_SCALE if last else HIDDEN_SCALE, torch.int8)
            sd[f"stacks.0.{name}.bias"] = to_int(fc.bias, OUT_B_SCALE if last else BIAS_SCALE, torch.int32)
        return NetFile(_quantized_spec(HALFKP_ARCH, self.fs.plain_name, description or self.description), sd)

    @torch.no_grad()
    def load_quantized(self, net: NetFile) -> None:
        """Float weights from integer SF12 ``.nnue`` tensors (zero virtual rows)."""
        f32 = {k: v.to(torch.float32) for k, v in net.state_dict.items()}
        self.load_quantized_ft(net.state_dict)
        for name, fc, last in (("l1", self.fc0, False), ("l2", self.fc1, False), ("out", self.fc2, True)):
            fc.weight.copy_(f32[f"stacks.0.{name}.weight"] / (OUT_W_SCALE if last else HIDDEN_SCALE))
            fc.bias.copy_(f32[f"stacks.0.{name}.bias"] / (OUT_B_SCALE if last else BIAS_SCALE))


def _quantized_spec(arch: str, features: str, description: str | None) -> ModelSpec:
    meta: dict = {"quantized": True}
    if description is not None:
        meta["description"] = description
    return ModelSpec("nnue", {"arch": arch, "features": features}, meta)


_BY_ARCH: dict[str, tuple[type[_SparseFT], dict[str, int]]] = {
    HALFKP_ARCH: (NnueHalfKP, {}), **{sfnn_arch(l1): (NnueNet, {"l1": l1}) for l1 in SFNN_L1},
    sfnn_arch(THREATS_L1, threats=True): (NnueNet, {"l1": THREATS_L1})}


def dequantize(net: NetFile, features: str | None = None) -> NnueNet | NnueHalfKP:
    """Float model of a quantized ``.nnue`` NetFile; ``features`` = the file's block or its ``^`` variant
    (virtual rows added as zeros so factorized training resumes with identical outputs)."""
    arch = net.spec.config.get("arch")
    file_features = net.spec.config.get("features")
    if arch not in _BY_ARCH:
        raise ConversionError(f"nnue arch {arch!r} has no float model; known: {', '.join(_BY_ARCH)}")
    features = features or file_features
    if plain_name(features) != file_features:
        raise ConversionError(f"--features {features} does not match the file's feature set {file_features} "
                              f"(use {file_features} or {file_features}^)")
    cls, sizes = _BY_ARCH[arch]
    model = cls(features=features, **sizes)
    model.load_quantized(net)
    model.description = net.spec.meta.get("description")  # kept so quantize() writes the same bytes
    return model
