"""Versioned, idempotent schema migrations from `deploy/clickhouse/migrations/NNNN_name.sql`.

Each file is a list of statements separated by `;` with `{db}` standing for the database.
Every statement is itself idempotent (IF NOT EXISTS), and applied versions are recorded in
`<db>.schema_migrations`, so running the migrations again is harmless and fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sitaware.settings import DEPLOY_DIR

__all__ = ["Migration", "load_migrations", "split_statements", "apply_migrations", "CONTRACT_TABLES"]

MIGRATIONS_DIR = DEPLOY_DIR / "clickhouse" / "migrations"
CONTRACT_TABLES = (
    "alarm_counts_1m",
    "unit_presence_1m",
    "checkpoint_flow_1m",
    "alarm_lifecycle",
    "situations",
    "alert_deliveries",
    "audit_log",
)
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self, database: str) -> list[str]:
        return [s.replace("{db}", database) for s in split_statements(self.path.read_text())]


def split_statements(sql: str) -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return found


def apply_migrations(client, database: str) -> list[int]:
    """Apply the pending migrations with a client allowed to run DDL; return their versions."""
    client.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.execute(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime('UTC')) "
        "ENGINE = MergeTree() ORDER BY version"
    )
    applied = {row[0] for row in client.execute(f"SELECT version FROM {database}.schema_migrations")}
    done = []
    for migration in load_migrations():
        if migration.version in applied:
            continue
        for statement in migration.statements(database):
            client.execute(statement)
        client.execute(
            f"INSERT INTO {database}.schema_migrations (version, name, applied_at) "
            "SELECT %(v)s, %(n)s, now()",
            {"v": migration.version, "n": migration.name},
        )
        done.append(migration.version)
    return done
