"""boardnet's own .pt / .safetensors net files, and the convert/inspect dispatch over them."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from boardnet.alphazero.net import PolicyValueNet
from boardnet.cli import main
from boardnet.core.build import build_from_spec
from boardnet.core.convert import detect_format, inspect_file, read_net, write_net
from boardnet.core.errors import BoardnetError, FormatError
from boardnet.core.spec import NetFile


def sample_net() -> NetFile:
    torch.manual_seed(0)
    net = PolicyValueNet(6, 6, channels=[8, 16])
    return NetFile(net.spec(), net.state_dict())


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_round_trip_rebuilds_an_identical_network(tmp_path: Path, suffix: str) -> None:
    net = sample_net()
    path = tmp_path / f"net{suffix}"
    write_net(net, path)
    again = read_net(path)
    assert again.spec == net.spec
    model = build_from_spec(again.spec)
    model.load_state_dict(again.state_dict)
    for k, v in net.state_dict.items():
        assert torch.equal(again.state_dict[k], v)


def test_convert_cli_between_pt_and_safetensors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_net(sample_net(), tmp_path / "a.pt")
    assert main(["convert", str(tmp_path / "a.pt"), str(tmp_path / "b.safetensors")]) == 0
    assert "policy_value" in capsys.readouterr().out
    assert main(["inspect", str(tmp_path / "b.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "family: policy_value" in out and "parameters:" in out


def test_pt_with_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pt"
    torch.save({"format": "boardnet-net", "x": Evil()}, path)
    with pytest.raises(FormatError, match="weights_only") as err:
        read_net(path)
    assert not marker.exists()
    assert "will likely succeed" not in str(err.value) and "weights_only=False" not in str(err.value)
    assert "\n" not in str(err.value)
    raw = tmp_path / "evil2.pt"
    raw.write_bytes(pickle.dumps(Evil(), protocol=2))
    with pytest.raises(FormatError):
        read_net(raw)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_truncated_and_garbage_files_give_one_format_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"net{suffix}"
    write_net(sample_net(), path)
    data = path.read_bytes()
    for cut in (0, 7, 8, 100, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}{suffix}"
        bad.write_bytes(data[:cut])
        with pytest.raises(FormatError):
            read_net(bad)
    junk = tmp_path / f"junk{suffix}"
    junk.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(FormatError):
        read_net(junk)


def test_unknown_suffix_and_missing_file() -> None:
    with pytest.raises(BoardnetError, match="cannot tell the format"):
        detect_format("net.xyz")
    with pytest.raises(FormatError, match="no such file"):
        inspect_file("missing.pt")


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "x.pt").write_bytes(b"nope")
    assert main(["inspect", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
