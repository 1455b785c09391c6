"""The CLI front: argument parsing and one-line errors."""

from __future__ import annotations

import pytest

from boardnet.cli import build_parser, main, one_line, parse_args


def test_overrides_may_follow_options() -> None:
    args = parse_args(build_parser(), ["train", "gomoku-6x6", "train.iterations=3", "--force", "seed=1"])
    assert args.config == "gomoku-6x6"
    assert args.force
    assert args.overrides == ["train.iterations=3", "seed=1"]


def test_unknown_option_is_still_an_error() -> None:
    with pytest.raises(SystemExit):
        parse_args(build_parser(), ["train", "gomoku-6x6", "--no-such-option"])


def test_config_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "gomoku-6x6", "train.batch_size=-3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "train.batch_size" in err[0]


def test_error_messages_print_as_one_line() -> None:
    """Libraries' messages may span lines (pickle's persistent-id error did): the CLI joins them."""
    assert one_line("f.model: A load persistent id instruction was encountered,\nbut no persistent_load") == \
        "f.model: A load persistent id instruction was encountered, but no persistent_load"
    assert one_line("a\n\n  b  \r\nc") == "a b c"
