"""`sitaware backup` / `sitaware restore`: every table's FINAL content comes back equal in an
empty stack (a private ClickHouse server), non-empty targets and tampered backups are
refused, and --force replaces rather than adds."""

from __future__ import annotations

import gzip
import shutil
import stat
from datetime import datetime

import orjson
import pytest
from pydantic import SecretStr

from sinks.clickhouse.schema import CONTRACT_TABLES
from sitaware.settings import load_settings
from sitaware.stack.local import LocalStack
from tests.ops.conftest import final_rows, free_port, history, insert_live

AUDIT = [(datetime(2041, 5, 1, 9, 0, 1), "desk-nanhu", "GET /api/situations", "situations", "ok", "district=南湖区"),
         (datetime(2041, 5, 1, 9, 0, 2), "wall", "GET /api/units", "units", "refused", "")]


@pytest.fixture
def empty_stack(tmp_path):
    """A fresh ClickHouse server of its own (stack folder, secrets, ports): nothing in it."""
    settings = load_settings(stack_dir=tmp_path / "stack", stack_clickhouse_port=free_port(),
                             stack_clickhouse_http_port=free_port())
    stack = LocalStack(settings, log=lambda message: None)
    stack.clickhouse.start()
    try:
        stack.clickhouse.wait_healthy()
        yield stack
    finally:
        stack.clickhouse.stop()


def _contents(client, database: str) -> dict:
    return {table: final_rows(client, database, table) for table in CONTRACT_TABLES}


def test_restore_into_an_empty_stack_gives_every_table_back(
        ops_settings, clickhouse_admin, empty_stack, sitaware_cli, tmp_path):
    source_db = ops_settings.clickhouse_database
    insert_live(ops_settings, history(seed=5), seed=5)
    # The audit log is a plain MergeTree: identical rows are two calls, both kept.
    clickhouse_admin.execute(f"INSERT INTO {source_db}.audit_log VALUES", [*AUDIT, AUDIT[0]])
    source = _contents(clickhouse_admin, source_db)
    assert all(source.values()) and sum(source["audit_log"].values()) == 3

    backup_dir = tmp_path / "backup"
    status, out, err = sitaware_cli(ops_settings, "backup", str(backup_dir))
    assert status == 0, err
    manifest = orjson.loads((backup_dir / "manifest.json").read_bytes())
    assert manifest["schema_version"] == 1 and manifest["database"] == source_db
    assert {t["name"]: t["rows"] for t in manifest["tables"]} == {t: sum(c.values()) for t, c in source.items()}
    assert stat.S_IMODE(backup_dir.stat().st_mode) == 0o700
    for path in backup_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    # The empty stack's own writer account, its own database: the schema comes with the restore.
    target = empty_stack.service_settings()
    admin = empty_stack.clickhouse.admin_client()
    try:
        assert admin.execute("SELECT count() FROM system.databases WHERE name = %(db)s",
                             {"db": target.clickhouse_database})[0][0] == 0
        status, out, err = sitaware_cli(target, "restore", str(backup_dir))
        assert status == 0, err
        assert _contents(admin, target.clickhouse_database) == source

        # Now not empty: refused, unless --force, which replaces (the audit log not doubled).
        status, _, err = sitaware_cli(target, "restore", str(backup_dir))
        assert status == 2 and "non-empty tables" in err and "--force" in err
        status, _, err = sitaware_cli(target, "restore", str(backup_dir), "--force")
        assert status == 0, err
        assert _contents(admin, target.clickhouse_database) == source

        # A tampered backup is refused before anything is touched (not even with --force).
        tampered = tmp_path / "tampered"
        shutil.copytree(backup_dir, tampered)
        counts = tampered / "alarm_counts_1m.jsonl.gz"
        lines = gzip.decompress(counts.read_bytes()).splitlines()
        row = orjson.loads(lines[0])
        lines[0] = orjson.dumps({**row, "alarms": row["alarms"] + 1})
        counts.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        status, _, err = sitaware_cli(target, "restore", str(tampered), "--force")
        assert status == 2 and "alarm_counts_1m.jsonl.gz: checksum mismatch" in err and "nothing restored" in err
        (tampered / "situations.jsonl.gz").unlink()
        status, _, err = sitaware_cli(target, "restore", str(tampered), "--force")
        assert status == 2 and "situations.jsonl.gz: missing" in err
        (tampered / "manifest.json").unlink()
        status, _, err = sitaware_cli(target, "restore", str(tampered), "--force")
        assert status == 2 and "no manifest.json" in err
        assert _contents(admin, target.clickhouse_database) == source
    finally:
        admin.disconnect()


def test_backup_wants_a_new_directory(ops_settings, sitaware_cli, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text("{}")
    status, _, err = sitaware_cli(ops_settings, "backup", str(tmp_path / "old"))
    assert status == 2 and "not an empty directory" in err
    assert (tmp_path / "old" / "manifest.json").read_text() == "{}"


def test_restore_dry_run_changes_nothing_and_passwords_come_from_a_file(
        ops_settings, clickhouse_admin, local_stack, sitaware_cli, tmp_path, unique_name):
    db = ops_settings.clickhouse_database
    insert_live(ops_settings, history(seed=7), seed=7)
    source = _contents(clickhouse_admin, db)
    password = tmp_path / "admin.password"
    password.write_text(local_stack.secrets.clickhouse_admin_password + "\n")
    # The settings' user is given a wrong password: only --password-file can log in.
    settings = ops_settings.model_copy(update={"clickhouse_user": "sitaware_writer",
                                               "clickhouse_password": SecretStr("wrong")})
    backup_dir = tmp_path / "backup"
    status, out, err = sitaware_cli(settings, "backup", str(backup_dir), "--user", "default",
                                    "--password-file", str(password))
    assert status == 0, err
    rows = sum(source["situations"].values())
    assert f"[##########] 100% situations: {rows} of {rows} rows" in err

    # Into the same, non-empty database with --force: what would be replaced, and nothing is.
    status, out, err = sitaware_cli(settings, "restore", str(backup_dir), "--force", "--dry-run",
                                    "--user", "default", "--password-file", str(password))
    assert status == 0, err
    assert out.startswith("dry run: nothing was changed") and "would apply" not in out
    stored = clickhouse_admin.execute(f"SELECT count() FROM {db}.situations")[0][0]
    assert f"would truncate {db}.situations ({stored} rows now)" in out
    assert f"would load {db}.situations: {rows} rows from situations.jsonl.gz" in out
    assert _contents(clickhouse_admin, db) == source
    # Without --force the dry run refuses as the restore would.
    status, _, err = sitaware_cli(settings, "restore", str(backup_dir), "--dry-run",
                                  "--user", "default", "--password-file", str(password))
    assert status == 2 and "non-empty tables" in err

    # Into a database that does not exist yet: the migrations it would apply; none is created.
    fresh = settings.model_copy(update={"clickhouse_database": f"{unique_name}_fresh"})
    status, out, err = sitaware_cli(fresh, "restore", str(backup_dir), "--dry-run",
                                    "--user", "default", "--password-file", str(password))
    assert status == 0, err
    assert f"would apply migrations [1] to {unique_name}_fresh" in out and "would truncate" not in out
    assert not clickhouse_admin.execute("SELECT count() FROM system.databases WHERE name = %(db)s",
                                        {"db": f"{unique_name}_fresh"})[0][0]

    password.write_text("not-it\n")
    status, _, err = sitaware_cli(settings, "restore", str(backup_dir), "--dry-run",
                                  "--user", "default", "--password-file", str(password))
    assert status == 2 and "cannot reach ClickHouse" in err and "'default'" in err
