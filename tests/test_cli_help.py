"""Every command's help renders, shows the defaults of its options, and names where the
settings come from; `sitaware --version` is the package's version."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from sitaware.cli import build_parser
from sitaware.cli_help import has_default

REPO = Path(__file__).resolve().parents[1]


def _parsers(parser: argparse.ArgumentParser, path: str = "sitaware"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_help_renders_with_its_defaults_and_the_settings_epilog():
    parsers = dict(_parsers(build_parser()))
    assert {"sitaware stack", "sitaware api token", "sitaware api token revoke", "sitaware restore",
            "sitaware subscribe put", "sitaware simulate", "sitaware worker"} <= set(parsers)
    for path, parser in parsers.items():
        text = parser.format_help()
        assert "SITAWARE_" in text and "docs/settings.md" in text, path
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or not has_default(action.default):
                continue
            shown = formatter._expand_help(action)
            assert "default" in shown.lower(), f"{path} {action.option_strings[0]}: {shown!r}"
            assert " ".join(shown.split())[:40] in " ".join(text.split()), f"{path}: {shown!r} not rendered"


def test_version_is_the_packages():
    expected = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITAWARE_")}
    done = subprocess.run([sys.executable, "-m", "sitaware.cli", "--version"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"sitaware {expected}"
