"""``boardnet inspect`` for lc0 V6 training chunks (``.gz``): records, versions and the training targets."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from boardnet.lc0.chunks import read_chunk


def inspect_chunk(path: str | os.PathLike[str]) -> str:
    """Record count, format versions, result W/D/L counts (side to move), plies-left range, rule-50 range."""
    records = read_chunk(path)
    n = len(records)
    lines = [f"lc0 V6 training chunk {path}: {n} records"]
    if n == 0:
        return "\n".join(lines)
    versions = Counter(zip(records["version"].tolist(), records["input_format"].tolist()))
    lines.append("version/input format: " + ", ".join(f"{v}/{f} x{c}" for (v, f), c in sorted(versions.items())))
    q, d = records["result_q"], records["result_d"]
    wins, draws = int(np.sum((q > 0.5) & (d < 0.5))), int(np.sum(d > 0.5))
    lines.append(f"results (side to move): {wins} won, {draws} drawn, {n - wins - draws} lost")
    plies = records["plies_left"]
    lines.append(f"plies left: {plies.min():g}..{plies.max():g}; rule-50 count: "
                 f"{records['rule50_count'].min()}..{records['rule50_count'].max()}")
    played = records["played_idx"]
    lines.append(f"policy targets: {int(np.sum(records['probabilities'] > 0))} non-zero entries; played move "
                 f"index {played.min()}..{played.max()}")
    return "\n".join(lines)
