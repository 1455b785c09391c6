"""Format detection and the conversion graph: every conversion is ``read -> NetFile -> write``.

Each format names its reader, writer and inspector as ``"module:function"`` strings, imported on use, so a
format's optional dependencies are only needed when that format is used.

- reader:    ``(path, **options) -> NetFile``
- writer:    ``(net: NetFile, path, **options) -> None``
- inspector: ``(path) -> str`` (a human-readable report)

Options (``features``, ``mapping``, ``encoding`` ...) are passed only to the functions that take them; an
option a format does not take is an error naming both.
"""

from __future__ import annotations

import importlib
import inspect as pyinspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boardnet.core.errors import BoardnetError, ConversionError
from boardnet.core.io import check_user_file
from boardnet.core.spec import NetFile


@dataclass(frozen=True)
class Format:
    """One file format boardnet knows."""

    name: str
    suffixes: tuple[str, ...]
    reader: str | None = None
    writer: str | None = None
    inspector: str | None = None
    description: str = ""
    slots: str | None = None  # reads a checkpoint's optimizer slots: (src, mapping) -> write(out) -> count


FORMATS: tuple[Format, ...] = (
    Format("nnue", (".nnue", ".nnue.gz"), "boardnet.nnue.file:read_net", "boardnet.nnue.file:write_net",
           "boardnet.nnue.file:inspect_file", "Stockfish NNUE network"),
    Format("nnue-pytorch", (".ckpt",), "boardnet.nnue.file:read_nnue_pytorch", None, None,
           "nnue-pytorch / Lightning checkpoint (state dict read safely)"),
    Format("lc0", (".pb.gz", ".pb"), "boardnet.lc0.weights:read_net", "boardnet.lc0.weights:write_net",
           "boardnet.lc0.weights:inspect_file", "Leela Chess Zero weights (net.proto)"),
    Format("onnx", (".onnx",), None, "boardnet.core.onnx:write_net", "boardnet.core.onnx:inspect_file",
           "ONNX (lc0 conventions for lc0 nets)"),
    Format("tf-checkpoint", (".index",), "boardnet.tfimport.checkpoint:read_net", None,
           "boardnet.tfimport.checkpoint:inspect_file", "TensorFlow checkpoint (tensor bundle), read without TF",
           slots="boardnet.tfimport.checkpoint:prepare_slots"),
    Format("keras", (".keras", ".weights.h5", ".h5"), "boardnet.tfimport.keras:read_net", None,
           "boardnet.tfimport.keras:inspect_file", "Keras 3 model or weights file"),
    Format("azg-pickle", (".model", ".model2"), "boardnet.tfimport.legacy_pickle:read_net", None,
           "boardnet.tfimport.legacy_pickle:inspect_file", "AlphaZero_Gomoku Theano/Lasagne pickle"),
    Format("safetensors", (".safetensors",), "boardnet.core.io:read_safetensors",
           "boardnet.core.io:write_safetensors", None, "boardnet net as safetensors"),
    Format("nnue-data", (".binpack", ".bin", ".plain", ".txt", ".fens"), None, None,
           "boardnet.nnue.data.convert:data_summary", "Stockfish NNUE training data (.bin, .binpack, text)"),
    Format("npz", (".npz",), None, None, "boardnet.train.npz:inspect_file",
           "arrays (self-play games, reference outputs)"),
    Format("lc0-chunk", (".gz",), None, None, "boardnet.lc0.inspect:inspect_chunk", "lc0 V6 training chunk"),
    Format("pt", (".pt", ".pth"), "boardnet.core.io:read_pt", "boardnet.core.io:write_pt",
           "boardnet.train.inspect:inspect_file", "boardnet net or training checkpoint (torch, weights_only)"),
)
BY_NAME = {f.name: f for f in FORMATS}


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _is_tf_prefix(path: Path) -> bool:
    return not path.exists() and path.with_name(path.name + ".index").exists()


