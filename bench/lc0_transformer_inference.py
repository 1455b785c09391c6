"""BT4-like lc0 transformer, batch-256 CPU inference: PyTorch eager, ``torch.compile`` and boardnet's ONNX export in
onnxruntime (``torch.compile`` is skipped, with the reason printed, where it cannot compile here).

The net is the shared fixture bt-c-pedense-bt4like (PE_DENSE embedding, input gating, embedding FFN, smolgen,
relu² FFN; 4 layers, d_model 128, 8 heads, dff 256), built from its ModelSpec. Each figure is printed against a
matmul-bound limit measured in the same run: the net's FLOPs per position (torch's FlopCounterMode over one
forward: every matmul, counted from its shapes) × positions/s ÷ the FLOP/s of a ``torch.matmul`` of the net's
FFN shape (``[256·64, d_model] @ [d_model, dff]``) here. Target: >= 50% of that limit.

Threads: torch (intra-op), inductor's code and onnxruntime all get ``threads`` (default 1). Each rate is
given per wall second and per CPU second of this process; on a shared machine the CPU-second figures at one
thread are the ones that repeat (wall time there is mostly waiting for a core; with several threads, CPU time
also counts OpenMP's spinning). The limit is measured the same two ways, and each percentage compares like with
like. Layout: the net reads ``[B, 112, 8, 8]`` as 64 tokens (no convolution, so channels-last has nothing to
change); every forward runs under ``torch.inference_mode()`` (the activations then work in place).
Usage: python bench/lc0_transformer_inference.py [net.pb.gz] [batch] [threads]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from lc0_inference import _compiled  # bench/ is on sys.path when run as a script
from torch.utils.flop_counter import FlopCounterMode

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net, write_net

DEFAULT_NET = (Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "lc0_transformer"
               / "bt-c-pedense-bt4like.pb.gz")


def model_flops(net: torch.nn.Module, batch: int) -> float:
    """FLOPs per position of one forward at ``batch`` (matmuls, from their shapes)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        net(torch.rand(batch, 112, 8, 8))
    return counter.get_total_flops() / batch


def rates(fn: Callable[[], object], batch: int, seconds: float) -> tuple[float, float]:
    """``(positions per wall s, positions per CPU s)`` of ``fn`` (``batch`` positions a call), after a warm call."""
    fn()
    n, w0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - w0 < seconds:
        fn()
        n += batch
    return n / (time.perf_counter() - w0), n / (time.process_time() - c0)


def matmul_flops(rows: int, inner: int, cols: int) -> tuple[float, float]:
    """FLOP per wall s and per CPU s torch reaches here on ``[rows, inner] @ [inner, cols]`` float32."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    wall, cpu = rates(lambda: torch.matmul(a, b), 1, 2.0)
    return wall * 2 * rows * inner * cols, cpu * 2 * rows * inner * cols


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NET
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    nf = read_net(path)
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    d_model = net.encoder[0].mha.q.out_features
    dff = net.encoder[0].ffn.dense1.out_features
    flops = model_flops(net, batch)
    limit = matmul_flops(batch * 64, d_model, dff)
    print(f"{path.name}: {flops / 1e6:.1f} MFLOP/position; torch.matmul [{batch * 64}x{d_model}]@[{d_model}x{dff}] "
          f"{limit[0] / 1e9:.1f} GFLOP/s wall, {limit[1] / 1e9:.1f} per CPU s ({threads} threads) -> limit "
          f"{limit[0] / flops:,.0f} positions/s wall, {limit[1] / flops:,.0f} per CPU s")
    x = torch.rand(batch, 112, 8, 8)
    with torch.inference_mode():
        results = [("eager", rates(lambda: net(x), batch, 4.0))]
    fn, note = _compiled(net, x)
    print(f"batch {batch} torch.compile: {note}")
    if fn is not None:
        with torch.inference_mode():
            results.append(("torch.compile", rates(lambda: fn(x), batch, 4.0)))
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "net.onnx"
        write_net(nf, onnx_path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        xn = x.numpy().astype(np.float32)
        results.append(("onnxruntime", rates(lambda: sess.run(None, {"/input/planes": xn}), batch, 4.0)))
    for name, (wall, cpu) in results:
        print(f"batch {batch} {name:13s} {wall:6,.0f} positions/s wall ({100 * wall * flops / limit[0]:5.1f}% of the "
              f"matmul-bound limit), {cpu:6,.0f} per CPU s ({100 * cpu * flops / limit[1]:5.1f}%)  (target >= 50%)")


if __name__ == "__main__":
    main()
