"""Fuzz harness: mutated real files run through boardnet's readers and CLI verbs, one forked child per input.

A server process (``python -m tests.fuzzing``) imports boardnet once, warms every reader (numba kernels compile
in the server, so children inherit them), then forks one child per input. The child runs under
``RLIMIT_AS`` = the server's address space + 1 GiB (so "1 GiB" means 1 GiB of new allocations) and an alarm;
it reports one of:

- ``ok``: exit 0, or exit 2 with exactly one ``error:`` line on stderr (a :class:`BoardnetError`), the last
  (progress lines of a slow step may come before it);
- ``traceback``: any other exception (its type and message are kept);
- ``memory``: a ``MemoryError`` or a kill at the address-space limit;
- ``hang``: the time limit passed;
- ``unsafe``: a failed command changed its output or left a temp file behind.

Jobs are JSON lines on the server's stdin: ``{"argv": [...]}`` (a CLI verb) or ``{"call": "module:function",
"args": [...]}`` (a reader without a verb), with ``"output"``: a path whose old content must survive a failure.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

LIMIT_BYTES = 1 << 30
OLD = b"OLD OUTPUT, must survive a failed command"

# ------------------------------------------------------------------------------------------- mutations


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``data``: ``(kind, bytes)``."""
    kind = rng.choice(["truncate", "flip", "flip", "magic", "length", "splice", "zero-run"])
    b = bytearray(data)
    if kind == "truncate" or not b:
        return "truncate", bytes(b[: rng.randrange(len(b) + 1)])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == "magic":
        for i in range(min(8, len(b))):
            b[i] = rng.randrange(256)
    elif kind == "length":  # a huge length/count field near the start (or anywhere)
        at = rng.randrange(min(len(b), 512) if rng.random() < 0.7 else len(b))
        value = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1 << 40, 0xFFFF, 2**63 - 1])
        b[at:at + 8] = value.to_bytes(8, "little")[: max(0, min(8, len(b) - at))]
    elif kind == "splice":
        i, j = sorted(rng.randrange(len(b) + 1) for _ in range(2))
        k = rng.randrange(len(b) + 1)
        b[k:k] = b[i:j][:4096]
    else:
        i = rng.randrange(len(b))
        b[i:i + rng.randint(1, 64)] = bytes(min(64, len(b) - i))
    return kind, bytes(b)


