"""Progress of long commands: periodic plain lines without a terminal, the closing line, busy steps."""

from __future__ import annotations

import io
import time

import pytest

from boardnet.core.progress import Progress, summary


def test_summary_names_losses_validation_and_evaluators() -> None:
    line = summary(7, 50, {"loss": 1.25, "loss/policy": 0.9, "val/loss": 1.5, "eval/win_rate": 0.6,
                           "data/games_per_s": 2.0, "time/iteration_s": 3.0})
    assert line == "iteration 7/50: loss=1.25 policy=0.9 val/loss=1.5 win_rate=0.6 games/s=2"


def test_without_a_terminal_progress_prints_periodic_lines() -> None:
    now = [0.0]
    out = io.StringIO()  # not a tty
    p = Progress("run", 0, 10, enabled=True, every_s=5.0, stream=out, clock=lambda: now[0])
    with p:
        for it in range(1, 11):
            now[0] += 2.0  # an iteration every 2 s: a line at most every 5 s
            p.update(it, {"loss": 1.0 / it})
        p.checkpoint(10, {"loss": 0.1})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("iteration 1/10: loss=1")
    assert [ln.split(":")[0] for ln in lines] == ["iteration 1/10", "iteration 4/10", "iteration 7/10",
                                                  "iteration 10/10", "iteration 10/10"]
    assert lines[-1].endswith("[checkpoint saved]")
    silent = io.StringIO()
    Progress("run", 0, 10, enabled=False, silent=True, stream=silent).checkpoint(3, {"loss": 1.0})
    assert silent.getvalue() == ""


def test_counts_with_rate_and_a_closing_line() -> None:
    now = [0.0]
    out = io.StringIO()
    with Progress("label", 0, None, enabled=True, every_s=3.0, stream=out, clock=lambda: now[0],
                  unit="position") as p:
        for n in range(1, 7):
            now[0] += 1.0  # one position a second: a line every 3 s
            p.update(n, info=f"skipped {n // 2}")
        p.finish("skipped 3")
    lines = out.getvalue().splitlines()
    assert lines == ["label: 1 position (1.0 positions/s) skipped 0",
                     "label: 4 positions (1.0 positions/s) skipped 2",
                     "label: done, 6 positions in 6.0 s (1.0 positions/s); skipped 3"]
    quiet = io.StringIO()
    with Progress("x", 0, 10, enabled=False, stream=quiet, unit="game") as p:
        p.update(5, info="a")
        p.finish("b")
    assert quiet.getvalue() == ""


def test_a_busy_step_keeps_talking() -> None:
    out = io.StringIO()
    with Progress("convert", 0, 1, enabled=True, every_s=0.05, stream=out, unit="step") as p:
        with p.busy("reading big.pb.gz"):
            time.sleep(0.3)
        p.update(1, info="read")
        p.finish(rate=False)
    lines = out.getvalue().splitlines()
    assert lines[0] == "convert: reading big.pb.gz"
    assert len([ln for ln in lines if ln.startswith("convert: reading big.pb.gz (")]) >= 2  # one per 0.05 s
    assert lines[-1].startswith("convert: done, 1 step in ") and lines[-1].endswith(" s")


def test_quiet_start_prints_nothing_in_the_first_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    with Progress("nnue data", 0, 100, enabled=True, every_s=10.0, stream=out, clock=lambda: now[0],
                  unit="position", quiet_start=True) as p:
        for n in (20, 40, 60):
            now[0] += 4.0
            p.update(n)
        with p.busy("writing"):  # a line is due only 10 s after the last one (at 12 s)
            pass
        p.finish()
    assert out.getvalue().splitlines() == ["nnue data: 60/100 positions (5.0 positions/s)",
                                           "nnue data: done, 60 positions in 12.0 s (5.0 positions/s)"]


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_progress_every_refuses_what_is_not_seconds(value: str, capsys) -> None:
    from boardnet.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["nnue", "data", "in.binpack", "--progress-every", value])
    assert exc.value.code == 2 and "--progress-every" in capsys.readouterr().err
