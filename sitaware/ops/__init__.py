"""Operations on the stored data: rebuild ClickHouse tables from Kafka (`rebuild`), back
them up to files and restore them (`backup`, `restore`).

The commands import their modules when they run, so `sitaware --help` stays quick:
`sitaware.ops.rebuild.rebuild`, `sitaware.ops.backup.backup`, `sitaware.ops.restore.restore`.
"""

from sitaware.ops.command import register

__all__ = ["register"]
