"""NetFile facts shared by inspect and convert."""

from __future__ import annotations

import pytest

from boardnet.core.build import build_from_spec
from boardnet.core.convert import read_net
from tests.conftest import fixture_path


@pytest.mark.parametrize("parts", [("lc0", "maia-1300.pb.gz"), ("lc0_transformer", "bt-a-pemap-mish.pb.gz"),
                                   ("azg", "best_policy_6_6_4.model")])
def test_parameter_count_is_the_models_learned_parameters(parts) -> None:
    nf = read_net(fixture_path(*parts))
    net = build_from_spec(nf.spec)
    assert nf.n_parameters == sum(p.numel() for p in net.parameters())


def test_inspect_and_convert_print_the_same_count(tmp_path, capsys) -> None:
    from boardnet.cli import main

    net = fixture_path("lc0", "maia-1300.pb.gz")
    assert main(["inspect", str(net)]) == 0
    shown = capsys.readouterr().out.split("parameters: ")[1].split()[0]
    assert main(["convert", str(net), str(tmp_path / "m.safetensors"), "--no-progress"]) == 0
    assert f"{shown} parameters" in capsys.readouterr().out
