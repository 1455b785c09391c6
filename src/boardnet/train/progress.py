"""What a run tells the person watching it: a rich progress bar on a terminal, plain periodic lines elsewhere.

When stdout is not a terminal (``nohup``, SLURM, ``| tee``) a bar would print nothing until it ends, so
:class:`Progress` prints one line per iteration instead, at most one every ``every_s`` seconds (the last
iteration and every checkpoint always get theirs). :func:`summary` is that line: the loss terms, the
validation and evaluator figures (``val/*``, ``eval/*``) and the data rates.

:class:`GracefulStop` turns the first Ctrl-C / SIGTERM into a request the loop honours after the current
iteration (checkpoint, message, clean exit); a second one stops at once.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

RATES = (("data/games_per_s", "games/s"), ("data/playouts_per_s", "playouts/s"), ("data/positions_per_s", "pos/s"))


def summary(iteration: int, total: int, metrics: dict[str, float], unit: str = "iteration") -> str:
    """``iteration 7/50: loss=1.2 policy=0.9 value=0.3 val/loss=1.3 win_rate=0.6 games/s=2.1`` (``unit``
    names what is counted)."""
    parts = [f"loss={metrics['loss']:.4g}"] if "loss" in metrics else []
    parts += [f"{k.removeprefix('loss/')}={v:.4g}" for k, v in metrics.items() if k.startswith("loss/")]
    parts += [f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("val/")]
    parts += [f"{k.removeprefix('eval/')}={v:.4g}" for k, v in metrics.items() if k.startswith("eval/")]
    parts += [f"{label}={metrics[k]:.4g}" for k, label in RATES if k in metrics]
    return f"{unit} {iteration}/{total}: " + " ".join(parts)


class Progress:
    """Progress of ``total`` iterations from ``start``: a rich bar on a terminal, periodic lines otherwise.

    ``enabled=False`` (``train.progress: false``) prints only checkpoint lines and what :meth:`print` is given;
    ``silent`` (ranks other than 0) prints nothing.
    """

    def __init__(self, name: str, start: int, total: int, *, enabled: bool, every_s: float = 10.0,
                 silent: bool = False, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, unit: str = "iteration") -> None:
        self.stream = stream or sys.stdout
        self.unit = unit
        self.silent = silent
        self.total, self.every_s, self.clock = total, every_s, clock
        self.enabled = enabled
        self.bar = None
        self.last_line = -float("inf")
        if enabled and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                console=Console(file=self.stream))
            self.task = self.bar.add_task(name, total=total, completed=start, info="")

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, iteration: int, metrics: dict[str, float]) -> None:
        """Show iteration ``iteration``'s metrics: on the bar, or as a line when ``every_s`` has passed since
        the last line."""
        if not self.enabled:
            return
        if self.bar is not None:
            info = summary(iteration, self.total, metrics, self.unit).split(": ", 1)[-1]
            self.bar.update(self.task, completed=iteration, info=info)
        elif self.clock() - self.last_line >= self.every_s:
            self.last_line = self.clock()
            self.print(summary(iteration, self.total, metrics, self.unit))

    def checkpoint(self, iteration: int, metrics: dict[str, float]) -> None:
        """A checkpoint was written after ``iteration``: always a line (above the bar on a terminal)."""
        if self.bar is not None:
            self.update(iteration, metrics)
        self.last_line = self.clock()
        self.print(summary(iteration, self.total, metrics, self.unit) + " [checkpoint saved]")

    def print(self, text: str) -> None:
        """A line above the bar, or on its own (nothing on ranks other than 0)."""
        if self.silent:
            return
        if self.bar is not None:
            self.bar.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)


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
