"""Process-parallel self-play: N worker processes, each playing its share of the games with the current weights.

Why processes: on CPU the search's numpy work and the net's forward passes run in one Python thread; one process
per core, each with one intra-op thread, keeps every core busy with no thread synchronisation inside the small
forward passes (the 8x8 net at batch 32 runs ~7k positions/s on one thread; two threads in one process reach
~13k only at large batches while the tree work in between is still serial).

Protocol (parent ↔ each worker, one ``multiprocessing`` pipe, request/reply): ``("play", NetPayload, n_games,
seed, concurrency)`` -> ``("ok", SelfPlayResult)`` or ``("error", traceback text)``; ``("net_rate", NetPayload, batch,
seconds)`` -> ``("ok", positions/s)`` (the net alone, for the benchmark); ``("stop",)``. Weights travel with every
request as a :class:`~boardnet.alphazero.inference.NetPayload` (0.5 MB for the 8x8 net: ~1 ms through a pipe, so
shared memory would buy nothing and would need locking against the trainer's updates).

Determinism: worker ``i`` seeds its generator with ``SeedSequence(seed, spawn_key=(i,))``; games are split in
order (worker 0 gets the first share) and results merged in worker order, so a fixed ``seed`` and worker count give
the same games every time.

Shutdown: :meth:`SelfPlayPool.close` (also on ``with`` exit, garbage collection and interpreter exit) asks each
worker to stop, then kills the ones that do not within a few seconds. Workers ignore SIGINT and SIGTERM (Ctrl-C,
``timeout`` and ``kill %1`` reach the whole process group; the parent decides and stops gracefully), exit when their pipe closes, and on Linux ask the kernel to
kill them if the parent dies (``PR_SET_PDEATHSIG``), so a SIGKILLed trainer leaves no orphans. An exception or a
dead worker while playing closes the pool and raises :class:`~boardnet.core.errors.TrainingError`.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import sys
import time
import traceback
import weakref
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from boardnet.alphazero.game import Game
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.selfplay import SelfPlayResult, merge_results
from boardnet.core.errors import ConfigError, TrainingError

# Seconds a worker gets to stop after ("stop",) before it is terminated.
STOP_GRACE_S = 5.0
# Seconds between liveness checks while waiting for a reply.
POLL_S = 0.5


def split_games(n_games: int, n_workers: int) -> list[int]:
    """Games per worker, as even as possible, the larger shares first: ``split_games(10, 4) == [3, 3, 2, 2]``."""
    base, extra = divmod(n_games, n_workers)
    return [base + (i < extra) for i in range(n_workers)]


def worker_rng(seed: int, index: int) -> np.random.Generator:
    """Worker ``index``'s generator for a request seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


