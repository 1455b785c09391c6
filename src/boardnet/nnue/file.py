"""Stockfish ``.nnue`` files, one layout table per Stockfish version (spec ``nnue.md`` §1-§5).

| arch | Stockfish | FT on disk |
|---|---|---|
| ``halfkp_256x2-32-32`` | 12, 13 | plain (or LEB128, nnue-pytorch style) |
| ``halfkav2_hm_1024x2-16-32x8`` | 15.1 | plain (or LEB128, nnue-pytorch style) |
| ``halfkav2_hm_1536x2-16-32x8`` | 16 | LEB128 bias, weight, PSQT |
| ``halfkav2_hm_3072x2-16-32x8`` | 17.1 big | LEB128 bias, weight, PSQT |
| ``halfkav2_hm_128x2-16-32x8`` | 17.1 and 18 small | LEB128 bias, weight, PSQT |
| ``full_threats+halfkav2_hm_1024x2-16-32x8`` | 18 big | LEB128 bias, raw int8 threat weights, LEB128 weight, one LEB128 block for threat + piece PSQT |

:meth:`Arch.layout` is the ordered table of on-disk blocks of one arch and encoding; :func:`read_quantized` and
:func:`file_parts` both walk it, so reading and writing back reproduces the bytes. A read gives a
:class:`~boardnet.core.spec.NetFile` of family ``nnue`` holding the *quantized* integer tensors exactly as stored:
``ft.bias`` int16 ``[L1]``, ``ft.weight`` int16 ``[F, L1]`` feature-major, ``ft.psqt`` int32 ``[F, 8]``,
``ft.threat_weight`` int8 ``[79856, L1]`` and ``ft.threat_psqt`` int32 ``[79856, 8]`` (SF18 big),
``stacks.{k}.{l1,l2,out}.{bias,weight}`` int32 / int8 ``[out, padded_in]``. ``.nnue.gz`` files are read directly.
Every problem is one :class:`FormatError` naming the file, the byte offset and the block.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from boardnet.core.errors import ConversionError, FormatError, first_line
from boardnet.core.io import atomic_write, check_user_file, open_user_file
from boardnet.core.spec import ModelSpec, NetFile
from boardnet.nnue import leb128
from boardnet.nnue.features import MASK32, get_block, get_feature_set, plain_name
from boardnet.nnue.leb128 import LEB128_MAGIC

MAX_DESCRIPTION = 1 << 16  # real nets use <= 256 bytes; bounds the read before any allocation
VERSION_SF12 = 0x7AF32F16
VERSION_SF14 = 0x7AF32F20  # SF14 .. SF18

# §2 hash arithmetic.
_NET_START = 0xEC42E90D
_AFFINE = 0xCC03DAE4
_CRELU = 0x538D24C7
HALFKP_HASH = get_block("HalfKP").hash  # feature hashes and input counts: the features/ registry
HALFKAV2_HM_HASH = get_block("HalfKAv2_hm").hash
FULL_THREATS_HASH = get_block("Full_Threats").hash  # a threat net's FT hash uses it alone (sf_18 nnue_feature_transformer.h)
FULL_THREATS_FEATURES = get_block("Full_Threats").num_real


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
class Tensor:
    """One stored tensor: name, little-endian numpy dtype, shape."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def count(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


@dataclass(frozen=True)
class Block:
    """One on-disk block: ``hash`` (u32 that must equal ``value``; ``field`` names it), ``raw`` (one little-endian
    tensor) or ``leb128`` (magic + u32 byte count + signed LEB128 of ``tensors`` one after the other)."""

    kind: str
    tensors: tuple[Tensor, ...] = ()
    value: int = 0
    field: str = ""

    @property
    def name(self) -> str:
        return self.field or "+".join(t.name for t in self.tensors)

    def max_size(self) -> int:
        """Most bytes this block can take."""
        if self.kind == "hash":
            return 4
        if self.kind == "raw":
            return sum(t.nbytes for t in self.tensors)
        return len(LEB128_MAGIC) + 4 + sum(t.count * leb128.max_bytes(t.dtype) for t in self.tensors)


