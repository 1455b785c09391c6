"""``boardnet convert`` with ``--features`` between .nnue, our .pt and nnue-pytorch state dicts; inspect."""

from __future__ import annotations

from pathlib import Path

import chess
import pytest
import torch

from boardnet.cli import main
from boardnet.core.build import load_net
from boardnet.core.errors import BoardnetError
from boardnet.core.io import read_pt
from boardnet.nnue import file as nnue
from boardnet.nnue.features import get_feature_set
from boardnet.nnue.features import halfka_v2_hm as hka_f
from boardnet.nnue.net import dequantize
from tests.conftest import nnue_batch, random_boards


def test_nnue_to_factorized_pt_and_back(halfkp_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pt = tmp_path / "kp.pt"
    assert main(["convert", str(halfkp_file), str(pt), "--features", "HalfKP^"]) == 0
    net = read_pt(pt)
    assert net.spec.family == "nnue_halfkp" and net.spec.config["features"] == "HalfKP^"
    assert net.state_dict["ft_weight"].shape == (41728, 256) and not net.state_dict["ft_weight"][41024:].any()
    model = load_net(net)
    idx, bucket = nnue_batch(random_boards(20, 1), "HalfKP")
    with torch.no_grad():
        assert torch.equal(model(idx, bucket), dequantize(nnue.read_net(halfkp_file))(idx, bucket))
    back = tmp_path / "back.nnue"
    assert main(["convert", str(pt), str(back), "--features", "HalfKP^"]) == 0
    assert back.read_bytes() == halfkp_file.read_bytes()
    capsys.readouterr()
    # mismatches: one error line naming both feature sets
    assert main(["convert", str(halfkp_file), str(tmp_path / "x.pt"), "--features", "HalfKAv2_hm^"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "HalfKAv2_hm^" in err and "HalfKP" in err and str(halfkp_file) in err
    assert main(["convert", str(pt), str(tmp_path / "y.nnue"), "--features", "HalfKAv2_hm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "HalfKAv2_hm" in err and "HalfKP^" in err


def test_inspect_nnue(halfkp_file: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", str(halfkp_file)]) == 0
    out = capsys.readouterr().out
    for text in ("version: 0x7AF32F16", "architecture: halfkp_256x2-32-32", "size: 21,022,697 bytes",
                 "header hash: 0x3E5AA6EE", "ft hash: 0x5D69D7B8", "network hash: 0x63337156",
                 "description: Features=HalfKP(Friend)[41024->256x2]"):
        assert text in out, out


def _np_forward(sd: dict[str, torch.Tensor], boards: list[chess.Board]) -> torch.Tensor:
    """nnue-pytorch 2022 forward of one position at a time, features listed straight from the board (real
    indices + A factor with its value), written independently of boardnet's model and factor map."""
    fs = get_feature_set("HalfKAv2_hm")
    out = []
    for b in boards:
        accs = []
        for persp in (b.turn, not b.turn):
            row = sd["input.bias"].clone()
            for i in fs.active_features(b, persp):
                row += sd["input.weight"][i]
            for a, v in hka_f.virtual_features(b, persp).items():
                row += v * sd["input.weight"][22528 + a]
            accs.append(row)
        bucket = (len(b.piece_map()) - 1) // 4
        l0 = torch.cat([accs[0][:1024], accs[1][:1024]]).clamp(0, 1)
        l0 = torch.cat([l0[:512] * l0[512:1024], l0[1024:1536] * l0[1536:]]) * (127 / 128)
        s = slice(16 * bucket, 16 * bucket + 16)
        y = sd["layer_stacks.l1.weight"][s] @ l0 + sd["layer_stacks.l1.bias"][s]
        y = y + sd["layer_stacks.l1_fact.weight"] @ l0 + sd["layer_stacks.l1_fact.bias"]
        x = torch.cat([y[:15] ** 2 * (127 / 128), y[:15]]).clamp(0, 1)
        s = slice(32 * bucket, 32 * bucket + 32)
        x = (sd["layer_stacks.l2.weight"][s] @ x + sd["layer_stacks.l2.bias"][s]).clamp(0, 1)
        z = sd["layer_stacks.output.weight"][bucket] @ x + sd["layer_stacks.output.bias"][bucket]
        psqt = (accs[0][1024 + bucket] - accs[1][1024 + bucket]) / 2
        out.append(z + y[15] + psqt)
    return torch.stack(out)


def _np_sd(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def r(*shape: int, s: float) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64) * s

    return {"input.weight": r(23296, 1032, s=0.03), "input.bias": r(1032, s=0.1) + 0.3,
            "layer_stacks.l1.weight": r(128, 1024, s=0.05), "layer_stacks.l1.bias": r(128, s=0.1),
            "layer_stacks.l1_fact.weight": r(16, 1024, s=0.05), "layer_stacks.l1_fact.bias": r(16, s=0.1),
            "layer_stacks.l2.weight": r(256, 30, s=0.3), "layer_stacks.l2.bias": r(256, s=0.1),
            "layer_stacks.output.weight": r(8, 32, s=0.5), "layer_stacks.output.bias": r(8, s=0.1)}


def test_read_nnue_pytorch_ckpt(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sd = _np_sd(0)
    ckpt = tmp_path / "epoch=3.ckpt"
    torch.save({"epoch": 3, "global_step": 10, "state_dict": {k: v.float() for k, v in sd.items()}}, ckpt)
    net = nnue.read_nnue_pytorch(ckpt)
    assert net.spec.config["features"] == "HalfKAv2_hm^"
    model = load_net(net)
    boards = random_boards(12, 2)
    idx, bucket = nnue_batch(boards, "HalfKAv2_hm")
    with torch.no_grad():
        ours = model(idx, bucket).double()
    ref = _np_forward(sd, boards)
    assert ref.std() > 0.05 and torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()
    # .ckpt -> .nnue through the CLI (coalesced, quantized); --features must agree with the checkpoint
    out = tmp_path / "np.nnue"
    assert main(["convert", str(ckpt), str(out)]) == 0
    assert nnue.read_net(out).state_dict["ft.weight"].shape == (22528, 1024)
    capsys.readouterr()
    with pytest.raises(BoardnetError, match=r"HalfKP\^.*HalfKAv2_hm\^"):
        nnue.read_nnue_pytorch(ckpt, features="HalfKP^")


def test_read_nnue_pytorch_halfkp_and_bad_files(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(1)
    sd = {"input.weight": torch.randn(256, 41024, generator=g) * 0.01, "input.bias": torch.zeros(256),
          "l1.weight": torch.randn(32, 512, generator=g), "l1.bias": torch.zeros(32),
          "l2.weight": torch.randn(32, 32, generator=g), "l2.bias": torch.zeros(32),
          "output.weight": torch.randn(1, 32, generator=g), "output.bias": torch.zeros(1)}
    pt = tmp_path / "kp.ckpt"
    torch.save(sd, pt)
    net = nnue.read_nnue_pytorch(pt)
    assert net.spec.config["features"] == "HalfKP"
    assert torch.equal(net.state_dict["ft_weight"], sd["input.weight"].t())  # 2020 nn.Linear layout transposed
    bad = tmp_path / "bad.ckpt"
    torch.save({"input.weight": torch.zeros(100, 1032), "input.bias": torch.zeros(1032),
                **{k: v for k, v in _np_sd(2).items() if k.startswith("layer_stacks")}}, bad)
    with pytest.raises(BoardnetError, match="100 feature rows"):
        nnue.read_nnue_pytorch(bad)
    torch.save({"foo": torch.zeros(3)}, bad)
    with pytest.raises(BoardnetError, match="not an nnue-pytorch"):
        nnue.read_nnue_pytorch(bad)
    data = pt.read_bytes()
    for cut in (0, 10, 200, len(data) // 2, len(data) - 5):
        bad.write_bytes(data[:cut])
        with pytest.raises(BoardnetError):
            nnue.read_nnue_pytorch(bad)
