"""ONNX graph of an lc0 attention-body net with lc0's names (shared/specs/lc0.md §10).

Input ``/input/planes [batch, 112, 8, 8]`` (raw rule-50 count); outputs ``/output/policy [batch, 1858]`` raw
logits, ``/output/wdl [batch, 3]`` softmax W/D/L (``/output/value [batch, 1]`` tanh for VALUE_CLASSICAL),
``/output/mlh [batch, 1]``. A multi-head net gets one output per further head: ``/output/policy/<name>``
(optimistic, soft, opponent) and ``/output/wdl/<name>`` (q, st). lc0's ``leela2onnx`` exports one chosen head
per file and has no names for several, so these are boardnet's. Exported by :mod:`boardnet.core.onnx` (opset 17).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from boardnet.core.errors import ConversionError


def output_keys(cfg: dict[str, Any]) -> list[str]:
    """Model output keys in ONNX order: ``policy``, ``policy/<name>``..., ``value``, ``value/<name>``...,
    ``mlh``."""
    policy = ["policy"] + [f"policy/{n}" for n in list(cfg["policy_heads"])[1:]]
    value = ["value"] + [f"value/{n}" for n in list(cfg["value_heads"])[1:]]
    return policy + value + (["mlh"] if cfg.get("moves_left") else [])


def onnx_name(key: str, wdl: bool) -> str:
    """Model output key -> lc0 ONNX name: ``policy`` -> ``/output/policy``, ``value/q`` -> ``/output/wdl/q``."""
    head, _, name = key.partition("/")
    base = {"policy": "/output/policy", "value": "/output/wdl" if wdl else "/output/value",
            "mlh": "/output/mlh"}[head]
    return f"{base}/{name}" if name else base


class Lc0TransformerGraph(nn.Module):
    """The net with lc0's output tuple: policy logits, W/D/L softmax (or tanh value), moves-left."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.keys = output_keys(net.config)
        self.wdl = net.config["value"] == "wdl"

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(planes)
        return tuple(torch.softmax(out[k], dim=1) if self.wdl and k.startswith("value") else out[k]
                     for k in self.keys)


def onnx_graph(net: nn.Module,
               outputs: list[str] | None) -> tuple[nn.Module, torch.Tensor, list[str], list[str]]:
    """(module, example input, input names, output names) for :func:`boardnet.core.onnx.write_net`."""
    if outputs:
        raise ConversionError("extra ONNX outputs are not supported for lc0 attention bodies")
    graph = Lc0TransformerGraph(net)
    names = [onnx_name(k, graph.wdl) for k in graph.keys]
    return graph, torch.zeros(1, 112, 8, 8), ["/input/planes"], names
