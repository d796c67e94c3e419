"""Who is calling: bearer tokens, their roles and district scopes.

The tokens file (setting SITAWARE_API_TOKENS_FILE) is a JSON list of
`{"token_sha256": hex, "actor": str, "role": "viewer"|"dispatcher"|"admin", "districts": [..]}`.
Only the SHA-256 of a token is stored, so the file does not grant access if it leaks; the
token itself is shown once, by `sitaware api token`. Lookups compare every stored digest
in constant time, so response timing does not reveal how much of a digest matched.
An empty `districts` list means the whole city.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from sitaware.errors import ConfigError

__all__ = ["Principal", "TokenBook", "ROLES", "ANONYMOUS", "create_token", "token_digest"]

ROLES = ("viewer", "dispatcher", "admin")
ANONYMOUS = "anonymous"  # the audit actor of calls without a valid token
_SETTING = "SITAWARE_API_TOKENS_FILE"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the audit actor, a role and the districts it may see."""

    actor: str
    role: str
    districts: frozenset[str] = frozenset()  # empty: every district

    @property
    def can_write(self) -> bool:
        return self.role in ("dispatcher", "admin")

    @property
    def scoped(self) -> bool:
        return bool(self.districts)

    def sees(self, district: str | None) -> bool:
        """Whether a thing located in `district` is within this caller's scope."""
        return not self.districts or district in self.districts

    def covers(self, districts: Iterable[str]) -> bool:
        """Whether a subscription's districts lie within scope (a scoped caller may not
        hold a city-wide subscription, whose empty list means every district)."""
        wanted = set(districts)
        return not self.districts or (bool(wanted) and wanted <= self.districts)


class TokenBook:
    """The principals of a tokens file, looked up by token."""

    def __init__(self, entries: list[tuple[bytes, Principal]]):
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def load(cls, path: Path | None) -> "TokenBook":
        """Read and check the file; any problem is a ConfigError naming the setting."""
        if path is None:
            raise ConfigError(
                f"{_SETTING} is not set: the API needs a tokens file "
                "(create one with `sitaware api token --actor NAME --role ROLE --file PATH`)")
        entries = [(bytes.fromhex(d), p) for d, p in _read(Path(path))]
        if not entries:
            raise ConfigError(f"{_SETTING}: {path} holds no tokens")
        return cls(entries)

    def lookup(self, token: str | None) -> Principal | None:
        if not token:
            return None
        # aiohttp hands header bytes that are not UTF-8 over as surrogate escapes: hash the
        # bytes as sent (no token matches them) instead of failing with a 500.
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for stored, principal in self._entries:  # no early exit: constant work per call
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def _read(path: Path) -> list[tuple[str, Principal]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{_SETTING}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{_SETTING}: {path} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{_SETTING}: {path} must hold a JSON list of tokens")
    return [_entry(path, number, entry) for number, entry in enumerate(data)]


def _entry(path, number: int, entry) -> tuple[str, Principal]:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{_SETTING}: {path} entry {number}: {why}")

    if not isinstance(entry, dict):
        raise bad("not an object")
    digest, actor, role = entry.get("token_sha256"), entry.get("actor"), entry.get("role")
    districts = entry.get("districts", [])
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise bad("token_sha256 must be 64 lower-case hex digits")
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise bad("actor must be a name of 1-64 characters")
    if role not in ROLES:
        raise bad(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(districts, list) or not all(isinstance(d, str) and d for d in districts):
        raise bad("districts must be a list of district names")
    return digest, Principal(actor, role, frozenset(districts))


def create_token(path: Path, actor: str, role: str, districts: list[str]) -> str:
    """Append a new random token's digest to `path` (created with mode 0600); return the
    token, which is stored nowhere else."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}")
    path = Path(path)
    existing = []
    if path.exists():
        _read(path)  # refuse to extend a file the API could not read
        existing = json.loads(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    entry = {"token_sha256": token_digest(token), "actor": actor, "role": role,
             "districts": sorted(set(districts))}
    _entry(path, len(existing), entry)
    text = json.dumps([*existing, entry], ensure_ascii=False, indent=2) + "\n"
    # Write a private temporary file beside it, then rename: never a half-written file,
    # and never a moment when the tokens are readable by others.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return token
