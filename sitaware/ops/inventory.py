"""What a ClickHouse database holds, read without changing it: the rows of a table as
readers see them (FINAL on the Replacing family), and the migrations not applied yet.
The dry runs of `rebuild` and `restore` report from here."""

from __future__ import annotations

from sinks.clickhouse.schema import load_migrations

__all__ = ["table_exists", "rows_as_read", "pending_migrations"]


def table_exists(client, database: str, table: str) -> bool:
    """Whether the table exists (False too when the database does not)."""
    return bool(client.execute("SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(t)s",
                               {"db": database, "t": table})[0][0])


def rows_as_read(client, database: str, table: str) -> int:
    """count() of the table, with FINAL unless it is a plain MergeTree (where FINAL is an error)."""
    found = client.execute("SELECT engine FROM system.tables WHERE database = %(db)s AND name = %(t)s",
                           {"db": database, "t": table})
    final = bool(found) and found[0][0] != "MergeTree"
    return client.execute(f"SELECT count() FROM {database}.{table}{' FINAL' if final else ''}")[0][0]


def pending_migrations(client, database: str) -> list[int]:
    """Versions `apply_migrations` would apply to `database` now."""
    applied: set[int] = set()
    if table_exists(client, database, "schema_migrations"):
        applied = {v for (v,) in client.execute(f"SELECT version FROM {database}.schema_migrations")}
    return [m.version for m in load_migrations() if m.version not in applied]
