"""AlphaZero_Gomoku legacy pickle: reference outputs reproduced; malicious or corrupt pickles refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from boardnet.core.errors import BoardnetError, FormatError
from boardnet.tfimport.legacy_pickle import read_arrays
from tests.conftest import fixture_path


def test_best_policy_matches_reference() -> None:
    io = np.load(fixture_path("azg", "io_6_6_4.npz"))
    nf = read_net(fixture_path("azg", "best_policy_6_6_4.model"))
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    net.eval()
    with torch.no_grad():
        lp, v = net(torch.from_numpy(io["states"]))
    np.testing.assert_allclose(lp.exp().numpy(), io["act_probs"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(v.numpy(), io["values"][:, 0], atol=1e-5, rtol=0)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.model"
    bad.write_bytes(pickle.dumps([np.zeros(3, np.float32), _Evil(marker)], protocol=2))
    with pytest.raises(FormatError, match="refused global"):
        read_arrays(bad)
    assert not marker.exists()


@pytest.mark.parametrize("frac", [0.0, 0.01, 0.3, 0.7, 0.999])
def test_truncated(tmp_path: Path, frac: float) -> None:
    raw = fixture_path("azg", "best_policy_6_6_4.model").read_bytes()
    p = tmp_path / "t.model"
    p.write_bytes(raw[: int(len(raw) * frac)])
    with pytest.raises(BoardnetError) as info:
        read_net(p)
    assert not str(info.value).endswith(":"), "an error without a message is named by its type alone"


class _Claim:
    """Pickles as numpy's ``_reconstruct(ndarray, shape, dtype)`` (+ optional state): what a hostile file says."""

    def __init__(self, shape: tuple[int, ...], dtype: str = "f4", state: tuple | None = None) -> None:
        self.shape, self.dtype, self.state = shape, dtype, state

    def __reduce__(self):  # noqa: ANN204
        from numpy._core.multiarray import _reconstruct

        args = (np.ndarray, self.shape, self.dtype.encode())
        return (_reconstruct, args) if self.state is None else (_reconstruct, args, self.state)


@pytest.mark.parametrize(("claim", "message"), [
    (_Claim((1 << 31,)), r"an array of shape \[2147483648\] \(8,589,934,592 bytes\) in a file of \d+ bytes"),
    (_Claim((1 << 20, 1 << 20), "f8"), r"an array of shape \[1048576, 1048576\]"),
    (_Claim((0,), "(4096,4096)f4"), r"dtype .* refused \(plain scalar types only\)"),
    (_Claim((0,), "f4", (1, (1 << 28,), np.dtype("f4"), False, b"\0" * 16)), "buffer size does not match"),
])
def test_declared_array_sizes_are_bounded_by_the_file(tmp_path: Path, claim: _Claim, message: str) -> None:
    """Issue 17: a pickle of ~100 bytes must not allocate gigabytes (or die of numpy's MemoryError)."""
    path = tmp_path / "bomb.model"
    path.write_bytes(pickle.dumps([claim], protocol=3))
    with pytest.raises(FormatError, match=message):
        read_net(path)


def test_huge_memo_index_allocates_nothing(tmp_path: Path) -> None:
    """Found by the long fuzz run (a zero-run edit): the C unpickler grows its memo array to the largest index a
    pickle names (``LONG_BINPUT 2**31-1``: 16 GiB) and died of MemoryError under the 1 GiB limit. The
    pure-Python unpickler keeps the memo in a dict."""
    import resource

    from tests.conftest import in_forked_child

    path = tmp_path / "memo.model"
    path.write_bytes(b"\x80\x02]r\xff\xff\xff\x7fh\xff.")  # PROTO 2, [], LONG_BINPUT 2**31-1, BINGET 255

    def child() -> str:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        read_arrays(path)
        return "read"

    status, message = in_forked_child(child)
    assert status == 0 and message.startswith("FormatError: ") and "Memo value not found at index 255" in message



@pytest.mark.parametrize("length", [1 << 40, 500_000, 2**64 - 1])
def test_bytearray8_length_is_bounded_by_the_file(tmp_path: Path, length: int) -> None:
    """Found by the long fuzz run (first bytes replaced): protocol 5's BYTEARRAY8 allocates its declared length
    before reading (``bytearray(2**60)``: MemoryError under the 1 GiB limit). It is refused against the file's
    size first, also when it is merely larger than the file."""
    import resource
    import struct

    from tests.conftest import in_forked_child

    path = tmp_path / "ba8.model"
    path.write_bytes(b"\x80\x05\x96" + struct.pack("<Q", length) + b"abc.")

    def child() -> str:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        read_arrays(path)
        return "read"

    status, message = in_forked_child(child)
    assert status == 0 and message.startswith("FormatError: ") and f"BYTEARRAY8 of {length:,} bytes" in message


def test_small_bytearray8_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "ok.model"
    path.write_bytes(b"\x80\x05\x96" + (3).to_bytes(8, "little") + b"abc.")
    with pytest.raises(FormatError, match="expected a list of numpy arrays, got bytearray"):
        read_arrays(path)

def test_persistent_id_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Found by the long fuzz run: pickle's message for a persistent id spans two lines; the CLI prints one."""
    from boardnet.cli import main

    path = tmp_path / "pid.model"
    path.write_bytes(b"\x80\x02Q.")  # PROTO 2, BINPERSID on an empty stack
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not a numpy-array pickle: ") and err.count("\n") == 1, err