class SelfPlayPool:
    """``workers`` processes playing self-play games for ``game`` with ``settings``.

    ``inference`` is the leaf-evaluator backend inside the workers (one of ``boardnet.alphazero.backends.BACKENDS``,
    see ``inference.py``); each worker uses one thread. Workers start at construction (spawned: a few seconds to
    import torch) and live until :meth:`close`. Use as a context manager.
    """

    def __init__(self, game: Game, settings: MctsSettings, workers: int, inference: str = "auto",
                 start_method: str = "spawn") -> None:
        from boardnet.alphazero.inference import resolve_backend

        if workers < 1:
            raise ConfigError("workers", f"need at least one worker process (got {workers})")
        self.game, self.settings, self.n = game, settings, workers
        self.backend = resolve_backend(inference, "cpu")
        ctx = mp.get_context(start_method)
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        try:
            for i in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(child, game, settings, self.backend, i), daemon=True,
                                   name=f"boardnet-selfplay-{i}")
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
        except BaseException:
            _shutdown(self._procs, self._conns, grace=0.0)
            raise
        self._finalizer = weakref.finalize(self, _shutdown, self._procs, self._conns, STOP_GRACE_S)

    # ------------------------------------------------------------------ requests
    def play(self, net: Any, n_games: int, seed: int, concurrency: int | None = None) -> SelfPlayResult:
        """``n_games`` self-play games with ``net``'s current weights, split over the workers, each keeping up to
        ``concurrency`` games in flight (default: its whole share); merged result in game order."""
        from boardnet.alphazero.inference import NetPayload

        game = self.game
        if (getattr(net, "height", game.height), getattr(net, "width", game.width)) != (game.height, game.width):
            raise ConfigError("networks", f"a {net.height}x{net.width} net cannot play on the "
                                          f"{game.height}x{game.width} board")
        payload = NetPayload.of(net)
        shares = split_games(n_games, self.n)
        busy = [i for i, k in enumerate(shares) if k > 0]
        replies = self._ask({i: ("play", payload, shares[i], int(seed), concurrency) for i in busy})
        return merge_results([replies[i] for i in busy])

    def net_rate(self, net: Any, batch: int, seconds: float) -> float:
        """Positions/s of the net alone, all workers at once, each on batches of ``batch`` self-play-like
        positions (encode + forward + copy back, as in the search): the sum over workers."""
        from boardnet.alphazero.inference import NetPayload

        payload = NetPayload.of(net)
        replies = self._ask({i: ("net_rate", payload, batch, seconds) for i in range(self.n)})
        return float(sum(replies.values()))

    def _ask(self, requests: dict[int, tuple]) -> dict[int, Any]:
        if not self._finalizer.alive:
            raise TrainingError("self-play worker pool is closed")
        try:
            for i, req in requests.items():
                try:
                    self._conns[i].send(req)
                except OSError:  # broken pipe: the worker is gone
                    raise TrainingError(self._died(i)) from None
            return {i: self._reply(i) for i in requests}
        except BaseException:
            self.close(grace=0.0)  # workers may be mid-request: do not wait for them
            raise

    def _reply(self, i: int) -> Any:
        conn, proc = self._conns[i], self._procs[i]
        while not conn.poll(POLL_S):
            if not proc.is_alive():
                raise TrainingError(self._died(i))
        try:
            status, value = conn.recv()
        except (EOFError, OSError):
            raise TrainingError(self._died(i)) from None
        if status != "ok":  # one line for the CLI; the worker's whole traceback rides along for --debug
            summary, tb = value
            err = TrainingError(f"self-play worker {i} failed: {summary}")
            err.worker_traceback = tb  # type: ignore[attr-defined]
            if hasattr(err, "add_note"):
                err.add_note(f"worker traceback:\n{tb}")
            raise err
        return value

    def _died(self, i: int) -> str:
        proc = self._procs[i]
        proc.join(1.0)
        return f"self-play worker {i} (pid {proc.pid}) died (exit code {proc.exitcode})"

    # ------------------------------------------------------------------ lifetime
    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def close(self, grace: float = STOP_GRACE_S) -> None:
        """Stop the workers (idempotent): ask, wait up to ``grace`` s, then terminate."""
        if self._finalizer.detach() is not None:
            _shutdown(self._procs, self._conns, grace)

    def __enter__(self) -> SelfPlayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(grace=STOP_GRACE_S if exc[0] is None else 0.0)


def _shutdown(procs: list[Any], conns: list[Connection], grace: float) -> None:
    for conn in conns:
        with contextlib.suppress(OSError, ValueError):  # worker gone or pipe already closed
            conn.send(("stop",))
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():  # workers ignore SIGINT and SIGTERM
            proc.kill()
            proc.join()
    for conn in conns:
        conn.close()


# ---------------------------------------------------------------------- worker side
def _worker_main(conn: Connection, game: Game, settings: MctsSettings, backend: str, index: int) -> None:
    """Serve requests until ``("stop",)`` or the pipe closes. One thread for torch and onnxruntime."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # `timeout`, `kill %1`: the trainer stops gracefully, not they
    _die_with_parent()
    import torch

    torch.set_num_threads(1)
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        if req[0] == "stop":
            return
        try:
            conn.send(("ok", _serve(req, game, settings, backend, index)))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            conn.send(("error", (f"{type(exc).__name__}: {first}", traceback.format_exc())))


def _serve(req: tuple, game: Game, settings: MctsSettings, backend: str, index: int) -> Any:
    from boardnet.alphazero.inference import make_evaluator, net_alone_rate
    from boardnet.alphazero.selfplay import self_play

    kind, payload = req[0], req[1]
    evaluate = make_evaluator(payload.build(), game, backend, threads=1)
    if kind == "play":
        _, _, n_games, seed, concurrency = req
        return self_play(game, evaluate, n_games, settings, worker_rng(seed, index), concurrency)
    if kind == "net_rate":
        _, _, batch, seconds = req
        return net_alone_rate(game, evaluate, batch, seconds, np.random.default_rng(index))
    raise ValueError(f"unknown request {kind!r}")


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent exits (no orphaned workers after ``kill -9`` of a trainer)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    # no glibc (musl, ...): nothing to set; the pipe's EOF still ends an idle worker
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
