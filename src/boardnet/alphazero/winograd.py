"""Inference form of :class:`PolicyValueNet` whose 3x3 convolutions run as Winograd F(4x4, 3x3) transforms.

Why: self-play on CPU is bound by the net (the 8x8 default net: 6.05 M multiply-adds per position, 78% of them in
conv3), and one onnxruntime thread already runs the direct convolution near the core's FMA peak. Winograd's
minimal filtering computes each 4x4 output tile of a 3x3 convolution from a 6x6 input tile with 36 products per
channel pair instead of 144, so the trunk needs about a quarter of the multiplies. The arithmetic is fp32
throughout; the results differ from the direct convolution only by rounding (log-probabilities within ~1e-6 on
the test nets), like any other convolution algorithm (im2col, NCHWc, cuDNN's own Winograd).

Layout: activations are kept as ``[H, W, B, C]`` so that every transform is a plain matrix product over one
leading axis (no transposes inside the trunk):

    x [H, W, B, C]
      -> Tin_w @ . (over W), Tin_h @ . (over H)    V [6*Th, 6*Tw, B, C]   rows (xi, tile): input transform B^T d B
      -> V[xh, th, xw, (tw, B)] @ U[xh, xw]        M [6*Th, 6*Tw, B, Co]  U = G g G^T per (xh, xw), [Ci, Co]
      -> Tout_w @ . (over xw), Tout_h @ . (over xh) + bias, ReLU
                                                   y [H, W, B, Co]        output transform A^T M A

On an axis whose length is a multiple of 4 the output transform works tile by tile (``Tout`` = A^T, 4x6; the tile
index rides along), so the conv's output points come out in a *stored order*: point ``4t + j`` in slot
``j*T + t`` (:func:`stored_order`); on other axes a dense ``[n, 6*T]`` matrix keeps board order. The next
conv's ``Tin`` reads that order directly; it folds the tiling, the zero padding of 'same' convolution and the
board edges (a side that is not a multiple of 4 gets a last, partly used tile) into one dense ``[6*T, n]``. BatchNorm of the residual blocks is folded into the convolutions.
The heads run the 1x1 convolutions as one matrix product on ``[H*W*B, C]``, gather the board points back into
(H, W) order and hand the original dense layers their ``(C, H, W)`` flatten order.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from boardnet.alphazero.net import PolicyValueNet, dense_heads

TILE = 4  # output points per tile and axis: F(4, 3)
ALPHA = TILE + 2  # input points per tile and axis

# F(4, 3) with interpolation points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2016, the form cuDNN and
# NNPACK use): y = A^T [(G g G^T) * (B^T d B)] A for a 6x6 input tile d and a 3x3 kernel g.
BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)


def tiles(n: int) -> int:
    """Tiles covering an axis of ``n`` points."""
    return -(-n // TILE)


def pays(height: int, width: int) -> bool:
    """Whether the Winograd form is worth it for a board: its tiles cover at most 20% more points than the
    board. Measured (one onnxruntime thread, default net, batch 4/8/16, Winograd / direct positions/s): 8x8
    1.05/1.42/1.45, 12x12 1.38/1.58/1.45, 15x15 (channels 64/128 + 4 residual blocks) ~1.4; but 6x6
    0.72/0.89/0.90, 7x7 0.82/1.08/1.07, 10x10 0.85/0.96/0.97 (78%, 31%, 44% of the tile area off the board)."""
    return TILE * tiles(height) * TILE * tiles(width) <= 1.2 * height * width


def blocked(n: int) -> bool:
    """Whether an axis of ``n`` points takes the tile-by-tile output transform (``n`` a multiple of 4: the
    stored order is then a permutation; otherwise the dense one keeps board order and no slot is wasted)."""
    return n % TILE == 0


def stored_order(n: int) -> np.ndarray:
    """``int [n]``: the slot of point ``q`` of an axis in a conv's output: ``j*T + t`` for ``q = 4t + j`` on a
    :func:`blocked` axis, ``q`` otherwise."""
    q = np.arange(n)
    return (q % TILE) * tiles(n) + q // TILE if blocked(n) else q


def input_transform(n: int, stored: bool = False) -> np.ndarray:
    """``[6*T, n]`` float64: rows ``(xi, tile)``; tile ``t`` reads points ``4t-1 .. 4t+4`` (outside the board:
    zero padding); columns in board order, or in :func:`stored_order` when ``stored``."""
    t_count = tiles(n)
    m = np.zeros((ALPHA, t_count, n))
    for t in range(t_count):
        for k in range(ALPHA):
            p = TILE * t - 1 + k
            if 0 <= p < n:
                m[:, t, p] = BT[:, k]
    m = m.reshape(ALPHA * t_count, n)
    return m[:, np.argsort(stored_order(n))] if stored else m


def output_transform(n: int) -> np.ndarray:
    """``[n, 6*T]`` float64 (the dense form, for an axis that is not :func:`blocked`): output point ``4t+i`` =
    sum over xi of ``A^T[i, xi] * M[(xi, t)]``."""
    t_count = tiles(n)
    m = np.zeros((t_count, TILE, ALPHA, t_count))
    for t in range(t_count):
        m[t, :, :, t] = AT
    return m.reshape(t_count * TILE, ALPHA * t_count)[:n]


def kernel_transform(weight: np.ndarray) -> np.ndarray:
    """3x3 kernels ``[Co, Ci, 3, 3]`` -> ``U [6, 6, Ci, Co]`` = ``G g G^T`` per channel pair (float64)."""
    return np.einsum("xk,oikl,yl->xyio", G, weight, G)


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> tuple[np.ndarray, np.ndarray]:
    """``(weight [Co, Ci, kh, kw], bias [Co])`` float64 of ``bn(conv(x))`` in eval mode (bias 0 if none)."""
    def f64(t: torch.Tensor) -> np.ndarray:
        return t.detach().double().cpu().numpy()

    w = f64(conv.weight)
    b = f64(conv.bias) if conv.bias is not None else np.zeros(w.shape[0])
    if bn is None:
        return w, b
    scale = f64(bn.weight) / np.sqrt(f64(bn.running_var) + bn.eps)
    shift = f64(bn.bias) - f64(bn.running_mean) * scale
    return w * scale[:, None, None, None], b * scale + shift


def _f32(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float32)


class WinogradConv3x3(nn.Module):
    """'Same' 3x3 convolution + bias + ReLU, computed by F(4x4, 3x3), float32: ``[H, W, B, Ci]`` in board order
    (or, ``stored_input``, in :func:`stored_order`: another conv's output) -> ``[H, W, B, Co]`` in stored order.

    Args:
        weight: ``[Co, Ci, 3, 3]``; bias: ``[Co]``; height, width: board size in points.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, height: int, width: int,
                 stored_input: bool = True) -> None:
        super().__init__()
        if weight.shape[2:] != (3, 3):
            raise ValueError(f"Winograd F(4x4, 3x3) needs 3x3 kernels, got {weight.shape[2:]}")
        self.height, self.width = height, width
        self.co, self.ci = weight.shape[:2]
        self.th, self.tw = tiles(height), tiles(width)
        self.register_buffer("u", _f32(kernel_transform(weight).reshape(ALPHA, 1, ALPHA, self.ci, self.co)))
        self.register_buffer("tin_h", _f32(input_transform(height, stored_input)))
        self.register_buffer("tin_w", _f32(input_transform(width, stored_input)))
        # output transform per axis: A^T tile by tile (blocked axis) or the dense [n, 6T] matrix
        self.register_buffer("tout_h", _f32(AT if blocked(height) else output_transform(height)))
        self.register_buffer("tout_w", _f32(AT if blocked(width) else output_transform(width)))
        self.register_buffer("bias", _f32(bias))

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """``ReLU(conv(x) + bias [+ add])``; ``add`` laid out like the output."""
        h, w, th, tw = self.height, self.width, self.th, self.tw
        v = torch.matmul(self.tin_w, x.reshape(h, w, -1))                        # [H, 6Tw, B*Ci]
        v = torch.matmul(self.tin_h, v.reshape(h, -1))                           # [6Th, 6Tw*B*Ci]
        m = torch.matmul(v.reshape(ALPHA, th, ALPHA, -1, self.ci), self.u)      # [6, Th, 6, Tw*B, Co]
        # over xw: blocked -> [6Th, 4, Tw*B*Co] (w slot j*Tw + tw); dense -> [6Th, W, B*Co]
        m = torch.matmul(self.tout_w, m.reshape(ALPHA * th, ALPHA, -1) if blocked(w) else
                         m.reshape(ALPHA * th, ALPHA * tw, -1))
        m = m.reshape(ALPHA, -1) if blocked(h) else m.reshape(ALPHA * th, -1)
        rows = self.bias.repeat(m.shape[1] // self.co).unsqueeze(0)             # [1, N]
        if add is not None:
            rows = rows + add.reshape(self.tout_h.shape[0], -1)
        y = torch.addmm(rows, self.tout_h, m)                                    # over xh: [4 or H, N]
        return F.relu(y).reshape(h, w, -1, self.co)


class WinogradPolicyValue(nn.Module):
    """:class:`PolicyValueNet` for inference with Winograd trunk convolutions; same inputs and outputs:
    ``x [B, in_planes, H, W] float32`` -> ``(log_probs [B, H*W], value [B])``. Built from a net's weights (a
    copy: later training of the net does not reach it)."""

    def __init__(self, net: PolicyValueNet) -> None:
        super().__init__()
        h, w = self.height, self.width = net.height, net.width
        self.trunk_convs = nn.ModuleList(WinogradConv3x3(*fold_batchnorm(getattr(net, k), None), h, w, i > 0)
                                         for i, k in enumerate(net.trunk_names))
        self.blocks = nn.ModuleList(
            nn.ModuleList([WinogradConv3x3(*fold_batchnorm(blk.conv1, blk.bn1), h, w),
                           WinogradConv3x3(*fold_batchnorm(blk.conv2, blk.bn2), h, w)])
            for blk in net.res_blocks)
        pw, pb = fold_batchnorm(net.act_conv1, None)
        vw, vb = fold_batchnorm(net.val_conv1, None)
        self.policy_filters = pw.shape[0]
        self.register_buffer("head_w", _f32(np.concatenate([pw, vw])[:, :, 0, 0].T))  # [C, pf + vf]
        self.register_buffer("head_b", _f32(np.concatenate([pb, vb])))
        # stored slot of each board point, in (h, w) order: the heads' dense layers read (C, H, W)
        slots = stored_order(h)[:, None] * w + stored_order(w)[None, :]
        self.register_buffer("board_slots", torch.tensor(slots.reshape(-1), dtype=torch.int64))
        # deep copies, not new layers: building an nn.Linear would draw its init from torch's global RNG
        self.act_fc1, self.val_fc1, self.val_fc2 = (copy.deepcopy(m).cpu().requires_grad_(False)
                                                    for m in (net.act_fc1, net.val_fc1, net.val_fc2))
        self.value_hidden_relu = net.value_hidden_relu

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, in_planes, H, W]`` -> ``(log_probs [B, H*W], value [B])``."""
        h, w = self.height, self.width
        t = x.permute(2, 3, 0, 1)                                               # [H, W, B, in_planes]
        for conv in self.trunk_convs:
            t = conv(t)
        for conv1, conv2 in self.blocks:
            t = conv2(conv1(t), add=t)
        heads = F.relu(torch.addmm(self.head_b, t.reshape(-1, self.head_w.shape[0]), self.head_w))  # [H*W*B, pf+vf]
        heads = heads.reshape(h * w, -1, self.head_b.shape[0])                   # [slots, B, pf + vf]
        heads = heads.index_select(0, self.board_slots).permute(1, 2, 0)        # [B, pf + vf, H*W]
        return dense_heads(self, heads[:, : self.policy_filters].flatten(1), heads[:, self.policy_filters:].flatten(1))

