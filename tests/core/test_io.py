"""boardnet's own .pt / .safetensors net files, and the convert/inspect dispatch over them."""

from __future__ import annotations

import contextlib
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
from tests.conftest import ROOT, fixture_path, in_forked_child


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


# --- .npz readers (issue 19): one FormatError for every kind of damage, sizes bounded before allocating ---------


def _npz_bytes(**arrays: object) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _member(name: str, npy: bytes, compress: int = 0) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as z:
        z.writestr(name, npy)
    return buf.getvalue()


def _npy_header(shape: str, descr: str = "<f4") -> bytes:
    hdr = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    hdr += b" " * (118 - len(hdr)) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr


@pytest.mark.parametrize(("data", "message"), [
    (_member("a.npy", _npy_header("(1099511627776,)") + b"\0" * 16),
     r"field a.npy: header says \[1099511627776\] float32 \(4,398,046,511,104 bytes\) but the member holds 16"),
    (_member("a.npy", b""), "field a.npy: bad .npy header"),
    (_member("a.npy", _npy_header("(4,)", "|O") + b"\0" * 32), "holds Python objects"),
    (_member("a.npy", _npy_header("(1 << 40,)") + b"\0" * 16), "bad .npy header"),
    (b"PK\x03\x04garbage", "not a readable .npz file"),
    (b"", "not a readable .npz file"),
])
def test_hostile_npz_is_one_format_error(tmp_path: Path, data: bytes, message: str) -> None:
    from boardnet.core.io import read_npz
    from boardnet.train.npz import load_npz_arrays

    path = tmp_path / "x.npz"
    path.write_bytes(data)
    for read in (read_npz, lambda p: load_npz_arrays(str(p), None)):
        with pytest.raises(FormatError, match=message):
            read(path)


def test_npz_bad_crc(tmp_path: Path) -> None:
    import numpy as np

    from boardnet.core.io import read_npz

    good = _npz_bytes(a=np.arange(1000, dtype=np.float32))
    path = tmp_path / "x.npz"
    i = good.index(np.arange(1000, dtype=np.float32)[500:].tobytes()[:8])
    path.write_bytes(good[:i] + bytes([good[i] ^ 1]) + good[i + 1:])  # one tensor byte flipped: CRC mismatch
    with pytest.raises(FormatError, match="Bad CRC-32"):
        read_npz(path)


def test_npz_zip_bomb_refused_before_inflating(tmp_path: Path) -> None:
    """An honest array of zeros deflating ~1000x (above 64 MiB) is refused by the ratio cap, before anything of
    its size is allocated; raising max_ratio lets the absolute cap (max_bytes) decide; npz data configs take both."""
    from boardnet.core.io import NPZ_MAX_RATIO, read_npz
    from boardnet.train.npz import NpzData, load_npz_arrays
    from tests.fuzzing import write_zero_npz

    path = tmp_path / "zeros.npz"
    write_zero_npz(path, 96 << 20)
    assert path.stat().st_size < (96 << 20) / NPZ_MAX_RATIO
    with pytest.raises(FormatError, match=r"zeros.npz: field zeros.npy: inflates [\d,]+ compressed bytes to "
                                          r"100,663,424 \([\d,]+x; the limit is 200x above 64 MiB\)"):
        read_npz(path)
    with pytest.raises(FormatError, match=r"field zeros.npy: the arrays read hold 100,663,424 bytes or more; "
                                          r"the limit is 67,108,864"):
        load_npz_arrays(str(path), None, max_bytes=64 << 20, max_ratio=2000)
    cfg = NpzData.Config(path=str(path), max_bytes=1 << 20, max_ratio=1e4)
    assert (cfg.max_bytes, cfg.max_ratio) == (1 << 20, 1e4)


