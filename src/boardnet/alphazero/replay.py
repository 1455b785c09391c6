"""``data: {type: selfplay}``: self-play games (batched MCTS) into a replay buffer, sampled each iteration."""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from boardnet.alphazero.backends import Backend
from boardnet.alphazero.mcts import MctsSettings
from boardnet.core.config import ComponentConfig
from boardnet.core.errors import ConfigError
from boardnet.train.context import TrainContext
from boardnet.train.data import DataSource


class ReplayBuffer:
    """FIFO ring buffer of ``planes float32 [N,C,H,W]``, ``pi float32 [N,A]``, ``z float32 [N]`` (AZG's deque)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.planes: np.ndarray | None = None
        self.pi: np.ndarray | None = None
        self.z = np.zeros(capacity, np.float32)
        self.pos = 0     # next slot to write
        self.len = 0

    def add(self, planes: np.ndarray, pi: np.ndarray, z: np.ndarray) -> None:
        if self.planes is None:
            self.planes = np.zeros((self.capacity, *planes.shape[1:]), np.float32)
            self.pi = np.zeros((self.capacity, pi.shape[1]), np.float32)
        idx = (self.pos + np.arange(len(z))) % self.capacity
        self.planes[idx], self.pi[idx], self.z[idx] = planes, pi, z
        self.pos = int((self.pos + len(z)) % self.capacity)
        self.len = min(self.capacity, self.len + len(z))

    def ordered(self) -> np.ndarray:
        """Slot indices oldest first."""
        start = (self.pos - self.len) % self.capacity
        return (start + np.arange(self.len)) % self.capacity


class SelfPlayData(DataSource):
    """Each ``next_batch`` plays ``games_per_iteration`` games with the current net (eval mode, one forward per
    search round for all games), adds every position's images under the game's symmetries (Gomoku: the 8
    dihedral ones), then samples ``batch_size`` examples uniformly once the buffer holds more than that (AZG).
    Batch: ``planes [B,C,H,W]``, ``pi [B,A]``, ``z [B]`` float32. ``workers: N`` plays the games in N CPU processes (``workers.py``; one seed per
    iteration drawn from the run's generator, so runs and resumes stay deterministic); ``inference`` picks the
    leaf evaluator (``auto``: onnxruntime on CPU, torch on CUDA)."""

    class Config(ComponentConfig):
        type: Literal["selfplay"] = "selfplay"
        net: str = "net"
        buffer_size: int = Field(10000, gt=0)
        games_per_iteration: int = Field(1, gt=0)
        workers: int = Field(0, ge=0, description="self-play processes (0: play in the training process)")
        inference: Backend = "auto"
        mcts: MctsSettings = MctsSettings()

    def __init__(self, cfg: Config, ctx: TrainContext) -> None:
        super().__init__(cfg, ctx)
        if ctx.game is None:
            raise ConfigError("data", "selfplay data needs a 'game' section")
        if cfg.net not in ctx.raw_nets:
            raise ConfigError("data.net", f"no network '{cfg.net}' (have: {', '.join(ctx.raw_nets)})")
        self.buffer = ReplayBuffer(cfg.buffer_size)
        self.games = 0
        self.positions = 0
        self.playouts = 0
        self.seconds = 0.0
        self._last: dict[str, float] = {}
        self._pool: Any = None

    def next_batch(self, batch_size: int) -> dict[str, torch.Tensor] | None:
        from boardnet.alphazero.inference import make_evaluator
        from boardnet.alphazero.selfplay import self_play

        net = self.ctx.eval_net(self.cfg.net)
        settings = self.cfg.mcts
        t0 = time.perf_counter()
        if self.cfg.workers:
            if self._pool is None:
                from boardnet.alphazero.workers import SelfPlayPool

                self._pool = SelfPlayPool(self.ctx.game, settings, self.cfg.workers, self.cfg.inference)
            res = self._pool.play(net, self.cfg.games_per_iteration, int(self.ctx.rng.integers(2**63)))
        else:
            was_training = net.training
            net.eval()
            try:
                evaluate = make_evaluator(net, self.ctx.game, self.cfg.inference, self.ctx.device)
                res = self_play(self.ctx.game, evaluate, self.cfg.games_per_iteration, settings, self.ctx.rng)
            finally:
                net.train(was_training)
        dt = time.perf_counter() - t0
        self.seconds += dt
        self.games += self.cfg.games_per_iteration
        self.positions += res.moves
        self.playouts += res.playouts
        self._last = {"games_per_s": self.cfg.games_per_iteration / dt, "playouts_per_s": res.playouts / dt,
                      "cache_hit_rate": res.cache_hit_rate}
        for planes, pi in self.ctx.game.symmetries(res.planes, res.pi):
            self.buffer.add(planes, pi, res.z)
        if self.buffer.len <= batch_size:
            return None
        idx = self.buffer.ordered()[self.ctx.rng.choice(self.buffer.len, batch_size, replace=False)]
        return {"planes": torch.from_numpy(self.buffer.planes[idx]), "pi": torch.from_numpy(self.buffer.pi[idx]),
                "z": torch.from_numpy(self.buffer.z[idx])}

    def stats(self) -> dict[str, float]:
        return dict(self._last)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def state_dict(self) -> dict[str, Any]:
        idx = self.buffer.ordered()
        state: dict[str, Any] = {"games": self.games, "positions": self.positions, "playouts": self.playouts,
                                 "seconds": self.seconds, "z": torch.from_numpy(self.buffer.z[idx].copy())}
        if self.buffer.planes is not None:
            state["planes"] = torch.from_numpy(self.buffer.planes[idx].copy())
            state["pi"] = torch.from_numpy(self.buffer.pi[idx].copy())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.games, self.positions = int(state["games"]), int(state["positions"])
        self.playouts, self.seconds = int(state["playouts"]), float(state["seconds"])
        self.buffer = ReplayBuffer(self.cfg.buffer_size)
        if "planes" in state and len(state["z"]):
            self.buffer.add(state["planes"].numpy()[-self.cfg.buffer_size:], state["pi"].numpy()[-self.cfg.buffer_size:],
                            state["z"].numpy()[-self.cfg.buffer_size:])
