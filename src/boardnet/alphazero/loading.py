"""Nets and players named on the command line: model files, training configs, ``pure:N``."""

from __future__ import annotations

from typing import Any

import numpy as np

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.core.errors import ConfigError


def load_net(path: str) -> Any:
    """Any network file boardnet reads (``.pt``, run checkpoint, converted AZG model) -> module in eval mode."""
    from boardnet.core.build import build_from_spec
    from boardnet.core.convert import read_net

    nf = read_net(path)
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    if not hasattr(net, "height"):
        raise ConfigError(path, f"'{nf.spec.family}' is not a board policy-value network")
    return net.eval()


def default_n_in_row(size: int) -> int:
    """AZG's pairs: 6x6 plays 4 in a row, larger boards 5 (smaller: the whole side)."""
    return min(size, 4 if size <= 6 else 5)


def game_for(net: Any, n_in_row: int | None) -> Gomoku:
    if net.height != net.width:
        raise ConfigError("model", f"non-square board {net.height}x{net.width} is not supported")
    return Gomoku(net.height, n_in_row or default_n_in_row(net.height))


def make_player(name: str, game: Gomoku | None, playouts: int, rng: np.random.Generator,
                n_in_row: int | None = None) -> tuple[Any, Gomoku | None]:
    """``pure:N`` (pure MCTS with N playouts) or a model file -> ``(MCTSPlayer, game)``; game from the net."""
    from boardnet.alphazero.mcts import net_evaluator
    from boardnet.alphazero.players import MCTSPlayer
    from boardnet.alphazero.pure_mcts import rollout_evaluator

    if name.startswith("pure:") or name == "pure":
        n = name.partition(":")[2] or "1000"
        if not n.isdigit() or int(n) <= 0:
            raise ConfigError(name, "expected pure:N with N > 0 playouts")
        return (lambda g: MCTSPlayer(g, rollout_evaluator(g, rng), int(n), name=name)), game
    net = load_net(name)
    g = game_for(net, n_in_row)
    if game is not None and (game.size, game.n_in_row) != (g.size, g.n_in_row):
        raise ConfigError(name, f"board {g.size}x{g.size} does not match the other player's {game.size}x{game.size}")
    return (lambda gm: MCTSPlayer(gm, net_evaluator(net, gm), playouts, name=name)), g
