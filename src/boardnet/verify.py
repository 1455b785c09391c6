"""Compare two networks (or a network and a reference .npz) output by output.

A side is a reference ``.npz`` (inputs ``states`` -> ``log_probs``, ``values``; ``planes`` ->
``policy_logits``, ``q``, ``d``), an ``.onnx`` file (via ``boardnet.formats.onnx_export.onnx_verify_outputs``)
or any model file ``boardnet.convert.read_net`` reads (run through ``net.verify_outputs(x)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from boardnet.errors import FormatError, VerificationError

NPZ_OUTPUTS = {"states": ("log_probs", "values"), "planes": ("policy_logits", "q", "d")}


@dataclass
class OutputCheck:
    """Result for one output: worst absolute and relative error, and whether ``|a-b| <= atol + rtol*|b|``."""

    name: str
    max_abs: float
    max_rel: float
    passed: bool


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise FormatError(path, f"not a readable .npz: {e}") from None


def side_outputs(path: str | os.PathLike[str], inputs: dict[str, np.ndarray] | None) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(inputs, outputs) of one side; a model side needs ``inputs`` from the other (npz) side."""
    p = Path(path)
    if p.suffix == ".npz":
        z = _load_npz(p)
        key = next((k for k in NPZ_OUTPUTS if k in z), None)
        if key is None:
            raise FormatError(p, f"reference npz has none of the inputs {list(NPZ_OUTPUTS)}")
        return {key: z[key]}, {k: z[k] for k in NPZ_OUTPUTS[key] if k in z}
    if inputs is None:
        raise VerificationError("at least one side must be a reference .npz holding the inputs")
    if p.suffix == ".onnx":
        from boardnet.formats.onnx_export import onnx_verify_outputs  # type: ignore[import-not-found]

        x = next(iter(inputs.values()))
        return inputs, onnx_verify_outputs(p, x)
    import torch

    from boardnet.convert import read_net
    from boardnet.models import load_net

    nf = read_net(p)
    net = load_net(nf)
    key = getattr(net, "VERIFY_INPUT", None)
    if key not in inputs:
        raise VerificationError(f"{p}: network input {key!r} not in the reference inputs {list(inputs)}")
    try:
        with torch.no_grad():
            out = net.verify_outputs(torch.from_numpy(inputs[key]))
    except RuntimeError as e:  # e.g. board size of the model differs from the reference inputs
        msg = str(e).splitlines()[0]
        raise VerificationError(f"{p}: cannot run on reference {key} {list(inputs[key].shape)}: {msg}") from None
    return inputs, {k: v.numpy() for k, v in out.items()}


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], atol: float, rtol: float) -> list[OutputCheck]:
    """Compare outputs present on both sides; an output missing on one side fails by name."""
    checks = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            checks.append(OutputCheck(name, float("inf"), float("inf"), False))
            continue
        x, y = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
        if x.shape != y.shape:
            checks.append(OutputCheck(name, float("inf"), float("inf"), False))
            continue
        diff = np.abs(x - y)
        max_abs = float(diff.max(initial=0.0))
        max_rel = float((diff / np.maximum(np.abs(y), 1e-12)).max(initial=0.0))
        checks.append(OutputCheck(name, max_abs, max_rel, bool(np.all(diff <= atol + rtol * np.abs(y)))))
    return checks


def verify(a: str | os.PathLike[str], b: str | os.PathLike[str], atol: float = 1e-5,
           rtol: float = 1e-4) -> list[OutputCheck]:
    """Run both sides on the reference inputs and compare; npz side(s) supply the inputs."""
    first, second = (a, b) if Path(a).suffix == ".npz" or Path(b).suffix != ".npz" else (b, a)
    inputs, out1 = side_outputs(first, None) if Path(first).suffix == ".npz" else (None, None)
    if out1 is None:
        raise VerificationError("at least one side must be a reference .npz holding the inputs")
    _, out2 = side_outputs(second, inputs)
    return compare(out2, out1, atol, rtol)
