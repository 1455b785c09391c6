"""The training loop: config -> networks, data, steps, evaluators -> checkpoints, metrics, plots.

One iteration::

    batch = data.next_batch(train.batch_size)          # e.g. self-play games -> replay buffer -> sample
    repeat train.epochs_per_batch times:                # AZG: up to 5 updates on the same batch,
        for each due step: step.run(batch)              #      stopped early when the policy KL > 4 * target
    kl_adaptive schedules move their LR multiplier; EMA update
    evaluators every N iterations (rank 0); checkpoint every train.checkpoint_every iterations

A run directory holds ``config.yaml`` (resolved), ``checkpoints/``, ``metrics.csv``, ``tensorboard/`` and
``plots/metrics.png``. Training into an existing run directory resumes exactly from its newest checkpoint:
weights, EMA, optimizers, schedules, RNG states (python, numpy, torch, the run's generator), the data
source (replay buffer) and counters, so a killed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from boardnet.core import registry
from boardnet.core.build import build_network
from boardnet.core.config import Config, dump_yaml, identity_hash, to_plain
from boardnet.core.errors import ConversionError, TrainingError
from boardnet.core.io import atomic_write, spec_to_dict
from boardnet.core.progress import Progress
from boardnet.train import distributed
from boardnet.train.checkpoint import list_checkpoints, load_latest, save_checkpoint
from boardnet.train.context import TrainContext
from boardnet.train.ema import Ema
from boardnet.train.lock import RunLock
from boardnet.train.loggers import build_loggers, check_available
from boardnet.train.metrics import MetricsLog, plot_metrics
from boardnet.train.progress import GracefulStop
from boardnet.train.steps import Step


def default_run_dir(cfg: Config) -> Path:
    return Path(cfg.train.out) / cfg.name


class Trainer:
    """Builds everything a config describes and runs (or resumes) it.

    Args:
        cfg: resolved config.
        run_dir: where to write; default ``<train.out>/<name>``.
        force: train into a run directory made from a different config (resuming what still fits).
        init: ``{net_name: file}`` weights to start from (any format ``boardnet convert`` reads); ignored
            when resuming.
    """

    def __init__(self, cfg: Config, run_dir: str | Path | None = None, force: bool = False,
                 init: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        check_available(cfg.train.loggers)  # before anything is written
        self.rank, local_rank, self.world_size = distributed.world()
        self.device = device = distributed.pick_device(cfg.train.device, local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        distributed.init(device)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.run_dir = Path(run_dir) if run_dir is not None else default_run_dir(cfg)
        self.config_hash = identity_hash(cfg)
        self.force = force
        self._lock: RunLock | None = None
        created = self._prepare_run_dir()
        self._created = created and self.rank == 0
        try:
            self._build(cfg, init)
        except BaseException:  # a failed start leaves no run directory holding only config.yaml
            self.release()
            self._discard_new_run_dir()
            raise

    def _build(self, cfg: Config, init: dict[str, str] | None) -> None:
        device = self.device
        _seed_all(cfg.seed)  # identical initial weights on every rank
        game = registry.GAMES.get(cfg.game.type).from_config(cfg.game) if cfg.game is not None else None
        raw_nets = {name: build_network(net_cfg, game).to(device) for name, net_cfg in cfg.networks.items()}
        self.emas = {name: Ema(net, cfg.train.ema.decay) for name, net in raw_nets.items()} if cfg.train.ema else {}
        self.ctx = TrainContext(
            cfg=cfg, run_dir=self.run_dir, device=device, nets=dict(raw_nets), raw_nets=raw_nets,
            ema_nets={n: e.module for n, e in self.emas.items()}, game=game,
            rng=np.random.default_rng([cfg.seed, self.rank]), rank=self.rank, world_size=self.world_size,
        )
        _seed_all(cfg.seed * 7919 + self.rank)  # per-rank streams from here on
        self.steps = [Step(step_cfg, i, self.ctx) for i, step_cfg in enumerate(cfg.steps)]
        if not self.steps:
            raise TrainingError("the config has no steps: nothing to train")
        self.data = registry.DATA.get(cfg.data.type)(cfg.data, self.ctx) if cfg.data is not None else None
        if self.data is None:
            raise TrainingError("the config has no data section: nothing to train on")
        self.ctx.data, self.ctx.steps = self.data, self.steps
        self.evaluators = [registry.EVALUATORS.get(ev.type)(ev, self.ctx) for ev in cfg.evaluators]
        self.iteration = 0
        self.nonfinite_streak = 0
        self.nonfinite_total = 0
        self.resumed_from: int | None = None
        if not self._resume() and init:
            self._load_init(init)
        self._wrap_ddp()
        self.log = None
        if self.rank == 0:
            loggers = build_loggers(cfg.train.loggers, self.run_dir, cfg.name, to_plain(cfg))
            self.log = MetricsLog(self.run_dir, self.iteration, cfg.train.tensorboard, config_yaml=dump_yaml(cfg),
                                  loggers=loggers)
            text = f"# boardnet run config; identity {self.config_hash}\n" + dump_yaml(self.cfg)
            atomic_write(self.run_dir / "config.yaml", lambda tmp: Path(tmp).write_text(text))

    # ---------------------------------------------------------------------------------------- set-up

    def _prepare_run_dir(self) -> bool:
        """Refuse a run directory that is not a folder, is in use (lock) or was made from a different config
        (unless forced); True when this call created it. config.yaml is written once everything is built."""
        cfg_file = self.run_dir / "config.yaml"
        created = False
        if self.rank == 0:
            if self.run_dir.exists() and not self.run_dir.is_dir():
                raise TrainingError(f"{self.run_dir}: not a directory; --run-dir names the folder of a run")
            created = not self.run_dir.exists()
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise TrainingError(f"{self.run_dir}: cannot create the run directory: {err.strerror}") from None
            try:
                self._lock = RunLock(self.run_dir)
            except BaseException:
                if created:
                    shutil.rmtree(self.run_dir, ignore_errors=True)
                raise
            if cfg_file.exists() and list_checkpoints(self.run_dir):
                old_hash = _stored_hash(cfg_file)
                if old_hash != self.config_hash and not self.force:
                    self.release()
                    raise TrainingError(
                        f"{self.run_dir} holds a run of a different config (hash {old_hash}, this one "
                        f"{self.config_hash}); use another run directory, or --force to continue it anyway"
                    )
        distributed.barrier()
        return created

    def _discard_new_run_dir(self) -> None:
        """After a failure: remove the run directory if this command created it and no checkpoint is in it
        (nothing there can be resumed; one with checkpoints is kept for the same command to resume)."""
        if self._created and not list_checkpoints(self.run_dir):
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def release(self) -> None:
        """Give up the run directory's lock (done at the end of :meth:`run`; safe to call twice)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _load_init(self, init: dict[str, str]) -> None:
        from boardnet.core.convert import read_net

        for name, path in init.items():
            if name not in self.ctx.raw_nets:
                raise ConversionError(f"--init {name}={path}: no network '{name}' (have: {', '.join(self.ctx.raw_nets)})")
            net = self.ctx.raw_nets[name]
            loaded = read_net(path)
            load_weights(net, loaded.state_dict, f"--init {path}")
            if name in self.emas:
                self.emas[name].module.load_state_dict(net.state_dict())

    def _wrap_ddp(self) -> None:
        if self.world_size == 1:
            return
        for name, net in self.ctx.raw_nets.items():
            if any(p.requires_grad for p in net.parameters()):
                ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
                self.ctx.nets[name] = nn.parallel.DistributedDataParallel(net, device_ids=ids)

    # ------------------------------------------------------------------------------------ checkpoints

    def _payload(self) -> dict[str, Any] | None:
        rank_state = {
            "python_rng": random.getstate(),
            "numpy_rng": _numpy_state_to_plain(np.random.get_state()),
            "torch_rng": torch.get_rng_state(),
            "ctx_rng": self.ctx.rng.bit_generator.state,
            "data": self.data.state_dict(),
        }
        ranks = distributed.gather_objects(rank_state)
        if self.rank != 0:
            return None
        nets = {}
        for name, net in self.ctx.raw_nets.items():
            spec = net.spec() if hasattr(net, "spec") else None
            nets[name] = {
                "spec": spec_to_dict(spec) if spec is not None else {"family": self.cfg.networks[name].type},
                "state_dict": net.state_dict(),
                "ema": self.emas[name].module.state_dict() if name in self.emas else None,
            }
        trainer = {
            "steps": [s.state_dict() for s in self.steps],
            "ema": {n: e.state_dict() for n, e in self.emas.items()},
            "evaluators": [e.state_dict() for e in self.evaluators],
            "nonfinite_streak": self.nonfinite_streak,
            "nonfinite_total": self.nonfinite_total,
        }
        return {"config_hash": self.config_hash, "config": to_plain(self.cfg), "nets": nets,
                "trainer": trainer, "ranks": ranks}

    def save(self) -> None:
        payload = self._payload()
        if payload is not None:
            save_checkpoint(self.run_dir, self.iteration, payload, self.cfg.train.keep_checkpoints)
            if self.cfg.train.plot and self.log is not None and self.log.rows:
                plot_metrics(self.log.rows, self.run_dir / "plots" / "metrics.png", self.cfg.name)
        distributed.barrier()

    def _resume(self) -> bool:
        ckpt = load_latest(self.run_dir)
        if ckpt is None:
            return False
        same = ckpt.get("config_hash") == self.config_hash
        for name, net in self.ctx.raw_nets.items():
            if name not in ckpt["nets"]:
                raise TrainingError(f"checkpoint of iteration {ckpt['iteration']} has no network '{name}'")
            entry = ckpt["nets"][name]
            load_weights(net, entry["state_dict"], f"checkpoint iteration {ckpt['iteration']}")
            if name in self.emas:
                state = ckpt["trainer"]["ema"].get(name)
                if state is not None:
                    self.emas[name].load_state_dict(state)
                else:
                    self.emas[name].module.load_state_dict(net.state_dict())
        trainer = ckpt["trainer"]
        for step, state in zip(self.steps, trainer["steps"]):
            try:
                step.load_state_dict(state)
            except (ValueError, KeyError) as err:
                if same:
                    raise TrainingError(f"cannot restore optimizer of step '{step.name}': {err}") from None
                print(f"warning: step '{step.name}': optimizer state not restored ({err})", file=sys.stderr)
        for ev, state in zip(self.evaluators, trainer.get("evaluators", [])):
            ev.load_state_dict(state)
        self.nonfinite_streak = int(trainer.get("nonfinite_streak", 0))
        self.nonfinite_total = int(trainer.get("nonfinite_total", 0))
        ranks = ckpt["ranks"]
        if self.rank < len(ranks):
            state = ranks[self.rank]
            random.setstate(_to_tuple(state["python_rng"]))
            np.random.set_state(_numpy_state_from_plain(state["numpy_rng"]))
            torch.set_rng_state(state["torch_rng"])
            self.ctx.rng.bit_generator.state = state["ctx_rng"]
            self.data.load_state_dict(state["data"])
        elif self.rank == 0 or len(ranks) != self.world_size:
            print(f"warning: checkpoint has {len(ranks)} rank states; rank {self.rank} starts fresh data",
                  file=sys.stderr)
        self.iteration = int(ckpt["iteration"])
        self.resumed_from = self.iteration
        return True

    # ------------------------------------------------------------------------------------------ loop

    def run(self) -> dict[str, float]:
        """Train until ``train.iterations``; returns the last logged metrics."""
        cfg = self.cfg.train
        last: dict[str, float] = {}
        progress = Progress(self.cfg.name, self.iteration, cfg.iterations, enabled=cfg.progress and self.rank == 0,
                            every_s=cfg.progress_every_s, silent=self.rank != 0)
        say = progress.print
        if self.resumed_from is not None:
            say(f"resuming {self.run_dir} from iteration {self.resumed_from}")
        stop = GracefulStop(say)
        failed = True
        try:
            with progress, stop:
                while self.iteration < cfg.iterations:
                    self.iteration += 1
                    self.ctx.iteration = self.iteration
                    t0 = time.perf_counter()
                    metrics = self._iteration()
                    metrics["time/iteration_s"] = time.perf_counter() - t0
                    if self.evaluators:
                        metrics.update(self._evaluate())
                    if self.log is not None and (self.iteration % cfg.log_every == 0 or
                                                 self.iteration == cfg.iterations):
                        self.log.log(self.iteration, metrics)
                    last = metrics
                    stopping = distributed.any_true(stop.requested is not None)
                    if stopping or self.iteration % cfg.checkpoint_every == 0 or self.iteration == cfg.iterations:
                        self.save()
                        if self.log is not None:
                            self.log.flush()
                        progress.checkpoint(self.iteration, metrics)
                    else:
                        progress.update(self.iteration, metrics)
                    if stopping:
                        say(f"stopped by {stop.requested or 'another rank'} after iteration {self.iteration}/"
                            f"{cfg.iterations}; checkpoint saved, the same command resumes from here")
                        break
            failed = False
        finally:
            if self.log is not None:
                self.log.close()
            self.data.close()
            self.release()
            if failed:
                self._discard_new_run_dir()
            distributed.shutdown()  # the run is over: leave the process group (DDP), whatever ended it
        return last

    def _iteration(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        batch = self.data.next_batch(self.cfg.train.batch_size)
        if batch is not None:
            batch = {k: v.to(self.ctx.device, non_blocking=True) for k, v in batch.items()}
            metrics.update(self._train_on(batch))
        for key, value in self.data.stats().items():
            metrics[f"data/{key}"] = float(value)
        metrics["nonfinite_skips"] = float(self.nonfinite_total)
        return metrics

    def _train_on(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        due = [s for s in self.steps if s.due(self.iteration)]
        for step in due:
            step.set_lr(self.iteration)
        adaptive = [s for s in due if s.schedule.adaptive]
        old = {s.index: s.peek(batch, s.cfg.schedule.pred, self.ctx) for s in adaptive}
        sums: dict[str, float] = {}
        kl = {}
        for _epoch in range(self.cfg.train.epochs_per_batch):
            for step in due:
                result = step.run(batch, self.ctx, self.cfg.train.amp)
                if result is None:
                    self._nonfinite(step)
                    continue
                self.nonfinite_streak = 0
                prefix = f"{step.name}/" if len(self.steps) > 1 else ""
                for key, value in result.items():
                    name = key if key in ("lr", "grad_norm", "loss") else f"loss/{key}"
                    sums[prefix + name] = value
            for step in adaptive:
                kl[step.index] = self._kl(step, old[step.index], batch)
            if any(s.schedule.early_stop(kl[s.index]) for s in adaptive):
                break
        for step in adaptive:
            step.schedule.update(kl[step.index])
            prefix = f"{step.name}/" if len(self.steps) > 1 else ""
            sums[prefix + "kl"] = kl[step.index]
            sums[prefix + "lr_multiplier"] = step.schedule.multiplier
        for name, ema in self.emas.items():
            if self.iteration % self.cfg.train.ema.every == 0:
                ema.update(self.ctx.raw_nets[name])
        return {k: distributed.mean_across_ranks(v, self.ctx.device) for k, v in sorted(sums.items())}

    def _kl(self, step: Step, old_logp: torch.Tensor, batch: dict[str, torch.Tensor]) -> float:
        """Mean KL(old || new) of the step's policy on this batch (averaged over ranks)."""
        new_logp = step.peek(batch, step.cfg.schedule.pred, self.ctx)
        terms = torch.where(old_logp > -torch.inf, old_logp.exp() * (old_logp - new_logp), torch.zeros_like(old_logp))
        return distributed.mean_across_ranks(float(terms.sum(-1).mean()), self.ctx.device)

    def _nonfinite(self, step: Step) -> None:
        self.nonfinite_streak += 1
        self.nonfinite_total += 1
        print(f"warning: iteration {self.iteration}, step '{step.name}': non-finite loss, update skipped "
              f"({self.nonfinite_streak} in a row)", file=sys.stderr)
        if self.nonfinite_streak >= self.cfg.train.max_nonfinite:
            kept = list_checkpoints(self.run_dir)
            where = f"; last checkpoint: {kept[-1]}" if kept else ""
            raise TrainingError(f"stopping: non-finite loss in {self.nonfinite_streak} updates in a row "
                                f"(train.max_nonfinite = {self.cfg.train.max_nonfinite}){where}")

    def _evaluate(self) -> dict[str, float]:
        out: dict[str, float] = {}
        due = [ev for ev in self.evaluators if self.iteration % ev.cfg.every == 0]
        if not due:
            return out
        if self.rank == 0:
            for ev in due:
                for key, value in ev.evaluate(self.ctx).items():
                    # evaluators may namespace their keys ("eval/win_rate", "val/loss"); bare names go under eval/
                    out[key if "/" in key else f"eval/{key}"] = float(value)
        distributed.barrier()
        return out


# -------------------------------------------------------------------------------------------- helpers


def load_weights(net: nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """``net.load_state_dict(state_dict)`` (strict) with one clear error naming what does not fit."""
    own = net.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {list(state_dict[k].shape)} vs {list(own[k].shape)}" for k in own
              if k in state_dict and state_dict[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append(f"shape mismatch {'; '.join(shapes[:5])}")
    if problems:
        raise ConversionError(f"{source}: weights do not fit the network: {'; '.join(problems)}")
    net.load_state_dict(state_dict)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _stored_hash(cfg_file: Path) -> str | None:
    first = cfg_file.read_text().splitlines()[:1]
    if first and first[0].startswith("# boardnet run config; identity "):
        return first[0].rsplit(" ", 1)[-1]
    try:
        from boardnet.core.config import resolve

        return identity_hash(resolve(yaml.safe_load(cfg_file.read_text())))
    except Exception:  # an unreadable old config is simply "different"
        return None


def _numpy_state_to_plain(state: tuple[Any, ...]) -> list[Any]:
    name, keys, pos, has_gauss, cached = state
    return [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)]


def _numpy_state_from_plain(state: list[Any]) -> tuple[Any, ...]:
    name, keys, pos, has_gauss, cached = state
    return (name, keys.numpy().astype(np.uint32), pos, has_gauss, cached)


def _to_tuple(obj: Any) -> Any:
    return tuple(_to_tuple(x) for x in obj) if isinstance(obj, (list, tuple)) else obj
