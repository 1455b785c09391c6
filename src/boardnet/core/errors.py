"""One exception family for everything boardnet reports to a user.

The CLI catches :class:`BoardnetError` and prints ``error: <message>`` on one line; ``--debug`` shows the
traceback. Readers raise :class:`FormatError` naming the file and the offset or field that is wrong;
config problems raise :class:`ConfigError` naming the YAML key path.
"""

from __future__ import annotations

import os


class BoardnetError(Exception):
    """Base class of every error boardnet raises on purpose."""


class FormatError(BoardnetError):
    """A file does not hold what its format promises.

    Args:
        path: the file being read (or written).
        message: what is wrong, e.g. ``"bad hash 0x1234; expected 0x5678"``.
        offset: byte offset where the problem was found, if known.
        field: name of the field or tensor concerned, if known.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        message: str,
        *,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        self.field = field
        self.message = message
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if offset is not None:
            parts.append(f"offset {offset}")
        if field is not None:
            parts.append(f"field {field}")
        parts.append(message)
        super().__init__(": ".join(parts))

    def __reduce__(self) -> tuple:
        """Pickled whole (e.g. from a DataLoader worker process to the trainer)."""
        return (_format_error, (self.path, self.message, self.offset, self.field))


class ConfigError(BoardnetError):
    """A config value is missing, unknown, of the wrong type or impossible.

    Args:
        key_path: dotted path of the key, e.g. ``"steps.0.optimizer.lr"``.
        message: what was expected.
    """

    def __init__(self, key_path: str, message: str) -> None:
        self.key_path = key_path
        self.message = message
        super().__init__(f"config key '{key_path}': {message}" if key_path else f"config: {message}")

    def __reduce__(self) -> tuple:
        return (ConfigError, (self.key_path, self.message))


def _format_error(path: str | None, message: str, offset: int | None, field: str | None) -> FormatError:
    return FormatError(path, message, offset=offset, field=field)


class ConversionError(BoardnetError):
    """A conversion cannot be done: unmapped names, missing parameters, shape mismatches."""


class VerificationError(BoardnetError):
    """Two sides of ``boardnet verify`` cannot be compared (different outputs, shapes)."""


class TrainingError(BoardnetError):
    """Training cannot go on (e.g. too many non-finite losses in a row, run-directory mismatch)."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """The first line of an error's message (at most ``limit`` characters), or its type's name when it has none:
    what a one-line :class:`BoardnetError` quotes of a library's exception (some have empty messages)."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__
