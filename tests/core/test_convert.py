"""convert's output safety (issues 17/19): inputs checked before the first byte is written; bad outputs one line."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.tfimport.bundle import read_variables, write_variables
from tests.conftest import fixture_path, in_forked_child


def test_failing_slots_leave_the_existing_output_untouched(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A checkpoint without optimizer slots: --slots fails, and OUTPUT must still hold its old bytes."""
    src = fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index")
    write_variables(tmp_path / "noslots.ckpt", read_variables(src))  # the variables only
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"old output")
    assert main(["convert", str(tmp_path / "noslots.ckpt.index"), str(out), "--slots"]) == 2
    assert "holds no optimizer slots" in capsys.readouterr().err
    assert out.read_bytes() == b"old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["noslots.ckpt.index",
                                                                 "noslots.ckpt.data-00000-of-00001", out.name])


def test_output_that_is_a_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = fixture_path("azg", "best_policy_6_6_4.model")
    (tmp_path / "out.pt").mkdir()
    assert main(["convert", str(src), str(tmp_path / "out.pt")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'out.pt'}: is a directory; name an output file\n"


def test_full_disk_and_unwritable_folder_are_one_line(tmp_path: Path) -> None:
    """A write that fails (file size limit = a full disk; a read-only folder for 'nobody') is one line, no temp."""
    import resource

    src = fixture_path("azg", "best_policy_6_6_4.model")
    out = tmp_path / "out.pt"

    def full_disk() -> str:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        return str(main(["convert", str(src), str(out)]))

    status, message = in_forked_child(full_disk)
    assert os.WIFEXITED(status) and message == "2"
    assert list(tmp_path.iterdir()) == []

    if os.geteuid() == 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        tmp_path.chmod(0o755)

        def unwritable() -> str:
            os.setgid(65534)
            os.setuid(65534)
            from boardnet.core.io import atomic_write

            try:
                atomic_write(locked / "out.pt", lambda tmp: Path(tmp).write_bytes(b"x"))
            except Exception as err:  # noqa: BLE001 - the message is the result
                return f"{type(err).__name__}: {err}"
            return "written"

        status, message = in_forked_child(unwritable)
        assert message == f"FormatError: {locked / 'out.pt'}: cannot write: permission denied"


def test_sigterm_during_a_write_leaves_no_temp_file(tmp_path: Path) -> None:
    from boardnet.core.io import atomic_write

    out = tmp_path / "net.pt"
    out.write_bytes(b"old")
    started = tmp_path / "started"

    def slow_write(tmp: Path) -> None:
        Path(tmp).write_bytes(b"partial")
        started.touch()
        time.sleep(60)

    pid = os.fork()
    if pid == 0:
        try:
            atomic_write(out, slow_write)
        finally:
            os._exit(3)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / f".net.pt.tmp{pid}").exists()
    os.kill(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pt", "started"]
    assert out.read_bytes() == b"old"


def test_progress_lines_without_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """At --progress-every 0 each step says what it does (busy steps keep talking) and a closing line counts
    steps, parameters and sizes, on stderr; stdout and the written files are as without progress."""
    src = str(fixture_path("tf", "gomoku_tf1_8x8", "model.ckpt.index"))
    quiet, talk = tmp_path / "q.safetensors", tmp_path / "t.safetensors"
    assert main(["convert", src, str(quiet), "--slots", "--no-progress"]) == 0
    out_quiet, err_quiet = capsys.readouterr()
    assert main(["convert", src, str(talk), "--slots", "--progress-every", "0"]) == 0
    out, err = capsys.readouterr()
    assert err_quiet == "" and out == out_quiet.replace(str(tmp_path / "q."), str(tmp_path / "t."))
    for name in ("{}.safetensors", "{}.slots.safetensors"):
        assert (tmp_path / name.format("t")).read_bytes() == (tmp_path / name.format("q")).read_bytes()
    lines = err.splitlines()
    steps = [ln for ln in lines if " steps (" in ln]
    assert [ln.split(" (")[0] for ln in steps] == [f"convert: {k}/4 steps" for k in (1, 2, 3, 4)]
    assert lines[0] == f"convert: reading {src} (tf-checkpoint)"
    assert f"convert: writing {talk} (safetensors)" in lines
    assert lines[-1].startswith("convert: done, 4 steps in ")
    data = Path(src).with_name("model.ckpt.data-00000-of-00001").stat().st_size + Path(src).stat().st_size
    params = out.splitlines()[0].rsplit(", ", 1)[1]  # "119,079 parameters", as the result line says
    assert lines[-1].endswith(f"; {params}, {data / 1e6:.1f} MB read, {talk.stat().st_size / 1e6:.1f} MB written")