@dataclass(frozen=True)
class Arch:
    """One supported architecture, i.e. one Stockfish version's net (§3, §4, issue 14 notes).

    ``layers``: (out, padded_in) of each dense layer of one stack. ``engines``: the Stockfish versions that load it
    (the last one sets ``nnue eval``'s default printing rules). ``encodings``: FT encodings on disk, the first is
    what the engine writes (``plain`` or ``leb128``). ``threat_features``: Full_Threats inputs (SF18 big), 0 else.
    """

    name: str
    version: int
    feature_hash: int
    features: str
    num_features: int
    l1: int
    psqt_buckets: int
    stacks: int
    layers: tuple[tuple[int, int], ...]
    net_start: int
    engines: tuple[str, ...] = ()
    title: str = ""
    encodings: tuple[str, ...] = ("plain", "leb128")
    threat_features: int = 0

    @property
    def ft_hash(self) -> int:
        return (self.feature_hash ^ (2 * self.l1)) & MASK32

    @property
    def net_hash(self) -> int:
        return stack_hash(self.net_start, tuple(o for o, _ in self.layers))

    @property
    def header_hash(self) -> int:
        return self.ft_hash ^ self.net_hash

    def layout(self, encoding: str | None = None) -> tuple[Block, ...]:
        """The ordered blocks after the description for ``encoding`` (default: the engine's own)."""
        encoding = encoding or self.encodings[0]
        if encoding not in self.encodings:
            raise ConversionError(f"{self.title or self.name} is stored {' or '.join(self.encodings)}, not {encoding}")
        i2, i4, i1 = np.dtype("<i2"), np.dtype("<i4"), np.dtype("i1")
        bias = Tensor("ft.bias", i2, (self.l1,))
        weight = Tensor("ft.weight", i2, (self.num_features, self.l1))
        psqt = (Tensor("ft.psqt", i4, (self.num_features, self.psqt_buckets)),) if self.psqt_buckets else ()
        ft_kind = "raw" if encoding == "plain" else "leb128"
        out = [Block("hash", value=self.ft_hash, field="ft hash")]
        if self.threat_features:  # sf_18 FeatureTransformer::read_parameters
            out += [Block("leb128", (bias,)),
                    Block("raw", (Tensor("ft.threat_weight", i1, (self.threat_features, self.l1)),)),
                    Block("leb128", (weight,)),
                    Block("leb128", (Tensor("ft.threat_psqt", i4, (self.threat_features, self.psqt_buckets)),
                                     *psqt))]
        else:
            out += [Block(ft_kind, (t,)) for t in (bias, weight, *psqt)]
        for k in range(self.stacks):
            out.append(Block("hash", value=self.net_hash, field="stack hash"))
            for name, (o, i) in zip(("l1", "l2", "out"), self.layers, strict=True):
                out.append(Block("raw", (Tensor(f"stacks.{k}.{name}.bias", i4, (o,)),)))
                out.append(Block("raw", (Tensor(f"stacks.{k}.{name}.weight", i1, (o, i)),)))
        return tuple(out)

    def body_size(self, encoding: str = "plain") -> int:
        """Bytes after the description: exact for ``plain``, the largest possible for ``leb128``."""
        return sum(b.max_size() for b in self.layout(encoding))


def _sfnn(name: str, l1: int, engines: tuple[str, ...], title: str, encodings: tuple[str, ...],
          threats: bool = False) -> Arch:
    """HalfKAv2_hm (+ Full_Threats) L1x2 + PSQT8, 8 stacks of fc_0 L1->16, fc_1 30(32)->32, fc_2 32->1."""
    features = "Full_Threats+HalfKAv2_hm" if threats else "HalfKAv2_hm"
    return Arch(name, VERSION_SF14, FULL_THREATS_HASH if threats else HALFKAV2_HM_HASH, features,
                get_block("HalfKAv2_hm").num_real, l1,
                8, 8, ((16, l1), (32, 32), (1, 32)), _NET_START ^ (2 * l1), engines, title, encodings,
                FULL_THREATS_FEATURES if threats else 0)


