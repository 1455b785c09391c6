"""lc0 losses: policy cross-entropy over legal moves (−1 masking), moves-left Huber on scaled plies."""

from __future__ import annotations

import torch

from boardnet.lc0.losses import Lc0MovesLeftLoss, Lc0PolicyLoss


def test_policy_loss_is_cross_entropy_over_legal_moves() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1858, generator=g) * 3
    target = torch.full((4, 1858), -1.0)
    legal = [torch.randperm(1858, generator=g)[:k] for k in (1, 5, 20, 40)]
    for b, idx in enumerate(legal):
        p = torch.rand(len(idx), generator=g)
        target[b, idx] = p / p.sum()
    loss = Lc0PolicyLoss(Lc0PolicyLoss.Config(pred="x", target="t"))({"x": logits, "t": target}, None)
    manual = torch.stack([-(target[b, idx] * torch.log_softmax(logits[b, idx], 0)).sum()
                          for b, idx in enumerate(legal)]).mean()
    assert torch.allclose(loss, manual, atol=1e-5)
    moved = logits.clone()
    moved[target < 0] += 100  # illegal logits do not matter
    assert torch.allclose(Lc0PolicyLoss(Lc0PolicyLoss.Config(pred="x", target="t"))({"x": moved, "t": target}, None),
                          loss, atol=1e-5)
    unmasked = Lc0PolicyLoss(Lc0PolicyLoss.Config(pred="x", target="t", mask_illegal=False))
    full = -(target.clamp(min=0) * torch.log_softmax(logits, 1)).sum(1).mean()
    assert torch.allclose(unmasked({"x": logits, "t": target}, None), full, atol=1e-4)
    logits.requires_grad_(True)
    Lc0PolicyLoss(Lc0PolicyLoss.Config(pred="x", target="t"))({"x": logits, "t": target}, None).backward()
    assert torch.isfinite(logits.grad).all() and torch.all(logits.grad[target < 0] == 0)


def test_moves_left_huber_on_scaled_plies() -> None:
    pred = torch.tensor([[10.0], [50.0], [0.0]])
    target = torch.tensor([12.0, 20.0, 0.0])
    loss = Lc0MovesLeftLoss(Lc0MovesLeftLoss.Config(pred="m", target="y"))({"m": pred, "y": target}, None)
    # scaled by 20, delta 0.5: |0.1| -> 0.5·0.01; |1.5| -> 0.5·(1.5 − 0.25); 0
    assert torch.isclose(loss, torch.tensor((0.005 + 0.625 + 0.0) / 3))
