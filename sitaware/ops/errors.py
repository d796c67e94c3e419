"""Errors of the operations commands (`rebuild`, `backup`, `restore`).

    SitawareError                 (sitaware.errors: the CLI prints one line, exit status 2)
    └── OpsError                  an operation cannot be done as asked
        ├── ServiceUnreachable    Kafka or ClickHouse does not answer (names the settings)
        ├── UnknownTable          a table name the command does not handle
        └── BackupRefused         a backup that is incomplete, tampered, from a newer
                                  schema, or a target that is not empty
"""

from sitaware.errors import SitawareError

__all__ = ["OpsError", "ServiceUnreachable", "UnknownTable", "BackupRefused"]


class OpsError(SitawareError):
    """An operation cannot be done as asked."""


class ServiceUnreachable(OpsError):
    """Kafka or ClickHouse does not answer."""


class UnknownTable(OpsError):
    """A table name the command does not handle."""


class BackupRefused(OpsError):
    """The backup, or the target it would be restored into, is not acceptable."""
