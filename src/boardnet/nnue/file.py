"""Stockfish ``.nnue`` files (spec ``nnue.md`` §1-§4): SF12 HalfKP 256x2-32-32 and SF15.1 HalfKAv2_hm 1024x2+PSQT8.

A read gives a :class:`~boardnet.core.spec.NetFile` of family ``nnue`` holding the *quantized* integer tensors exactly
as stored (``ft.bias`` int16 ``[L1]``, ``ft.weight`` int16 ``[F, L1]`` feature-major, ``ft.psqt`` int32 ``[F, 8]``,
``stacks.{k}.{l1,l2,out}.{bias,weight}`` int32 / int8 ``[out, padded_in]``). Writing it back reproduces the bytes.
Everything is validated (version, hashes, description length, exact file size) before the big tensors are read.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from boardnet.core.errors import ConversionError, FormatError
from boardnet.core.io import atomic_write
from boardnet.core.spec import ModelSpec, NetFile
from boardnet.nnue import leb128
from boardnet.nnue.features import MASK32, get_block, get_feature_set, plain_name
from boardnet.nnue.leb128 import LEB128_MAGIC

MAX_DESCRIPTION = 1 << 16  # real nets use <= 256 bytes; bounds the read before any allocation

# §2 hash arithmetic.
_NET_START = 0xEC42E90D
_AFFINE = 0xCC03DAE4
_CRELU = 0x538D24C7


def affine_hash(prev: int, out: int) -> int:
    """Hash of AffineTransform(out) stacked on a layer with hash ``prev`` (§2)."""
    return ((_AFFINE + out) ^ (prev >> 1) ^ (prev << 31)) & MASK32


def crelu_hash(prev: int) -> int:
    """Hash of ClippedReLU stacked on a layer with hash ``prev`` (§2)."""
    return (_CRELU + prev) & MASK32


def stack_hash(start: int, outs: tuple[int, ...]) -> int:
    """Fold of Affine(out)+CReLU over ``outs``; no CReLU after the final 1-output layer (§2)."""
    h = start & MASK32
    for out in outs:
        h = affine_hash(h, out)
        if out != 1:
            h = crelu_hash(h)
    return h


@dataclass(frozen=True)
class Arch:
    """One supported on-disk architecture (§3, §4)."""

    name: str
    version: int
    features: str  # a plain block of the features/ registry: it gives the hash and the FT row count
    l1: int
    psqt_buckets: int
    stacks: int
    # (out, padded_in) of each dense layer of one stack
    layers: tuple[tuple[int, int], ...]
    net_start: int

    @property
    def feature_hash(self) -> int:
        return get_block(self.features).hash

    @property
    def num_features(self) -> int:
        return get_block(self.features).num_real

    @property
    def ft_hash(self) -> int:
        return (self.feature_hash ^ (2 * self.l1)) & MASK32

    @property
    def net_hash(self) -> int:
        return stack_hash(self.net_start, tuple(o for o, _ in self.layers))

    @property
    def header_hash(self) -> int:
        return self.ft_hash ^ self.net_hash

    def blocks(self) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
        """Ordered tensors after the FT hash; ``("#hash", ...)`` marks a u32 stack hash."""
        out: list[tuple[str, np.dtype, tuple[int, ...]]] = [
            ("ft.bias", np.dtype("<i2"), (self.l1,)),
            ("ft.weight", np.dtype("<i2"), (self.num_features, self.l1)),
        ]
        if self.psqt_buckets:
            out.append(("ft.psqt", np.dtype("<i4"), (self.num_features, self.psqt_buckets)))
        for k in range(self.stacks):
            out.append(("#hash", np.dtype("<u4"), (1,)))
            for name, (o, i) in zip(("l1", "l2", "out"), self.layers, strict=True):
                out.append((f"stacks.{k}.{name}.bias", np.dtype("<i4"), (o,)))
                out.append((f"stacks.{k}.{name}.weight", np.dtype("i1"), (o, i)))
        return out

    def body_size(self) -> int:
        """Bytes after the description: FT hash + all blocks."""
        return 4 + sum(dt.itemsize * int(np.prod(shape)) for _, dt, shape in self.blocks())


ARCHS: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch("halfkp_256x2-32-32", 0x7AF32F16, "HalfKP", 256, 0, 1,
             ((32, 512), (32, 32), (1, 32)), _NET_START ^ 512),
        Arch("halfkav2_hm_1024x2-16-32x8", 0x7AF32F20, "HalfKAv2_hm", 1024, 8, 8,
             ((16, 1024), (32, 32), (1, 32)), _NET_START ^ 2048),
    )
}

HALFKP_DESCRIPTION = (
    "Features=HalfKP(Friend)[41024->256x2],Network=AffineTransform[1<-32](ClippedReLU[32](AffineTransform[32<-32]"
    "(ClippedReLU[32](AffineTransform[32<-512](InputSlice[512(0:512)])))))"
)
NP_DESCRIPTION = "Network trained with the https://github.com/glinscott/nnue-pytorch trainer."


def _find_arch(path: Path, version: int, header_hash: int) -> Arch:
    versions = {a.version for a in ARCHS.values()}
    if version not in versions:
        raise FormatError(path, f"unsupported version 0x{version:08X}; expected one of "
                          + ", ".join(f"0x{v:08X}" for v in sorted(versions)), offset=0, field="version")
    for arch in ARCHS.values():
        if arch.version == version and arch.header_hash == header_hash:
            return arch
    expected = ", ".join(f"0x{a.header_hash:08X} ({a.name})" for a in ARCHS.values() if a.version == version)
    raise FormatError(path, f"unknown header hash 0x{header_hash:08X}; expected {expected}", offset=4,
                      field="header hash")


def read_preamble(fh: BinaryIO, path: Path, size: int) -> tuple[Arch, str, int]:
    """Header (version, hash, description) -> (arch, description, offset of the FT hash)."""
    head = fh.read(12)
    if len(head) < 12:
        raise FormatError(path, f"file is {size} bytes; a .nnue header needs 12", offset=len(head), field="header")
    version, header_hash, n = struct.unpack("<III", head)
    arch = _find_arch(path, version, header_hash)
    if n > MAX_DESCRIPTION:
        raise FormatError(path, f"description length {n} exceeds {MAX_DESCRIPTION}", offset=8,
                          field="description length")
    raw = fh.read(n)
    if len(raw) < n:
        raise FormatError(path, f"truncated description: {len(raw)} of {n} bytes", offset=12 + len(raw),
                          field="description")
    return arch, raw.decode("latin-1"), 12 + n


def check_ft_hash(path: Path, data: np.ndarray, arch: Arch, off: int) -> None:
    """The feature-transformer hash (first uint32 of ``data``, the body from file offset ``off``) must be the
    arch's."""
    (ft_hash,) = struct.unpack_from("<I", data, 0)
    if ft_hash != arch.ft_hash:
        raise FormatError(path, f"feature transformer hash 0x{ft_hash:08X}; expected 0x{arch.ft_hash:08X}",
                          offset=off, field="ft hash")


