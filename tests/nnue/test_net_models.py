"""Factorized NNUE models: coalescing keeps float outputs; dequantize/quantize reproduce .nnue files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.errors import ConversionError
from boardnet.core.io import read_pt, write_pt
from boardnet.core.spec import NetFile
from boardnet.nnue import file as nnue
from boardnet.nnue.eval import evaluate, evaluate_many
from boardnet.nnue.features import get_feature_set
from boardnet.nnue.net import NnueHalfKP, NnueNet, dequantize
from tests.conftest import nnue_batch, random_boards, stockfish_binary


@pytest.mark.parametrize(("cls", "features", "plain"), [(NnueHalfKP, "HalfKP^", "HalfKP"),
                                                          (NnueNet, "HalfKAv2_hm^", "HalfKAv2_hm")])
def test_factorized_model_and_exported_plain_model_agree(cls, features: str, plain: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = cls(features=features)
    with torch.no_grad():  # non-zero virtual rows, as after training
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    assert model.ft_weight.shape[0] == get_feature_set(features).num_rows
    boards = random_boards(40)
    idx, bucket = nnue_batch(boards, plain)
    with torch.no_grad():
        ref = model(idx, bucket)
        no_factors = model.coalesced()
    write_pt(NetFile(no_factors.spec(), no_factors.state_dict()), tmp_path / "plain.pt")
    net = read_pt(tmp_path / "plain.pt")
    assert net.spec.config["features"] == plain and net.state_dict["ft_weight"].shape[0] == get_feature_set(plain).num_real
    reloaded = build_from_spec(net.spec)
    reloaded.load_state_dict(net.state_dict)
    with torch.no_grad():
        out = reloaded(idx, bucket)
    assert ref.std() > 0.05  # outputs vary across positions
    assert torch.allclose(out, ref, atol=1e-5, rtol=0), (out - ref).abs().max()
    # the factors matter: ignoring the virtual rows gives different outputs
    with torch.no_grad():
        model.ft_weight[get_feature_set(features).num_real:] = 0
        assert (model(idx, bucket) - ref).abs().max() > 1e-3


def test_halfkp_fixture_dequantize_quantize_byte_exact(halfkp_file: Path, tmp_path: Path) -> None:
    q = nnue.read_net(halfkp_file)
    boards = random_boards(30, seed=5)
    idx, bucket = nnue_batch(boards, "HalfKP")
    outs = []
    for features in ("HalfKP", "HalfKP^"):
        model = dequantize(q, features)
        assert model.features == features
        with torch.no_grad():
            outs.append(model(idx, bucket))
        out = tmp_path / f"{features}.nnue"
        nnue.write_net(model.quantize(), out)
        assert out.read_bytes() == halfkp_file.read_bytes()
    assert torch.equal(outs[0], outs[1])  # zero virtual rows: identical outputs
    # the float forward mirrors the integer pipeline: x9600 it tracks the engine's int32 output (the engine
    # floors after each layer, so they differ by rounding, not by more)
    ints = torch.tensor([evaluate(q, b).output for b in boards], dtype=torch.float64)
    flt = outs[0].double() * 9600
    corr = torch.corrcoef(torch.stack([flt, ints]))[0, 1]
    assert ints.abs().mean() > 500 and corr > 0.99, corr
    assert (flt - ints).abs().mean() < 0.05 * ints.abs().mean()


def test_features_mismatch_names_both(halfkp_file: Path) -> None:
    q = nnue.read_net(halfkp_file)
    with pytest.raises(ConversionError, match=r"HalfKAv2_hm\^.*HalfKP"):
        dequantize(q, "HalfKAv2_hm^")
    with pytest.raises(ConversionError, match="dequantize"):
        build_from_spec(q.spec)


@pytest.mark.slow
def test_sf15_1_net_dequantize_quantize_byte_exact(tmp_path: Path) -> None:
    exported = tmp_path / "sf.nnue"
    subprocess.run([stockfish_binary()], input=f"uci\nexport_net {exported}\nquit\n", text=True,
                   capture_output=True, timeout=120, check=True)
    q = nnue.read_net(exported)
    model = dequantize(q, "HalfKAv2_hm^")
    assert model.ft_weight.shape == (23296, 1024) and not model.ft_weight[22528:].any()
    out = tmp_path / "rt.nnue"
    nnue.write_net(model.quantize(), out)
    assert out.read_bytes() == exported.read_bytes()
    boards = random_boards(20, seed=7)
    idx, bucket = nnue_batch(boards, "HalfKAv2_hm")
    with torch.no_grad():
        flt = model(idx, bucket).double() * 600
    raw = torch.tensor([evaluate(q, b).raw for b in boards], dtype=torch.float64)
    # engine raw = (psqt + positional) / 16 in the same 600-per-unit scale
    assert (flt - raw).abs().max() < 0.05 * raw.abs().max() + 20, (flt, raw)


@pytest.mark.parametrize(("cls", "features", "plain", "kw"), [(NnueHalfKP, "HalfKP^", "HalfKP", {"l1": 32}),
                                                                (NnueNet, "HalfKAv2_hm^", "HalfKAv2_hm", {"l1": 64})])
def test_large_batch_fold_path_equals_gather_path(cls, features: str, plain: str, kw: dict) -> None:
    """Big batches fold the factor rows first, small ones gather them: same outputs and gradients."""
    torch.manual_seed(1)
    model = cls(features=features, **kw)
    with torch.no_grad():
        model.ft_weight.add_(torch.randn_like(model.ft_weight) * 0.05)
    idx, bucket = nnue_batch(random_boards(40, seed=9), plain)
    reps = 1 + get_feature_set(features).num_real // idx[:, :, :30].numel()  # enough rows for the fold path
    grads, outs = [], []
    for n in (1, reps):
        model.zero_grad()
        out = model(idx.repeat(n, 1, 1), bucket.repeat(n))
        out.sum().backward()
        outs.append(out[:40].detach())
        grads.append(model.ft_weight.grad.clone() / n)
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    assert torch.allclose(grads[0], grads[1], atol=1e-5) and grads[0][get_feature_set(features).num_real:].abs().sum() > 0


THREAT_SET = "Full_Threats+HalfKAv2_hm^"


def test_threat_model_factorized_clipped_and_ordered() -> None:
    """Full_Threats+HalfKAv2_hm^: threat rows first and plain, piece rows factorized; coalescing keeps the outputs;
    clip_weights keeps the threat rows in int8 range at FT 1.0 = 255; Full_Threats elsewhere is refused."""
    torch.manual_seed(2)
    model = NnueNet(features=THREAT_SET, l1=16)
    fs = get_feature_set(THREAT_SET)
    assert model.threat_rows == 79856 and model.ft_one == 255 and model.ft_weight.shape == (fs.num_rows, 16)
    with torch.no_grad():
        model.ft_weight.add_(torch.randn_like(model.ft_weight))  # far outside the int8 range, virtual rows too
    model.clip_weights()
    threat = model.ft_weight[:79856]
    assert threat.min() == -128 / 255 and threat.max() == 127 / 255
    assert model.ft_weight[79856:].abs().max() > 1  # piece rows are int16: not clipped
    boards = [b for b in random_boards(30, seed=3) if not b.is_check()]
    idx, bucket = nnue_batch(boards, "Full_Threats+HalfKAv2_hm")
    assert idx.shape[2] == 160 and bool((idx[:, :, 0] < 79856).all())  # threats first
    with torch.no_grad():
        ref = model(idx, bucket)
        plain = model.coalesced()
        out = plain(idx, bucket)
        model.ft_weight[:79856] = 0
        no_threats = model(idx, bucket)
    assert plain.features == "Full_Threats+HalfKAv2_hm" and plain.ft_weight.shape[0] == 102384
    assert torch.allclose(out, ref, atol=1e-4), (out - ref).abs().max()
    assert (no_threats - ref).abs().min() > 0  # every position has active threats that count
    with pytest.raises(ConversionError, match="Full_Threats must be the first block"):
        NnueNet(features="HalfKAv2_hm^+Full_Threats", l1=16)


@pytest.mark.slow
def test_sf18_big_net_dequantize_quantize_byte_exact(modern_nets: dict[str, Path], tmp_path: Path) -> None:
    """Stockfish 18's own big net -> float Full_Threats+HalfKAv2_hm^ model -> .nnue gives back its bytes (FT 1.0
    = 255, int8 threat rows), clipping leaves it unchanged, and the float output tracks the engine's integers."""
    q = nnue.read_net(modern_nets["sf18-big"])
    model = dequantize(q, THREAT_SET)
    assert model.features == THREAT_SET and not model.ft_weight[102384:].any()
    before = model.ft_weight[:79856].clone()
    model.clip_weights()
    assert torch.equal(before, model.ft_weight[:79856])
    del before
    out = tmp_path / "rt.nnue"
    nnue.write_net(model.quantize(), out)
    assert out.read_bytes() == modern_nets["sf18-big"].read_bytes()
    boards = [b for b in random_boards(30, seed=7) if not b.is_check()]
    idx, bucket = nnue_batch(boards, "Full_Threats+HalfKAv2_hm")
    with torch.no_grad():
        flt = model(idx, bucket).double() * 600
    ev = evaluate_many(q, boards, engine="sf18")
    ints = torch.tensor([e.psqt + e.positional for e in ev], dtype=torch.float64) / 16
    assert ints.abs().mean() > 100 and (flt - ints).abs().max() < 0.02 * ints.abs().max() + 20, (flt, ints)
