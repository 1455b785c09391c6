"""Lc0Net's inference form: BatchNorm folded as lc0 folds it at load time, checked against lc0's own numbers."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from boardnet.core.build import load_net
from boardnet.core.convert import read_net
from boardnet.lc0.net import ConvBlock, Lc0Net, fold_batchnorm
from tests.conftest import fixture_path

LOGITS_ATOL = 2e-5  # lc0's own float32 spread: blas vs eigen 1.05e-5, leela2onnx in onnxruntime 1.26e-5
WDL_ATOL = 1e-6


def _wdl_reference(ref: dict[str, np.ndarray]) -> np.ndarray:
    q, d = ref["q"].astype(np.float64), ref["d"].astype(np.float64)
    return np.stack([(1 + q - d) / 2, d, (1 - q - d) / 2], axis=1)


@pytest.fixture(scope="module")
def maia() -> Lc0Net:
    return load_net(read_net(fixture_path("lc0", "maia-1300.pb.gz")))


def test_inference_form_holds_leela2onnx_initializers_bit_for_bit(maia: Lc0Net) -> None:
    """LINEAR16 decoded with lc0's fused multiply-add and BN folded as lc0 folds it: every float tensor of lc0's
    own ONNX export of the net, exactly."""
    graph = onnx.load(str(fixture_path("lc0", "maia-1300.leela2onnx.onnx"))).graph
    theirs = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    state = {k: v.numpy() for k, v in maia.inference_form().state_dict().items()}
    convs = {"input": "/inputconv", "policy1": "/policy/conv1", "policy": "/policy/conv2", "value": "/value/conv"}
    convs.update({f"residual.{i}.conv{j}": f"/block{i}/conv{j}" for i in range(6) for j in (1, 2)})
    pairs = [(f"{ours}.conv.weight", f"{name}/w/kernel") for ours, name in convs.items()]
    pairs += [(f"{ours}.conv.bias", f"{name}/w/bias") for ours, name in convs.items()]
    for i in range(6):
        se = f"/block{i}/conv2/se"
        pairs += [(f"residual.{i}.se.fc1.weight", f"{se}/matmul1/w"), (f"residual.{i}.se.fc1.bias", f"{se}/add1/w"),
                  (f"residual.{i}.se.fc2.weight", f"{se}/matmul2/w"), (f"residual.{i}.se.fc2.bias", f"{se}/add2/w")]
    pairs += [("ip1_val.weight", "/value/dense1/matmul/w"), ("ip1_val.bias", "/value/dense1/add/w"),
              ("ip2_val.weight", "/value/dense2/matmul/w"), ("ip2_val.bias", "/value/dense2/add/w")]
    assert len(pairs) == sum(t.data_type == onnx.TensorProto.FLOAT for t in graph.initializer) == 60
    for ours, name in pairs:
        want = theirs[name].T if "/matmul" in name else theirs[name]  # MatMul weights are [in, out]
        assert state[ours].dtype == want.dtype and np.array_equal(state[ours], want), (ours, name)
    assert not any("bn." in k for k in state)


def test_maia_inference_form_matches_lc0(maia: Lc0Net, lc0_reference: dict[str, np.ndarray]) -> None:
    """Issue 18: lc0's own float noise on all 48 positions (rule-50 = 99 included), eager PyTorch."""
    with torch.no_grad():
        out = maia.inference_form()(torch.from_numpy(lc0_reference["planes"]))
    logits, wdl = out["policy"].numpy(), torch.softmax(out["value"], dim=1).numpy()
    assert np.abs(logits - lc0_reference["policy_logits"]).max() <= LOGITS_ATOL
    assert np.abs(wdl - _wdl_reference(lc0_reference)).max() <= WDL_ATOL


def _randomize_bn(net: torch.nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("kwargs", [
    {"policy": "classical", "value": "classical", "moves_left": True, "activation": "mish"},
    {"policy": "convolution", "value": "wdl"},
    {"policy": "attention", "value": "wdl", "moves_left": True, "pol_embedding_size": 24, "policy_d_model": 16},
])
def test_inference_form_computes_the_module(kwargs: dict) -> None:
    torch.manual_seed(3)
    net = Lc0Net(blocks=2, filters=16, se_channels=4, **kwargs).eval()
    _randomize_bn(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = net.inference_form()
    assert not folded.training and not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    x = (torch.rand(4, 112, 8, 8) < 0.3).float()
    x[:, 109] = 99.0  # the raw rule-50 count lc0 feeds
    with torch.no_grad():
        want, got = net(x), folded(x)
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=1e-4, rtol=1e-5)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())  # the module is untouched


def test_fold_keeps_a_conv_bias_and_leaves_blocks_without_bn() -> None:
    torch.manual_seed(4)
    block = ConvBlock(8, 6, 3, bias=True).eval()
    _randomize_bn(block)
    block.conv.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(fold_batchnorm(block)(x), block(x), atol=1e-5, rtol=1e-5)
    plain = ConvBlock(8, 80, 3, bn=False, bias=True)
    assert fold_batchnorm(plain) is plain
