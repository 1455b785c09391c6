"""``boardnet inspect`` on run checkpoints and .npz files."""

from __future__ import annotations

import re
from pathlib import Path

from boardnet.cli import main
from boardnet.core.config import load_config
from boardnet.train.trainer import Trainer
from tests.conftest import fixture_path
from tests.train.helpers import distill_config


def test_inspect_a_run_checkpoint_shows_where_the_run_stands(tmp_path: Path, capsys) -> None:
    cfg = load_config(str(distill_config(tmp_path)), ["train.iterations=3", "train.checkpoint_every=3"])
    Trainer(cfg, run_dir=tmp_path / "run").run()
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "run" / "checkpoints" / "iter-000003.pt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("run: distill, iteration 3, config hash ")
    assert out[2].startswith("net net: policy_value, ") and out[2].endswith("EMA yes")
    # 3 iterations x 2 epochs; the LR is 0.002 times kl_adaptive's multiplier
    assert re.fullmatch(r"step 0: adam, lr [0-9.e-]+, 6 optimizer steps; schedule multiplier=[0-9.]+", out[3]), out[3]
    assert out[4].startswith("data (npz, 1 rank(s)): order [") and "cursor 96" in out[4]


def test_inspect_npz_lists_arrays(capsys) -> None:
    assert main(["inspect", str(fixture_path("azg", "io_6_6_4.npz"))]) == 0
    out = capsys.readouterr().out
    assert "states [" in out and "float" in out


def test_unknown_suffix_names_the_option_inspect_has(capsys) -> None:
    assert main(["inspect", "model.xyz"]) == 2
    err = capsys.readouterr().err
    assert "--from" in err and "--to" not in err
    assert main(["convert", str(fixture_path("azg", "io_6_6_4.npz")), "out.xyz"]) == 2
    assert "name it with --to" in capsys.readouterr().err
