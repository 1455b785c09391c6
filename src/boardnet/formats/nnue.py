"""Stockfish ``.nnue`` files (spec ``nnue.md`` §1-§4): SF12 HalfKP 256x2-32-32 and SF15.1 HalfKAv2_hm 1024x2+PSQT8.

A read gives a :class:`~boardnet.spec.NetFile` of family ``nnue`` holding the *quantized* integer tensors exactly
as stored (``ft.bias`` int16 ``[L1]``, ``ft.weight`` int16 ``[F, L1]`` feature-major, ``ft.psqt`` int32 ``[F, 8]``,
``stacks.{k}.{l1,l2,out}.{bias,weight}`` int32 / int8 ``[out, padded_in]``). Writing it back reproduces the bytes.
Everything is validated (version, hashes, description length, exact file size) before the big tensors are read.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from boardnet.errors import FormatError
from boardnet.formats.torch_ckpt import atomic_write
from boardnet.spec import ModelSpec, NetFile

MASK32 = 0xFFFFFFFF
MAX_DESCRIPTION = 1 << 16  # real nets use <= 256 bytes; bounds the read before any allocation
LEB128_MAGIC = b"COMPRESSED_LEB128"  # §5, SF16+; not produced by the supported architectures

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
    feature_hash: int
    features: str
    num_features: int
    l1: int
    psqt_buckets: int
    stacks: int
    # (out, padded_in) of each dense layer of one stack
    layers: tuple[tuple[int, int], ...]
    net_start: int

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
        Arch("halfkp_256x2-32-32", 0x7AF32F16, 0x5D69D5B8, "HalfKP", 41024, 256, 0, 1,
             ((32, 512), (32, 32), (1, 32)), _NET_START ^ 512),
        Arch("halfkav2_hm_1024x2-16-32x8", 0x7AF32F20, 0x7F234CB8, "HalfKAv2_hm", 22528, 1024, 8, 8,
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


def read_header(path: str | os.PathLike[str]) -> tuple[Arch, str, int]:
    """Validate header and exact file size; returns (arch, description, offset of the FT hash)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12:
            raise FormatError(path, f"file is {size} bytes; a .nnue header needs 12", offset=len(head),
                              field="header")
        version, header_hash, n = struct.unpack("<III", head)
        arch = _find_arch(path, version, header_hash)
        if n > MAX_DESCRIPTION:
            raise FormatError(path, f"description length {n} exceeds {MAX_DESCRIPTION}", offset=8,
                              field="description length")
        raw = fh.read(n)
        if len(raw) < n:
            raise FormatError(path, f"truncated description: {len(raw)} of {n} bytes", offset=12 + len(raw),
                              field="description")
        fh.seek(12 + n)
        if fh.read(len(LEB128_MAGIC) + 4)[4:] == LEB128_MAGIC:
            raise FormatError(path, "LEB128-compressed feature transformer (SF16+) is not supported",
                              offset=16 + n, field="ft.bias")
    expected = 12 + n + arch.body_size()
    if size != expected:
        raise FormatError(path, f"file is {size} bytes; {arch.name} with a {n}-byte description needs {expected}",
                          offset=min(size, expected), field="file size")
    return arch, raw.decode("latin-1"), 12 + n


def read_net(path: str | os.PathLike[str]) -> NetFile:
    """Read a ``.nnue`` file into quantized int tensors (see module doc)."""
    path = Path(path)
    arch, description, off = read_header(path)
    data = np.fromfile(path, dtype=np.uint8, offset=off)  # size already checked exactly
    (ft_hash,) = struct.unpack_from("<I", data, 0)
    if ft_hash != arch.ft_hash:
        raise FormatError(path, f"feature transformer hash 0x{ft_hash:08X}; expected 0x{arch.ft_hash:08X}",
                          offset=off, field="ft hash")
    pos = 4
    state: dict[str, torch.Tensor] = {}
    for name, dt, shape in arch.blocks():
        count = int(np.prod(shape))
        arr = data[pos:pos + count * dt.itemsize].view(dt).reshape(shape)
        if name == "#hash":
            if int(arr[0]) != arch.net_hash:
                raise FormatError(path, f"stack hash 0x{int(arr[0]):08X}; expected 0x{arch.net_hash:08X}",
                                  offset=off + pos, field="stack hash")
        else:
            state[name] = torch.from_numpy(arr.astype(dt.newbyteorder("=")))
        pos += count * dt.itemsize
    spec = ModelSpec("nnue", {"arch": arch.name, "features": arch.features},
                     {"version": arch.version, "description": description, "quantized": True,
                      "header_hash": arch.header_hash})
    return NetFile(spec, state)


def write_net(net: NetFile, path: str | os.PathLike[str]) -> None:
    """Write quantized int tensors (as :func:`read_net` gives them) to a ``.nnue`` file, atomically."""
    path = Path(path)
    arch_name = net.spec.config.get("arch")
    if arch_name not in ARCHS:
        raise FormatError(path, f"unknown nnue arch {arch_name!r}; expected one of {sorted(ARCHS)}", field="arch")
    arch = ARCHS[arch_name]
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
        parts.append(np.ascontiguousarray(arr.astype(dt)).tobytes())

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            for p in parts:
                fh.write(p)

    atomic_write(path, write)


def inspect_file(path: str | os.PathLike[str]) -> dict:
    """Header facts of a ``.nnue`` file without reading the tensors."""
    arch, description, _ = read_header(path)
    return {"format": "nnue", "arch": arch.name, "features": arch.features, "version": f"0x{arch.version:08X}",
            "header_hash": f"0x{arch.header_hash:08X}", "ft_hash": f"0x{arch.ft_hash:08X}",
            "network_hash": f"0x{arch.net_hash:08X}", "l1": arch.l1, "psqt_buckets": arch.psqt_buckets,
            "layer_stacks": arch.stacks, "description": description}


def read_nnue_pytorch(path: str | os.PathLike[str]) -> NetFile:
    """nnue-pytorch ``.ckpt`` reading is not implemented yet."""
    raise NotImplementedError("nnue-pytorch .ckpt reading is not implemented")