def mutate_gzip_payload(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """For gzip files: mutate the inflated payload half the time (else the gzip CRC catches nearly all)."""
    import gzip

    if rng.random() < 0.5:
        return mutate(data, rng)
    kind, inner = mutate(gzip.decompress(data), rng)
    return f"inner-{kind}", gzip.compress(inner, compresslevel=1)


def npy_header(count: int) -> bytes:
    """A ``.npy`` (v1.0) header declaring ``count`` float32 values (64-byte aligned)."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({count},), }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def write_zero_npz(path: Path, nbytes: int) -> None:
    """An honest ``.npz`` zip bomb: one float32 array of ``nbytes`` zeros, deflated (~1000x), streamed in
    1 MiB blocks so that writing it allocates nothing of its size."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("zeros.npy", "w", force_zip64=True) as member:
        member.write(npy_header(nbytes // 4))
        block = bytes(1 << 20)
        for _ in range(nbytes >> 20):
            member.write(block)


# ---------------------------------------------------------------------------------------------- server


def _run_job(job: dict[str, Any]) -> tuple[int, str]:
    """In the child: run the job; ``(exit code, traceback or '')``."""
    from boardnet.cli import main

    try:
        if "argv" in job:
            return int(main(job["argv"]) or 0), ""
        module, func = job["call"].split(":")
        __import__(module)
        getattr(sys.modules[module], func)(*job.get("args", []))
        return 0, ""
    except MemoryError:
        return 137, "MemoryError"
    except SystemExit as err:
        return int(err.code or 0) if isinstance(err.code, int) else 2, ""
    except BaseException as err:
        from boardnet.core.errors import BoardnetError

        if isinstance(err, BoardnetError) and "call" in job:
            return 2, ""
        return 3, "".join(traceback.format_exception_only(type(err), err)).strip()[-500:]


def _child(job: dict[str, Any], base: int, out_fd: int, err_fd: int, res_w: int) -> None:
    soft = base + LIMIT_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (soft, soft))
    signal.alarm(int(job.get("timeout", 30)))
    _stdin_from(job.get("stdin", ""))
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    code, tb = _run_job(job)
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(res_w, json.dumps({"code": code, "tb": tb}).encode())
    os._exit(0)


def _stdin_from(text: str = "") -> None:
    """Point fd 0 and ``sys.stdin`` at ``text`` then EOF (engines and ``play`` read stdin: they must never see
    the server's job pipe)."""
    import tempfile

    with tempfile.TemporaryFile() as fh:
        fh.write(text.encode())
        fh.seek(0)
        os.dup2(fh.fileno(), 0)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 stays; the wrapper lives until replaced


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _output_state(output: str | None) -> Any:
    if not output:
        return None
    p = Path(output)
    if p.is_dir():
        return {c.name: c.read_bytes() for c in sorted(p.iterdir()) if c.is_file()}
    return p.read_bytes() if p.exists() else None


def _stray_temps(output: str | None) -> list[str]:
    if not output:
        return []
    p = Path(output)
    return [c.name for c in p.parent.iterdir() if c.name.startswith(f".{p.name}.")]


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Fork, run ``job`` in the child under the limits, classify the outcome."""
    import tempfile

    before = _output_state(job.get("output"))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        res_r, res_w = os.pipe()
        base = _vm_size()
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(res_r)
            try:
                _child(job, base, out.fileno(), err.fileno(), res_w)
            finally:
                os._exit(99)
        os.close(res_w)
        chunks = []
        while chunk := os.read(res_r, 65536):
            chunks.append(chunk)
        os.close(res_r)
        _, status = os.waitpid(pid, 0)
        seconds = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    result: dict[str, Any] = {"seconds": round(seconds, 3), "stderr": stderr[-600:]}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        result["status"] = "hang" if sig == signal.SIGALRM else ("memory" if sig in (signal.SIGKILL, signal.SIGSEGV,
                                                                                     signal.SIGABRT) else "crash")
        result["detail"] = f"signal {sig}"
        return result
    try:
        reply = json.loads(b"".join(chunks) or b"{}")
    except json.JSONDecodeError:
        reply = {}
    code, tb = reply.get("code", 99), reply.get("tb", "")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if tb == "MemoryError" or ("MemoryError" in stderr and code != 0):
        status_name, detail = "memory", tb or stderr[-200:]
    elif tb:
        status_name, detail = "traceback", tb
    elif (code == 0 and "Traceback" not in stderr) or (code == 2 and ("call" in job or _one_error(lines))):
        status_name, detail = "ok", ""
    else:
        status_name, detail = "traceback", f"exit {code}: {stderr[-300:]}"
    if status_name == "ok" and code != 0 and job.get("output"):
        if _output_state(job["output"]) != before:
            status_name, detail = "unsafe", "a failed command changed its output"
        elif temps := _stray_temps(job["output"]):
            status_name, detail = "unsafe", f"temp files left: {temps}"
    result.update(status=status_name, detail=detail, code=code)
    return result


PROGRESS_LINE = re.compile(r"^[a-z][a-z0-9 -]*: (?!.*Traceback)")  # ``convert: reading X (keras) (10.0 s)``


def _one_error(lines: list[str]) -> bool:
    """Exactly one ``error:`` line, the last; what comes before it only progress lines (a slow step's
    heartbeat without a terminal), no traceback."""
    return bool(lines) and lines[-1].startswith("error: ") and all(
        PROGRESS_LINE.match(line) and not line.startswith("error") for line in lines[:-1])


def warm(jobs: list[dict[str, Any]]) -> None:
    """Run each (valid) job in the server itself so compiled kernels and lazy imports are inherited."""
    from boardnet.cli import main

    devnull = open(os.devnull, "w")  # noqa: SIM115
    saved = sys.stdin, sys.stdout, sys.stderr
    saved_fd0 = os.dup(0)
    sys.stdout = sys.stderr = devnull
    try:
        for job in jobs:
            _stdin_from(job.get("stdin", ""))
            try:
                if "argv" in job:
                    main(job["argv"])
                else:
                    module, func = job["call"].split(":")
                    __import__(module)
                    getattr(sys.modules[module], func)(*job.get("args", []))
            except BaseException:  # noqa: S110 - warming only
                pass
    finally:
        os.dup2(saved_fd0, 0)
        os.close(saved_fd0)
        sys.stdin, sys.stdout, sys.stderr = saved


def serve() -> None:
    """Server loop: JSON job lines in, JSON result lines out."""
    import torch

    torch.set_num_threads(1)  # no OpenMP pool: forked children stay safe
    for line in sys.stdin:
        job = json.loads(line)
        if job.get("warm"):
            warm(job["warm"])
            reply: dict[str, Any] = {"status": "warm"}
        else:
            reply = run_one(job)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class FuzzServer:
    """Client side: one server process, jobs sent one at a time."""

    def __init__(self, cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzzing"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=cwd, env=env)

    def ask(self, job: dict[str, Any], deadline: float = 600) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fuzz server died")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


if __name__ == "__main__":
    serve()
