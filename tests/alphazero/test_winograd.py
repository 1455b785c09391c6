"""Winograd F(4x4, 3x3) inference form of the policy-value net: the transforms are exact convolution in float64,
and the whole net gives the direct net's outputs up to fp32 rounding, for any board shape and with a BN tower."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.winograd import (
    AT,
    WinogradConv3x3,
    WinogradPolicyValue,
    blocked,
    input_transform,
    kernel_transform,
    output_transform,
    stored_order,
    tiles,
)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (3, 5), (4, 4), (8, 8), (9, 7), (8, 12), (15, 15)])
def test_transforms_compute_same_padded_3x3_correlation_exactly(h: int, w: int) -> None:
    rng = np.random.default_rng(h * 31 + w)
    x = rng.standard_normal((2, 3, h, w))  # [B, Ci, H, W]
    k = rng.standard_normal((5, 3, 3, 3))  # [Co, Ci, 3, 3]
    direct = F.conv2d(torch.from_numpy(x), torch.from_numpy(k), padding=1).numpy()

    def out_matrix(n: int) -> np.ndarray:  # [slots, 6T]: A^T tile by tile (rows j*T + t), or the dense form
        return np.kron(AT, np.eye(tiles(n))) if blocked(n) else output_transform(n)

    for stored in (False, True):  # input in board order, or in the stored order a conv leaves behind
        xin = x
        if stored:
            xin = np.zeros_like(x)
            xin[:, :, stored_order(h)[:, None], stored_order(w)[None, :]] = x
        v = np.einsum("ph,bihw,qw->pqbi", input_transform(h, stored), xin, input_transform(w, stored))
        th, tw = tiles(h), tiles(w)
        m = np.einsum("xtyzbi,xyio->xtyzbo", v.reshape(6, th, 6, tw, 2, 3), kernel_transform(k))
        y = np.einsum("hp,pqbo,wq->bohw", out_matrix(h), m.reshape(6 * th, 6 * tw, 2, 5), out_matrix(w))
        y = y[:, :, stored_order(h)][:, :, :, stored_order(w)]  # back to board order
        np.testing.assert_allclose(y, direct, rtol=0, atol=1e-12)


def _scaled_net(h: int, w: int, **kwargs) -> PolicyValueNet:
    """A net with trained-like magnitudes: weights x3 (peaked policies), random BatchNorm statistics."""
    net = PolicyValueNet(h, w, **kwargs).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("weight") and ".bn" not in name:
                p.mul_(3.0)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net


@pytest.mark.parametrize(("h", "w", "kwargs"), [
    (8, 8, {}),
    (6, 6, {}),
    (9, 7, {"value_hidden_activation": "linear"}),
    (3, 3, {"channels": [8, 16]}),
    (12, 7, {"channels": [8, 16], "residual_blocks": 1}),
    (15, 15, {"channels": [16, 32], "residual_blocks": 2, "value_hidden": 32}),
])
def test_winograd_net_matches_the_direct_net(h: int, w: int, kwargs: dict) -> None:
    """Against the float64 net: Winograd's fp32 error stays within a small multiple of the direct fp32 net's own
    rounding error (measured 2.5-10x: log-probabilities 2.5e-6-4.3e-5, values 1.3e-6-5.9e-6 on these nets, whose
    values reach +-1) and within absolute bounds."""
    torch.manual_seed(h * 100 + w)
    net = _scaled_net(h, w, **kwargs)
    x = (torch.rand(24, 4, h, w) < 0.3).float()
    with torch.no_grad():
        exact = copy.deepcopy(net).double()(x.double())
        direct = net(x)
        winograd = WinogradPolicyValue(net).eval()(x)
    assert float(exact[0].exp().max()) > 0.25  # peaked policies: the comparison means something
    for (name, bound), e, d, wg in zip([("log_probs", 1e-4), ("value", 2e-5)], exact, direct, winograd):
        direct_err = float((d.double() - e).abs().max())
        winograd_err = float((wg.double() - e).abs().max())
        assert winograd_err <= max(16 * direct_err, 1e-6), (name, winograd_err, direct_err)
        assert winograd_err <= bound, (name, winograd_err)


def test_winograd_net_is_a_copy_and_leaves_torch_rng_alone() -> None:
    net = _scaled_net(6, 6)
    state = torch.get_rng_state()
    wnet = WinogradPolicyValue(net)
    assert torch.equal(torch.get_rng_state(), state)
    x = torch.rand(2, 4, 6, 6)
    before = wnet(x)[0]
    with torch.no_grad():
        net.act_fc1.weight.add_(1.0)
    assert torch.equal(wnet(x)[0], before)


def test_only_3x3_kernels() -> None:
    with pytest.raises(ValueError, match="3x3 kernels"):
        WinogradConv3x3(np.zeros((4, 2, 5, 5)), np.zeros(4), 8, 8)
