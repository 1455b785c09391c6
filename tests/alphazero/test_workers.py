"""Process-parallel self-play: determinism, merging, errors, clean shutdown (Ctrl-C, SIGKILL), trainer wiring."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.workers import SelfPlayPool, split_games
from boardnet.core.errors import ConfigError, TrainingError


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """The process has exited (absent, or a zombie left to a non-reaping init)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def net_game():
    torch.manual_seed(0)
    return PolicyValueNet(6, 6).eval(), Gomoku(6, 4)


def test_split_games():
    assert split_games(10, 4) == [3, 3, 2, 2]
    assert split_games(1, 3) == [1, 0, 0]
    assert sum(split_games(17, 2)) == 17


def test_pool_is_deterministic_merges_and_closes(net_game):
    net, game = net_game
    with SelfPlayPool(game, MctsSettings(playouts=20), workers=2) as pool:
        pids = pool.pids
        a = pool.play(net, 5, seed=7)
        b = pool.play(net, 5, seed=7)
        c = pool.play(net, 5, seed=8)
        one = pool.play(net, 1, seed=7)  # worker 1 idle
        assert pool.net_rate(net, 4, 0.2) > 0
    assert len(a.winners) == 5 and a.planes.shape == (a.moves, 4, 6, 6) and a.playouts == 20 * a.moves
    assert a.evaluations + a.cache_hits == a.lookups and a.evaluations > 0
    for k in ("planes", "pi", "z"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.winners == b.winners
    assert not (c.moves == a.moves and np.array_equal(c.pi, a.pi))
    assert len(one.winners) == 1 and one.playouts == 20 * one.moves
    assert all(_gone(p) for p in pids)
    with pytest.raises(TrainingError, match="closed"):
        pool.play(net, 1, seed=0)


def test_worker_failure_and_death_raise_and_clean_up(net_game):
    net, game = net_game
    pool = SelfPlayPool(game, MctsSettings(playouts=5), workers=2)
    with pytest.raises(ConfigError, match="7x7 net cannot play on the 6x6 board"):
        pool.play(PolicyValueNet(7, 7), 2, seed=0)  # checked before anything is sent
    wrong = PolicyValueNet(6, 6, in_planes=5)  # fails inside the worker: the encoding has 4 planes
    with pytest.raises(TrainingError, match="worker 0 failed: [A-Za-z]+: .*") as info:
        pool.play(wrong, 2, seed=0)
    assert "\n" not in str(info.value) and "Traceback" in info.value.worker_traceback
    assert all(_gone(p) for p in pool.pids)
    pool = SelfPlayPool(game, MctsSettings(playouts=5), workers=2)
    pool.play(net, 2, seed=0)
    for sig in (signal.SIGINT, signal.SIGTERM):  # a group signal is the parent's to handle (graceful stop)
        os.kill(pool.pids[0], sig)
    pool.play(net, 2, seed=0)
    os.kill(pool.pids[1], signal.SIGKILL)
    with pytest.raises(TrainingError, match=r"worker 1 \(pid \d+\) died \(exit code -9\)"):
        pool.play(net, 2, seed=0)
    assert all(_gone(p) for p in pool.pids)
    with pytest.raises(ConfigError):
        SelfPlayPool(game, MctsSettings(), workers=0)


SCRIPT = """
import faulthandler, signal, sys, time, torch
faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for the stacks if it does not exit
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as at a terminal, even where the test runner
# was started in the background (a non-interactive shell's `cmd &` ignores SIGINT, and children inherit that)
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.net import PolicyValueNet
from boardnet.alphazero.mcts import MctsSettings
from boardnet.alphazero.workers import SelfPlayPool
if __name__ == "__main__":
    pool = SelfPlayPool(Gomoku(8, 5), MctsSettings(playouts=400), workers=2)
    net = PolicyValueNet(8, 8)
    pool.net_rate(net, 1, 0.05)
    print(*pool.pids, flush=True)
    pool.play(net, 64, seed=0)  # minutes: interrupted by the test
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_parent_leaves_no_workers(tmp_path, sig):
    script = tmp_path / "sp.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        pids = [int(x) for x in proc.stdout.readline().split()]
        assert len(pids) == 2
        time.sleep(0.5)  # mid-game
        os.killpg(proc.pid, sig) if sig == signal.SIGINT else proc.send_signal(sig)  # Ctrl-C hits the group
        try:
            rc = proc.wait(timeout=60)  # ~1 s measured
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            proc.kill()
            pytest.fail(f"still running 60 s after {sig.name}; its stacks:\n{proc.stderr.read()[-6000:]}")
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err and "boardnet-selfplay" not in err  # workers ignore SIGINT: no noise
    assert all(_gone(p) for p in pids)


def _data(tmp_path, overrides):
    from boardnet.alphazero.replay import SelfPlayData
    from boardnet.core import registry
    from boardnet.core.build import build_network
    from boardnet.core.config import load_config
    from boardnet.train.context import TrainContext

    cfg = load_config("gomoku-6x6", ["data.mcts.playouts=12", "data.games_per_iteration=3", "data.buffer_size=400",
                                     *overrides])
    game = registry.GAMES.get("gomoku").from_config(cfg.game)
    torch.manual_seed(0)
    net = build_network(cfg.networks["net"], game)
    ctx = TrainContext(cfg=cfg, run_dir=tmp_path, device=torch.device("cpu"), nets={"net": net},
                       raw_nets={"net": net}, game=game, rng=np.random.default_rng(0))
    return SelfPlayData(cfg.data, ctx), ctx


def test_trainer_data_source_with_workers_resumes_exactly(tmp_path):
    data, ctx = _data(tmp_path, ["data.workers=2"])
    try:
        data.next_batch(32)
        state, rng_state = data.state_dict(), ctx.rng.bit_generator.state
        b1 = data.next_batch(32)
        pids = data._pool.pids
        assert data.stats()["playouts_per_s"] > 0 and 0 <= data.stats()["cache_hit_rate"] < 1
    finally:
        data.close()
    assert all(_gone(p) for p in pids)
    data2, ctx2 = _data(tmp_path, ["data.workers=2"])
    try:
        data2.load_state_dict(state)
        ctx2.rng.bit_generator.state = rng_state
        b2 = data2.next_batch(32)
    finally:
        data2.close()
    for k in ("planes", "pi", "z"):
        torch.testing.assert_close(b1[k], b2[k], rtol=0, atol=0)


def test_selfplay_command_with_workers(tmp_path, capsys):
    from boardnet.cli import main

    out = tmp_path / "g.npz"
    assert main(["selfplay", "gomoku-6x6", "--games", "3", "--playouts", "10", "--workers", "2", "--out",
                 str(out)]) == 0
    text = capsys.readouterr().out
    assert "3 games" in text and "cache hits" in text and "net evaluations/s" in text
    with np.load(out) as f:
        assert f["planes"].shape[1:] == (4, 6, 6) and len(f["pi"]) == len(f["z"])
    assert main(["selfplay", "gomoku-6x6", "--workers", "-1"]) == 2
    assert "'--workers': must not be negative (got -1)" in capsys.readouterr().err
