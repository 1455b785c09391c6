"""Stopping a run cleanly: :class:`GracefulStop` turns the first Ctrl-C / SIGTERM into a request the loop
honours after the current iteration (checkpoint, message, clean exit); a second one stops at once.

What a run prints while it goes (a rich bar on a terminal, periodic plain lines elsewhere) is
:class:`boardnet.core.progress.Progress`, shared with the conversion commands.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["GracefulStop"]


class GracefulStop:
    """Within ``with``: the first SIGINT/SIGTERM sets :attr:`requested` (and says what happens), a second one
    raises :class:`KeyboardInterrupt` at once. Handlers are installed only in the main thread and restored on
    exit; elsewhere (threads, tests) it never triggers."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, say: Callable[[str], Any]) -> None:
        self.say = say
        self.requested: str | None = None
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:
            raise KeyboardInterrupt(name)
        self.requested = name
        self.say(f"{name}: finishing this iteration, then writing a checkpoint (again to stop at once)")

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous.clear()