ARCHS: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch("halfkp_256x2-32-32", VERSION_SF12, HALFKP_HASH, "HalfKP", get_block("HalfKP").num_real, 256, 0, 1,
             ((32, 512), (32, 32), (1, 32)), _NET_START ^ 512, ("sf12",), "Stockfish 12 HalfKP net"),
        _sfnn("halfkav2_hm_1024x2-16-32x8", 1024, ("sf15.1",), "Stockfish 15.1 net", ("plain", "leb128")),
        _sfnn("halfkav2_hm_1536x2-16-32x8", 1536, ("sf16",), "Stockfish 16 net", ("leb128",)),
        _sfnn("halfkav2_hm_3072x2-16-32x8", 3072, ("sf17.1",), "Stockfish 17.1 big net", ("leb128",)),
        _sfnn("halfkav2_hm_128x2-16-32x8", 128, ("sf17.1", "sf18"), "Stockfish 17.1 / 18 small net", ("leb128",)),
        _sfnn("full_threats+halfkav2_hm_1024x2-16-32x8", 1024, ("sf18",), "Stockfish 18 big net", ("leb128",),
              threats=True),
    )
}
ENGINES = ("sf12", "sf15.1", "sf16", "sf17.1", "sf18")

HALFKP_DESCRIPTION = (
    "Features=HalfKP(Friend)[41024->256x2],Network=AffineTransform[1<-32](ClippedReLU[32](AffineTransform[32<-32]"
    "(ClippedReLU[32](AffineTransform[32<-512](InputSlice[512(0:512)])))))"
)
NP_DESCRIPTION = "Network trained with the https://github.com/glinscott/nnue-pytorch trainer."


def arch_of(net: NetFile) -> Arch:
    """The :class:`Arch` of a quantized NetFile (``spec.config["arch"]``)."""
    name = net.spec.config.get("arch")
    if name not in ARCHS:
        raise ConversionError(f"unknown nnue arch {name!r}; expected one of {sorted(ARCHS)}")
    return ARCHS[name]


def check_engine(arch: Arch, engine: str | None, path: str | os.PathLike[str] | None = None) -> str:
    """``engine`` (``--engine``) if ``arch`` is a net of that Stockfish version, else one error naming both;
    None gives the arch's newest engine."""
    if engine is None:
        return arch.engines[-1]
    if engine not in ENGINES:
        raise FormatError(path, f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", field="engine")
    if engine not in arch.engines:
        wanted = " or ".join(a.title for a in ARCHS.values() if engine in a.engines)
        raise FormatError(path, f"this is a {arch.title} ({arch.name}); {engine} loads a {wanted}", field="engine")
    return engine


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


def _preamble(path: Path, head: bytes, size: int) -> tuple[Arch, str, int, str]:
    """(arch, description, offset of the FT hash, encoding) from the first bytes of a file of ``size`` bytes."""
    if len(head) < 12:
        raise FormatError(path, f"file is {size} bytes; a .nnue header needs 12", offset=len(head), field="header")
    version, header_hash, n = struct.unpack_from("<III", head, 0)
    arch = _find_arch(path, version, header_hash)
    if n > MAX_DESCRIPTION:
        raise FormatError(path, f"description length {n} exceeds {MAX_DESCRIPTION}", offset=8,
                          field="description length")
    if len(head) < 12 + n:
        raise FormatError(path, f"truncated description: {len(head) - 12} of {n} bytes", offset=len(head),
                          field="description")
    encoding = "leb128" if "leb128" in arch.encodings and _has_leb128_magic(head, n) else arch.encodings[0]
    return arch, head[12:12 + n].decode("latin-1"), 12 + n, encoding


def _head(path: Path) -> bytes:
    """Enough leading bytes of a (possibly gzipped) file for :func:`_preamble`."""
    size = 12 + MAX_DESCRIPTION + 4 + len(LEB128_MAGIC)
    try:
        with open_user_file(path) as raw:  # regular files only: a FIFO or directory is refused unopened
            if path.name.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw) as fh:
                    return fh.read(size)
            return raw.read(size)
    except (OSError, EOFError) as err:
        raise FormatError(path, f"cannot read: {err}", offset=0, field="header") from None


