"""BT4-like lc0 transformer, batch-256 CPU inference: PyTorch eager, ``torch.compile`` and boardnet's ONNX export in
onnxruntime (``torch.compile`` is skipped, with the reason printed, where it cannot compile here).

The net is the shared fixture bt-c-pedense-bt4like (PE_DENSE embedding, input gating, embedding FFN, smolgen,
relu² FFN; 4 layers, d_model 128, 8 heads, dff 256), built from its ModelSpec. Each figure is printed against a
matmul-bound limit measured in the same run: the net's FLOPs per position (torch's FlopCounterMode over one
forward: every matmul, counted from its shapes) × positions/s ÷ the FLOP/s of a ``torch.matmul`` of the net's
FFN shape (``[256·64, d_model] @ [d_model, dff]``) here. Target: >= 50% of that limit.
Usage: python bench/lc0_transformer_inference.py [net.pb.gz] [batch]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from lc0_inference import _compiled, positions_per_s  # bench/ is on sys.path when run as a script
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


def matmul_flops(rows: int, inner: int, cols: int) -> float:
    """FLOP/s torch reaches here on ``[rows, inner] @ [inner, cols]`` float32."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    return positions_per_s(lambda: torch.matmul(a, b), 1, 2.0) * 2 * rows * inner * cols


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_NET
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    nf = read_net(path)
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    d_model = net.encoder[0].mha.q.out_features
    dff = net.encoder[0].ffn.dense1.out_features
    flops = model_flops(net, batch)
    limit = matmul_flops(batch * 64, d_model, dff)
    print(f"{path.name}: {flops / 1e6:.1f} MFLOP/position; torch.matmul [{batch * 64}x{d_model}]@[{d_model}x{dff}] "
          f"{limit / 1e9:.1f} GFLOP/s ({torch.get_num_threads()} threads) -> limit {limit / flops:,.0f} positions/s")
    x = torch.rand(batch, 112, 8, 8)
    with torch.inference_mode():
        rates = [("eager", positions_per_s(lambda: net(x), batch, 4.0))]
    fn, note = _compiled(net, x)
    print(f"batch {batch} torch.compile: {note}")
    if fn is not None:
        with torch.inference_mode():
            rates.append(("torch.compile", positions_per_s(lambda: fn(x), batch, 4.0)))
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "net.onnx"
        write_net(nf, onnx_path)
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        xn = x.numpy().astype(np.float32)
        rates.append(("onnxruntime", positions_per_s(lambda: sess.run(None, {"/input/planes": xn}), batch, 4.0)))
    for name, rate in rates:
        print(f"batch {batch} {name:13s} {rate:8,.0f} positions/s  {100 * rate * flops / limit:5.1f}% of the "
              "matmul-bound limit  (target >= 50%)")


if __name__ == "__main__":
    main()
