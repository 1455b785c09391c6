"""README promises that can be checked without running a training: the shown config is the shipped file, and
every bundled config is named."""

from __future__ import annotations

from pathlib import Path

from boardnet.core.config import bundled_config_names

ROOT = Path(__file__).resolve().parent.parent


def test_readme_shows_the_shipped_gomoku_6x6_config() -> None:
    readme = (ROOT / "README.md").read_text()
    shipped = (ROOT / "src" / "boardnet" / "configs" / "gomoku-6x6.yaml").read_text()
    assert "```yaml\n" + shipped + "```" in readme


def test_readme_names_every_bundled_config() -> None:
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in bundled_config_names())