def read_plain_block(path: Path, data: np.ndarray, pos: int, off: int, arch: Arch, name: str, dt: np.dtype,
                     shape: tuple[int, ...], state: dict[str, torch.Tensor]) -> int:
    """Read the uncompressed block ``name`` (a tensor into ``state``, or ``#hash`` checked against the arch) at
    ``data[pos:]`` (file offset ``off + pos``); returns the position after it. Callers checked the size."""
    count = int(np.prod(shape))
    arr = data[pos:pos + count * dt.itemsize].view(dt).reshape(shape)
    if name == "#hash":
        if int(arr[0]) != arch.net_hash:
            raise FormatError(path, f"stack hash 0x{int(arr[0]):08X}; expected 0x{arch.net_hash:08X}",
                              offset=off + pos, field="stack hash")
    else:
        state[name] = torch.from_numpy(arr.astype(dt.newbyteorder("=")))
    return pos + count * dt.itemsize


def read_header(path: str | os.PathLike[str]) -> tuple[Arch, str, int]:
    """Validate header and exact file size; returns (arch, description, offset of the FT hash)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        arch, desc, ft_at = read_preamble(fh, path, size)
    if is_leb128_compressed(path):
        return arch, desc, ft_at  # §5 compressed FT: the size varies; read_leb128_net validates the body
    expected = ft_at + arch.body_size()
    if size != expected:
        raise FormatError(path, f"file is {size} bytes; {arch.name} with a {ft_at - 12}-byte description needs "
                          f"{expected}", offset=min(size, expected), field="file size")
    return arch, desc, ft_at


def read_net(path: str | os.PathLike[str], features: str | None = None) -> NetFile:
    """Read a ``.nnue`` file: quantized int tensors (see module doc), or with ``features`` a float model.

    ``features`` (``--features``) must be the file's feature set or its factorized ``^`` variant; the float
    NetFile then has zero virtual rows, so ``.nnue -> .pt --features HalfKP^`` resumes factorized training.
    """
    net = read_quantized(path)
    if features is None:
        return net
    from boardnet.nnue.net import dequantize

    try:
        model = dequantize(net, features)
    except ConversionError as err:
        raise ConversionError(f"{path}: {err}") from None
    return NetFile(model.spec(), model.state_dict())


def read_quantized(path: str | os.PathLike[str]) -> NetFile:
    """Read a ``.nnue`` file into quantized int tensors (see module doc); LEB128-compressed FTs too (§5)."""
    path = Path(path)
    if is_leb128_compressed(path):
        return read_leb128_net(path)
    arch, description, off = read_header(path)
    data = np.fromfile(path, dtype=np.uint8, offset=off)  # size already checked exactly
    check_ft_hash(path, data, arch, off)
    pos = 4
    state: dict[str, torch.Tensor] = {}
    for name, dt, shape in arch.blocks():
        pos = read_plain_block(path, data, pos, off, arch, name, dt, shape, state)
    spec = ModelSpec("nnue", {"arch": arch.name, "features": arch.features},
                     {"version": arch.version, "description": description, "quantized": True,
                      "header_hash": arch.header_hash})
    return NetFile(spec, state)


def write_net(net: NetFile, path: str | os.PathLike[str], features: str | None = None,
              encoding: str | None = None) -> None:
    """Write a ``.nnue`` file atomically from quantized int tensors (as :func:`read_net` gives them) or from a
    float NNUE model (our ``.pt``; quantized with virtual rows coalesced, §6.5, §8).

    ``features`` (``--features``), if given, must name the net's feature set (plain or ``^``); otherwise one
    :class:`ConversionError` names both. ``encoding`` (``--encoding``): ``plain`` (default, what SF12/SF15.1
    read) or ``leb128`` (§5 compressed FT, SF16+ / nnue-pytorch style).
    """
    path = Path(path)
    encoding = encoding.lower() if encoding else None
    if encoding not in (None, "plain", "leb128"):
        raise ConversionError(f"--encoding {encoding}: .nnue files take plain or leb128")
    if "arch" not in net.spec.config:
        net = quantize_float(net, features)
    elif features is not None and plain_name(features) != net.spec.config.get("features"):
        raise ConversionError(f"--features {features} does not match the net's feature set "
                              f"{net.spec.config.get('features')}")
    if encoding == "leb128":

        write_leb128_net(net, path)
        return
    write_parts(path, file_parts(net, path))


TensorEncoder = Callable[[str, np.ndarray, np.dtype], list[bytes]]


def plain_tensor(name: str, arr: np.ndarray, dt: np.dtype) -> list[bytes]:
    """The plain little-endian bytes of one checked tensor (``name`` unused: every tensor is stored alike)."""
    return [np.ascontiguousarray(arr.astype(dt)).tobytes()]


def file_parts(net: NetFile, path: Path, encode_tensor: TensorEncoder = plain_tensor) -> list[bytes]:
    """The byte strings of a quantized NetFile's ``.nnue`` file, in order: header, description, hashes and
    each tensor (checked for presence, shape and dtype range, then stored by ``encode_tensor``)."""
    arch_name = net.spec.config.get("arch")
    if arch_name not in ARCHS:
        raise FormatError(path, f"unknown nnue arch {arch_name!r}; expected one of {sorted(ARCHS)}", field="arch")
    arch = ARCHS[arch_name]
    if net.spec.config.get("features", arch.features) != arch.features:
        raise FormatError(path, f"{arch.name} files hold {arch.features} features, not {net.spec.config['features']}",
                          field="features")
    default = HALFKP_DESCRIPTION if arch.psqt_buckets == 0 else NP_DESCRIPTION
    desc = str(net.spec.meta.get("description", default)).encode("latin-1")
    parts = [struct.pack("<III", arch.version, arch.header_hash, len(desc)), desc, struct.pack("<I", arch.ft_hash)]
    for name, dt, shape in arch.blocks():
        if name == "#hash":
            parts.append(struct.pack("<I", arch.net_hash))
            continue
        if name not in net.state_dict:
            raise FormatError(path, f"missing tensor {name}", field=name)
        arr = net.state_dict[name].detach().cpu().numpy()
        if tuple(arr.shape) != shape:
            raise FormatError(path, f"shape {tuple(arr.shape)}; expected {shape}", field=name)
        info = np.iinfo(dt)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise FormatError(path, f"values {arr.min()}..{arr.max()} do not fit {dt.name}", field=name)
        parts += encode_tensor(name, arr, dt)
    return parts


def write_parts(path: Path, parts: list[bytes]) -> None:
    """Write ``parts`` one after the other to ``path``, atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for p in parts:
                fh.write(p)

    atomic_write(path, write)


