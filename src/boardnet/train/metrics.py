"""Metrics of a run: ``metrics.csv`` (one row per logged iteration), TensorBoard events, and a PNG plot.

On resume from iteration k, rows after k are dropped (those iterations run again), so the CSV of a resumed
run equals that of an uninterrupted one. Only rank 0 writes.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from boardnet.core.io import atomic_write


class MetricsLog:
    """Append-only wide CSV + optional TensorBoard writer for one run directory."""

    def __init__(self, run_dir: Path, resume_iteration: int, tensorboard: bool) -> None:
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

    def flush(self) -> None:
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _columns(rows: list[dict[str, float]]) -> list[str]:
    cols = ["iteration"]
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def _fmt(row: dict[str, float]) -> dict[str, str]:
    return {k: (str(int(v)) if k == "iteration" else f"{v:.6g}") for k, v in row.items()}


def plot_metrics(rows: list[dict[str, float]], path: Path, title: str) -> None:
    """PNG with the loss terms (top) and evaluator figures such as the arena win rate (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = {"iteration", "lr", "grad_norm"}
    loss_keys = [k for k in _columns(rows) if k.startswith(("loss", "val/")) and k not in skip]
    # rates and scores share the bottom axis; counters such as the opponent's playouts would flatten it
    eval_keys = [k for k in _columns(rows) if k.startswith("eval/") and "playouts" not in k]
    fig, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for key in loss_keys:
        pts = [(r["iteration"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
        if pts:
            axes[0].plot(*zip(*pts), label=key.removeprefix("loss/"))
    axes[0].set_ylabel("loss")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[0].grid(alpha=0.3)
    for key in eval_keys:
        pts = [(r["iteration"], r[key]) for r in rows if key in r]
        if pts:
            axes[1].plot(*zip(*pts), marker="o", label=key.removeprefix("eval/"))
    axes[1].set_ylabel("evaluation")
    axes[1].set_xlabel("iteration")
    axes[1].grid(alpha=0.3)
    if eval_keys:
        axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
