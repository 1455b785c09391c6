"""Batched evaluation of an lc0 net for search: planes in, policy logits and W/D/L out.

Residual and attention-body (transformer) nets alike. Backends: ``onnxruntime`` (the net exported in memory with lc0's ONNX names, or an ``.onnx`` file such as lc0's
own ``leela2onnx`` export, run as is) when the package is installed, else PyTorch (:class:`~boardnet.lc0.net.
Lc0Net`). Input ``planes [B, 112, 8, 8]`` float32 (shared/specs/lc0.md §6); output ``logits [B, 1858]`` raw,
``q [B]`` = W − L and ``d [B]`` = D, side to move, float32.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from boardnet.core.errors import ConversionError, FormatError, first_line

BACKENDS = ("onnxruntime", "torch")
ONNX_OUTPUT_WIDTHS = {"/output/policy": 1858, "/output/wdl": 3, "/output/value": 1}  # lc0's outputs: [B, width]
LC0_FAMILIES = ("lc0", "lc0_transformer")  # residual (classic) and attention-body nets; a multi-head net plays its
# main heads (vanilla policy, winner value), the ones its ONNX export names /output/policy and /output/wdl


def default_backend() -> str:
    """``onnxruntime`` where it is installed (faster at search batch sizes on CPU), else ``torch``."""
    return "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"


class Evaluator:
    """An lc0 net ready for batched evaluation; ``threads`` = intra-op threads of the backend."""

    def __init__(self, path: str | os.PathLike[str], backend: str | None = None, threads: int = 1) -> None:
        """Read the net (fast; bad files raise here); :meth:`prepare` builds the backend (slow)."""
        self.path = Path(path)
        self.backend = backend or default_backend()
        if self.backend not in BACKENDS:
            raise ConversionError(f"unknown backend '{self.backend}'; expected one of {', '.join(BACKENDS)}")
        self.threads = max(1, int(threads))
        self._onnx: bytes | None = None
        self._netfile: Any = None
        self._net: Any = None
        self._session: Any = None
        if not self.path.is_file():  # before any heavy import: a wrong path is answered at once
            raise FormatError(self.path, "no such file" if not self.path.exists() else "not a file")
        if self.path.suffix == ".onnx":
            if self.backend != "onnxruntime":
                raise ConversionError(f"{self.path}: an ONNX net needs the onnxruntime backend")
            try:
                self._onnx = self.path.read_bytes()
            except OSError as err:
                raise FormatError(self.path, f"cannot read ({err.strerror})") from None
        else:
            self._netfile = _read(self.path)

    def prepare(self) -> Evaluator:
        """Export to ONNX in memory and open an onnxruntime session, or build the PyTorch net; returns self."""
        if self._netfile is not None and self.backend == "onnxruntime" and self._onnx is None:
            self._onnx = _export(self._netfile)
        if self.backend == "torch" and self._net is None:
            from boardnet.core.build import load_net

            self._net = load_net(self._netfile)
        self.set_threads(self.threads)
        return self

    def set_threads(self, threads: int) -> None:
        """Use ``threads`` intra-op threads (a new onnxruntime session; ``torch.set_num_threads``)."""
        self.threads = max(1, int(threads))
        if self._onnx is not None:
            from boardnet.core.onnx import ort_session

            try:
                self._session = ort_session(self._onnx, self.threads)
            except Exception as err:  # onnxruntime's own exception types for unloadable models
                raise FormatError(self.path, f"not a loadable ONNX model ({first_line(err)})") from None
            self._outputs = outputs = [o.name for o in self._session.get_outputs()]
            if "/output/policy" not in outputs or not {"/output/wdl", "/output/value"} & set(outputs):
                raise FormatError(self.path, f"ONNX outputs {outputs}; expected lc0's /output/policy and "
                                             "/output/wdl or /output/value")
            self._input = self._session.get_inputs()[0].name
        elif self._net is not None:
            import torch

            torch.set_num_threads(self.threads)

    def __call__(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``planes [B,112,8,8]`` float32 -> ``(logits [B,1858], q [B], d [B])`` float32 (after :meth:`prepare`)."""
        if self._session is not None:
            out = self._run_onnx(planes)
            if "/output/wdl" in out:
                wdl = out["/output/wdl"]
                return out["/output/policy"], wdl[:, 0] - wdl[:, 2], wdl[:, 1]
            return out["/output/policy"], out["/output/value"][:, 0], np.zeros(len(planes), np.float32)
        import torch

        with torch.inference_mode():
            out = self._net.verify_outputs(torch.from_numpy(planes))
        return out["policy_logits"].numpy(), out["q"].numpy(), out["d"].numpy()

    def _run_onnx(self, planes: np.ndarray) -> dict[str, np.ndarray]:
        """The ONNX session's outputs by name, each checked for its lc0 shape (a damaged graph can run and
        compute anything, or fail inside onnxruntime: both are one FormatError)."""
        try:
            out = dict(zip(self._outputs, self._session.run(None, {self._input: planes})))
        except Exception as err:  # noqa: BLE001 - onnxruntime's own exception types
            raise FormatError(self.path, f"the ONNX model fails to run: {first_line(err)}") from None
        for name, width in ONNX_OUTPUT_WIDTHS.items():
            if name in out and np.shape(out[name]) != (len(planes), width):
                raise FormatError(self.path, f"ONNX output {name} has shape {list(np.shape(out[name]))}; expected "
                                             f"{[len(planes), width]}")
        return out


def _read(path: Path) -> Any:
    """The lc0 :class:`~boardnet.core.spec.NetFile` in ``path`` (.pb.gz, .pt, .safetensors, ...)."""
    from boardnet.core.convert import read_net

    nf = read_net(path)
    if nf.spec.family not in LC0_FAMILIES:
        raise ConversionError(f"{path} holds a {nf.spec.family} network, not an lc0 net")
    return nf


def _export(netfile: Any) -> bytes:
    """The net as ONNX bytes with lc0's input/output names (boardnet's ONNX writer, core/onnx.py)."""
    from boardnet.core.convert import write_net

    with tempfile.TemporaryDirectory(prefix="boardnet-uci-") as tmp:
        target = Path(tmp) / "net.onnx"
        write_net(netfile, target)
        return target.read_bytes()


def evaluate_once(path: str | os.PathLike[str], planes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``planes [B,112,8,8]`` float32 -> ``(logits [B,1858], q [B], d [B])`` float32 of the lc0 net in ``path``,
    for a single evaluation (``lc0 eval``): an ``.onnx`` file with lc0's names (boardnet's export or lc0's
    ``leela2onnx``) through onnxruntime as :class:`Evaluator` runs it; any other file boardnet reads, residual
    or attention-body, through the PyTorch module's inference outputs."""
    if Path(path).suffix == ".onnx":
        return Evaluator(path, "onnxruntime").prepare()(planes)
    import torch

    from boardnet.core.build import load_net
    from boardnet.core.convert import read_net

    nf = read_net(path)
    if nf.spec.family not in LC0_FAMILIES:
        raise ConversionError(f"{path} holds a {nf.spec.family} network, not an lc0 net")
    net = load_net(nf)
    with torch.no_grad():
        out = net.verify_outputs(torch.from_numpy(planes))
    return out["policy_logits"].numpy(), out["q"].numpy(), out["d"].numpy()
