"""`sitaware backup DIR`: every table of the project's ClickHouse database, as files.

ClickHouse 18.16 has no BACKUP statement, so this is a logical backup through the native
protocol: each table is read with `FINAL` (Replacing tables: one row per key, the value
readers see) and written as gzip'd JSON lines, one object per row, with a manifest
(schema version, columns and types, row counts, SHA-256 of each file) written last.

Tables are read one after another while workers may keep writing: each file is one
consistent read of its table, and a later `sitaware rebuild` (no truncate) brings restored
aggregates up to date from Kafka. Files hold pseudonyms, never clear plates or phones, but
they are still operational police data: they are written 0600 in a 0700 directory and must
be stored encrypted at rest.
"""

from __future__ import annotations

import gzip
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

import orjson

from sitaware.ops.errors import OpsError
from sitaware.ops.manifest import MANIFEST_NAME, Manifest, TableEntry, sha256_of, write_private
from sitaware.ops.services import clickhouse_client
from sitaware.ops.values import encoder
from sitaware.settings import Settings

__all__ = ["backup", "project_tables"]

BLOCK_ROWS = 10_000
# The migrations' own bookkeeping is not data: the manifest records the schema version and
# a restore applies the migrations.
_NOT_DATA = {"schema_migrations"}


def backup(settings: Settings, directory: Path, *, user: str | None = None, password: str | None = None,
           log: Callable[[str], None] = print, progress: TextIO | None = None) -> Manifest:
    """Back up every table into `directory`; `progress`, if given, gets a bar per table."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise OpsError(f"{directory} exists and is not an empty directory: back up into a new one")
    database = settings.clickhouse_database
    client = clickhouse_client(settings, user, password)
    try:
        migrations = _migrations(client, database)
        tables = project_tables(client, database)
        # Every type is checked before the first file is written.
        columns = {name: _columns(client, database, name) for name, _ in tables}
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
        manifest = Manifest(
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            database=database,
            server_version=client.execute("SELECT version()")[0][0],
            schema_version=max(migrations),
            migrations=migrations,
        )
        for name, engine in tables:
            entry = _dump_table(client, database, name, engine, columns[name], directory, progress)
            manifest.tables.append(entry)
            log(f"{name}: {entry.rows} rows -> {entry.file}")
        write_private(directory / MANIFEST_NAME, manifest.to_json())
    finally:
        client.disconnect()
    return manifest


def project_tables(client, database: str) -> list[tuple[str, str]]:
    """(name, engine) of the data tables in `database`: the MergeTree family, which every
    table of the schema is (views and other engines hold no data of their own)."""
    rows = client.execute(
        "SELECT name, engine FROM system.tables WHERE database = %(db)s ORDER BY name", {"db": database})
    return [(name, engine) for name, engine in rows if engine.endswith("MergeTree") and name not in _NOT_DATA]


def _migrations(client, database: str) -> list[int]:
    versions = []
    if client.execute(f"EXISTS TABLE {database}.schema_migrations")[0][0]:
        versions = [v for (v,) in client.execute(f"SELECT version FROM {database}.schema_migrations ORDER BY version")]
    if not versions:
        raise OpsError(f"database {database} has no applied schema: nothing to back up "
                       "(SITAWARE_CLICKHOUSE_DATABASE)")
    return versions


def _columns(client, database: str, table: str) -> list[tuple[str, str]]:
    described = client.execute(f"DESCRIBE TABLE {database}.{table}")
    # MATERIALIZED and ALIAS columns are computed by the server and cannot be inserted.
    columns = [(row[0], row[1]) for row in described if row[2] not in ("MATERIALIZED", "ALIAS")]
    for _, ch_type in columns:
        encoder(ch_type)  # raises UnsupportedType naming the type
    return columns


def _dump_table(client, database: str, table: str, engine: str, columns: list[tuple[str, str]],
                directory: Path, progress: TextIO | None = None) -> TableEntry:
    from sitaware.progress import Count

    names = [c for c, _ in columns]
    encode = [encoder(t) for _, t in columns]
    # FINAL on a plain MergeTree is an error; on the Replacing family it yields what readers see.
    final = engine != "MergeTree"
    query = f"SELECT {', '.join(names)} FROM {database}.{table}{' FINAL' if final else ''}"
    file_name = f"{table}.jsonl.gz"
    path = directory / file_name
    rows = 0
    # count() without FINAL is cheap and at least the rows FINAL yields: the bar's total.
    bar = Count(progress, client.execute(f"SELECT count() FROM {database}.{table}")[0][0], table, "rows") \
        if progress else None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
            for row in client.execute_iter(query, settings={"max_block_size": BLOCK_ROWS}):
                out.write(orjson.dumps({n: e(v) for n, e, v in zip(names, encode, row)}) + b"\n")
                rows += 1
                if bar and rows % 1000 == 0:
                    bar.update(rows)
        raw.flush()
        os.fsync(raw.fileno())  # on disk before the manifest vouches for it
    if bar:
        bar.finish(rows)
    return TableEntry(
        name=table, file=file_name, rows=rows, sha256=sha256_of(path), bytes=path.stat().st_size,
        engine=engine, final=final, columns=columns,
    )
