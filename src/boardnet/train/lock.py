"""One training per run directory: ``<run>/train.lock`` holds the pid of the process training into it.

Taken with ``O_CREAT | O_EXCL`` (atomic), removed when the run ends (and at interpreter exit). A lock whose
process no longer exists is stale (killed run): it is removed with a message and taken over. The process
holding the lock may open the run again (a resumed Trainer in the same process).
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

from boardnet.core.errors import TrainingError

LOCK_NAME = "train.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read_owner(path: Path) -> int | None:
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError:
        return -1
    return int(text) if text.isdigit() else -1


class RunLock:
    """The lock of one run directory; :meth:`release` (or process exit) removes it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self.owned = False
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = _read_owner(self.path)
                if owner == os.getpid():
                    return  # this process already trains here (it releases the lock)
                if owner is not None and owner > 0 and _pid_alive(owner):
                    raise TrainingError(f"{run_dir} is in use by another training (pid {owner}, lock {self.path}); "
                                        "wait for it to finish, or train into another run directory") from None
                if owner is not None:
                    print(f"warning: removing the stale lock {self.path} (process {owner} is gone)", file=sys.stderr)
                    self.path.unlink(missing_ok=True)
                continue
            except OSError as err:
                raise TrainingError(f"{self.path}: cannot take the run lock: {err.strerror}") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            self.owned = True
            atexit.register(self.release)
            return
        raise TrainingError(f"{self.path}: cannot take the run lock (it keeps changing)")

    def release(self) -> None:
        """Remove the lock file if this object took it."""
        if self.owned:
            self.owned = False
            if _read_owner(self.path) == os.getpid():
                self.path.unlink(missing_ok=True)
            atexit.unregister(self.release)
