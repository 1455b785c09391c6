"""ONNX export with lc0's conventions (shared/specs/lc0.md §10), and running ONNX files for ``boardnet verify``.

lc0 nets: input ``/input/planes [batch,112,8,8]`` (raw rule-50 count, as the engine feeds it); outputs
``/output/policy [batch,1858]`` raw logits, ``/output/wdl [batch,3]`` softmax (VALUE_WDL) or ``/output/value
[batch,1]`` tanh (VALUE_CLASSICAL), ``/output/mlh [batch,1]`` (moves-left nets); dynamic batch ``batch``, opset 17,
BatchNorm folded into the convolutions as lc0 folds it (the net's ``inference_form()``). Extra outputs on
request: ``/inputconv`` and ``/block{i}`` (the input convolution's and residual block i's activations,
``[batch, filters, 8, 8]``).
Policy-value nets: input ``states [batch,4,H,W]``, outputs ``log_probs [batch,H·W]``, ``values [batch,1]``.

Checksums: an exported file carries ``{initializer: sha256}`` (JSON, :mod:`boardnet.core.checksum`) in the
``boardnet.sha256`` entry of its ``metadata_props``; :func:`load_model` verifies it, and refuses initializers
whose data lives in another file (``data_location`` EXTERNAL). Files without the entry (lc0's leela2onnx
output, other tools') are read unchecked.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from boardnet.core.checksum import tensor_checksums, verify_checksums
from boardnet.core.errors import ConversionError, FormatError, first_line
from boardnet.core.io import atomic_write, read_user_bytes
from boardnet.core.spec import NetFile

OPSET = 17
SHA256_KEY = "boardnet.sha256"
BLOCK_OUTPUT = re.compile(r"^/block(\d+)$")


class _Lc0Graph(nn.Module):
    """Lc0Net with lc0's output tuple (and requested intermediate activations appended)."""

    def __init__(self, net: nn.Module, extra: list[str]) -> None:
        super().__init__()
        self.net, self.extra = net, extra

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        acts = self.net.body(planes)
        out = self.net.heads(acts[-1])
        value = torch.softmax(out["value"], dim=1) if self.net.config["value"] == "wdl" else out["value"]
        heads = [out["policy"], value] + ([out["mlh"]] if "mlh" in out else [])
        taps = [acts[0] if name == "/inputconv" else acts[int(name.removeprefix("/block")) + 1] for name in self.extra]
        return (*heads, *taps)