def read_header(path: str | os.PathLike[str]) -> tuple[Arch, str, int]:
    """Validate the header and the file size; returns (arch, description, offset of the FT hash).

    A plain file must have the exact size, a LEB128 one at most the size of its worst-case encoding.
    """
    path = Path(path)
    size = _stat_size(path)
    arch, desc, ft_at, encoding = _preamble(path, _head(path), size)
    if not path.name.endswith(".gz"):
        _check_size(path, path.stat().st_size, arch, ft_at, encoding)
    return arch, desc, ft_at


def _stat_size(path: Path) -> int:
    try:
        return check_user_file(path).stat().st_size
    except OSError as err:
        raise FormatError(path, f"cannot read: {err}", field="file") from None


def _check_size(path: Path, size: int, arch: Arch, ft_at: int, encoding: str) -> None:
    if encoding == "plain":
        expected = ft_at + arch.body_size("plain")
        if size != expected:
            raise FormatError(path, f"file is {size} bytes; {arch.name} with a {ft_at - 12}-byte description "
                              f"needs {expected}", offset=min(size, expected), field="file size")
        return
    bound = ft_at + arch.body_size(encoding)
    if size > bound:
        raise FormatError(path, f"file is {size} bytes; a compressed {arch.name} is at most {bound}",
                          offset=bound, field="file size")


def _load(path: Path, arch: Arch, ft_at: int, encoding: str) -> np.ndarray:
    """All bytes of the file (gunzipped for ``.gz``; never more than the layout's largest size + 1)."""
    if path.name.endswith(".gz"):
        cap = ft_at + arch.body_size(encoding) + 1
        try:
            with gzip.open(path, "rb") as fh:
                data = np.frombuffer(fh.read(cap), np.uint8)
        except (OSError, EOFError) as err:
            raise FormatError(path, f"broken gzip stream: {err}", field="gzip") from None
        _check_size(path, data.size, arch, ft_at, encoding)
        return data
    _check_size(path, path.stat().st_size, arch, ft_at, encoding)
    return np.fromfile(path, dtype=np.uint8)


def _read_block(path: Path, data: np.ndarray, pos: int, block: Block, state: dict[str, torch.Tensor]) -> int:
    """Read ``block`` at ``data[pos:]`` (file offset ``pos``) into ``state``; returns the offset after it."""

    def need(n: int, what: str) -> None:
        if pos + n > data.size:
            raise FormatError(path, f"truncated: {what} needs {n:,} bytes here, {data.size - pos:,} left",
                              offset=pos, field=what)

    if block.kind == "hash":
        need(4, block.name)
        (value,) = struct.unpack_from("<I", data, pos)
        if value != block.value:
            raise FormatError(path, f"{block.name} 0x{value:08X}; expected 0x{block.value:08X}", offset=pos,
                              field=block.name)
        return pos + 4
    if block.kind == "raw":
        (t,) = block.tensors
        need(t.nbytes, t.name)
        arr = data[pos:pos + t.nbytes].view(t.dtype).reshape(t.shape)
        state[t.name] = torch.from_numpy(arr.astype(t.dtype.newbyteorder("=")))
        return pos + t.nbytes
    head = len(LEB128_MAGIC) + 4
    need(head, block.name)
    if data[pos:pos + len(LEB128_MAGIC)].tobytes() != LEB128_MAGIC:
        raise FormatError(path, f"expected the {LEB128_MAGIC.decode()} magic", offset=pos, field=block.name)
    (nbytes,) = struct.unpack_from("<I", data, pos + len(LEB128_MAGIC))
    count = sum(t.count for t in block.tensors)
    dt = block.tensors[0].dtype
    if not count <= nbytes <= block.max_size() - head:
        raise FormatError(path, f"LEB128 byte count {nbytes} impossible for {count} {dt.name} values",
                          offset=pos + len(LEB128_MAGIC), field=block.name)
    pos += head
    need(nbytes, block.name)
    flat = leb128.decode(data[pos:pos + nbytes], count, dt, path=path, offset=pos, field=block.name)
    k = 0
    for t in block.tensors:
        state[t.name] = torch.from_numpy(flat[k:k + t.count].astype(t.dtype.newbyteorder("=")).reshape(t.shape))
        k += t.count
    return pos + nbytes