def quantize_float(net: NetFile, features: str | None = None) -> NetFile:
    """Quantized NetFile of a float NNUE NetFile (family ``nnue`` / ``nnue_halfkp``, e.g. a training ``.pt``)."""
    from boardnet.core.build import build_from_spec
    if net.spec.family not in ("nnue", "nnue_halfkp"):
        raise ConversionError(f"a {net.spec.family!r} network cannot be written as .nnue (needs nnue or nnue_halfkp)")
    own = net.spec.config.get("features", "")
    if features is not None and features not in (own, plain_name(own)):
        raise ConversionError(f"--features {features} does not match the checkpoint's feature set {own}")
    model = build_from_spec(net.spec)
    try:
        model.load_state_dict(net.state_dict)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ConversionError(f"checkpoint tensors do not fit {net.spec.family} {own}: {first}") from None
    return model.quantize()


def inspect_file(path: str | os.PathLike[str]) -> str:
    """Header facts of a ``.nnue`` file without reading the tensors (one ``key: value`` per line)."""
    arch, description, _ = read_header(path)

    kind = "nnue (Stockfish, LEB128-compressed FT)" if is_leb128_compressed(path) else "nnue (Stockfish)"
    facts = {"file": os.fspath(path), "format": kind, "size": f"{Path(path).stat().st_size:,} bytes",
             "version": f"0x{arch.version:08X}", "architecture": arch.name,
             "features": f"{arch.features} ({arch.num_features:,} inputs)",
             "layers": f"{arch.l1}x2" + (f" + PSQT {arch.psqt_buckets}" if arch.psqt_buckets else "")
             + f", {arch.stacks} stack(s) " + "-".join(str(o) for o, _ in arch.layers),
             "header hash": f"0x{arch.header_hash:08X}", "ft hash": f"0x{arch.ft_hash:08X}",
             "network hash": f"0x{arch.net_hash:08X}", "description": description}
    return "\n".join(f"{k}: {v}" for k, v in facts.items())


