"""``boardnet inspect`` for ``.pt`` files: a run checkpoint shows where its run stands (iteration, nets,
optimizers and schedules, data position, evaluators); any other ``.pt`` net gets the generic report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from boardnet.core.convert import BY_NAME, describe_netfile, read_net
from boardnet.core.io import safe_torch_load
from boardnet.train.checkpoint import FORMAT, load_checkpoint


def describe_value(value: Any) -> str:
    """A short rendering of one state entry: numbers as they are, tensors as ``[shape] dtype``."""
    if isinstance(value, torch.Tensor):
        return f"[{','.join(map(str, value.shape))}] {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return str(value)


def optimizer_line(i: int, step: dict[str, Any], cfg_steps: list[dict[str, Any]]) -> str:
    opt = step.get("optimizer", {})
    groups = opt.get("param_groups", [])
    lr = ", ".join(f"{g.get('lr', float('nan')):.4g}" for g in groups)
    states = opt.get("state", {})
    counts = {int(s["step"]) for s in states.values() if isinstance(s, dict) and "step" in s}
    kind = cfg_steps[i].get("optimizer", {}).get("type", "?") if i < len(cfg_steps) else "?"
    sched = step.get("schedule", {})
    sched_text = " ".join(f"{k}={describe_value(v)}" for k, v in sched.items()) if isinstance(sched, dict) else ""
    steps = f", {max(counts)} optimizer steps" if counts else ""
    return f"step {i}: {kind}, lr {lr}{steps}" + (f"; schedule {sched_text}" if sched_text else "")


def describe_checkpoint(path: Path, ckpt: dict[str, Any]) -> str:
    cfg = ckpt.get("config", {})
    lines = [f"boardnet run checkpoint {path}",
             f"run: {cfg.get('name', '?')}, iteration {ckpt['iteration']}, config hash {ckpt.get('config_hash', '?')}"]
    for name, net in ckpt["nets"].items():
        n = sum(t.numel() for t in net["state_dict"].values())
        family = net.get("spec", {}).get("family", "?")
        lines.append(f"net {name}: {family}, {n:,} parameters, EMA {'yes' if net.get('ema') else 'no'}")
    for i, step in enumerate(ckpt["trainer"].get("steps", [])):
        lines.append(optimizer_line(i, step, cfg.get("steps", [])))
    ranks = ckpt["ranks"]
    data = ranks[0].get("data", {}) if ranks else {}
    position = ", ".join(f"{k} {describe_value(v)}" for k, v in data.items())
    lines.append(f"data ({cfg.get('data', {}).get('type', '?')}, {len(ranks)} rank(s)): {position or 'no state'}")
    for ev in ckpt["trainer"].get("evaluators", []):
        if ev:
            lines.append("evaluator: " + ", ".join(f"{k} {describe_value(v)}" for k, v in ev.items()))
    streak, total = ckpt["trainer"].get("nonfinite_streak", 0), ckpt["trainer"].get("nonfinite_total", 0)
    lines.append(f"non-finite losses skipped: {total} ({streak} in a row at the end)")
    return "\n".join(lines)


def inspect_file(path: str | os.PathLike[str]) -> str:
    """A run checkpoint's state, or the generic report of a ``.pt`` net."""
    p = Path(path)
    data = safe_torch_load(p)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return describe_checkpoint(p, load_checkpoint(p))
    return describe_netfile(read_net(p, "pt"), p, BY_NAME["pt"])