def detect_format(path: str | os.PathLike[str], explicit: str | None = None, option: str = "--from") -> Format:
    """The format of ``path``: ``explicit`` if given, else by suffix (a TF checkpoint may be its prefix)."""
    if explicit is not None:
        if explicit not in BY_NAME:
            raise BoardnetError(f"unknown format '{explicit}'; known: {', '.join(BY_NAME)}")
        return BY_NAME[explicit]
    p = Path(path)
    if _is_tf_prefix(p) or ".data-" in p.name:
        return BY_NAME["tf-checkpoint"]
    name = p.name.lower()
    for fmt in FORMATS:
        if any(name.endswith(s) for s in fmt.suffixes):
            return fmt
    raise BoardnetError(f"{path}: cannot tell the format from the name; name it with {option} "
                        f"({', '.join(BY_NAME)})")


def _call(fmt: Format, role: str, target: str | None, args: tuple[Any, ...], options: dict[str, Any]) -> Any:
    if target is None:
        raise ConversionError(f"boardnet cannot {role} {fmt.name} files ({fmt.description})")
    func = _resolve(target)
    params = pyinspect.signature(func).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if key not in params and not takes_any:
            raise ConversionError(f"option --{key.replace('_', '-')} does not apply when {role}ing {fmt.name} files")
    return func(*args, **given)


def read_net(path: str | os.PathLike[str], fmt: str | None = None, **options: Any) -> NetFile:
    """Read any supported network file into a :class:`NetFile`."""
    f = detect_format(path, fmt)
    _check_input(path, f)
    return _call(f, "read", f.reader, (path,), options)


def _check_input(path: str | os.PathLike[str], f: Format) -> None:
    """Regular files only (a FIFO, a directory or /dev/zero is one error, never a hang); a TF checkpoint may be
    named by its prefix."""
    if f.name != "tf-checkpoint" or os.path.lexists(path):
        check_user_file(path)


def write_net(net: NetFile, path: str | os.PathLike[str], fmt: str | None = None, **options: Any) -> None:
    """Write a :class:`NetFile` in the format ``path`` (or ``fmt``) names."""
    f = detect_format(path, fmt, option="--to")
    _call(f, "write", f.writer, (net, path), options)


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, src_format: str | None = None,
            dst_format: str | None = None, read_options: dict[str, Any] | None = None,
            write_options: dict[str, Any] | None = None) -> NetFile:
    """Convert ``src`` to ``dst``; returns what was written."""
    net = read_net(src, src_format, **(read_options or {}))
    write_net(net, dst, dst_format, **(write_options or {}))
    return net


def prepare_slots(src: str | os.PathLike[str], mapping: str | None = None,
                  src_format: str | None = None) -> Callable[[str | os.PathLike[str]], int]:
    """Read and check the optimizer slots of checkpoint ``src`` (mapped like their variables) now; returns
    ``write(out) -> count``, so that a command can check all its inputs before it writes anything."""
    f = detect_format(src, src_format)
    if f.slots is None:
        raise ConversionError(f"--slots applies to checkpoints that hold optimizer slots, not {f.name} files")
    return _resolve(f.slots)(src, mapping)


def write_slots(src: str | os.PathLike[str], out: str | os.PathLike[str], mapping: str | None = None,
                src_format: str | None = None) -> int:
    """Write the optimizer slots of checkpoint ``src`` (mapped like their variables) to ``out``; the count."""
    return prepare_slots(src, mapping, src_format)(out)


def inspect_file(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """A human-readable report of what a file holds."""
    f = detect_format(path, fmt)
    _check_input(path, f)
    if f.inspector is not None:
        return _resolve(f.inspector)(path)
    net = read_net(path, f.name)
    return describe_netfile(net, path, f)


def describe_netfile(net: NetFile, path: str | os.PathLike[str], fmt: Format) -> str:
    """Generic report: format, family, config, parameter count and tensors."""
    n_params = net.n_parameters
    lines = [f"file: {path}", f"format: {fmt.name} ({fmt.description})", f"family: {net.spec.family}",
             f"parameters: {n_params:,}"]
    lines += [f"config.{k}: {v}" for k, v in net.spec.config.items()]
    lines += [f"meta.{k}: {v}" for k, v in net.spec.meta.items()]
    lines.append("tensors:")
    lines += [f"  {k:40s} {list(t.shape)} {str(t.dtype).replace('torch.', '')}" for k, t in net.state_dict.items()]
    return "\n".join(lines)
