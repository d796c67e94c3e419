"""Every DDL statement runs on current ClickHouse (chdb, in-process) as well as on the stack's 18.16."""

from __future__ import annotations

from chdb import session as chdb_session

from sinks.clickhouse.schema import CONTRACT_TABLES, apply_migrations, load_migrations, split_statements


def test_migrations_are_numbered_and_split():
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert all(m.statements("x") for m in migrations)
    assert split_statements("-- a; comment\nSELECT 1;\n\nSELECT 2 -- tail;\n") == ["SELECT 1", "SELECT 2"]


def test_every_statement_runs_on_current_clickhouse(tmp_path):
    session = chdb_session.Session(str(tmp_path / "chdb"))
    session.query("CREATE DATABASE IF NOT EXISTS sitaware_chdb")
    for migration in load_migrations():
        for statement in migration.statements("sitaware_chdb"):
            session.query(statement)
            session.query(statement)  # idempotent: IF NOT EXISTS
    tables = session.query("SELECT name FROM system.tables WHERE database = 'sitaware_chdb'", "CSV")
    assert set(CONTRACT_TABLES) <= {line.strip('"') for line in str(tables).split()}
    session.close()


def test_migrations_apply_to_a_fresh_database_once(clickhouse_admin, unique_name):
    assert apply_migrations(clickhouse_admin, unique_name) == [m.version for m in load_migrations()]
    try:
        assert apply_migrations(clickhouse_admin, unique_name) == []
        tables = {r[0] for r in clickhouse_admin.execute(f"SHOW TABLES FROM {unique_name}")}
        assert set(CONTRACT_TABLES) <= tables
    finally:
        clickhouse_admin.execute(f"DROP DATABASE IF EXISTS {unique_name}")
