"""maia-1300 inference positions/s at batch 1 and 256: PyTorch eager, ``torch.compile`` and the ONNX export in
onnxruntime (``torch.compile`` is skipped, with the reason printed, where it cannot compile here).

Each figure is printed against a matmul-bound limit measured in the same run: model FLOPs per position ×
positions/s ÷ the GEMM FLOP/s torch reaches here (a 1024² float32 matmul). Target: >= 50% at batch 256.
Usage: python bench/lc0_inference.py [path/to/maia-1300.pb.gz]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net, write_net

DEFAULT_NET = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "lc0" / "maia-1300.pb.gz"


def positions_per_s(fn, batch: int, seconds: float = 2.0) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += batch
    return n / (time.perf_counter() - t0)


def _gemm_flops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    rate = positions_per_s(lambda: a @ b, 1, 1.0)
    return rate * 2 * 1024**3


def _model_flops(net: torch.nn.Module) -> float:
    """Multiply-adds × 2 of the convolutions and dense layers for one position."""
    total = 0
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            total += 2 * m.weight.numel() * 64
        elif isinstance(m, torch.nn.Linear):
            total += 2 * m.weight.numel()
    return float(total)


def _compiled(net: torch.nn.Module, example: torch.Tensor) -> tuple[object | None, str]:
    """``(torch.compile(net), "")`` once a first call has compiled it, or ``(None, why)`` when that fails
    (no C++ compiler for inductor, unsupported op, ...)."""
    try:
        fn = torch.compile(net, dynamic=False)
        t0 = time.perf_counter()
        with torch.inference_mode():
            fn(example)
        return fn, f"compiled in {time.perf_counter() - t0:.0f} s"
    except Exception as err:  # any backend failure: report it, keep the other figures
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NET
    nf = read_net(path)
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    gemm, flops = _gemm_flops(), _model_flops(net)
    print(f"torch GEMM {gemm / 1e9:.1f} GFLOP/s ({torch.get_num_threads()} threads); model {flops / 1e6:.1f} MFLOP/position")
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "m.onnx"
        write_net(nf, onnx_path)
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        for batch in (1, 256):
            x = torch.rand(batch, 112, 8, 8)
            xn = x.numpy().astype(np.float32)
            with torch.inference_mode():
                eager = positions_per_s(lambda x=x: net(x), batch)
            rates = [("eager", eager)]
            fn, note = _compiled(net, x)
            print(f"batch {batch:4d} torch.compile: {note}")
            if fn is not None:
                with torch.inference_mode():
                    rates.append(("torch.compile", positions_per_s(lambda x=x, fn=fn: fn(x), batch)))
            rates.append(("onnxruntime", positions_per_s(lambda xn=xn: sess.run(None, {"/input/planes": xn}), batch)))
            for name, rate in rates:
                print(f"batch {batch:4d} {name:13s} {rate:10,.0f} positions/s  "
                      f"{100 * rate * flops / gemm:5.1f}% of the matmul-bound limit")


if __name__ == "__main__":
    main()
