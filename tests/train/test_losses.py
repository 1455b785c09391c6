"""Loss terms: MSE shape safety, soft-target cross-entropy, L2 in TF1 / Keras / Lasagne semantics."""

from __future__ import annotations

import pytest
import torch

from boardnet.alphazero.net import PolicyValueNet
from boardnet.train.losses import CrossEntropyLoss, L2Loss, MSELoss, l2_penalty


def test_mse_does_not_broadcast_column_against_row() -> None:
    loss = MSELoss(MSELoss.Config(type="mse", pred="v", target="z"))
    v = torch.tensor([0.5, -0.5, 0.0])
    z = torch.tensor([[1.0], [-1.0], [0.0]])  # [N,1] vs [N]: AZG's [N,N] pitfall
    assert loss({"v": v, "z": z}, None).item() == pytest.approx((0.25 + 0.25 + 0) / 3)


def test_cross_entropy_soft_targets_ignore_masked_minus_inf() -> None:
    loss = CrossEntropyLoss(CrossEntropyLoss.Config(type="cross_entropy", pred="lp", target="pi"))
    lp = torch.log(torch.tensor([[0.5, 0.5, 0.0]]))  # last move impossible: log 0 = -inf
    pi = torch.tensor([[0.25, 0.75, 0.0]])
    expected = -(0.25 * torch.log(torch.tensor(0.5)) + 0.75 * torch.log(torch.tensor(0.5)))
    assert loss({"lp": lp, "pi": pi}, None).item() == pytest.approx(expected.item())


def test_cross_entropy_with_logits_and_class_targets() -> None:
    loss = CrossEntropyLoss(CrossEntropyLoss.Config(type="cross_entropy", pred="x", target="y", logits=True))
    x = torch.randn(5, 7)
    y = torch.randint(0, 7, (5,))
    assert loss({"x": x, "y": y}, None).item() == pytest.approx(torch.nn.functional.cross_entropy(x, y).item(), rel=1e-6)


def test_l2_semantics() -> None:
    net = PolicyValueNet(6, 6)
    weights = sum(float(p.detach().pow(2).sum()) for n, p in net.named_parameters() if not n.endswith("bias"))
    everything = sum(float(p.detach().pow(2).sum()) for p in net.parameters())
    assert l2_penalty(net, 1e-4, "tf1").item() == pytest.approx(1e-4 * weights / 2, rel=1e-5)
    assert l2_penalty(net, 1e-4, "keras").item() == pytest.approx(1e-4 * weights, rel=1e-5)
    assert l2_penalty(net, 1e-4, "all").item() == pytest.approx(1e-4 * everything, rel=1e-5)
    cfg = L2Loss.Config(type="l2", net="n", coeff=1e-4)
    assert cfg.semantics == "tf1"
