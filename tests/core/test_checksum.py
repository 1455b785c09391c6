"""Checksums of exported nets (.safetensors, .pt, ONNX): a flipped byte inside tensor data is one error naming the
file and the tensor; untouched files load; files without checksums (foreign, older) still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.alphazero.net import PolicyValueNet
from boardnet.cli import main
from boardnet.core.checksum import tensor_checksums, tensor_sha256, verify_checksums
from boardnet.core.convert import read_net, write_net
from boardnet.core.errors import FormatError
from boardnet.core.spec import NetFile

TENSOR = "conv1.weight"


def _net() -> NetFile:
    torch.manual_seed(0)
    net = PolicyValueNet(6, 6, channels=[8, 16])
    return NetFile(net.spec(), net.state_dict())


def _flip_inside(path: Path, tensor: torch.Tensor) -> None:
    """Flip one bit in the middle of ``tensor``'s bytes where the file stores them (found by content)."""
    data = bytearray(path.read_bytes())
    raw = tensor.detach().contiguous().numpy().tobytes()
    at = data.find(raw)
    assert at >= 0 and data.find(raw, at + 1) < 0, "the tensor's bytes must appear exactly once"
    data[at + len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_digest_covers_dtype_shape_and_bytes_and_torch_agrees_with_numpy() -> None:
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert tensor_sha256(t) == tensor_sha256(t.numpy())
    assert len({tensor_sha256(t), tensor_sha256(t.reshape(4, 3)), tensor_sha256(t.to(torch.int32).float() + 1),
                tensor_sha256(t.view(torch.int32))}) == 4
    assert tensor_sha256(torch.zeros(2, dtype=torch.bfloat16)) != tensor_sha256(torch.zeros(2, dtype=torch.float16))


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_flipped_tensor_byte_is_one_error_naming_file_and_tensor(tmp_path: Path, suffix: str,
                                                                  capsys: pytest.CaptureFixture) -> None:
    net = _net()
    path = tmp_path / f"net{suffix}"
    write_net(net, path)
    again = read_net(path)
    assert all(torch.equal(again.state_dict[k], v) for k, v in net.state_dict.items())
    _flip_inside(path, net.state_dict[TENSOR])
    field = "boardnet.core.sha256" if suffix == ".safetensors" else "sha256"
    with pytest.raises(FormatError, match=rf"net{suffix}: field {TENSOR}: sha256 mismatch \({field}\): the "
                                          "tensor's bytes are damaged"):
        read_net(path)
    assert main(["convert", str(path), str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: field {TENSOR}: sha256 mismatch") and err.count("\n") == 1
    assert not (tmp_path / "out.pt").exists()


def test_files_without_checksums_still_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from boardnet.core.io import SPEC_KEY, spec_to_dict

    net = _net()
    pt, st = tmp_path / "old.pt", tmp_path / "old.safetensors"
    torch.save({"format": "boardnet-net", "spec": spec_to_dict(net.spec), "state_dict": net.state_dict}, pt)
    save_file({k: v.contiguous() for k, v in net.state_dict.items()}, str(st),
              metadata={SPEC_KEY: json.dumps(spec_to_dict(net.spec))})
    for path in (pt, st):
        again = read_net(path)
        assert all(torch.equal(again.state_dict[k], v) for k, v in net.state_dict.items())


def test_checksum_lists_must_match_the_tensors(tmp_path: Path) -> None:
    tensors = {"a": torch.ones(3), "b": torch.zeros(2)}
    sums = tensor_checksums(tensors)
    verify_checksums(tensors, json.dumps(sums), "f", "sha256")
    verify_checksums(tensors, None, "f", "sha256")
    with pytest.raises(FormatError, match="f: field c: tensor 'c' has no checksum in sha256"):
        verify_checksums({**tensors, "c": torch.ones(1)}, sums, "f", "sha256")
    with pytest.raises(FormatError, match="f: field b: checksummed in sha256 but missing from the file"):
        verify_checksums({"a": tensors["a"]}, sums, "f", "sha256")
    with pytest.raises(FormatError, match="field sha256: must map tensor names to sha256 hex strings"):
        verify_checksums(tensors, [1, 2], "f", "sha256")
    with pytest.raises(FormatError, match="field sha256: bad JSON"):
        verify_checksums(tensors, "{", "f", "sha256")


def test_onnx_export_checksums_verified_on_load(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import onnx

    from boardnet.core.onnx import SHA256_KEY, load_model, onnx_verify_outputs

    net = _net()
    path = tmp_path / "net.onnx"
    write_net(net, path)
    _, model = load_model(path)
    sums = json.loads({p.key: p.value for p in model.metadata_props}[SHA256_KEY])
    assert set(sums) == {i.name for i in model.graph.initializer} and len(sums) >= len(net.state_dict) // 2
    x = np.zeros((1, 4, 6, 6), np.float32)
    assert onnx_verify_outputs(path, x)["log_probs"].shape == (1, 36)

    foreign = tmp_path / "foreign.onnx"  # the same graph without the entry: read unchecked
    del model.metadata_props[:]
    foreign.write_bytes(model.SerializeToString())
    assert onnx_verify_outputs(foreign, x)["log_probs"].shape == (1, 36)

    holder = next(i.name for i in onnx.load(str(path)).graph.initializer
                  if onnx.numpy_helper.to_array(i).tobytes() == net.state_dict[TENSOR].numpy().tobytes())
    _flip_inside(path, net.state_dict[TENSOR])
    write_net(net, tmp_path / "net.pt")
    for argv in (["inspect", str(path)], ["verify", str(path), str(tmp_path / "net.pt"), "--random", "2"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err == f"error: {path}: field {holder}: sha256 mismatch ({SHA256_KEY}): the tensor's bytes are " \
                      "damaged\n"


def test_onnx_external_data_and_empty_files_are_refused(tmp_path: Path) -> None:
    import onnx

    from boardnet.core.onnx import load_model

    path = tmp_path / "net.onnx"
    write_net(_net(), path)
    model = onnx.load(str(path))
    init = model.graph.initializer[0]
    init.data_location = onnx.TensorProto.EXTERNAL
    init.external_data.add(key="location", value="/etc/passwd")
    init.ClearField("raw_data")
    evil = tmp_path / "evil.onnx"
    evil.write_bytes(model.SerializeToString())
    with pytest.raises(FormatError, match=rf"evil.onnx: field {init.name}: external data refused"):
        load_model(evil)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty.onnx: empty file"):
        load_model(empty)
