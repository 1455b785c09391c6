"""Nets, games and players named on the command line: model files, ``--game``, ``pure:N``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from boardnet.alphazero.game import Game
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.core import registry
from boardnet.core.errors import ConfigError, ConversionError


def load_board_net(path: str) -> Any:
    """Any network file boardnet reads (``.pt``, run checkpoint, converted AZG model) -> a board policy-value
    module in eval mode."""
    from boardnet.core.build import build_from_spec
    from boardnet.core.convert import read_net

    nf = read_net(path)
    if nf.spec.family.startswith("lc0"):
        raise ConversionError(f"{path} holds an lc0 chess network; play, arena, selfplay and pbrain are for "
                              f"AlphaZero board-game nets (Gomoku, Connect Four): play a chess net with "
                              f"`boardnet uci {path}` (a UCI engine for chess GUIs)")
    net = build_from_spec(nf.spec)
    net.load_state_dict(nf.state_dict)
    if not hasattr(net, "height"):
        raise ConversionError(f"{path} holds a {nf.spec.family} network; play, arena, selfplay and pbrain are "
                              "for AlphaZero board-game nets (Gomoku, Connect Four)")
    return net.eval()


def default_n_in_row(size: int) -> int:
    """AZG's pairs: 6x6 plays 4 in a row, larger boards 5 (smaller: the whole side)."""
    return min(size, 4 if size <= 6 else 5)


def make_game(game_type: str = "gomoku", size: int | None = None, n_in_row: int | None = None) -> Game:
    """``--game`` with its defaults; Gomoku takes ``--size`` (default 8) and ``--n-in-row`` (AZG's pairs)."""
    cls = registry.GAMES.get(game_type, "--game")
    if game_type == "gomoku":
        size = size or 8
        return Gomoku(size, n_in_row or default_n_in_row(size))
    if size or n_in_row:
        raise ConfigError("--size/--n-in-row", f"only Gomoku takes a board size and a line length, not {game_type}")
    return cls.from_config(cls.Config())


def game_for(net: Any, n_in_row: int | None) -> Gomoku:
    """Gomoku on the net's (square) board."""
    if net.height != net.width:
        raise ConfigError("model", f"non-square board {net.height}x{net.width}: name the game with --game")
    return Gomoku(net.height, n_in_row or default_n_in_row(net.height))


def check_fits(net: Any, game: Game, source: str) -> None:
    """The net's board and policy width are the game's, else a ConfigError naming ``source``."""
    actions = getattr(net, "actions", net.height * net.width)
    if (net.height, net.width, actions) != (game.height, game.width, game.action_size):
        raise ConfigError(source, f"a {net.height}x{net.width} net with {actions} actions does not fit {game} "
                                  f"({game.height}x{game.width}, {game.action_size} actions)")


def make_player(name: str, game: Game | None, playouts: int, rng: np.random.Generator,
                n_in_row: int | None = None) -> tuple[Callable[[Game], Any], Game | None]:
    """``pure:N`` (pure MCTS with N playouts), ``pbrain:PATH[:timeout_ms]`` (a Gomocup engine) or a model file
    -> ``(player factory, game)``; without a ``game`` a model file plays Gomoku on its own board."""
    from boardnet.alphazero.inference import net_evaluator
    from boardnet.alphazero.mcts import MctsSettings
    from boardnet.alphazero.players import MCTSPlayer
    from boardnet.alphazero.pure_mcts import rollout_evaluator

    if name.startswith("pbrain:"):
        return pbrain_player_factory(name), game
    if name.startswith("pure:") or name == "pure":
        n = name.partition(":")[2] or "1000"
        if not n.isdigit() or int(n) <= 0:
            raise ConfigError(name, "expected pure:N with N > 0 playouts")
        return (lambda g: MCTSPlayer(g, rollout_evaluator(g, rng), MctsSettings(playouts=int(n)), name)), game
    net = load_board_net(name)
    if game is None:
        game = game_for(net, n_in_row)
    check_fits(net, game, name)
    return (lambda g: MCTSPlayer(g, net_evaluator(net, g), MctsSettings(playouts=playouts), name)), game


def pbrain_player_factory(name: str) -> Callable[[Game], Any]:
    """``pbrain:PATH[:timeout_ms]`` (default 1000 ms a move) -> a factory of :class:`PbrainPlayer`."""
    import shlex

    from boardnet.alphazero.pbrain import PbrainPlayer

    spec = name.removeprefix("pbrain:")
    head, _, tail = spec.rpartition(":")
    path, timeout = (head, int(tail)) if head and tail.isdigit() else (spec, 1000)
    if not path or timeout <= 0:
        raise ConfigError(name, "expected pbrain:PATH[:timeout_ms] with a command and timeout_ms > 0")
    return lambda g: PbrainPlayer(g, shlex.split(path), timeout, name)
