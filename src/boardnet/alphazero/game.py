"""The game protocol: all that MCTS, self-play, workers, the arena, players and ``play`` know about a game.

A game is two-player, alternating, perfect-information, on a ``height x width`` grid. States travel in
batches as two arrays, and every method is vectorised over the batch (one state is a batch of one):

    boards int8 [B, state_size]   the game's cells (0 empty, 1 the first mover's stones, 2 the second's)
    last   int64 [B]              the last action played, -1 in the initial state

Actions are ``0 .. action_size - 1``; the side to move follows from the number of plies (player 1 moves first).
``outcome`` answers "is it over" once, in the game: MCTS, self-play and the arena never look at cells.

Two batched operations have generic defaults written with the protocol and may be replaced by a game's
compiled fast path (Gomoku does both): :meth:`Game.play_paths` (replay the search's selected paths) and
:meth:`Game.rollout_values` (pure MCTS's random playouts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

# A leaf evaluator: (boards int8 [B, S], last int64 [B]) -> (priors float32 [B, A], values float32 [B]), values
# for the side to move. The net (inference.py), pure MCTS's rollouts (pure_mcts.py) and the cache (cache.py).
LeafEvaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class Game(ABC):
    """A board game. Subclasses set the attributes, define a pydantic ``Config`` and the abstract methods.

    Attributes:
        action_size: number of actions ``A`` (the policy head's width).
        planes: input planes ``C`` of :meth:`encode`.
        height, width: the board, in points (the net input is ``[C, height, width]``).
        state_size: cells ``S`` of a board row.
        move_help: how a user types a move (for ``boardnet play``).
    """

    action_size: int
    planes: int
    height: int
    width: int
    state_size: int
    move_help: str

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: Any) -> Game:
        """The game a config's ``game:`` section describes."""

    # ------------------------------------------------------------------ rules
    def initial_state(self, n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``n`` initial states: ``(boards int8 [n, S] all empty, last int64 [n] = -1)``."""
        return np.zeros((n, self.state_size), np.int8), np.full(n, -1, np.int64)

    @abstractmethod
    def legal_actions(self, boards: np.ndarray) -> np.ndarray:
        """``boards int8 [B, S]`` -> ``bool [B, A]`` legal-action mask (of states that are not over)."""

    @abstractmethod
    def play(self, boards: np.ndarray, last: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The states after the side to move plays the legal ``actions int [B]``; new arrays, inputs untouched."""

    @abstractmethod
    def outcome(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """``float32 [B]``: NaN while a game goes on, else its result for the side to move (-1 lost, 0 draw,
        +1 won)."""

    @abstractmethod
    def encode(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """The net input ``float32 [B, C, H, W]``, from the side to move's view."""

    @abstractmethod
    def symmetries(self, planes: np.ndarray, pi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Data augmentation: the images ``(planes [N, C, H, W], pi [N, A])`` of encoded positions and their
        policies under the game's symmetries, identity first."""

    # ------------------------------------------------------------------ text, for ``boardnet play``
    @abstractmethod
    def render(self, board: np.ndarray, last: int = -1, line: Collection[int] = ()) -> str:
        """One board ``int8 [S]`` as text (X moves first, O second) with its coordinates as :meth:`parse_action`
        reads them, the last move marked ``(X)`` and the cells of ``line`` (see :meth:`winning_line`) ``[X]``."""

    @abstractmethod
    def winning_line(self, board: np.ndarray, last: int) -> list[int]:
        """The cells (indices into ``board int8 [S]``) of the line that ``last``, the move just played, completed;
        ``[]`` when it completed none (the game goes on or is drawn)."""

    @abstractmethod
    def action_name(self, action: int) -> str:
        """How :meth:`render` and :meth:`parse_action` name ``action``."""

    @abstractmethod
    def parse_action(self, text: str, board: np.ndarray) -> int:
        """A move typed by a user, legal on ``board int8 [S]``; ValueError with a message for the user if not."""

    # ------------------------------------------------------------------ batched helpers (generic defaults)
    def play_paths(self, boards: np.ndarray, last: np.ndarray, actions: np.ndarray, depth: np.ndarray) -> None:
        """Play ``actions[r, :depth[r]]`` from each state ``r``, in place (the search's selected paths)."""
        for d in range(int(depth.max(initial=0))):
            rows = np.nonzero(depth > d)[0]
            boards[rows], last[rows] = self.play(boards[rows], last[rows], actions[rows, d])

    def rollout_values(self, boards: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniformly random playouts to the end from states that are not over: ``float32 [B]`` results for the
        side to move in the given states."""
        b, lm = boards.copy(), last.copy()
        value = np.zeros(len(b), np.float32)
        live = np.arange(len(b))
        ply = 0
        while len(live):
            legal = self.legal_actions(b[live])
            acts = np.where(legal, rng.random(legal.shape), -1.0).argmax(axis=1)  # uniform over legal moves
            b[live], lm[live] = self.play(b[live], lm[live], acts)
            ply += 1
            out = self.outcome(b[live], lm[live])
            done = ~np.isnan(out)
            value[live[done]] = out[done] if ply % 2 == 0 else -out[done]  # back to the starting side's view
            live = live[~done]
        return value