def test_npz_damaged_deflate_stream_is_one_format_error(tmp_path: Path) -> None:
    """Found by the long fuzz run (30 of 509 inputs): a damaged deflate stream raised zlib.error."""
    import io
    import zipfile

    import numpy as np

    from boardnet.core.io import read_npz

    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.random.default_rng(0).normal(size=4000).astype(np.float32))
    data = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    at = info.header_offset + 30 + len(info.filename) + 8  # inside the member's deflate stream
    data[at:at + 16] = b"\xff" * 16
    path = tmp_path / "x.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="x.npz: not a readable .npz file: Error -3 while decompressing data"):
        read_npz(path)


def test_torch_warnings_about_damaged_files_stay_quiet(tmp_path: Path) -> None:
    """Found by the long fuzz run: a .pt whose zip magic is damaged is read as a legacy pickle, and torch warned
    about its pickle protocol on stderr beside the error line. The warning is not shown (not raised here)."""
    import warnings

    from boardnet.core.io import safe_torch_load

    path = tmp_path / "x.pt"
    path.write_bytes(b"\x80\x05K\x01.")  # PROTO 5, BININT1 1, STOP: a legacy file with a bad magic number
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FormatError, match="x.pt: not a readable torch file"):
            safe_torch_load(path)


def test_huge_length_field_allocates_nothing(tmp_path: Path) -> None:
    """Found by the long fuzz run: a .pt whose zip magic is damaged is read as a legacy pickle; a string length of
    2.76 GB made ``read(n)`` allocate n bytes (MemoryError under the 1 GiB limit). User files cap ``read(n)`` at
    the bytes left."""
    import resource

    from boardnet.core.io import open_user_file, safe_torch_load

    path = tmp_path / "x.pt"
    path.write_bytes(b"X\xb1\x90\xcb\xa4\xba\x14 the rest of a damaged file")  # BINUNICODE of 0xa4cb90b1 bytes
    with open_user_file(path) as fh:
        assert fh.read(1 << 40) == path.read_bytes() and fh.read(1 << 40) == b""

    def child() -> str:
        vm = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (1 << 30), vm + (1 << 30)))
        safe_torch_load(path)
        return "loaded"

    status, message = in_forked_child(child)
    assert status == 0 and message.startswith(f"FormatError: {path}: not a readable torch file"), message



def test_npz_member_with_an_empty_name_is_one_format_error(tmp_path: Path) -> None:
    """Found by the long fuzz run (a name length set to 0): zipfile's ``is_dir`` raised IndexError."""
    import zipfile

    from boardnet.core.io import read_npz

    path = tmp_path / "x.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo(""), b"abc")
    with pytest.raises(FormatError, match="x.npz: a member of the archive has an empty name"):
        read_npz(path)


def test_npz_error_without_a_message_is_named_by_its_type(tmp_path: Path, monkeypatch) -> None:
    """Found by the long fuzz run (11 of 10,009 inputs): a member whose deflate stream ends early raises a bare
    ``EOFError()``; quoting the first line of its empty message was an IndexError traceback."""
    import numpy as np

    from boardnet.core.errors import first_line
    from boardnet.core.io import read_npz

    path = tmp_path / "x.npz"
    np.savez(path, planes=np.zeros(4, np.float32))

    def eof(_member: object) -> None:
        raise EOFError

    monkeypatch.setattr(np.lib.format, "read_magic", eof)
    with pytest.raises(FormatError, match=r"field planes.npy: bad .npy header: EOFError$"):
        read_npz(path)
    assert first_line(ValueError("")) == "ValueError" and first_line(ValueError("a\nb"), 1) == "a"

def test_npz_mutations_never_escape_as_tracebacks(tmp_path: Path) -> None:
    import numpy as np

    from boardnet.core.errors import BoardnetError
    from boardnet.core.verify import npz_inputs

    good = _npz_bytes(states=np.zeros((2, 4, 6, 6), np.float32), log_probs=np.zeros((2, 36), np.float32))
    rng = np.random.default_rng(0)
    path = tmp_path / "x.npz"
    for _ in range(200):
        m = bytearray(good)
        for pos in rng.integers(0, len(m), size=int(rng.integers(1, 4))):
            m[pos] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(m[: int(rng.integers(1, len(m) + 1))] if rng.random() < 0.3 else m))
        with contextlib.suppress(BoardnetError):
            npz_inputs(path)


