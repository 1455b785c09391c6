"""Optional experiment trackers (``train.loggers: [wandb, mlflow]``), fed the same rows as ``metrics.csv``.

Each is used only when asked for; asking for one whose package is not installed is a config error naming
``train.loggers`` (nothing is installed behind the user's back). The resolved config goes along as the run's
parameters.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any, Protocol

from boardnet.core.errors import ConfigError

PACKAGES = {"wandb": "wandb", "mlflow": "mlflow"}


class Logger(Protocol):
    def log(self, iteration: int, values: dict[str, float]) -> None: ...
    def close(self) -> None: ...


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists by index), for trackers that take flat parameters."""
    out: dict[str, Any] = {}
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, (dict, list, tuple)) and value:
            out.update(flatten(value if isinstance(value, dict) else list(value), name + "."))
        else:
            out[name] = value
    return out


class WandbLogger:
    def __init__(self, run_dir: Path, name: str, config: dict[str, Any]) -> None:
        import wandb

        run_id = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]  # one run dir = one wandb run
        self.run = wandb.init(project="boardnet", name=name, id=run_id, resume="allow", dir=str(run_dir),
                              config=config)

    def log(self, iteration: int, values: dict[str, float]) -> None:
        self.run.log(values, step=iteration)

    def close(self) -> None:
        self.run.finish()


class MlflowLogger:
    def __init__(self, run_dir: Path, name: str, config: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        self.run = mlflow.start_run(run_name=name)
        params = {k: str(v)[:500] for k, v in flatten(config).items()}
        mlflow.log_params(params)

    def log(self, iteration: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics({k.replace("/", "."): v for k, v in values.items()}, step=iteration)

    def close(self) -> None:
        self.mlflow.end_run()


def check_available(names: list[str]) -> None:
    """Refuse a logger whose package is not installed (before the run starts)."""
    for i, name in enumerate(names):
        if importlib.util.find_spec(PACKAGES[name]) is None:
            raise ConfigError(f"train.loggers.{i}", f"{name} is not installed (pip install {PACKAGES[name]})")


def build_loggers(names: list[str], run_dir: Path, name: str, config: dict[str, Any]) -> list[Logger]:
    check_available(names)
    kinds = {"wandb": WandbLogger, "mlflow": MlflowLogger}
    return [kinds[n](run_dir, name, config) for n in names]