class _PolicyValueGraph(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, value = self.net(states)
        return log_probs, value.unsqueeze(1)


def _graph(netfile: NetFile, outputs: list[str] | None) -> tuple[nn.Module, torch.Tensor, list[str], list[str]]:
    """(module, example input, input names, output names) for one family."""
    from boardnet.core.build import load_net

    net = load_net(netfile)
    if hasattr(net, "inference_form"):  # lc0: BatchNorm folded as lc0 folds it (leela2onnx's initializers)
        net = net.inference_form()
    family = netfile.spec.family
    if hasattr(net, "onnx_graph"):  # a net that defines its own ONNX graph (lc0 attention bodies)
        return net.onnx_graph(outputs)
    if family == "lc0":
        extra = list(outputs or [])
        for name in extra:
            match = BLOCK_OUTPUT.match(name)
            if name != "/inputconv" and not (match and int(match.group(1)) < len(net.residual)):
                raise ConversionError(f"unknown ONNX output '{name}'; expected /inputconv or /block0../block"
                                      f"{len(net.residual) - 1}")
        heads = ["/output/policy", "/output/wdl" if net.config["value"] == "wdl" else "/output/value"]
        if net.config["moves_left"]:
            heads.append("/output/mlh")
        return _Lc0Graph(net, extra), torch.zeros(1, 112, 8, 8), ["/input/planes"], heads + extra
    if family == "policy_value":
        if outputs:
            raise ConversionError("extra ONNX outputs are only supported for lc0 nets")
        shape = (1, net.conv1.in_channels, net.height, net.width)
        return _PolicyValueGraph(net), torch.zeros(shape), ["states"], ["log_probs", "values"]
    raise ConversionError(f"ONNX export of {family} networks is not supported")


def write_net(netfile: NetFile, path: str | os.PathLike[str], outputs: list[str] | None = None) -> None:
    """Export to ONNX (opset 17, dynamic batch) atomically; see the module docstring for names."""
    module, example, inputs, names = _graph(netfile, outputs)

    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        export_graph(module, example, buf, inputs, names)
        Path(tmp).write_bytes(with_checksums(buf.getvalue()))

    atomic_write(path, write)


def with_checksums(data: bytes) -> bytes:
    """An ONNX model (bytes) with the sha256 of every initializer in its ``boardnet.sha256`` metadata entry."""
    import onnx

    model = onnx.load_from_string(data)
    sums = tensor_checksums(initializers(model, "<export>"))
    for i in reversed(range(len(model.metadata_props))):
        if model.metadata_props[i].key == SHA256_KEY:
            del model.metadata_props[i]
    model.metadata_props.add(key=SHA256_KEY, value=json.dumps(sums))
    return model.SerializeToString()


def initializers(model: Any, path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{name: array}`` of a model's graph initializers; data kept in another file is one FormatError."""
    from onnx import TensorProto, numpy_helper

    out = {}
    for init in model.graph.initializer:
        if init.data_location == TensorProto.EXTERNAL:
            raise FormatError(path, "external data refused (the tensor would come from another file)",
                              field=init.name)
        try:
            out[init.name] = numpy_helper.to_array(init)
        except Exception as err:  # noqa: BLE001 - onnx raises several types for inconsistent tensors
            raise FormatError(path, f"unreadable initializer: {first_line(err, 160)}",
                              field=init.name) from None
    return out


def load_model(path: str | os.PathLike[str]) -> tuple[bytes, Any]:
    """(bytes, ``onnx.ModelProto``) of a user ONNX file, its checksums verified (see the module docstring)."""
    import onnx

    data = read_user_bytes(path)
    try:
        model = onnx.load_from_string(data)
    except Exception as err:  # noqa: BLE001 - protobuf decode errors from a damaged file
        raise FormatError(path, f"not an ONNX model ({first_line(err, 160)})",
                          offset=0) from None
    if not model.opset_import:
        raise FormatError(path, "not an ONNX model (no opset, no graph)" if data else "empty file")
    meta = {p.key: p.value for p in model.metadata_props}
    verify_checksums(initializers(model, path), meta.get(SHA256_KEY), path, SHA256_KEY)
    return data, model


def export_graph(module: nn.Module, example: torch.Tensor, target: str | io.BytesIO, inputs: list[str],
                 outputs: list[str]) -> None:
    """``torch.onnx.export`` with our conventions: opset :data:`OPSET`, every input/output dynamic in dim 0
    (``batch``), TorchScript exporter, its deprecation notices silenced. ``target``: a path or a buffer."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), target, input_names=inputs, output_names=outputs,
                          dynamic_axes={n: {0: "batch"} for n in inputs + outputs}, opset_version=OPSET,
                          dynamo=False)


def ort_session(model: bytes, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of ``model`` (bytes): ``threads`` intra-op threads (None: onnxruntime's
    default), one inter-op. onnxruntime's own log is silenced (severity fatal): a model that fails to load or
    run reaches the user as one boardnet error line, not with ORT's coloured log line beside it."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    if threads is not None:
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _session(path: str | os.PathLike[str]) -> Any:
    data, _ = load_model(path)
    try:
        return ort_session(data)
    except Exception as err:  # onnxruntime raises its own exception types for unreadable models
        raise FormatError(path, f"not a loadable ONNX model ({first_line(err)})") from None


def onnx_verify_outputs(path: str | os.PathLike[str], x: np.ndarray) -> dict[str, np.ndarray]:
    """Run an ONNX file (lc0's or boardnet's) on ``x`` and return verify's keys.

    lc0 graphs: ``policy_logits [B,1858]``, ``q [B]`` (= W − L), ``d [B]``; policy-value graphs: ``log_probs``,
    ``values [B,1]``.
    """
    sess = _session(path)
    inp = sess.get_inputs()[0].name
    out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {inp: x.astype(np.float32)})))
    if "/output/policy" in out:
        res = {"policy_logits": out["/output/policy"]}
        if "/output/wdl" in out:
            wdl = out["/output/wdl"]
            res.update(q=wdl[:, 0] - wdl[:, 2], d=wdl[:, 1])
        elif "/output/value" in out:
            res.update(q=out["/output/value"][:, 0], d=np.zeros(len(x), np.float32))
        return res
    if "log_probs" in out:
        return {"log_probs": out["log_probs"], "values": out["values"]}
    raise FormatError(path, f"unknown ONNX outputs {list(out)}; expected lc0's or boardnet's names")


def inspect_file(path: str | os.PathLike[str]) -> str:
    """Opset, inputs and outputs (names, shapes) and node count of an ONNX file."""
    _, model = load_model(path)
    g = model.graph

    def dims(v: Any) -> list[Any]:
        return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]

    lines = [f"ONNX {path}: opset {', '.join(str(o.version) for o in model.opset_import)}, IR {model.ir_version}, "
             f"{len(g.node)} nodes, {len(g.initializer)} initializers"]
    lines += [f"input  {v.name} {dims(v)}" for v in g.input if v.name not in {i.name for i in g.initializer}]
    lines += [f"output {v.name} {dims(v)}" for v in g.output]
    return "\n".join(lines)
