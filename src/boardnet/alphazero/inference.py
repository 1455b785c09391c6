"""Leaf evaluators for the search: the policy-value net run by PyTorch or by onnxruntime, and the picklable
weights payload that worker processes rebuild a net from.

Why onnxruntime: the Gomoku nets are small (8x8 default: ~6 M multiply-adds per position), so on CPU PyTorch's
per-call overhead and its conv kernels at batch 16-256 leave a lot on the table. Measured on a 2-core AMD EPYC
(8x8 net, fp32, positions/s): 1 thread, batch 32: torch 4,519, onnxruntime 6,941; 2 threads, batch 64: torch 5,184,
onnxruntime 13,371 (channels_last and a frozen TorchScript trace were in between and less stable). onnxruntime also
gives bitwise the same row for a position whatever the batch it is in (PyTorch's CPU convs do not), which keeps
the evaluation cache (``cache.py``) exactly transparent. Outputs agree with PyTorch to ~5e-7 in log-probability.

Backend ``onnx`` (what ``auto`` picks) exports a policy-value net in its Winograd form (``models/winograd.py``)
on boards where that pays (sides of 4k or just under: 8x8, 12x12, 15x15 ...): the 3x3 convolutions as F(4x4, 3x3)
transforms and batched matrix products, a quarter of the trunk's multiplies. Same box, one thread, 8x8 net,
batch 16: 1.45-1.6x the direct convolutions' positions/s; outputs within ~1e-5 of PyTorch's, still
batch-invariant. ``onnx-direct`` always keeps the plain convolutions.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from boardnet.alphazero.backends import BACKENDS
from boardnet.alphazero.game import Game, LeafEvaluator
from boardnet.core.errors import ConfigError
from boardnet.core.spec import ModelSpec


def resolve_backend(backend: str, device: str | torch.device = "cpu") -> str:
    """``auto`` -> ``onnx`` on CPU when onnxruntime imports, else ``torch`` (CUDA always uses torch)."""
    if backend not in BACKENDS:
        raise ConfigError("inference", f"unknown inference backend '{backend}' (expected one of {', '.join(BACKENDS)})")
    if torch.device(device).type != "cpu":
        if backend.startswith("onnx"):
            raise ConfigError("inference", f"onnx inference runs on CPU only (device is {device})")
        return "torch"
    if backend == "auto":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "torch"
        return "onnx"
    return backend


def net_evaluator(net: torch.nn.Module, game: Game, device: str | torch.device = "cpu") -> LeafEvaluator:
    """Leaf evaluator running a policy-value net on the game's encoding under ``torch.inference_mode`` (one
    forward per call)."""
    dev = torch.device(device)

    def evaluate(boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(game.encode(boards, last)).to(dev)
        with torch.inference_mode():
            logp, v = net(x)
        return logp.exp().float().cpu().numpy(), v.float().cpu().numpy().reshape(-1)

    return evaluate


def onnx_model_bytes(net: torch.nn.Module, winograd: bool = True) -> bytes:
    """The net exported to ONNX in memory: input ``states [B,C,H,W]`` -> ``log_probs [B,A]``, ``value [B]``.

    Exported from a CPU copy in eval mode so the caller's net (maybe on CUDA, maybe training) is untouched.
    ``winograd``: a :class:`PolicyValueNet` on a board where it pays (:func:`boardnet.alphazero.winograd.pays`:
    8x8, 12x12, 15x15, 16x16 ..., not 6x6, 7x7, 10x10) is exported in its Winograd F(4x4, 3x3) inference form
    (``models/winograd.py``: same outputs up to fp32 rounding, ~1.45x the positions/s of the direct convolutions
    in one onnxruntime thread on the 8x8 net); False exports the convolutions as they are.
    """
    from boardnet.alphazero.net import PolicyValueNet
    from boardnet.alphazero.winograd import WinogradPolicyValue, pays
    from boardnet.core.onnx import export_graph

    cpu = _cpu_eval_copy(net)
    use = winograd and isinstance(cpu, PolicyValueNet) and pays(cpu.height, cpu.width)
    graph = WinogradPolicyValue(cpu).eval() if use else cpu
    buf = io.BytesIO()
    export_graph(graph, torch.zeros(1, cpu.conv1.in_channels, cpu.height, cpu.width), buf, ["states"],
                 ["log_probs", "value"])
    return buf.getvalue()


def onnx_evaluator(model: bytes, game: Game, threads: int = 1) -> LeafEvaluator:
    """Leaf evaluator running an ONNX policy-value model (see :func:`onnx_model_bytes`) on ``threads`` CPU threads."""
    from boardnet.core.onnx import ort_session

    sess = ort_session(model, threads)

    def evaluate(boards: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logp, v = sess.run(None, {"states": game.encode(boards, last)})
        return np.exp(logp), v.reshape(-1)

    return evaluate


def make_evaluator(net: torch.nn.Module, game: Game, backend: str = "auto",
                   device: str | torch.device = "cpu", threads: int | None = None) -> LeafEvaluator:
    """The leaf evaluator for ``net``: ``backend`` one of :data:`BACKENDS` (the onnx ones use ``threads``,
    default torch's)."""
    resolved = resolve_backend(backend, device)
    if resolved.startswith("onnx"):
        return onnx_evaluator(onnx_model_bytes(net, winograd=resolved == "onnx"), game,
                              threads or torch.get_num_threads())
    return net_evaluator(net, game, device)


def net_alone_rate(game: Game, evaluate: LeafEvaluator, batch: int, seconds: float,
                   rng: np.random.Generator) -> float:
    """Positions/s of ``evaluate`` on batches of ``batch`` mid-game positions (up to 20 random plies each)."""
    boards, last = game.initial_state(batch)
    for _ in range(20):
        going = np.isnan(game.outcome(boards, last))
        if not going.any():
            break
        rows = np.nonzero(going)[0]
        legal = game.legal_actions(boards[rows])
        acts = np.where(legal, rng.random(legal.shape), -1.0).argmax(axis=1)
        nb, nl = game.play(boards[rows], last[rows], acts)
        done = ~np.isnan(game.outcome(nb, nl))  # keep positions where the game goes on
        boards[rows[~done]], last[rows[~done]] = nb[~done], nl[~done]
    evaluate(boards, last)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        evaluate(boards, last)
        n += batch
    return n / (time.perf_counter() - t0)


@dataclass
class NetPayload:
    """What a worker process needs to rebuild the net: its spec and weights as numpy arrays (picklable, small:
    0.5 MB for the 8x8 default net, so sending it through a pipe each iteration costs about a millisecond)."""

    spec: ModelSpec
    state: dict[str, np.ndarray]

    @classmethod
    def of(cls, net: Any) -> NetPayload:
        if not hasattr(net, "spec"):
            raise ConfigError("networks", f"{type(net).__name__} has no spec(); self-play workers cannot rebuild it")
        return cls(net.spec(), {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()})

    def build(self) -> torch.nn.Module:
        """The net on CPU in eval mode."""
        from boardnet.core.build import build_from_spec

        net = build_from_spec(self.spec)
        net.load_state_dict({k: torch.from_numpy(v) for k, v in self.state.items()})
        return net.eval()


def _cpu_eval_copy(net: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy in eval mode; deepcopy, not a rebuild, so the global torch RNG (weight init) is not touched."""
    import copy

    return copy.deepcopy(net).cpu().eval()
