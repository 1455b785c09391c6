"""Typed training configs: YAML -> pydantic models, dotted overrides, errors that name the key path.

A config is plain data (nanoGPT style). The top level has a fixed schema (:class:`Config`); the parts a
config names by ``type`` (game, networks, data, injectors, losses, evaluators) are validated against the
``Config`` model of the registered class, so every component owns its own options and defaults.

Example::

    cfg = load_config("configs/gomoku-8x8.yaml", ["train.batch_size=256", "steps.0.optimizer.lr=1e-3"])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from boardnet.core import registry
from boardnet.core.errors import ConfigError, first_line

# --------------------------------------------------------------------------------------------- base models


class StrictModel(BaseModel):
    """A config model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True, protected_namespaces=())


class ComponentConfig(StrictModel):
    """Base of every registered component's options; ``type`` selects the registered class."""

    type: str


class LossConfig(ComponentConfig):
    """Base of loss options: every loss term has a weight (``total = sum(weight * term)``)."""

    weight: float = 1.0


class EvaluatorConfig(ComponentConfig):
    """Base of evaluator options: run every ``every`` iterations."""

    every: int = Field(50, gt=0)


# --------------------------------------------------------------------------------------- fixed sections


class OptimizerConfig(StrictModel):
    """One optimizer. ``eps_mode: tf1`` puts epsilon where TF1's Adam does (see train/optim.py)."""

    type: str = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    eps_mode: Literal["torch", "tf1"] = "torch"
    momentum: float = Field(0.0, ge=0)
    nesterov: bool = False
    lookahead_k: int = Field(6, ge=1)  # ranger: slow-weight sync every k steps
    lookahead_alpha: float = Field(0.5, gt=0, le=1)  # ranger: slow weights move this far towards the fast ones

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        names = registry.OPTIMIZERS.names()
        if value not in names:
            raise ValueError(f"unknown optimizer type '{value}'; expected one of: {', '.join(names)}")
        return value


class ScheduleConfig(StrictModel):
    """Learning-rate schedule of one step's optimizer.

    Types: ``constant``; ``step`` (multiply by ``gamma`` at each of ``milestones`` iterations); ``cosine``
    (to ``min_lr_ratio`` x lr over ``total`` iterations, default train.iterations), each after ``warmup``
    linear warm-up iterations; ``kl_adaptive`` (AlphaZero_Gomoku's multiplier driven by the KL divergence
    between the policy before and after an update, target ``kl_target``; ``pred`` names the state key of
    the log-probabilities).
    """

    type: Literal["constant", "step", "cosine", "kl_adaptive"] = "constant"
    warmup: int = Field(0, ge=0)
    milestones: list[int] = []
    gamma: float = Field(0.1, gt=0)
    total: int | None = Field(None, gt=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)
    kl_target: float = Field(0.02, gt=0)
    pred: str = "logp"
    min_multiplier: float = Field(0.1, gt=0)
    max_multiplier: float = Field(10.0, gt=0)


class StepConfig(StrictModel):
    """One optimizer with its injectors and weighted losses (DL-Art-School's ConfigurableStep)."""

    name: str | None = None
    nets: list[str] | None = None
    optimizer: OptimizerConfig = OptimizerConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    injectors: list[dict[str, Any]] = []
    losses: dict[str, dict[str, Any]] = {}
    every: int = Field(1, gt=0)
    accumulate: int = Field(1, gt=0)
    grad_clip: float | None = Field(None, gt=0)


class EmaConfig(StrictModel):
    """Exponential moving average of the trained weights: ``ema = decay*ema + (1-decay)*w``."""

    decay: float = Field(0.999, gt=0, lt=1)
    every: int = Field(1, gt=0)


class TrainConfig(StrictModel):
    """The loop: how long, how big, how often to checkpoint, where to write."""

    iterations: int = Field(1000, gt=0)
    batch_size: int = Field(512, gt=0)
    epochs_per_batch: int = Field(1, gt=0)
    checkpoint_every: int = Field(50, gt=0)
    keep_checkpoints: int = Field(2, gt=0)
    out: str = "runs"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    ema: EmaConfig | None = None
    max_nonfinite: int = Field(10, gt=0)
    log_every: int = Field(1, gt=0)
    tensorboard: bool = True
    plot: bool = True
    progress: bool = True
    progress_every_s: float = Field(10.0, ge=0)  # without a terminal: at most one progress line this often
    loggers: list[Literal["wandb", "mlflow"]] = []  # optional trackers, used when their package is installed
    threads: int | None = Field(None, gt=0)