def read_net(path: str | os.PathLike[str], features: str | None = None) -> NetFile:
    """Read a ``.nnue`` (or ``.nnue.gz``) file: quantized int tensors (see module doc), or with ``features`` a
    float model.

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


def read_quantized(path: str | os.PathLike[str], engine: str | None = None) -> NetFile:
    """Read a ``.nnue`` / ``.nnue.gz`` of any arch in :data:`ARCHS` into quantized int tensors (module doc).

    ``engine`` (``"sf18"`` ...), if given, must load this arch (:func:`check_engine`), else one error naming both.
    """
    path = Path(path)
    arch, description, off, encoding = _preamble(path, _head(path), _stat_size(path))
    if engine is not None:
        check_engine(arch, engine, path)
    data = _load(path, arch, off, encoding)
    state: dict[str, torch.Tensor] = {}
    pos = off
    for block in arch.layout(encoding):
        pos = _read_block(path, data, pos, block, state)
    if pos != data.size:
        raise FormatError(path, f"{data.size - pos} trailing bytes after the last layer stack", offset=pos,
                          field="file size")
    meta = {"version": arch.version, "description": description, "quantized": True,
            "header_hash": arch.header_hash}
    if encoding != "plain":
        meta["compression"] = encoding
    return NetFile(ModelSpec("nnue", {"arch": arch.name, "features": arch.features}, meta), state)


def read_leb128_net(path: str | os.PathLike[str]) -> NetFile:
    """Read a LEB128-compressed ``.nnue`` (``meta["compression"] = "leb128"``); a plain file is an error."""
    net = read_quantized(path)
    if net.spec.meta.get("compression") != "leb128":
        raise FormatError(path, "not LEB128-compressed", offset=12 + len(net.spec.meta["description"]) + 4,
                          field="ft.bias")
    return net


def write_net(net: NetFile, path: str | os.PathLike[str], features: str | None = None,
              encoding: str | None = None) -> None:
    """Write a ``.nnue`` file atomically from quantized int tensors (as :func:`read_net` gives them) or from a
    float NNUE model (our ``.pt``; quantized with virtual rows coalesced, §6.5, §8). A ``.gz`` name is gzipped.

    ``features`` (``--features``), if given, must name the net's feature set (plain or ``^``); otherwise one
    :class:`ConversionError` names both. ``encoding`` (``--encoding``): ``plain`` or ``leb128`` (§5); default:
    what the arch's engine reads (plain for SF12/SF15.1, LEB128 for SF16+, which read nothing else).
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
    write_parts(path, file_parts(net, path, encoding))


def write_leb128_net(net: NetFile, path: str | os.PathLike[str]) -> None:
    """Write a quantized NetFile as a ``.nnue`` with LEB128-compressed FT tensors, atomically."""
    write_net(net, path, encoding="leb128")


def file_parts(net: NetFile, path: Path, encoding: str | None = None) -> list[bytes]:
    """The byte strings of a quantized NetFile's ``.nnue`` file, in order, walking its arch's layout: header,
    description, hashes and each tensor (checked for presence, shape and dtype range)."""
    arch_name = net.spec.config.get("arch")
    if not isinstance(arch_name, str) or arch_name not in ARCHS:
        raise FormatError(path, f"unknown nnue arch {arch_name!r}; expected one of {sorted(ARCHS)}", field="arch")
    arch = ARCHS[arch_name]
    if net.spec.config.get("features", arch.features) != arch.features:
        raise FormatError(path, f"{arch.name} files hold {arch.features} features, not {net.spec.config['features']}",
                          field="features")
    default = HALFKP_DESCRIPTION if arch.psqt_buckets == 0 else NP_DESCRIPTION
    try:
        desc = str(net.spec.meta.get("description", default)).encode("latin-1")
    except UnicodeEncodeError as err:
        raise FormatError(path, f"the description holds {err.object[err.start:err.end]!r}, which a .nnue file "
                          "cannot store (latin-1 only)", field="description") from None
    parts = [struct.pack("<III", arch.version, arch.header_hash, len(desc)), desc]
    for block in arch.layout(encoding):
        if block.kind == "hash":
            parts.append(struct.pack("<I", block.value))
            continue
        arrays = [_checked(net, path, t) for t in block.tensors]
        if block.kind == "raw":
            parts.append(np.ascontiguousarray(arrays[0].astype(block.tensors[0].dtype)).tobytes())
        else:
            payload = b"".join(leb128.encode(a) for a in arrays)
            parts += [LEB128_MAGIC, struct.pack("<I", len(payload)), payload]
    return parts


