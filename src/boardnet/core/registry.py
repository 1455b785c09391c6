"""Name -> class tables for everything a config names by ``type``.

Entries are registered lazily as ``"module:attr"`` strings, so one broken optional module cannot break the
lookup of another (a sharp edge of DL-Art-School's registries). A module may also register a class with the
:meth:`Registry.register` decorator. A lookup of an unknown name raises :class:`ConfigError` listing the
names that exist.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from boardnet.core.errors import ConfigError


class Registry:
    """A table from names to classes (or factories) of one kind, e.g. ``"loss"``."""

    def __init__(self, kind: str, lazy: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = dict(lazy or {})

    def register(self, name: str) -> Callable[[Any], Any]:
        """Class decorator: ``@LOSSES.register("mse")``."""

        def decorate(obj: Any) -> Any:
            self._entries[name] = obj
            return obj

        return decorate

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:Attr"`` to be imported on first lookup."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str, key_path: str = "type") -> Any:
        """The class registered as ``name``; ``key_path`` is named in the error if there is none."""
        if name not in self._entries:
            known = ", ".join(self.names()) or "none"
            raise ConfigError(key_path, f"unknown {self.kind} type '{name}'; expected one of: {known}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module_name, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = entry
        return entry


NETWORKS = Registry(
    "network",
    {
        "policy_value": "boardnet.alphazero.net:PolicyValueNet",
        "lc0": "boardnet.lc0.net:Lc0Net",
        "lc0_transformer": "boardnet.lc0.transformer:Lc0Transformer",
        "lc0_train": "boardnet.lc0.train_net:Lc0TrainNet",
        "lc0_bt_train": "boardnet.lc0.transformer_train:Lc0TransformerTrainNet",
        "nnue": "boardnet.nnue.net:NnueNet",
        "nnue_halfkp": "boardnet.nnue.net:NnueHalfKP",
    },
)
GAMES = Registry("game", {"gomoku": "boardnet.alphazero.games.gomoku:Gomoku",
                         "connect4": "boardnet.alphazero.games.connect4:ConnectFour"})
DATA = Registry(
    "data source",
    {
        "selfplay": "boardnet.alphazero.replay:SelfPlayData",
        "npz": "boardnet.train.npz:NpzData",
        "nnue": "boardnet.nnue.data.loader:NnueData",
        "lc0_chunks": "boardnet.lc0.chunks:Lc0ChunkData",
    },
)
OPTIMIZERS = Registry("optimizer", {"adam": "torch.optim:Adam", "adamw": "torch.optim:AdamW",
                                    "sgd": "torch.optim:SGD", "ranger": "boardnet.train.ranger:Ranger"})
INJECTORS = Registry("injector", {"forward": "boardnet.train.injectors:ForwardInjector"})
LOSSES = Registry(
    "loss",
    {
        "mse": "boardnet.train.losses:MSELoss",
        "cross_entropy": "boardnet.train.losses:CrossEntropyLoss",
        "l2": "boardnet.train.losses:L2Loss",
        "nnue_wdl": "boardnet.nnue.loss:NnueWdlLoss",
        "lc0_policy": "boardnet.lc0.losses:Lc0PolicyLoss",
        "lc0_mlh": "boardnet.lc0.losses:Lc0MovesLeftLoss",
    },
)
# ``boardnet arena`` for players that are not board-game players (alphazero's): each entry has
# ``claims(player_spec) -> bool`` and ``run(args) -> exit status``, and its name is a ``--game`` choice.
ARENAS = Registry("arena", {"chess": "boardnet.lc0.arena:ChessArena"})
EVALUATORS = Registry(
    "evaluator",
    {
        "arena": "boardnet.alphazero.arena:ArenaEvaluator",
        "validation_loss": "boardnet.train.evaluators:ValidationLossEvaluator",
        "nnue_agreement": "boardnet.nnue.loss:NnueAgreementEvaluator",
    },
)
