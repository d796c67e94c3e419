"""The `sitaware rebuild`, `sitaware backup` and `sitaware restore` subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitaware.credentials import account_password, add_account_arguments
from sitaware.settings import Settings

__all__ = ["register"]


def _log(message: str) -> None:
    print(message, file=sys.stderr)  # progress on stderr; the summary on stdout


def _rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.ops.rebuild import rebuild

    report = rebuild(settings, args.table, truncate=args.truncate, dry_run=args.dry_run, log=_log,
                     progress=sys.stderr)
    print("\n".join(report.lines()))
    refused = sum(c.refused for c in report.tables.values())
    if refused:
        print(f"{refused} rows were refused by ClickHouse (the live sink dead-lettered them too)", file=sys.stderr)
        return 1
    return 0


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.ops.backup import backup

    manifest = backup(settings, Path(args.dir), user=args.user, password=account_password(args, settings),
                      log=_log, progress=sys.stderr)
    total = sum(t.rows for t in manifest.tables)
    print(f"backed up {len(manifest.tables)} tables, {total} rows, schema version "
          f"{manifest.schema_version}, into {args.dir} (store it encrypted)")
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.ops.restore import restore

    restored = restore(settings, Path(args.dir), force=args.force, dry_run=args.dry_run, user=args.user,
                       password=account_password(args, settings), log=_log, progress=sys.stderr)
    if args.dry_run:
        print("\n".join(restored.lines()))
        return 0
    print(f"restored {len(restored)} tables, {sum(restored.values())} rows, into "
          f"{settings.clickhouse_database}")
    return 0


def register(commands) -> None:
    rebuild = commands.add_parser(
        "rebuild", help="recompute ClickHouse tables from the rows kept in Kafka (no alerts re-sent)")
    rebuild.add_argument("--table", action="append", required=True,
                         help="a table to rebuild (repeat for several)")
    rebuild.add_argument("--truncate", action="store_true",
                         help="empty the tables first (rows older than the topic's retention are lost)")
    rebuild.add_argument("--dry-run", action="store_true",
                         help="change nothing: report the rows each table holds and the rows the topic "
                              "would bring back")
    rebuild.set_defaults(run=_rebuild)

    backup = commands.add_parser("backup", help="write every ClickHouse table (FINAL) to files in DIR")
    backup.add_argument("dir", metavar="DIR", help="a new or empty directory")
    add_account_arguments(backup, "a ClickHouse user allowed to read every table")
    backup.set_defaults(run=_backup)

    restore = commands.add_parser("restore", help="restore a backup made by `sitaware backup`")
    restore.add_argument("dir", metavar="DIR", help="a directory written by `sitaware backup`")
    restore.add_argument("--force", action="store_true",
                         help="replace the content of tables that are not empty")
    restore.add_argument("--dry-run", action="store_true",
                         help="change nothing: check the backup and the target, report the migrations, "
                              "truncations and rows a restore would make")
    add_account_arguments(restore, "a ClickHouse user allowed to run DDL and insert")
    restore.set_defaults(run=_restore)
