"""ONNX export with lc0's conventions, checked in onnxruntime against lc0's own export and outputs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net, write_net
from boardnet.core.errors import ConversionError
from boardnet.core.onnx import onnx_verify_outputs
from boardnet.core.spec import NetFile
from boardnet.lc0.net import Lc0Net
from tests.conftest import fixture_path


def _signature(path) -> tuple[list, list]:
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ([(i.name, i.shape) for i in s.get_inputs()], [(o.name, o.shape) for o in s.get_outputs()])


@pytest.fixture(scope="module")
def maia_onnx(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("onnx") / "maia.onnx"
    write_net(read_net(fixture_path("lc0", "maia-1300.pb.gz")), path, outputs=["/block3"])
    return path


def test_maia_export_has_lc0_names_shapes_and_values(maia_onnx, lc0_reference) -> None:
    lc0_made = fixture_path("lc0", "maia-1300.leela2onnx.onnx")
    ours_in, ours_out = _signature(maia_onnx)
    theirs_in, theirs_out = _signature(lc0_made)
    assert ours_in == theirs_in and ours_out[:2] == theirs_out
    planes = lc0_reference["planes"]
    ours, theirs = onnx_verify_outputs(maia_onnx, planes), onnx_verify_outputs(lc0_made, planes)
    # issue 18: lc0's float noise (BN folded as lc0 folds it; leela2onnx itself: 1.26e-5 / 3.0e-7)
    np.testing.assert_allclose(ours["policy_logits"], lc0_reference["policy_logits"], atol=2e-5, rtol=0)
    np.testing.assert_allclose(ours["policy_logits"], theirs["policy_logits"], atol=1e-5, rtol=0)

    def wdl(out: dict[str, np.ndarray]) -> np.ndarray:
        q, d = out["q"].astype(np.float64), out["d"].astype(np.float64)
        return np.stack([(1 + q - d) / 2, d, (1 - q - d) / 2], axis=1)

    np.testing.assert_allclose(wdl(ours), wdl(lc0_reference), atol=1e-6, rtol=0)
    np.testing.assert_allclose(wdl(ours), wdl(theirs), atol=1e-6, rtol=0)
    one = onnx_verify_outputs(maia_onnx, planes[:1])  # dynamic batch
    np.testing.assert_allclose(one["policy_logits"], ours["policy_logits"][:1], atol=1e-5)


def test_intermediate_output_equals_pytorch_activation(maia_onnx, lc0_reference) -> None:
    nf = read_net(fixture_path("lc0", "maia-1300.pb.gz"))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    x = torch.from_numpy(lc0_reference["planes"][:4])
    with torch.no_grad():
        h = net.act(net.input(x))
        for block in net.residual[:4]:
            h = block(h)
    s = ort.InferenceSession(str(maia_onnx), providers=["CPUExecutionProvider"])
    (block3,) = s.run(["/block3"], {"/input/planes": x.numpy()})
    np.testing.assert_allclose(block3, h.numpy(), atol=1e-4)


def test_random_net_with_value_and_mlh_heads(tmp_path) -> None:
    torch.manual_seed(1)
    net = Lc0Net(blocks=1, filters=8, se_channels=2, policy="classical", value="classical", moves_left=True).eval()
    path = tmp_path / "r.onnx"
    write_net(NetFile(net.spec(), net.state_dict()), path)
    _, outs = _signature(path)
    assert [n for n, _ in outs] == ["/output/policy", "/output/value", "/output/mlh"]
    x = torch.rand(3, 112, 8, 8)
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pol, val, mlh = s.run(None, {"/input/planes": x.numpy()})
    with torch.no_grad():
        ref = net(x)
    np.testing.assert_allclose(pol, ref["policy"].numpy(), atol=1e-5)
    np.testing.assert_allclose(val, ref["value"].numpy(), atol=1e-6)
    np.testing.assert_allclose(mlh, ref["mlh"].numpy(), atol=1e-5)


def test_unknown_output_name_is_refused(tmp_path) -> None:
    net = Lc0Net(blocks=1, filters=8)
    with pytest.raises(ConversionError, match="/block7"):
        write_net(NetFile(net.spec(), net.state_dict()), tmp_path / "x.onnx", outputs=["/block7"])


def test_attention_policy_net_export_matches_pytorch(tmp_path) -> None:
    torch.manual_seed(2)
    net = Lc0Net(blocks=1, filters=16, se_channels=4, policy="attention", moves_left=True, pol_embedding_size=24,
                 policy_d_model=40, pol_encoder_layers=1, pol_encoder_heads=2, pol_encoder_d_model=32,
                 pol_encoder_dff=48).eval()
    path = tmp_path / "attn.onnx"
    write_net(NetFile(net.spec(), net.state_dict()), path)
    _, outs = _signature(path)
    assert outs == [("/output/policy", ["batch", 1858]), ("/output/wdl", ["batch", 3]), ("/output/mlh", ["batch", 1])]
    x = (torch.rand(5, 112, 8, 8) < 0.3).float()
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pol, wdl, mlh = s.run(None, {"/input/planes": x.numpy()})
    with torch.no_grad():
        ref = net(x)
    np.testing.assert_allclose(pol, ref["policy"].numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(wdl, torch.softmax(ref["value"], 1).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(mlh, ref["mlh"].numpy(), atol=1e-5, rtol=0)
