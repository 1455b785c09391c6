"""Training checkpoints: atomic writes, the last N kept, a corrupt newest one falls back to the previous.

Files: ``<run>/checkpoints/iter-000050.pt``, each a dict loadable with ``torch.load(weights_only=True)``::

    format: "boardnet-checkpoint", version: 1, iteration: int, config_hash: str, config: dict
    checksum: sha256 hex of everything else (tensor bytes, dtypes, shapes and every plain value)
    nets: {name: {spec: {...}, state_dict: {...}, ema: {...} | None}}   # read by formats/torch_ckpt.py
    trainer: {steps: [...], ema: {...}, evaluators: [...], nonfinite_streak: int, ...}
    ranks: [{python_rng, numpy_rng, torch_rng, ctx_rng, data}]           # one entry per DDP rank
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import torch

from boardnet.core.checksum import payload_checksum, verify_payload
from boardnet.core.errors import FormatError, TrainingError
from boardnet.core.io import atomic_write, safe_torch_load

CHECKPOINT_RE = re.compile(r"^iter-(\d{6,})\.pt$")
FORMAT = "boardnet-checkpoint"
VERSION = 1


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "checkpoints" / f"iter-{iteration:06d}.pt"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint files of a run, oldest first (temp files of an interrupted write are ignored)."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(run_dir: Path, iteration: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``payload`` atomically as the checkpoint of ``iteration`` with its checksum; delete all but the
    newest ``keep``."""
    path = checkpoint_path(run_dir, iteration)
    payload = {"format": FORMAT, "version": VERSION, "iteration": iteration, **payload}
    payload["checksum"] = payload_checksum(payload)
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and check one checkpoint file."""
    data = safe_torch_load(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FormatError(path, "not a boardnet training checkpoint", field="format")
    if data.get("version") != VERSION:
        raise FormatError(path, f"checkpoint version {data.get('version')}; expected {VERSION}", field="version")
    for key in ("iteration", "nets", "trainer", "ranks"):
        if key not in data:
            raise FormatError(path, "missing", field=key)
    verify_payload(data, path)
    return data


def load_latest(run_dir: Path) -> dict[str, Any] | None:
    """The newest intact checkpoint of a run, or None when it has none.

    A damaged one is reported and the previous one is used; when every checkpoint is damaged this raises
    :class:`TrainingError` instead of starting again from iteration 0 over them.
    """
    paths = list_checkpoints(run_dir)
    errors = []
    for path in reversed(paths):
        try:
            data = load_checkpoint(path)
        except FormatError as err:
            errors.append(str(err))
            print(f"warning: damaged checkpoint, falling back to the previous one: {err}", file=sys.stderr)
            continue
        return data
    if paths:
        raise TrainingError(f"every checkpoint in {run_dir / 'checkpoints'} is damaged ({errors[0]}); refusing "
                            "to start again from iteration 0 over them: move them away to start afresh")
    return None
