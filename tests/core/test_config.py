"""Config loading: defaults, dotted overrides, and one-line errors naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.core.config import dump_yaml, identity_hash, load_config, parse_override
from boardnet.core.errors import ConfigError
from tests.train.helpers import distill_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_overrides_reach_nested_keys_and_list_elements(tmp_path: Path) -> None:
    cfg = load_config(distill_config(tmp_path), ["train.batch_size=256", "steps.0.optimizer.lr=1e-3",
                                                 "steps.0.losses.l2.semantics=keras"])
    assert cfg.train.batch_size == 256
    assert cfg.steps[0].optimizer.lr == pytest.approx(1e-3)
    assert cfg.steps[0].losses["l2"].semantics == "keras"


def test_parse_override_reads_yaml_values() -> None:
    assert parse_override("a.b=1e-3") == (["a", "b"], 1e-3)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=true") == (["a"], True)
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_override("novalue")


@pytest.mark.parametrize(
    ("override", "path", "words"),
    [
        ("train.batch_sise=3", "train.batch_sise", "unknown key"),
        ("train.batch_size=many", "train.batch_size", "valid integer"),
        ("steps.0.optimizer.lr=-1", "steps.0.optimizer.lr", "greater than 0"),
        ("steps.0.optimizer.type=adamm", "steps.0.optimizer.type", "unknown optimizer type 'adamm'"),
        ("steps.0.losses.value.pred=7", "steps.0.losses.value.pred", "valid string"),
        ("steps.0.losses.value.colour=red", "steps.0.losses.value.colour", "unknown key"),
        ("steps.0.injectors.0.net=nope", "steps.0.injectors.0.net", "no network 'nope'"),
        ("networks.net.type=resnet", "networks.net.type", "unknown network type 'resnet'"),
        ("steps.3.every=2", "steps.3", "no list element 3"),
        ("data.validation_fraction=2", "data.validation_fraction", "less than 1"),
    ],
)
def test_errors_name_the_key_path(tmp_path: Path, override: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(distill_config(tmp_path), [override])
    assert err.value.key_path == path
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2, column \d+: malformed YAML"):
        load_config(write(tmp_path, "name: x\nseed: a: b\n"))


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_unknown_config_name() -> None:
    with pytest.raises(ConfigError, match="no config file 'nope.yaml'"):
        load_config("nope.yaml")


def test_dump_round_trips_and_identity_ignores_run_length(tmp_path: Path) -> None:
    cfg = load_config(distill_config(tmp_path))
    again = load_config(write(tmp_path, dump_yaml(cfg)))
    assert dump_yaml(again) == dump_yaml(cfg)
    longer = load_config(distill_config(tmp_path), ["train.iterations=999"])
    other = load_config(distill_config(tmp_path), ["seed=4"])
    assert identity_hash(longer) == identity_hash(cfg) != identity_hash(other)


def test_cli_config_show_prints_resolved_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", str(distill_config(tmp_path)), "train.batch_size=7"]) == 0
    out = capsys.readouterr().out
    assert "batch_size: 7" in out and "semantics: tf1" in out and "max_nonfinite: 10" in out


def test_cli_reports_config_error_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", str(distill_config(tmp_path)), "train.batch_size=-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: config key 'train.batch_size'") and err.count("\n") == 1


# --- hostile config files (issues 17/19): one error line, fast, no memory blow-up ----------------------------


def _laughs(levels: int = 9) -> str:
    """The "billion laughs": 10**levels strings from a few hundred bytes of nested aliases."""
    names = "abcdefghijklmnop"
    text = f"{names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x, x]\n"
    for prev, name in zip(names, names[1:levels], strict=False):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    return text


@pytest.mark.parametrize("text,message", [
    (_laughs(), "once its aliases are expanded"),
    ("name: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than 32 levels"),
    ("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200)), "nested deeper than 32 levels"),
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
])
def test_hostile_yaml_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture, text: str, message: str) -> None:
    import time

    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert len(text) < 100_000
    start = time.monotonic()
    assert main(["config", "show", str(path)]) == 2
    assert time.monotonic() - start < 30  # before the bound: > 180 s (laughs), RecursionError (deep)
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and str(path) in err


def test_non_utf8_config_names_the_offset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"name: run\nseed: \xff\n")
    assert main(["config", "show", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path}: offset 16: not UTF-8 text (byte 0xff)\n"


@pytest.mark.parametrize("name", __import__("boardnet.core.config", fromlist=["x"]).bundled_config_names())
def test_every_bundled_config_resolved_reloads_unchanged(tmp_path: Path, name: str) -> None:
    """The resolved config a run writes (config.yaml: every default spelled out) is a valid config that resolves
    to itself: resume, gauntlet and inspect read it back."""
    cfg = load_config(name)
    again = load_config(write(tmp_path, dump_yaml(cfg)))
    assert dump_yaml(again) == dump_yaml(cfg)
