"""Training parity with TensorFlow: TF1 loss (l2 semantics tf1), gradients, one TF1 Adam step."""

from __future__ import annotations

import numpy as np
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from boardnet.tfimport.bundle import read_variables
from boardnet.tfimport.mapping import apply_mapping, load_mapping
from boardnet.train.losses import l2_penalty
from boardnet.train.tf1_adam import TF1Adam
from tests.conftest import fixture_path


def _setup() -> tuple[torch.nn.Module, dict[str, np.ndarray], torch.Tensor]:
    nf = read_net(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    io = dict(np.load(fixture_path("tf", "gomoku_tf1_8x8", "io.npz")))
    lp, v = net(torch.from_numpy(io["states"]))
    value_loss = ((torch.from_numpy(io["winners"]).reshape(-1) - v) ** 2).mean()
    policy_loss = -(torch.from_numpy(io["mcts_probs"]) * lp).sum(1).mean()
    loss = value_loss + policy_loss + l2_penalty(net, 1e-4, "tf1")
    return net, io, loss


def _as_tf(net: torch.nn.Module, attr: str) -> dict[str, np.ndarray]:
    """torch tensors (params or grads) mapped back to TF names/layouts via the inverse of azg_tf1."""
    m = load_mapping("azg_tf1")
    ref = read_variables(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    probe = {k: np.arange(a.size, dtype=np.int64).reshape(a.shape) for k, a in ref.items()}
    index = apply_mapping(probe, m)  # dst -> source flat indices: inverts any transform exactly
    params = dict(net.named_parameters())
    out = {}
    for r in m["rules"]:
        t = getattr(params[r["dst"]], attr).detach().numpy()
        flat = np.empty(ref[r["src"]].size, np.float32)
        flat[index[r["dst"]].reshape(-1)] = t.reshape(-1)
        out[r["src"]] = flat.reshape(ref[r["src"]].shape)
    return out


def test_loss_and_gradients_match_tf() -> None:
    net, io, loss = _setup()
    np.testing.assert_allclose(loss.item(), float(io["loss"]), rtol=1e-6)
    np.testing.assert_allclose(l2_penalty(net, 1e-4, "tf1").item(), float(io["l2_penalty"]), rtol=1e-6)
    loss.backward()
    for name, g in _as_tf(net, "grad").items():
        np.testing.assert_allclose(g, io[f"grad/{name}"], atol=1e-5, err_msg=name)


def _step_with_tf_grads(opt_cls: type[torch.optim.Optimizer]) -> float:
    """Apply one step fed with TF's own gradients (isolates the optimizer); worst abs error vs after_adam."""
    net, io, _ = _setup()
    grads = {k[len("grad/"):]: v for k, v in io.items() if k.startswith("grad/")}
    torch_grads = apply_mapping(grads, load_mapping("azg_tf1"))
    for name, p in net.named_parameters():
        p.grad = torch.from_numpy(np.ascontiguousarray(torch_grads[name]))
    opt_cls(net.parameters(), lr=float(io["learning_rate"]), eps=1e-8).step()
    return max(float(np.abs(w - io[f"after_adam/{n}"]).max()) for n, w in _as_tf(net, "data").items())


def test_one_tf1_adam_step_matches_tf() -> None:
    assert _step_with_tf_grads(TF1Adam) <= 1e-7
    # torch's Adam places eps differently: it must NOT match (shows the check is sensitive)
    assert _step_with_tf_grads(torch.optim.Adam) > 1e-5


def test_full_step_from_our_gradients_close_to_tf() -> None:
    """End to end (our loss, our grads, TF1Adam): tiny-gradient entries amplify 1e-9 grad noise."""
    net, io, loss = _setup()
    loss.backward()
    TF1Adam(net.parameters(), lr=float(io["learning_rate"]), eps=1e-8).step()
    worst = max(float(np.abs(w - io[f"after_adam/{n}"]).max()) for n, w in _as_tf(net, "data").items())
    assert worst <= 2e-5


def test_train_init_from_tf_checkpoint_continues_the_tf_model(tmp_path) -> None:
    """`boardnet train --init model.ckpt` starts from the TF weights: with lr 1e-12 the run's net still matches TF."""
    from boardnet.cli import main
    from boardnet.core.io import read_pt

    ckpt = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index").with_suffix("")  # the checkpoint prefix
    run = tmp_path / "run"
    code = main(["train", "gomoku-8x8", "--run-dir", str(run), "--init", str(ckpt), "train.iterations=1",
                 "train.batch_size=16", "data.mcts.playouts=8", "steps.0.optimizer.lr=1e-12",
                 "evaluators.0.every=100", "train.progress=false"])
    assert code == 0
    trained = read_pt(run / "checkpoints" / "iter-000001.pt")
    net = build_from_spec(trained.spec)
    net.load_state_dict(trained.state_dict)
    io = dict(np.load(fixture_path("tf", "gomoku_tf1_8x8", "io.npz")))
    with torch.no_grad():
        lp, v = net(torch.from_numpy(io["states"]))
    np.testing.assert_allclose(lp.numpy(), io["log_probs"], atol=1e-5)
    np.testing.assert_allclose(v.numpy().reshape(-1), io["values"].reshape(-1), atol=1e-5)