# --- .pt / .safetensors structure (issue 19): wrong structure or unknown keys are one error, inspect exits 2 ----


def _pt(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "x.pt"
    torch.save(payload, path)
    return path


def _good_payload() -> dict:
    net = sample_net()
    return {"format": "boardnet-net", "spec": {"family": net.spec.family, "config": net.spec.config},
            "state_dict": net.state_dict}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p["spec"]["config"].update(bogus=1), r"field spec.config.bogus: unknown option of network"),
    (lambda p: p["spec"]["config"].pop("height"), r"field spec.config.height: missing option of network"),
    (lambda p: p["spec"].update(config=[1, 2]), r"field spec.config: must be a mapping, got list"),
    (lambda p: p["spec"].update(family="nope"), r"unknown network type 'nope'"),
    (lambda p: p["spec"]["config"].update(residual_blocks=100_000), r"100,000 is beyond the limit of 1,024"),
    (lambda p: p["state_dict"].pop("conv1.weight"), r"tensors do not fit network 'policy_value'.*conv1.weight"),
    (lambda p: p["state_dict"].update({"conv1.weight": torch.zeros(3)}), r"conv1.weight: shape \[3\]"),
    (lambda p: p.update(state_dict=[1]), "state_dict is not a mapping"),
])
def test_pt_with_wrong_structure_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture, edit, message) -> None:  # noqa: ANN001
    payload = _good_payload()
    edit(payload)
    path = _pt(tmp_path, payload)
    with pytest.raises(BoardnetError, match=message):
        read_net(path)
    assert main(["inspect", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_safetensors_spec_is_checked_too(tmp_path: Path) -> None:
    import json

    from safetensors.torch import save_file

    net = sample_net()
    path = tmp_path / "x.safetensors"
    spec = {"family": "policy_value", "config": {**net.spec.config, "bogus": 1}}
    save_file(dict(net.state_dict), str(path), metadata={"boardnet.core.spec": json.dumps(spec)})
    with pytest.raises(FormatError, match="spec.config.bogus: unknown option"):
        read_net(path)
    spec = {"family": "policy_value", "config": net.spec.config, "extra": 1}
    save_file(dict(net.state_dict), str(path), metadata={"boardnet.core.spec": json.dumps(spec)})
    with pytest.raises(FormatError, match="unknown key 'extra'"):
        read_net(path)


# --- user paths (issues 17/19): FIFOs, directories, devices, missing files: one line, never a hang -----------


def _run_with_deadline(argv: list[str], seconds: float = 60) -> int:
    import threading

    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(argv)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"boardnet {' '.join(argv)} still running after {seconds} s (blocked on a FIFO?)"
    return result[0]


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".model", ".weights.h5", ".index", ".nnue", ".yaml",
                                    ".npz"])
