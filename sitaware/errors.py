"""Errors that end a command with a message for the operator.

    SitawareError            any failure the CLI reports as one line, without a traceback
    ├── ConfigError          a setting is missing or invalid (names the setting)
    └── StackError           the local stack cannot be set up or started (names the cause)
"""

__all__ = ["SitawareError", "ConfigError", "StackError"]


class SitawareError(Exception):
    """Base of the errors the CLI turns into a clear message and exit status 2."""


class ConfigError(SitawareError):
    """A setting is missing or invalid."""


class StackError(SitawareError):
    """The local Kafka / ClickHouse stack cannot be prepared or started."""
