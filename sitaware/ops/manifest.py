"""The manifest of a backup directory: what was saved, from which schema, and checksums.

`manifest.json` is written last (to a temporary name, then renamed), so a directory
without one is an interrupted backup. A restore checks every file against its SHA-256
before it touches the target.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson

from sitaware.ops.errors import BackupRefused

__all__ = ["Manifest", "TableEntry", "MANIFEST_NAME", "FORMAT", "sha256_of", "write_private", "read_manifest"]

MANIFEST_NAME = "manifest.json"
FORMAT = "sitaware-clickhouse-backup/1"
# Table and column names go into SQL: only plain identifiers are accepted from a manifest.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass
class TableEntry:
    name: str
    file: str
    rows: int
    sha256: str
    bytes: int
    engine: str
    final: bool  # read with FINAL: the backup holds the table's logical content
    columns: list[tuple[str, str]]  # (name, ClickHouse type), in file order


@dataclass
class Manifest:
    created_at: str
    database: str
    server_version: str
    schema_version: int
    migrations: list[int]
    tables: list[TableEntry] = field(default_factory=list)
    format: str = FORMAT

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), atomically: a temporary name, renamed."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(directory: Path) -> Manifest:
    """The verified manifest: every file present, unchanged, inside the directory."""
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise BackupRefused(f"{directory} is not a directory")
    if not path.is_file():
        raise BackupRefused(f"{directory} has no {MANIFEST_NAME}: not a backup, or an interrupted one")
    try:
        data = orjson.loads(path.read_bytes())
        if data.get("format") != FORMAT:
            raise BackupRefused(f"{path}: format {data.get('format')!r} is not {FORMAT!r}")
        tables = [TableEntry(**{**t, "columns": [tuple(c) for c in t["columns"]]}) for t in data.pop("tables")]
        manifest = Manifest(**data, tables=tables)
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise BackupRefused(f"{path} is not a valid manifest: {type(exc).__name__}") from exc
    problems = []
    for entry in manifest.tables:
        file = directory / entry.file
        if not all(_IDENTIFIER.match(n) for n in (entry.name, *(c for c, _ in entry.columns))):
            problems.append(f"{entry.file}: a table or column name is not a plain identifier")
        elif Path(entry.file).name != entry.file:
            problems.append(f"{entry.file}: not a plain file name")
        elif not file.is_file():
            problems.append(f"{entry.file}: missing")
        elif file.stat().st_size != entry.bytes or sha256_of(file) != entry.sha256:
            problems.append(f"{entry.file}: checksum mismatch (changed or truncated)")
    if problems:
        raise BackupRefused(f"backup {directory} refused, nothing restored: " + "; ".join(problems))
    return manifest