def test_fifo_paths_are_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                 suffix: str) -> None:
    import os

    fifo = tmp_path / f"net{suffix}"
    os.mkfifo(fifo)
    argv = {".yaml": ["config", "show", str(fifo)], ".npz": ["verify", str(fifo), str(fifo)]}.get(
        suffix, ["inspect", str(fifo)])
    assert _run_with_deadline(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {fifo}") and "named pipe (FIFO)" in err and err.count("\n") == 1


@pytest.mark.parametrize("target", ["dir", "missing", "/dev/zero"])
def test_directories_devices_and_missing_files_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                            target: str) -> None:
    path = tmp_path / "net.pt"
    if target == "dir":
        path.mkdir()
    elif target == "/dev/zero":
        path.symlink_to("/dev/zero")
    message = {"dir": "is a directory", "missing": "no such file", "/dev/zero": "is a device"}[target]
    assert _run_with_deadline(["inspect", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: {message}" + (
        ", not a regular file\n" if target == "/dev/zero" else "\n")


def test_unreadable_file_is_permission_denied(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """chmod 000: one line. Root reads anything, so as root the check runs in a forked child as 'nobody'."""
    import os

    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    path.chmod(0)
    if os.geteuid() != 0:
        assert main(["config", "show", str(path)]) == 2
        assert capsys.readouterr().err == f"error: {path}: permission denied\n"
        return
    tmp_path.chmod(0o755)
    def as_nobody() -> str:  # child: drop to nobody, then read through the wrapper
        from boardnet.core.io import read_user_bytes

        os.setgid(65534)
        os.setuid(65534)
        try:
            read_user_bytes(path)
        except BoardnetError as err:
            return str(err)
        return "no error"

    _, message = in_forked_child(as_nobody)
    assert message == f"{path}: permission denied"


def test_written_files_get_the_usual_mode(tmp_path: Path) -> None:
    """safetensors created its files 0600 while every other output was 0644 (umask 022): one rule for all."""
    import os
    import stat

    from safetensors.torch import save_file

    from boardnet.core.io import atomic_write, current_umask

    expected = 0o666 & ~current_umask()
    atomic_write(tmp_path / "n.safetensors", lambda tmp: save_file({"w": torch.zeros(2)}, str(tmp)))
    atomic_write(tmp_path / "t.txt", lambda tmp: Path(tmp).write_text("x"))
    for name in ("n.safetensors", "t.txt"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name


# ------------------------------------------------------------------------------------------ atomic_folder


def test_atomic_folder_swaps_in_whole_and_keeps_the_old_one_on_failure(tmp_path: Path) -> None:
    from boardnet.core.io import atomic_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.bin").write_bytes(b"old")

    def fill(tmp: Path) -> int:
        (tmp / "sub").mkdir()
        (tmp / "a.bin").write_bytes(b"a")
        (tmp / "sub" / "b.bin").write_bytes(b"b")
        return 2

    assert atomic_folder(out, fill) == 2
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.bin", "sub", "sub/b.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # neither temp nor old folder left

    def fail(tmp: Path) -> None:
        (tmp / "half.bin").write_bytes(b"h")
        raise OSError(28, "No space left on device")  # ENOSPC

    with pytest.raises(FormatError, match="cannot write: no space left on device") as err:
        atomic_folder(out, fail)
    assert err.value.path == str(out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["a.bin", "sub", "sub/b.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    atomic_folder(tmp_path / "new" / "deeper", fill)  # parents are made
    assert (tmp_path / "new" / "deeper" / "sub" / "b.bin").read_bytes() == b"b"


def test_sigterm_while_filling_a_folder_leaves_no_temp_folder(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from boardnet.core.io import atomic_folder

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.bin").write_bytes(b"old")
    started = tmp_path / "started"

    def slow_fill(tmp: Path) -> None:
        (tmp / "partial.bin").write_bytes(b"partial")
        started.touch()
        time.sleep(60)

    pid = os.fork()
    if pid == 0:
        try:
            atomic_folder(out, slow_fill)
        finally:
            os._exit(3)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / f".out.tmp{pid}" / "partial.bin").exists()
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "started"]
    assert (out / "old.bin").read_bytes() == b"old"


def test_safetensors_bytes_are_the_same_in_every_process(tmp_path) -> None:
    """safetensors writes its metadata in hash order; boardnet sorts the header, so one net gives one file."""
    import hashlib
    import subprocess
    import sys

    code = ("import sys; from boardnet.core.convert import read_net, write_net; "
            "write_net(read_net(sys.argv[1]), sys.argv[2])")
    net = fixture_path("azg", "best_policy_6_6_4.model")
    for i in range(3):
        subprocess.run([sys.executable, "-c", code, str(net), str(tmp_path / f"{i}.safetensors")], check=True,
                       cwd=ROOT)
    assert len({hashlib.sha256((tmp_path / f"{i}.safetensors").read_bytes()).digest() for i in range(3)}) == 1