# nnue-pytorch state-dict keys (NP-2022 model.py: DoubleFeatureTransformerSlice "input" with L1 + 8 PSQT columns,
# LayerStacks l1 / l1_fact / l2 / output; NP-2021 HalfKP: input, l1, l2, output).
_NP_SFNNV5_KEYS = ("input.weight", "input.bias", "layer_stacks.l1.weight", "layer_stacks.l1.bias",
                   "layer_stacks.l2.weight", "layer_stacks.l2.bias", "layer_stacks.output.weight",
                   "layer_stacks.output.bias")
_NP_HALFKP_KEYS = ("input.weight", "input.bias", "l1.weight", "l1.bias", "l2.weight", "l2.bias", "output.weight",
                   "output.bias")


def _np_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an nnue-pytorch ``.pt`` state dict or Lightning ``.ckpt``, loaded with weights_only."""
    from boardnet.core.io import safe_torch_load

    data = safe_torch_load(path)
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]  # Lightning checkpoint
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise FormatError(path, "no tensor state dict (nnue-pytorch pickled whole models cannot be read safely; "
                          "save model.state_dict() instead)", field="state_dict")
    return {str(k).removeprefix("model."): v for k, v in data.items()}


def _np_features(path: Path, rows: int, candidates: tuple[str, ...], features: str | None) -> str:
    by_rows = {get_feature_set(c).num_rows: c for c in candidates}
    if rows not in by_rows:
        raise FormatError(path, f"input.weight has {rows} feature rows; expected one of "
                          + ", ".join(f"{n} ({c})" for n, c in by_rows.items()), field="input.weight")
    found = by_rows[rows]
    if features is not None and features != found:
        raise ConversionError(f"{path}: --features {features} does not match the checkpoint's feature set {found} "
                              f"({rows} input rows)")
    return found


def read_nnue_pytorch(path: str | os.PathLike[str], features: str | None = None) -> NetFile:
    """Float NetFile from an nnue-pytorch state dict (``.ckpt`` Lightning checkpoint or ``.pt`` state dict).

    SFNNv5 (NP-2022): ``input.weight [rows, 1024 + 8]`` splits into FT and PSQT columns; the layer-stack
    factorizer ``l1_fact`` is folded into every stack of ``l1`` (as NP's serializer does). HalfKP (NP-2021):
    ``input.weight [rows, 256]`` (or the older ``nn.Linear`` layout ``[256, rows]``). The feature set is
    recognised by the row count; ``features`` (``--features``), if given, must agree.
    """
    from boardnet.nnue.net import NnueHalfKP, NnueNet

    path = Path(path)
    sd = _np_state_dict(path)
    model: NnueNet | NnueHalfKP
    if all(k in sd for k in _NP_SFNNV5_KEYS):
        w, b = sd["input.weight"], sd["input.bias"]
        if w.ndim != 2 or b.ndim != 1 or w.shape[1] != 1032 or b.shape[0] != 1032:
            raise FormatError(path, f"input.weight {list(w.shape)}, input.bias {list(b.shape)}; expected "
                              "[rows, 1032] and [1032] (L1 1024 + 8 PSQT)", field="input.weight")
        feats = _np_features(path, w.shape[0], ("HalfKAv2_hm", "HalfKAv2_hm^"), features)
        model = NnueNet(features=feats)
        l1w, l1b = sd["layer_stacks.l1.weight"], sd["layer_stacks.l1.bias"]
        if "layer_stacks.l1_fact.weight" in sd:
            l1w = l1w + sd["layer_stacks.l1_fact.weight"].repeat(model.stacks, 1)
            l1b = l1b + sd["layer_stacks.l1_fact.bias"].repeat(model.stacks)
        ours = {"ft_weight": w[:, :1024], "ft_psqt": w[:, 1024:], "ft_bias": b[:1024], "fc0.weight": l1w,
                "fc0.bias": l1b, "fc1.weight": sd["layer_stacks.l2.weight"], "fc1.bias": sd["layer_stacks.l2.bias"],
                "fc2.weight": sd["layer_stacks.output.weight"], "fc2.bias": sd["layer_stacks.output.bias"]}
    elif all(k in sd for k in _NP_HALFKP_KEYS):
        if any(k.startswith("bn_") for k in sd):
            raise FormatError(path, "nnue-pytorch HalfKP model with batch norm (2020) is not supported",
                              field="bn_input")
        w = sd["input.weight"]
        if w.ndim == 2 and w.shape[0] == 256 and w.shape[1] != 256:
            w = w.t()  # 2020 nn.Linear layout [L1, rows]
        feats = _np_features(path, w.shape[0], ("HalfKP", "HalfKP^"), features)
        model = NnueHalfKP(features=feats)
        ours = {"ft_weight": w, "ft_bias": sd["input.bias"], "fc0.weight": sd["l1.weight"], "fc0.bias": sd["l1.bias"],
                "fc1.weight": sd["l2.weight"], "fc1.bias": sd["l2.bias"], "fc2.weight": sd["output.weight"],
                "fc2.bias": sd["output.bias"]}
    else:
        raise FormatError(path, "not an nnue-pytorch SFNNv5 or HalfKP state dict; keys: "
                          + ", ".join(list(sd)[:8]), field="state_dict")
    try:
        model.load_state_dict({k: v.detach().to(torch.float32) for k, v in ours.items()})
    except RuntimeError as err:
        raise FormatError(path, f"tensor shapes do not fit: {str(err).strip().splitlines()[-1].strip()}",
                          field="state_dict") from None
    return NetFile(model.spec(), model.state_dict())


# ---------------------------------------------------------------------------------- LEB128-compressed FT (§5)

LEB128_TENSORS = ("ft.bias", "ft.weight", "ft.psqt")  # the tensors a compressed file stores as LEB128


def is_leb128_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether the FT bias of this ``.nnue`` file starts with the LEB128 magic (False on any unreadable header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12:
                return False
            (n,) = struct.unpack_from("<I", head, 8)
            if n > MAX_DESCRIPTION:
                return False
            fh.seek(12 + n + 4)
            return fh.read(len(LEB128_MAGIC)) == LEB128_MAGIC
    except OSError:
        return False


def max_leb128_file_size(arch: Arch, description_len: int) -> int:
    """Largest valid compressed file: header + FT hash + worst-case LEB128 FT + raw dense stacks."""
    size = 12 + description_len + 4
    for name, dt, shape in arch.blocks():
        count = int(np.prod(shape))
        if name in LEB128_TENSORS:
            size += len(LEB128_MAGIC) + 4 + count * leb128.max_bytes(dt)
        else:
            size += count * dt.itemsize
    return size


def read_leb128_net(path: str | os.PathLike[str]) -> NetFile:
    """Read a LEB128-compressed ``.nnue`` into the same quantized NetFile :func:`read_net`
    gives for the plain file (``meta["compression"] = "leb128"``)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        arch, description, off = read_preamble(fh, path, size)
    bound = max_leb128_file_size(arch, off - 12)
    if size > bound:
        raise FormatError(path, f"file is {size} bytes; a compressed {arch.name} is at most {bound}",
                          offset=bound, field="file size")
    data = np.fromfile(path, dtype=np.uint8, offset=off)  # bounded just above

    def need(pos: int, n: int, field: str) -> None:
        if pos + n > data.size:
            raise FormatError(path, f"truncated: {field} needs {n} bytes, {data.size - pos} left",
                              offset=off + data.size, field=field)

    need(0, 4, "ft hash")
    check_ft_hash(path, data, arch, off)
    pos = 4
    state: dict[str, torch.Tensor] = {}
    for name, dt, shape in arch.blocks():
        count = int(np.prod(shape))
        if name in LEB128_TENSORS:
            need(pos, len(LEB128_MAGIC) + 4, name)
            if data[pos:pos + len(LEB128_MAGIC)].tobytes() != LEB128_MAGIC:
                raise FormatError(path, f"expected the {LEB128_MAGIC.decode()} magic", offset=off + pos, field=name)
            pos += len(LEB128_MAGIC)
            (nbytes,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if not count <= nbytes <= count * leb128.max_bytes(dt):
                raise FormatError(path, f"LEB128 byte count {nbytes} impossible for {count} {dt.name} values",
                                  offset=off + pos - 4, field=name)
            need(pos, nbytes, name)
            arr = leb128.decode(data[pos:pos + nbytes], count, dt, path=path, offset=off + pos, field=name)
            state[name] = torch.from_numpy(arr.astype(dt.newbyteorder("=")).reshape(shape))
            pos += nbytes
            continue
        need(pos, count * dt.itemsize, name)
        pos = read_plain_block(path, data, pos, off, arch, name, dt, shape, state)
    if pos != data.size:
        raise FormatError(path, f"{data.size - pos} trailing bytes after the last layer stack", offset=off + pos,
                          field="file size")
    spec = ModelSpec("nnue", {"arch": arch.name, "features": arch.features},
                     {"version": arch.version, "description": description, "quantized": True,
                      "header_hash": arch.header_hash, "compression": "leb128"})
    return NetFile(spec, state)


def write_leb128_net(net: NetFile, path: str | os.PathLike[str]) -> None:
    """Write a quantized NetFile as a ``.nnue`` with LEB128-compressed FT tensors (bias, weight, PSQT), atomically."""
    path = Path(path)

    def leb128_ft(name: str, arr: np.ndarray, dt: np.dtype) -> list[bytes]:
        if name not in LEB128_TENSORS:
            return plain_tensor(name, arr, dt)
        payload = leb128.encode(arr)
        return [LEB128_MAGIC, struct.pack("<I", len(payload)), payload]

    write_parts(path, file_parts(net, path, leb128_ft))
