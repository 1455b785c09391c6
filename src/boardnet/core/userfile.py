"""Opening a path a user named: regular files only, OS errors as one :class:`FormatError`.

Minimal stand-in used by the data readers until hostile-core's wrapper (``core/io.py``: ``check_user_file``,
``open_user_file``, same names and behaviour) is merged; then these two become imports from there.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from boardnet.core.errors import FormatError

_WHY = {errno.ENOENT: "no such file", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EISDIR: "is a directory", errno.ENOTDIR: "no such file (a parent is not a directory)",
        errno.ELOOP: "too many levels of symbolic links"}


def _problem(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is refused as input (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


def check_user_file(path: str | os.PathLike[str]) -> Path:
    """``path`` if it names a regular file (symlinks followed), else one FormatError; nothing is opened."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise FormatError(path, _WHY.get(err.errno or 0, (err.strerror or "cannot open").lower())) from None
    if (why := _problem(st.st_mode)) is not None:
        raise FormatError(path, why)
    return Path(path)


def open_user_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a user-named regular file for binary reading, non-blocking until ``fstat`` says it is regular
    (a FIFO swapped in after :func:`check_user_file` never blocks the open)."""
    check_user_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        raise FormatError(path, _WHY.get(err.errno or 0, (err.strerror or "cannot open").lower())) from None
    try:
        if (why := _problem(os.fstat(fd).st_mode)) is not None:
            raise FormatError(path, why)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
