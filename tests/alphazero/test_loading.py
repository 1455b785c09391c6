"""Nets named on the command line: a chess net given to a board-game verb is one plain error pointing to ``uci``."""

from __future__ import annotations

from boardnet.cli import main
from tests.conftest import fixture_path


def test_play_with_an_lc0_net_points_to_uci(capsys):
    net = str(fixture_path("lc0", "maia-1300.pb.gz"))
    assert main(["play", net]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "config key" not in err
    assert "AlphaZero board-game nets" in err and f"boardnet uci {net}" in err
