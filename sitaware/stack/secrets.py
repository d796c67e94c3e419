"""Credentials of the local stack, generated once and kept in `<stack_dir>/secrets.json` (0600)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["StackSecrets", "load_or_create_secrets"]


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
