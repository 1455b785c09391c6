"""Compare two networks, or a network and a reference ``.npz``, output by output.

A side is a reference ``.npz`` (inputs ``states`` -> ``log_probs``, ``values``; ``planes`` ->
``policy_logits``, ``q``, ``d``), an ``.onnx`` file (via ``boardnet.core.onnx.onnx_verify_outputs``)
or any model file ``boardnet.core.convert.read_net`` reads (run through ``net.verify_outputs(x)``), an
lczero-training checkpoint included (``read_options``: its ``train_config`` YAML, ``swa``).

Inputs come, in this order, from ``inputs=`` (an npz holding ``states`` or ``planes``; its outputs are not
used), from a reference-npz side, or are generated (``random=N``, ``seed``) from the network's
``VERIFY_INPUT`` and spec: legal Gomoku positions in AlphaZero_Gomoku's 4-plane encoding at the net's board
size, or lc0's 112 classical planes of random legal chess games.

A net that has an inference form (``net.inference_form()``: lc0's, with BatchNorm folded as lc0 folds it at load
time) is checked in both forms by default: the trainable ``module`` and the ``inference`` form, each output
reported once per form.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from boardnet.core.errors import FormatError, VerificationError, first_line

NPZ_OUTPUTS = {"states": ("log_probs", "values"), "planes": ("policy_logits", "q", "d")}
FORMS = ("module", "inference")  # the trainable module; its inference form, for nets that have one


@dataclass
class OutputCheck:
    """Result for one output: worst absolute and relative error, and whether ``|a-b| <= atol + rtol*|b|``."""

    name: str
    max_abs: float
    max_rel: float
    passed: bool
    form: str = ""  # "module" | "inference" when a side has an inference form, else ""


@dataclass
class Side:
    """One side of a comparison: a reference npz (``inputs``/``outputs``), an ONNX file, or a boardnet net."""

    path: Path
    kind: str  # "npz" | "onnx" | "model"
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    net: Any = None  # torch module for "model"
    spec: Any = None  # ModelSpec for "model"
    inference: Any = None  # ``net.inference_form()`` for nets that have one (lc0)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    from boardnet.core.io import read_npz

    return read_npz(path)


def npz_inputs(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(inputs, outputs) of a reference npz: the first of ``states``/``planes`` it holds and its outputs."""
    p = Path(path)
    z = _load_npz(p)
    key = next((k for k in NPZ_OUTPUTS if k in z), None)
    if key is None:
        raise FormatError(p, f"reference npz has none of the inputs {list(NPZ_OUTPUTS)}")
    if z[key].dtype.kind != "f" or z[key].ndim != 4:
        raise FormatError(p, f"{key} must be a float [N, C, H, W] array, got {z[key].dtype} {list(z[key].shape)}",
                          field=key)
    return {key: z[key].astype(np.float32)}, {k: z[k] for k in NPZ_OUTPUTS[key] if k in z}


