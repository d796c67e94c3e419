"""`sitaware restore DIR`: put a backup (`sitaware backup`) back into ClickHouse.

Everything is checked before anything is written: the manifest and every file's SHA-256,
the schema version (a backup from a newer schema is refused), then the migrations are
applied and each target table must have the backup's columns with the same types and be
empty. `force` replaces the content of non-empty tables (TRUNCATE, then insert), so the
result is the backup's content whatever the tables held — never the two added together.
A dry run makes the same checks and changes nothing (no migration, no truncation, no
insert): it reports what the run would do, table by table.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

import orjson
from clickhouse_driver import errors as ch_errors

from sinks.clickhouse.schema import apply_migrations, load_migrations
from sitaware.ops.errors import BackupRefused, OpsError
from sitaware.ops.inventory import pending_migrations, table_exists
from sitaware.ops.manifest import Manifest, TableEntry, read_manifest
from sitaware.ops.services import clickhouse_client
from sitaware.ops.values import decoder
from sitaware.settings import Settings

__all__ = ["restore", "RestorePlan"]

BATCH_ROWS = 10_000


@dataclass
class RestorePlan:
    """What a restore would do (a dry run's answer)."""

    database: str
    migrations: list[int] = field(default_factory=list)  # would be applied first
    truncated: dict[str, int] = field(default_factory=dict)  # table -> rows it holds now
    loaded: list[TableEntry] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = ["dry run: nothing was changed"]
        if self.migrations:
            out.append(f"would apply migrations {self.migrations} to {self.database}")
        for table, rows in self.truncated.items():
            out.append(f"would truncate {self.database}.{table} ({rows} rows now)")
        for entry in self.loaded:
            out.append(f"would load {self.database}.{entry.name}: {entry.rows} rows from {entry.file} "
                       f"({entry.bytes} bytes)")
        return out


def restore(settings: Settings, directory: Path, *, force: bool = False, dry_run: bool = False,
            user: str | None = None, password: str | None = None, log: Callable[[str], None] = print,
            progress: TextIO | None = None) -> dict[str, int] | RestorePlan:
    """Restore every table of the backup; return the rows restored per table (a dry run:
    the plan). `progress`, if given, gets a bar per table."""
    manifest = read_manifest(Path(directory))
    known = max((m.version for m in load_migrations()), default=0)
    if manifest.schema_version > known:
        raise BackupRefused(f"the backup has schema version {manifest.schema_version}, newer than this "
                            f"sitaware's {known}: restore it with the version that made it")
    database = settings.clickhouse_database
    client = clickhouse_client(settings, user, password)
    try:
        if dry_run:
            return _plan(client, database, manifest, force)
        try:
            applied = apply_migrations(client, database)
        except ch_errors.ServerException as exc:
            raise OpsError(f"could not apply the schema to {database} as {user or settings.clickhouse_user!r}: "
                           f"{str(exc).splitlines()[0][:200]} (use --user with an account allowed to run DDL)") from exc
        if applied:
            log(f"applied migrations {applied} to {database}")
        _check_columns(client, database, manifest)
        occupied = _non_empty(client, database, manifest)
        _refuse_occupied(database, occupied, force)
        for table in occupied:
            client.execute(f"TRUNCATE TABLE {database}.{table}")
            log(f"{table}: truncated ({occupied[table]} rows) to be replaced")
        restored = {}
        for entry in manifest.tables:
            restored[entry.name] = _load_table(client, database, entry, Path(directory), progress)
            log(f"{entry.name}: {restored[entry.name]} rows restored")
    finally:
        client.disconnect()
    return restored


def _plan(client, database: str, manifest: Manifest, force: bool) -> RestorePlan:
    """The checks of a restore, read-only. Tables the pending migrations would create are
    taken on trust: the migrations make the schema this sitaware's backups are made from."""
    plan = RestorePlan(database, migrations=pending_migrations(client, database))
    present = [e for e in manifest.tables if table_exists(client, database, e.name)]
    missing = [e.name for e in manifest.tables if e not in present]
    if missing and not plan.migrations:
        raise BackupRefused(f"the backup does not fit the target schema, nothing restored: "
                            + "; ".join(f"{t}: no such table in {database}" for t in missing))
    partial = Manifest(**{**manifest.__dict__, "tables": present})
    _check_columns(client, database, partial)
    occupied = _non_empty(client, database, partial)
    _refuse_occupied(database, occupied, force)
    plan.truncated, plan.loaded = occupied, list(manifest.tables)
    return plan


def _refuse_occupied(database: str, occupied: dict[str, int], force: bool) -> None:
    if occupied and not force:
        listed = ", ".join(f"{t} ({n} rows)" for t, n in occupied.items())
        raise BackupRefused(f"not restoring into non-empty tables of {database}: {listed}; "
                            "--force replaces their content with the backup's")


def _check_columns(client, database: str, manifest: Manifest) -> None:
    problems = []
    for entry in manifest.tables:
        if not table_exists(client, database, entry.name):
            problems.append(f"{entry.name}: no such table in {database}")
            continue
        target = {row[0]: row[1] for row in client.execute(f"DESCRIBE TABLE {database}.{entry.name}")}
        for column, ch_type in entry.columns:
            if target.get(column) != ch_type:
                problems.append(f"{entry.name}.{column}: backup has {ch_type}, target has {target.get(column) or 'no such column'}")
    if problems:
        raise BackupRefused("the backup does not fit the target schema, nothing restored: " + "; ".join(problems))


def _non_empty(client, database: str, manifest: Manifest) -> dict[str, int]:
    counts = {entry.name: client.execute(f"SELECT count() FROM {database}.{entry.name}")[0][0]
              for entry in manifest.tables}
    return {table: n for table, n in counts.items() if n}


def _load_table(client, database: str, entry: TableEntry, directory: Path,
                progress: TextIO | None = None) -> int:
    from sitaware.progress import Count

    bar = Count(progress, entry.rows, entry.name, "rows") if progress else None
    names = [c for c, _ in entry.columns]
    decode = [decoder(t) for _, t in entry.columns]
    insert = f"INSERT INTO {database}.{entry.name} ({', '.join(names)}) VALUES"
    rows, batch = 0, []
    with gzip.open(directory / entry.file, "rb") as lines:
        for line in lines:
            value = orjson.loads(line)
            batch.append(tuple(d(value[n]) for n, d in zip(names, decode)))
            if len(batch) >= BATCH_ROWS:
                client.execute(insert, batch)
                rows += len(batch)
                batch = []
                if bar:
                    bar.update(rows)
    if batch:
        client.execute(insert, batch)
        rows += len(batch)
    if bar:
        bar.finish(rows)
    if rows != entry.rows:  # the checksum matched, so only a bug gets here
        raise OpsError(f"{entry.file}: read {rows} rows, the manifest says {entry.rows}")
    return rows
