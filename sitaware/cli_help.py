"""How `sitaware` helps: every option's default shown, the settings epilog, the version.

`CommandParser` is the parser of `sitaware` and, because argparse makes subparsers with
the parent's class, of every subcommand — including those other modules register.
"""

from __future__ import annotations

import argparse

__all__ = ["CommandParser", "SETTINGS_EPILOG", "version", "has_default"]

SETTINGS_EPILOG = ("Settings come from SITAWARE_* environment variables or a .env file in the "
                   "working directory; every setting, its default and meaning: docs/settings.md.")


def version() -> str:
    """The installed package's version (pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version as installed

    try:
        return installed("sitaware")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed: pip install -e .)"


def has_default(value) -> bool:
    """Whether a default is worth showing: not absent, not a flag's False, not an empty list."""
    return not (value is None or value is False or value == [] or value is argparse.SUPPRESS)


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default, unless its help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("%(default)" in text or "default" in text.lower() or not has_default(action.default)
                or (not action.option_strings and action.nargs not in ("?", "*"))):
            return text
        return f"{text} (default: %(default)s)"


class CommandParser(argparse.ArgumentParser):
    """Every (sub)command: defaults in its help and the settings epilog. Subparsers are made
    with the parent's class, so commands registered by other modules get the same."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", SETTINGS_EPILOG)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        # An option with a default but no help would not show it: give it a help line.
        if kwargs.get("help") is None and has_default(kwargs.get("default")) \
                and args and str(args[0]).startswith("-"):
            kwargs["help"] = "(default: %(default)s)"
        return super().add_argument(*args, **kwargs)
