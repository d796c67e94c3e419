"""Credentials of the local stack, generated once and kept in `<stack_dir>/secrets.json` (0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["StackSecrets", "load_or_create_secrets", "private_file", "secret_file"]


@dataclass(frozen=True)
class StackSecrets:
    clickhouse_admin_password: str
    clickhouse_writer_password: str
    clickhouse_reader_password: str
    pii_key: str


def load_or_create_secrets(stack_dir: Path) -> StackSecrets:
    path = stack_dir / "secrets.json"
    if path.exists():
        return StackSecrets(**json.loads(path.read_text()))
    stack_dir.mkdir(parents=True, exist_ok=True)
    created = StackSecrets(*(secrets.token_urlsafe(24) for _ in range(3)), secrets.token_hex(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(created), fh)
    return created


def secret_file(path: Path) -> str:
    """The secret kept in `path` (0600), generated on first use: a file per secret, so
    clients can be given the file (SITAWARE_*_FILE) instead of the value."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def private_file(path: Path, content: str) -> Path:
    """Write `content` to `path` readable by its owner only (unless it already holds it)."""
    if not path.exists() or path.read_text() != content:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(content)
    return path
