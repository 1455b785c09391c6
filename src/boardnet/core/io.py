"""boardnet's own network files: ``.safetensors`` and ``.pt``, each a :class:`NetFile` (spec + tensors).

- ``.safetensors``: tensors plus metadata ``{"boardnet.core.spec": <json ModelSpec>}``.
- ``.pt``: ``{"format": "boardnet-net", "spec": {...}, "state_dict": {...}}``; a training checkpoint
  (``{"format": "boardnet-checkpoint", "nets": {name: {"spec", "state_dict"}}, ...}``) is read too,
  choosing the net named by ``net`` (default: the only one, else the first) and its EMA weights with
  ``ema=True``.

Loading never unpickles code: ``torch.load(..., weights_only=True)`` only.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from boardnet.core.errors import FormatError
from boardnet.core.spec import ModelSpec, NetFile

SPEC_KEY = "boardnet.core.spec"


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    return {"family": spec.family, "config": spec.config, "meta": spec.meta}


def spec_from_dict(data: Any, path: str | os.PathLike[str], field: str = "spec") -> ModelSpec:
    if not isinstance(data, dict) or not isinstance(data.get("family"), str):
        raise FormatError(path, "no boardnet model spec (family, config)", field=field)
    return ModelSpec(data["family"], dict(data.get("config") or {}), dict(data.get("meta") or {}))


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(tmp_path)``, fsync, then rename over ``path``: readers never see a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def safe_torch_load(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` with ``weights_only=True``; any failure becomes one :class:`FormatError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "refused"
        raise FormatError(path, f"not loadable as plain tensors (weights_only): {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FormatError(path, f"not a readable torch file (truncated or corrupt?): {first}") from None


def read_safetensors(path: str | os.PathLike[str]) -> NetFile:
    """Read a boardnet ``.safetensors`` net."""
    try:
        tensors = load_file(str(path))
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(header_len))
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as err:
        raise FormatError(path, f"not a valid safetensors file: {err}", offset=0) from None
    meta = header.get("__metadata__") or {}
    if SPEC_KEY not in meta:
        raise FormatError(path, f"no '{SPEC_KEY}' metadata: not written by boardnet", field="__metadata__")
    try:
        spec = spec_from_dict(json.loads(meta[SPEC_KEY]), path, SPEC_KEY)
    except json.JSONDecodeError as err:
        raise FormatError(path, f"bad JSON: {err}", field=SPEC_KEY) from None
    return NetFile(spec, tensors)


def write_safetensors(net: NetFile, path: str | os.PathLike[str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict.items()}
    meta = {SPEC_KEY: json.dumps(spec_to_dict(net.spec))}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def read_pt(path: str | os.PathLike[str], net: str | None = None, ema: bool = False) -> NetFile:
    """Read a boardnet ``.pt`` net or training checkpoint (``net``/``ema`` pick a checkpoint's net)."""
    data = safe_torch_load(path)
    if not isinstance(data, dict):
        raise FormatError(path, f"expected a dict at the top level, got {type(data).__name__}")
    kind = data.get("format")
    if kind == "boardnet-net":
        return NetFile(spec_from_dict(data.get("spec"), path), _tensor_dict(data.get("state_dict"), path))
    if kind == "boardnet-checkpoint":
        nets = data.get("nets") or {}
        if not nets:
            raise FormatError(path, "checkpoint holds no networks", field="nets")
        name = net or next(iter(nets))
        if name not in nets:
            raise FormatError(path, f"no network '{name}'; it has: {', '.join(nets)}", field="nets")
        entry = nets[name]
        weights = entry.get("ema") if ema else entry.get("state_dict")
        if weights is None:
            raise FormatError(path, f"network '{name}' has no {'EMA ' if ema else ''}weights", field="nets")
        return NetFile(spec_from_dict(entry.get("spec"), path, f"nets.{name}.spec"), _tensor_dict(weights, path))
    raise FormatError(path, "not a boardnet .pt file (no 'format' key); for other .pt files name --from",
                      field="format")


def write_pt(net: NetFile, path: str | os.PathLike[str]) -> None:
    payload = {
        "format": "boardnet-net",
        "spec": spec_to_dict(net.spec),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict.items()},
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _tensor_dict(data: Any, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise FormatError(path, "state_dict is not a mapping of names to tensors", field="state_dict")
    return dict(data)
