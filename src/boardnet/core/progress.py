"""What a long command tells the person watching it: a rich progress bar on a terminal, plain periodic lines
elsewhere (``nohup``, SLURM, ``| tee``), where a bar would print nothing until it ends.

:class:`Progress` is the one implementation, used by ``train``, ``selfplay``, ``arena``, ``gauntlet``-style
loops and the conversions (``convert``, ``nnue data``, ``nnue label``, ``lc0 pgn2chunks``). Without a terminal
it prints one line per update, at most one every ``every_s`` seconds: a training run's :func:`summary` (losses,
``val/*``, ``eval/*``, data rates) when given metrics, else the count so far with its rate. A step that gives no
updates while it works (reading a big net) keeps talking through :meth:`Progress.busy`. :meth:`Progress.finish`
is the closing line: the count, the time and the rate.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

RATES = (("data/games_per_s", "games/s"), ("data/playouts_per_s", "playouts/s"), ("data/positions_per_s", "pos/s"))


def summary(iteration: int, total: int | None, metrics: dict[str, float], unit: str = "iteration") -> str:
    """``iteration 7/50: loss=1.2 policy=0.9 value=0.3 val/loss=1.3 win_rate=0.6 games/s=2.1`` (``unit``
    names what is counted)."""
    parts = [f"loss={metrics['loss']:.4g}"] if "loss" in metrics else []
    parts += [f"{k.removeprefix('loss/')}={v:.4g}" for k, v in metrics.items() if k.startswith("loss/")]
    parts += [f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("val/")]
    parts += [f"{k.removeprefix('eval/')}={v:.4g}" for k, v in metrics.items() if k.startswith("eval/")]
    parts += [f"{label}={metrics[k]:.4g}" for k, label in RATES if k in metrics]
    return f"{unit} {iteration}/{total if total is not None else '?'}: " + " ".join(parts)


def _seconds(text: str) -> float:
    """A non-negative number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds (got {text})")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--no-progress`` and ``--progress-every SECONDS`` for a command that reports with :func:`from_args`."""
    p.add_argument("--no-progress", action="store_true", help="no progress bar / lines")
    p.add_argument("--progress-every", type=_seconds, default=10.0, metavar="S",
                   help="without a terminal: a progress line at most every S seconds (default 10)")


def from_args(name: str, total: int | None, args: argparse.Namespace, unit: str) -> Progress:
    """The progress of a conversion command, on stderr (its stdout keeps the result lines)."""
    return Progress(name, 0, total, enabled=not args.no_progress, every_s=args.progress_every,
                    stream=sys.stderr, unit=unit, quiet_start=True)


class Progress:
    """Progress of ``total`` ``unit``\\ s (None: not known ahead) from ``start``: a rich bar on a terminal,
    periodic lines otherwise.

    ``enabled=False`` (``train.progress: false``, ``--no-progress``) prints only checkpoint lines and what
    :meth:`print` is given; ``silent`` (ranks other than 0) prints nothing. The first line comes with the first
    update, or with ``quiet_start`` only once ``every_s`` has passed (a short command prints just its closing
    line).
    """

    def __init__(self, name: str, start: int, total: int | None, *, enabled: bool, every_s: float = 10.0,
                 silent: bool = False, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, unit: str = "iteration",
                 quiet_start: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.name, self.unit, self.silent = name, unit, silent
        self.total, self.every_s, self.clock = total, every_s, clock
        self.enabled = enabled
        self.start, self.done, self.t0 = start, start, clock()
        self.bar = None
        self.last_line = self.t0 if quiet_start else -float("inf")  # quiet_start: no line in the first every_s
        self._lock = threading.Lock()
        if enabled and not silent and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn() if total is not None else TimeElapsedColumn(),
                                TextColumn("{task.fields[info]}"), console=Console(file=self.stream))
            self.task = self.bar.add_task(name, total=total, completed=start, info="")

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    @property
    def elapsed(self) -> float:
        """Seconds since the progress began."""
        return self.clock() - self.t0

    def rate(self) -> float:
        """``unit``\\ s per second so far (0 before any time has passed)."""
        dt = self.elapsed
        return (self.done - self.start) / dt if dt > 0 else 0.0

    def count_line(self, info: str = "") -> str:
        """``label: 1,234/5,000 positions (812.3 positions/s) skipped 2``."""
        of = f"/{self.total:,}" if self.total is not None else ""
        line = f"{self.name}: {self.done:,}{of} {self._units(self.total or self.done)} ({self.rate():,.1f} {self.unit}s/s)"
        return f"{line} {info}" if info else line

    def _units(self, n: int) -> str:
        return self.unit if n == 1 else f"{self.unit}s"

    def update(self, done: int, metrics: dict[str, float] | None = None, info: str = "") -> None:
        """``done`` of ``total`` now, with a training run's ``metrics`` (the :func:`summary` line) or else
        ``info`` after the count and rate: on the bar, or as a line when ``every_s`` has passed since the
        last line."""
        self.done = done
        if not self.enabled:
            return
        if metrics is not None:
            text = summary(done, self.total, metrics, self.unit)
        else:
            text = self.count_line(info)
        if self.bar is not None:
            self.bar.update(self.task, completed=done, info=text.split(": ", 1)[-1] if metrics is not None else info)
        elif self.clock() - self.last_line >= self.every_s:
            self.last_line = self.clock()
            self.print(text)

    @contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """Within ``with``: a step that gives no updates (``what``, e.g. ``reading x.pb.gz``). On the bar it is
        the info field; without a terminal a line says it began and another every ``every_s`` seconds
        (at least 0.05 s apart) says it still goes on (the first only when a line is due, as :meth:`update`)."""
        if not self.enabled or self.bar is not None:
            if self.bar is not None:
                self.bar.update(self.task, info=what)
            yield
            return
        began = self.clock()
        if began - self.last_line >= self.every_s:
            self.last_line = began
            self.print(f"{self.name}: {what}")
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(max(self.every_s, 0.05)):
                self.last_line = self.clock()
                self.print(f"{self.name}: {what} ({self.clock() - began:.1f} s)")

        thread = threading.Thread(target=beat, name="progress-busy", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def finish(self, extra: str = "", rate: bool = True, done: int | None = None) -> None:
        """The closing line (when enabled): ``label: done, 1,234 positions in 5.2 s (237.3 positions/s); extra``
        (without the rate where a count of steps has none worth giving), of ``done`` if given (the final count
        where the last update came before the end)."""
        if done is not None:
            self.done = done
        if not self.enabled:
            return
        counted = f"{self.done - self.start:,} {self._units(self.done - self.start)} in {self.elapsed:.1f} s"
        if rate:
            counted += f" ({self.rate():,.1f} {self.unit}s/s)"
        self.print(f"{self.name}: done, {counted}" + (f"; {extra}" if extra else ""))

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
        with self._lock:
            if self.bar is not None:
                self.bar.console.print(text, highlight=False, markup=False, soft_wrap=True)
            else:
                print(text, file=self.stream, flush=True)
