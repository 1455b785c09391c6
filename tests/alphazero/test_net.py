"""The AlphaZero_Gomoku policy-value net: parameter counts of the reference, shapes, options."""

from __future__ import annotations

import pytest
import torch

from boardnet.alphazero.net import PolicyValueNet
from boardnet.core.build import build_from_spec


@pytest.mark.parametrize(("size", "count"), [(6, 104_267), (8, 119_079), (10, 147_339)])
def test_parameter_counts_match_the_reference(size: int, count: int) -> None:
    assert sum(p.numel() for p in PolicyValueNet(size, size).parameters()) == count


def test_module_names_are_alphazero_gomoku_pytorch_names() -> None:
    names = {n.split(".")[0] for n, _ in PolicyValueNet(8, 8).named_parameters()}
    assert names == {"conv1", "conv2", "conv3", "act_conv1", "act_fc1", "val_conv1", "val_fc1", "val_fc2"}


def test_outputs_are_log_probabilities_and_bounded_values() -> None:
    net = PolicyValueNet(7, 7, channels=[8, 16], residual_blocks=2)
    logp, v = net(torch.rand(5, 4, 7, 7))
    assert logp.shape == (5, 49) and v.shape == (5,)
    torch.testing.assert_close(logp.exp().sum(1), torch.ones(5))
    assert bool((v.abs() <= 1).all())


def test_spec_rebuilds_the_same_network() -> None:
    net = PolicyValueNet(8, 8, channels=[16, 32], residual_blocks=1, value_hidden_activation="linear")
    again = build_from_spec(net.spec())
    again.load_state_dict(net.state_dict())
    x = torch.rand(2, 4, 8, 8)
    for a, b in zip(net.eval()(x), again.eval()(x)):
        torch.testing.assert_close(a, b)