def _is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a TF checkpoint (the files ``--swa`` and ``--train-config`` apply to)."""
    from boardnet.core.convert import detect_format

    return Path(path).suffix not in (".npz", ".onnx") and detect_format(path).name == "tf-checkpoint"


def checkpoint_options(a: str | os.PathLike[str], b: str | os.PathLike[str],
                       options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The read options (``swa``, ``train_config``) for sides ``a`` and ``b``: given to the side(s) that are TF
    checkpoints; options given while neither side is one are an error naming them."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if not given:
        return {}, {}
    ckpt = [_is_checkpoint(a), _is_checkpoint(b)]
    if not any(ckpt):
        names = ", ".join(f"--{k.replace('_', '-')}" for k in given)
        raise VerificationError(f"{names} appl{'ies' if len(given) == 1 else 'y'} to lczero-training checkpoints, and neither {a} nor {b} is a "
                                "TF checkpoint")
    return given if ckpt[0] else {}, given if ckpt[1] else {}


def load_side(path: str | os.PathLike[str], read_options: dict[str, Any] | None = None) -> Side:
    """Open one side without running it (a model is read and built here, with ``read_options`` such as an
    lczero-training checkpoint's ``train_config`` and ``swa``)."""
    p = Path(path)
    if p.suffix == ".npz":
        inputs, outputs = npz_inputs(p)
        return Side(p, "npz", inputs, outputs)
    if p.suffix == ".onnx":
        if not p.exists():
            raise FormatError(p, "no such file")
        return Side(p, "onnx")
    from boardnet.core.build import load_net
    from boardnet.core.convert import read_net

    nf = read_net(p, **(read_options or {}))
    net = load_net(nf)
    if not hasattr(net, "verify_outputs") or not isinstance(getattr(net, "VERIFY_INPUT", None), str):
        raise VerificationError(f"{p}: {nf.spec.family} networks do not define VERIFY_INPUT/verify_outputs")
    inference = net.inference_form() if hasattr(net, "inference_form") else None
    return Side(p, "model", net=net, spec=nf.spec, inference=inference)


def random_inputs(side: Side, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` valid inputs for a model side, reproducible from ``seed`` (see module docstring)."""
    if n < 1:
        raise VerificationError(f"--random needs a positive count, got {n}")
    make = getattr(side.net, "random_verify_inputs", None)
    if make is None:
        raise VerificationError(f"{side.path}: no random input generator for {side.spec.family} nets; "
                                "pass --inputs FILE.npz")
    try:
        return {side.net.VERIFY_INPUT: make(n, np.random.default_rng(seed))}
    except ValueError as err:
        raise VerificationError(f"{side.path}: {err}; pass --inputs FILE.npz") from None


def run_side(side: Side, inputs: dict[str, np.ndarray], form: str = "module") -> dict[str, np.ndarray]:
    """Outputs of one side on ``inputs`` (a reference npz returns its stored outputs); ``form`` "inference" runs
    a model's inference form where it has one."""
    if side.kind == "npz":
        return side.outputs
    x = next(iter(inputs.values()))
    if side.kind == "onnx":
        from boardnet.core.onnx import onnx_verify_outputs

        try:
            return onnx_verify_outputs(side.path, x)
        except FormatError:
            raise
        except Exception as e:  # onnxruntime reports shape errors with its own exception types
            raise VerificationError(f"{side.path}: cannot run on {list(x.shape)}: {first_line(e)}") from None
    import torch

    key = side.net.VERIFY_INPUT
    if key not in inputs:
        raise VerificationError(f"{side.path}: network input {key!r} not in the inputs {list(inputs)}")
    try:
        with torch.no_grad():
            net = side.inference if form == "inference" and side.inference is not None else side.net
            out = net.verify_outputs(torch.from_numpy(inputs[key]))
    except RuntimeError as e:  # e.g. the model's board size differs from the inputs'
        raise VerificationError(f"{side.path}: cannot run on {key} {list(inputs[key].shape)}: {first_line(e)}") from None
    return {k: v.numpy() for k, v in out.items()}


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], atol: float, rtol: float) -> list[OutputCheck]:
    """Compare outputs present on both sides (``b`` is the reference); one missing on a side fails by name."""
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


def resolve_inputs(sides: list[Side], inputs: str | os.PathLike[str] | None, random: int | None,
                   seed: int) -> tuple[dict[str, np.ndarray], str]:
    """(inputs, a one-line description of where they came from)."""
    if inputs is not None and random is not None:
        raise VerificationError("give either --inputs or --random, not both")
    if inputs is not None:
        x, _ = npz_inputs(inputs)
        return x, f"inputs from {inputs}"
    ref = next((s for s in sides if s.kind == "npz"), None)
    if ref is not None and random is None:
        return ref.inputs, f"inputs from {ref.path}"
    if random is None:
        raise VerificationError("neither side is a reference .npz: pass --inputs REF.npz or --random N [--seed S]")
    model = next((s for s in sides if s.kind == "model"), None)
    if model is None:
        raise VerificationError("--random needs one side boardnet reads as a network (not .onnx/.npz) to know "
                                "the input shape; pass --inputs REF.npz")
    x = random_inputs(model, random, seed)
    key, arr = next(iter(x.items()))
    return x, f"{random} random {key} {list(arr.shape)} (seed {seed})"


def verify(a: str | os.PathLike[str], b: str | os.PathLike[str], atol: float = 1e-5, rtol: float = 1e-4, *,
           inputs: str | os.PathLike[str] | None = None, random: int | None = None, seed: int = 0,
           report: list[str] | None = None, form: str = "both",
           read_options: dict[str, Any] | None = None) -> list[OutputCheck]:
    """Run both sides on the same inputs and compare; a reference npz side, else ``b``, is the reference.

    ``report``, when given, receives one line saying where the inputs came from. ``form``: "both" (default),
    "module" or "inference" — which forms of a net with an inference form to check (ignored for other nets).
    ``read_options`` (``train_config``, ``swa``) are passed to the side(s) that are TF checkpoints.
    """
    if form not in ("both", *FORMS):
        raise VerificationError(f"unknown form {form!r}; expected both, {' or '.join(FORMS)}")
    opts_a, opts_b = checkpoint_options(a, b, read_options)
    sa, sb = load_side(a, opts_a), load_side(b, opts_b)
    if sa.kind == "npz" and sb.kind != "npz":
        sa, sb = sb, sa  # the reference goes second
    x, where = resolve_inputs([sa, sb], inputs, random, seed)
    if report is not None:
        report.append(where)
    if sa.kind == sb.kind == "npz" and any(not np.array_equal(sa.inputs.get(k), v) for k, v in sb.inputs.items()):
        raise VerificationError(f"{sa.path} and {sb.path} hold different inputs; their outputs are not comparable")
    if sa.inference is None and sb.inference is None:
        return compare(run_side(sa, x), run_side(sb, x), atol, rtol)
    checks = []
    fixed = {id(s): run_side(s, x) for s in (sa, sb) if s.inference is None}  # one run for a side with one form
    for f in (FORMS if form == "both" else (form,)):
        outs = [fixed[id(s)] if id(s) in fixed else run_side(s, x, f) for s in (sa, sb)]
        checks += [OutputCheck(c.name, c.max_abs, c.max_rel, c.passed, f) for c in compare(*outs, atol, rtol)]
    return checks
