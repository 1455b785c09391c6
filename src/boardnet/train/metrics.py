"""Metrics of a run: ``metrics.csv`` (one row per logged iteration), TensorBoard events, and a PNG plot.

On resume from iteration k, rows after k are dropped (those iterations run again), so the CSV of a resumed
run equals that of an uninterrupted one. Only rank 0 writes.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from boardnet.core.io import atomic_write


class MetricsLog:
    """Append-only wide CSV + optional TensorBoard writer for one run directory."""

    def __init__(self, run_dir: Path, resume_iteration: int, tensorboard: bool, *, config_yaml: str = "",
                 loggers: list[Any] | None = None) -> None:
        self.path = run_dir / "metrics.csv"
        self.rows: list[dict[str, float]] = self._read(resume_iteration)
        self.columns: list[str] = _columns(self.rows)
        self._rewrite()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: CSV and plots still work
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_iteration + 1)
                if config_yaml:  # the resolved config, readable in TensorBoard's text tab
                    self.tb.add_text("config", "```yaml\n" + config_yaml + "\n```", resume_iteration)
        self.loggers = list(loggers or [])

    def _read(self, resume_iteration: int) -> list[dict[str, float]]:
        if not self.path.exists():
            return []
        rows = []
        with open(self.path, newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    parsed = {k: float(v) for k, v in row.items() if k and v not in ("", None)}
                except ValueError:
                    continue  # a torn last line from a killed run
                if parsed.get("iteration", math.inf) <= resume_iteration:
                    rows.append(parsed)
        return rows

    def _rewrite(self) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows(_fmt(r) for r in self.rows)

        atomic_write(self.path, write)

    def log(self, iteration: int, values: dict[str, float]) -> None:
        row = {"iteration": float(iteration), **{k: float(v) for k, v in values.items()}}
        self.rows.append(row)
        if any(k not in self.columns for k in row):
            self.columns = _columns(self.rows)
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self.columns).writerow(_fmt(row))
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(key, value, iteration)
        for logger in self.loggers:
            logger.log(iteration, dict(values))

    def flush(self) -> None:
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        for logger in self.loggers:
            logger.close()


def _columns(rows: list[dict[str, float]]) -> list[str]:
    cols = ["iteration"]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def _fmt(row: dict[str, float]) -> dict[str, str]:
    return {k: (str(int(v)) if k == "iteration" else f"{v:.6g}") for k, v in row.items()}


# The plot's panels, in order: (title, does this column belong here). A column goes to the first that takes it.
PANELS: tuple[tuple[str, Any], ...] = (
    ("losses", lambda k: k == "loss" or k.startswith("loss/") or (k.startswith("val/") and "loss" in k)),
    ("rates (per second)", lambda k: k.endswith("_per_s")),
    ("arena", lambda k: k.startswith("eval/") and any(w in k for w in ("win", "score", "elo", "draw"))),
    ("engine agreement", lambda k: k.startswith("val/nnue_") or "agree" in k),
    ("other evaluations", lambda k: k.startswith(("val/", "eval/")) and "opponent" not in k),
)
OPPONENT_KEYS = ("eval/opponent_playouts",)  # a change of opponent strength is marked on the arena panel


def panel_columns(columns: list[str]) -> list[tuple[str, list[str]]]:
    """The non-empty panels and their columns (counters, learning rate and grad norm are not plotted)."""
    left = [c for c in columns if c not in ("iteration", "lr", "grad_norm") and not c.startswith("time/")]
    out = []
    for title, takes in PANELS:
        mine = [c for c in left if takes(c)]
        left = [c for c in left if c not in mine]
        if mine:
            out.append((title, mine))
    return out


def opponent_changes(rows: list[dict[str, float]]) -> list[tuple[float, float]]:
    """``(iteration, new value)`` where the arena opponent's strength changed (and its first value)."""
    out: list[tuple[float, float]] = []
    for key in OPPONENT_KEYS:
        last = None
        for r in rows:
            if key in r and r[key] != last:
                last = r[key]
                out.append((r["iteration"], last))
    return out


def plot_metrics(rows: list[dict[str, float]], path: Path, title: str) -> None:
    """PNG with one panel per kind of figure (losses, rates, arena, engine agreement, others); integer
    iteration ticks; a lone point gets a marker and a visible range; opponent changes are marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = panel_columns(_columns(rows))
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels) + 0.8), sharex=True, squeeze=False)
    iterations = [r["iteration"] for r in rows]
    for ax, (name, keys) in zip(axes[:, 0], panels):
        for key in keys:
            pts = [(r["iteration"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
            if pts:
                ax.plot(*zip(*pts), marker="o" if len(pts) < 30 else None, markersize=3,
                        label=key.removeprefix("loss/").removeprefix("eval/"))
        if name == "arena":
            for it, value in opponent_changes(rows):
                ax.axvline(it, color="grey", linestyle=":", linewidth=1)
                ax.annotate(f"opponent {value:g}", (it, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                            rotation=90, va="top", ha="right", color="grey")
        ax.set_title(name, fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    ax = axes[-1, 0]
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if min(iterations) == max(iterations):  # one point: show a range around it
        ax.set_xlim(iterations[0] - 1, iterations[0] + 1)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
