"""sha256 checksums of stored tensors: one per tensor in exported nets, one per training checkpoint.

Exported nets keep ``{tensor name: sha256 hex}`` where their format has room for metadata (``.safetensors``:
the ``boardnet.core.sha256`` metadata entry, ``.pt``: the ``sha256`` key, ONNX: the ``boardnet.sha256``
metadata_props entry, over the graph's initializers); a reader verifies them and names the damaged tensor.
A file without checksums (a foreign one, or one written before them) is read unchecked. ``.nnue`` and lc0
``.pb.gz`` have no metadata slot that the engines accept, so they carry none.

A tensor's digest covers its dtype name (``float32``, ``bfloat16`` ...), its shape and its bytes (C order).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from boardnet.core.errors import FormatError


def _update_tensor(digest: Any, t: torch.Tensor | np.ndarray) -> None:
    """Feed ``t``'s dtype name, shape and C-order bytes to ``digest``."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().contiguous()
        digest.update(f"{str(t.dtype).removeprefix('torch.')}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else b"")
    else:
        a = np.ascontiguousarray(t)
        digest.update(f"{a.dtype}{tuple(a.shape)}".encode())
        digest.update(a.reshape(-1).view(np.uint8) if a.size else b"")


def tensor_sha256(t: torch.Tensor | np.ndarray) -> str:
    """sha256 hex of one tensor (dtype name + shape + bytes); a torch tensor and its numpy twin agree."""
    digest = hashlib.sha256()
    _update_tensor(digest, t)
    return digest.hexdigest()


def tensor_checksums(tensors: Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, str]:
    """``{name: sha256 hex}`` for every tensor, in the mapping's order."""
    return {name: tensor_sha256(t) for name, t in tensors.items()}


def parse_checksums(stored: Any, path: str | os.PathLike[str], field: str) -> dict[str, str] | None:
    """Stored checksums (a dict, or its JSON text) as ``{name: hex}``; None when absent; else one FormatError."""
    if stored is None:
        return None
    if isinstance(stored, (str, bytes)):
        try:
            stored = json.loads(stored)
        except (ValueError, RecursionError) as err:
            raise FormatError(path, f"bad JSON: {str(err)[:120]}", field=field) from None
    if not isinstance(stored, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items()):
        raise FormatError(path, "must map tensor names to sha256 hex strings", field=field)
    return stored


def verify_checksums(tensors: Mapping[str, torch.Tensor | np.ndarray], stored: Any,
                     path: str | os.PathLike[str], field: str) -> None:
    """Check ``tensors`` against the checksums stored in ``field`` (nothing to do when there are none).

    A damaged tensor, a tensor without a checksum or a checksum without its tensor is one FormatError
    naming the file and the tensor.
    """
    sums = parse_checksums(stored, path, field)
    if sums is None:
        return
    for name in tensors:
        if name not in sums:
            raise FormatError(path, f"tensor '{name}' has no checksum in {field}: the file was altered", field=name)
    for name, expected in sums.items():
        if name not in tensors:
            raise FormatError(path, f"checksummed in {field} but missing from the file", field=name)
        if tensor_sha256(tensors[name]) != expected:
            raise FormatError(path, f"sha256 mismatch ({field}): the tensor's bytes are damaged", field=name)


def payload_checksum(payload: dict[str, Any]) -> str:
    """sha256 over a checkpoint's content except its ``checksum`` key: keys in order, tensors as dtype + shape +
    bytes, other values by repr."""
    digest = hashlib.sha256()

    def walk(node: Any) -> None:
        if isinstance(node, torch.Tensor):
            t = node.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(node, dict):
            digest.update(f"D{len(node)}".encode())
            for key in sorted(node, key=repr):
                digest.update(repr(key).encode())
                walk(node[key])
        elif isinstance(node, (list, tuple)):
            digest.update(f"L{len(node)}".encode())
            for item in node:
                walk(item)
        else:
            digest.update(repr(node).encode())

    walk({k: v for k, v in payload.items() if k != "checksum"})
    return digest.hexdigest()


def verify_payload(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Check a checkpoint's ``checksum`` (:func:`payload_checksum`) if it has one; else one FormatError."""
    if "checksum" in data and data["checksum"] != payload_checksum(data):
        raise FormatError(path, "checksum mismatch: the checkpoint's bytes are damaged", field="checksum")