def _checked(net: NetFile, path: Path, t: Tensor) -> np.ndarray:
    if t.name not in net.state_dict:
        raise FormatError(path, f"missing tensor {t.name}", field=t.name)
    arr = net.state_dict[t.name].detach().cpu().numpy()
    if tuple(arr.shape) != t.shape:
        raise FormatError(path, f"shape {tuple(arr.shape)}; expected {t.shape}", field=t.name)
    info = np.iinfo(t.dtype)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise FormatError(path, f"values {arr.min()}..{arr.max()} do not fit {t.dtype.name}", field=t.name)
    return arr


def write_parts(path: Path, parts: list[bytes]) -> None:
    """Write ``parts`` one after the other to ``path`` (gzipped when it ends in ``.gz``), atomically."""

    def write(tmp: Path) -> None:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(tmp, "wb") as fh:
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
        raise ConversionError(f"checkpoint tensors do not fit {net.spec.family} {own}: {first_line(err)}") from None
    return model.quantize()


def is_leb128_compressed(path: str | os.PathLike[str]) -> bool:
    """Whether the FT bias of this ``.nnue`` file starts with the LEB128 magic (False on any unreadable header)."""
    try:
        head = _head(Path(path))
    except FormatError:
        return False
    if len(head) < 12:
        return False
    (n,) = struct.unpack_from("<I", head, 8)
    return n <= MAX_DESCRIPTION and _has_leb128_magic(head, n)


def _has_leb128_magic(head: bytes, n: int) -> bool:
    """Whether the FT bias after an ``n``-byte description (and the FT hash) starts with the LEB128 magic (§5)."""
    return head[12 + n + 4:12 + n + 4 + len(LEB128_MAGIC)] == LEB128_MAGIC


def inspect_file(path: str | os.PathLike[str]) -> str:
    """Header facts of a ``.nnue`` / ``.nnue.gz`` file (one ``key: value`` per line): Stockfish version, arch,
    feature inputs, layer sizes, on-disk blocks, hashes. A plain file's exact size is checked from the header; a
    LEB128-compressed body has no fixed size, so it is decoded once (a cut file is an error, not a summary)."""
    path = Path(path)
    arch, description, _ = read_header(path)
    compressed = is_leb128_compressed(path)
    if compressed:
        read_quantized(path)
    kind = "nnue (Stockfish, LEB128-compressed FT)" if compressed else "nnue (Stockfish)"
    inputs = f"{arch.num_features:,}" + (f" + {arch.threat_features:,}" if arch.threat_features else "")
    blocks = arch.layout("leb128" if compressed else "plain")
    ft = ", ".join(f"{b.name} ({'LEB128' if b.kind == 'leb128' else 'raw'})" for b in blocks[1:]
                   if b.kind != "hash" and b.tensors[0].name.startswith("ft."))
    facts = {"file": os.fspath(path), "format": kind, "size": f"{_stat_size(path):,} bytes" + (" (gzip)" if path.name.endswith(".gz") else ""),
             "stockfish": f"{arch.title} ({', '.join(arch.engines)})",
             "version": f"0x{arch.version:08X}", "architecture": arch.name,
             "features": f"{arch.features} ({inputs} inputs)",
             "layers": f"{arch.l1}x2" + (f" + PSQT {arch.psqt_buckets}" if arch.psqt_buckets else "")
             + f", {arch.stacks} stack(s) " + "-".join(str(o) for o, _ in arch.layers),
             "feature transformer": ft,
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