class Config(StrictModel):
    """A whole training run."""

    name: str = "run"
    seed: int = Field(0, ge=0, lt=2**63)
    game: dict[str, Any] | None = None
    networks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    data: dict[str, Any] | None = None
    steps: list[StepConfig] = []
    train: TrainConfig = TrainConfig()
    evaluators: list[dict[str, Any]] = []

    @field_validator("name")
    @classmethod
    def _one_path_component(cls, value: str) -> str:
        """The run name becomes ``<train.out>/<name>``: it must stay inside ``train.out``."""
        if not value or value in (".", "..") or any(c in value for c in "/\\\0") or value.startswith("-"):
            raise ValueError("a run name is one path component (no '/', '\\', '..' or leading '-')")
        return value

    def component(self, dotted: str) -> Any:
        """The typed component config at ``dotted`` (e.g. ``"networks.net"``), as resolved by load."""
        node: Any = self
        for part in dotted.split("."):
            node = node[int(part)] if isinstance(node, list) else (
                node[part] if isinstance(node, dict) else getattr(node, part)
            )
        return node


# ------------------------------------------------------------------------------------------------ errors


def _loc_to_path(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    return ".".join(parts)


def _raise_validation(err: ValidationError, prefix: str = "") -> None:
    """Turn pydantic's error list into one :class:`ConfigError` line naming the first key path."""
    errors = err.errors()
    first = errors[0]
    path = _loc_to_path(prefix, first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in first and first["type"] not in ("missing",):
        msg = f"{msg} (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    raise ConfigError(path, msg + more) from None


def validate_model(model: type[BaseModel], raw: Any, key_path: str) -> Any:
    """``model.model_validate(raw)``; errors name ``key_path`` + the failing key."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        _raise_validation(err, key_path)
    except ConfigError as err:  # raised by a validator that knows its own sub-path
        sub = err.key_path
        raise ConfigError(f"{key_path}.{sub}" if key_path and sub else (key_path or sub), err.message) from None


def validate_component(table: registry.Registry, raw: Any, key_path: str) -> ComponentConfig:
    """Validate ``raw`` (a mapping with ``type``) against the ``Config`` of the class it names."""
    if not isinstance(raw, dict):
        raise ConfigError(key_path, f"expected a mapping with a 'type' key, got {type(raw).__name__}")
    if "type" not in raw:
        raise ConfigError(f"{key_path}.type", f"missing; expected one of: {', '.join(table.names())}")
    cls = table.get(str(raw["type"]), f"{key_path}.type")
    model = getattr(cls, "Config", None)
    if model is None:
        raise ConfigError(f"{key_path}.type", f"{table.kind} '{raw['type']}' takes no config")
    return validate_model(model, raw, key_path)


# --------------------------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"steps.0.optimizer.lr=1e-3"`` -> (["steps", "0", "optimizer", "lr"], 0.001). Values are YAML."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(text, "an override must look like key.path=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(key, f"value is not valid YAML: {err}") from None
    # yaml 1.1 reads '1e-3' as a string; a number was meant.
    if isinstance(parsed, str) and any(c in parsed for c in ".eE"):
        with contextlib.suppress(ValueError):
            parsed = float(parsed)
    return key.strip().split("."), parsed


def apply_override(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    """Set ``raw[k0][k1]...[kn] = value``; list elements are addressed by index."""
    node: Any = raw
    for depth, key in enumerate(keys):
        path = ".".join(keys[: depth + 1])
        last = depth == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(path, f"no list element {key} (the list has {len(node)})")
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
        else:
            raise ConfigError(path, f"cannot set a key inside a {type(node).__name__}")


# ------------------------------------------------------------------------------------------------ loading

BUNDLED = "boardnet.configs"
DEFAULT_CONFIG = "gomoku-8x8"


def bundled_config_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(BUNDLED).iterdir() if p.name.endswith(".yaml"))


MAX_YAML_DEPTH = 32  # nesting of mappings/sequences a config or mapping file may have
MAX_YAML_NODES = 100_000  # scalars + collections after alias expansion ("billion laughs" stays small)
MAX_YAML_BYTES = 4 << 20


def _yaml_error(label: str, err: yaml.YAMLError) -> ConfigError:
    mark = getattr(err, "problem_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(err, "problem", None) or first_line(err)
    return ConfigError("", f"{label}:{where}: malformed YAML: {problem}")


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes in ``node`` with every alias expanded, computed on the shared graph (linear time)."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # a recursive alias counts as itself (PyYAML refuses to construct it anyway)
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(_expanded_size(n, memo) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
        else:
            size = 1
        memo[key] = min(size, MAX_YAML_NODES + 1)
    return memo[key]


def parse_yaml(text: str, label: str) -> Any:
    """``yaml.safe_load`` with bounds: nesting depth, nodes after alias expansion; errors are one ConfigError.

    The depth is checked on the event stream (the parser is not recursive) before PyYAML's recursive
    composer runs, and the expanded size on the composed graph before anything is constructed, so neither
    deep nesting nor nested aliases ("billion laughs") can hang, overflow the stack or fill the memory.
    """
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError("", f"{label}: {len(text):,} characters; a YAML file here may have {MAX_YAML_BYTES:,}")
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    mark = event.start_mark
                    raise ConfigError("", f"{label}: line {mark.line + 1}: nested deeper than {MAX_YAML_DEPTH} "
                                      "levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if _expanded_size(node, {}) > MAX_YAML_NODES:
                raise ConfigError("", f"{label}: more than {MAX_YAML_NODES:,} values once its aliases are "
                                  "expanded (nested aliases?)")
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise _yaml_error(label, err) from None


def read_yaml(source: str | Path | None) -> tuple[dict[str, Any], str]:
    """Raw config dict and a label for messages. ``None`` or a bundled name reads a bundled config.

    A user file is read through :func:`boardnet.core.io.read_user_text` (regular files, UTF-8) and parsed by
    :func:`parse_yaml` (bounded); an empty file is an error.
    """
    from boardnet.core.io import read_user_text

    name = DEFAULT_CONFIG if source is None else str(source)
    path = Path(name)
    if os.path.lexists(path):  # a file the user named: a FIFO, a directory, unreadable... is one error
        text, label = read_user_text(path, limit=MAX_YAML_BYTES), str(path)
    else:
        stem = path.name[:-5] if path.name.endswith(".yaml") else path.name
        if stem not in bundled_config_names():
            raise ConfigError("", f"no config file '{name}' (bundled configs: {', '.join(bundled_config_names())})")
        text, label = (resources.files(BUNDLED) / f"{stem}.yaml").read_text(), f"<bundled {stem}.yaml>"
    raw = parse_yaml(text, label)
    if raw is None:
        raise ConfigError("", f"{label}: is empty (no settings); write at least one key, or name a bundled config")
    if not isinstance(raw, dict):
        raise ConfigError("", f"{label}: the top level must be a mapping, got {type(raw).__name__}")
    return raw, label


def resolve(raw: dict[str, Any]) -> Config:
    """Validate a raw dict into a :class:`Config` whose components are their typed configs."""
    cfg = validate_model(Config, raw, "")
    if cfg.game is not None:
        cfg.game = validate_component(registry.GAMES, cfg.game, "game")
    cfg.networks = {
        name: validate_component(registry.NETWORKS, net, f"networks.{name}") for name, net in cfg.networks.items()
    }
    if cfg.data is not None:
        cfg.data = validate_component(registry.DATA, cfg.data, "data")
    for i, step in enumerate(cfg.steps):
        step.injectors = [
            validate_component(registry.INJECTORS, inj, f"steps.{i}.injectors.{j}")
            for j, inj in enumerate(step.injectors)
        ]
        step.losses = {
            name: validate_component(registry.LOSSES, loss, f"steps.{i}.losses.{name}")
            for name, loss in step.losses.items()
        }
        for j, inj in enumerate(step.injectors):
            net = getattr(inj, "net", None)
            if net is not None and net not in cfg.networks:
                raise ConfigError(f"steps.{i}.injectors.{j}.net", f"no network '{net}' in networks")
        for net in step.nets or []:
            if net not in cfg.networks:
                raise ConfigError(f"steps.{i}.nets", f"no network '{net}' in networks")
    cfg.evaluators = [
        validate_component(registry.EVALUATORS, ev, f"evaluators.{i}") for i, ev in enumerate(cfg.evaluators)
    ]
    named = [("data", cfg.data)] + [(f"evaluators.{i}", ev) for i, ev in enumerate(cfg.evaluators)]
    for where, component in named:
        net = getattr(component, "net", None)
        if isinstance(net, str) and cfg.networks and net not in cfg.networks:
            raise ConfigError(f"{where}.net", f"no network '{net}' in networks (have: {', '.join(cfg.networks)})")
    return cfg


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (a path, a bundled name, or None for the default), apply overrides, validate."""
    raw, _ = read_yaml(source)
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(raw, keys, value)
    return resolve(raw)


def to_plain(cfg: Config) -> dict[str, Any]:
    """The resolved config as plain YAML-able data (components included)."""

    def plain(node: Any) -> Any:
        if isinstance(node, BaseModel):
            return {(f.alias or k): plain(getattr(node, k)) for k, f in type(node).model_fields.items()}
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [plain(v) for v in node]
        return node

    return plain(cfg)


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_plain(cfg), sort_keys=False)


# Keys that may change between a run and its resumption without making it a different run.
RESUMABLE_KEYS = {("train", "iterations"), ("train", "progress"), ("train", "out"), ("train", "tensorboard"),
                  ("train", "plot"), ("train", "threads"), ("train", "device"), ("train", "progress_every_s"),
                  ("train", "loggers")}


def identity_hash(cfg: Config) -> str:
    """Hash of everything that defines a run (not how long or where it runs); used to refuse a mismatch."""
    data = to_plain(cfg)
    for section, key in RESUMABLE_KEYS:
        data.get(section, {}).pop(key, None)
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
