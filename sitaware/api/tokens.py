"""The tokens file (setting SITAWARE_API_TOKENS_FILE): who may call the API.

A JSON list of entries
`{"token_sha256": hex, "actor": str, "role": "viewer"|"dispatcher"|"admin", "districts": [..],
  "created_at"?: instant, "expires_at"?: instant, "revoked_at"?: instant}`.
Only the SHA-256 of a token is stored, so the file does not grant access if it leaks; the
token itself is shown once, by `sitaware api token`. A token's id is the first 12 hex
digits of that digest: enough to name it (`sitaware api token revoke ID`), nothing to call
with. Revoking keeps the entry (with `revoked_at`), so a later call with it is audited as a
revoked token, not an unknown one. An empty `districts` list means the whole city.

Every change is written to a private temporary file beside it and renamed (never a
half-written file, never a moment when it is readable by others), under a lock so two
commands run at once do not lose each other's change.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sitaware.errors import ConfigError

__all__ = ["ROLES", "TokenEntry", "token_digest", "read_tokens", "create_token", "revoke_tokens",
           "expiry_from", "parse_instant", "ID_LENGTH"]

ROLES = ("viewer", "dispatcher", "admin")
ID_LENGTH = 12
_SETTING = "SITAWARE_API_TOKENS_FILE"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenEntry:
    digest: str
    actor: str
    role: str
    districts: frozenset[str]
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.digest[:ID_LENGTH]

    def state(self, now: datetime) -> str:
        """`active`, `revoked` or `expired` at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


def parse_instant(text: str, what: str) -> datetime:
    """An RFC 3339 instant with an explicit offset, as aware UTC."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ConfigError(f"{what} must be an RFC 3339 instant, e.g. 2026-12-31T23:59:00+08:00") from None
    if value.tzinfo is None:
        raise ConfigError(f"{what} needs an explicit offset (Z or +08:00)")
    return value.astimezone(timezone.utc)


def expiry_from(expires_in: str | None, expires_at: str | None, now: datetime) -> datetime | None:
    """The expiry asked for by `--expires-in 30d` (s, m, h, d, w) or `--expires-at INSTANT`."""
    if expires_in is not None:
        match = _DURATION.fullmatch(expires_in.strip())
        if not match or int(match.group(1)) == 0:
            raise ConfigError(f"--expires-in {expires_in!r}: give a positive duration such as 90m, 12h, 30d, 2w")
        return now + timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])
    if expires_at is not None:
        when = parse_instant(expires_at, "--expires-at")
        if when <= now:
            raise ConfigError(f"--expires-at {expires_at} is not in the future")
        return when
    return None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _load_json(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{_SETTING}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{_SETTING}: {path} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{_SETTING}: {path} must hold a JSON list of tokens")
    return data


def read_tokens(path: Path) -> list[TokenEntry]:
    """Every entry of the file, checked; any problem is a ConfigError naming the setting."""
    path = Path(path)
    return [_entry(path, number, raw) for number, raw in enumerate(_load_json(path))]


def _entry(path: Path, number: int, raw) -> TokenEntry:
    def bad(why: str) -> ConfigError:
        return ConfigError(f"{_SETTING}: {path} entry {number}: {why}")

    if not isinstance(raw, dict):
        raise bad("not an object")
    digest, actor, role = raw.get("token_sha256"), raw.get("actor"), raw.get("role")
    districts = raw.get("districts", [])
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise bad("token_sha256 must be 64 lower-case hex digits")
    if not isinstance(actor, str) or not 1 <= len(actor) <= 64:
        raise bad("actor must be a name of 1-64 characters")
    if role not in ROLES:
        raise bad(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(districts, list) or not all(isinstance(d, str) and d for d in districts):
        raise bad("districts must be a list of district names")
    instants = {}
    for key in ("created_at", "expires_at", "revoked_at"):
        value = raw.get(key)
        if value is not None:
            try:
                instants[key] = parse_instant(value, key) if isinstance(value, str) else None
            except ConfigError as exc:
                raise bad(str(exc)) from None
            if instants[key] is None:
                raise bad(f"{key} must be an RFC 3339 string")
    return TokenEntry(digest, actor, role, frozenset(districts), **instants)


def _raw(entry: TokenEntry) -> dict:
    raw = {"token_sha256": entry.digest, "actor": entry.actor, "role": entry.role,
           "districts": sorted(entry.districts)}
    for key in ("created_at", "expires_at", "revoked_at"):
        if getattr(entry, key) is not None:
            raw[key] = _iso(getattr(entry, key))
    return raw


@contextmanager
def _locked(path: Path):
    """The file's entries (empty if it does not exist yet), under an exclusive lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield read_tokens(path) if path.exists() else []  # never extend a file the API could not read
    finally:
        os.close(fd)


def _write(path: Path, entries: list[TokenEntry]) -> None:
    text = json.dumps([_raw(e) for e in entries], ensure_ascii=False, indent=2) + "\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def create_token(path: Path, actor: str, role: str, districts: list[str],
                 expires_at: datetime | None = None) -> str:
    """Append a new random token's digest to `path` (created with mode 0600); return the
    token, which is stored nowhere else."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}")
    path = Path(path)
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with _locked(path) as entries:
        entry = _entry(path, len(entries), _raw(TokenEntry(
            token_digest(token), actor, role, frozenset(districts), now, expires_at)))
        _write(path, [*entries, entry])
    return token


def revoke_tokens(path: Path, ids: list[str], actor: str | None = None) -> list[TokenEntry]:
    """Mark as revoked the tokens named by id (or a unique prefix of at least 6 digits of it)
    and, with `actor`, every token of that actor; return the entries newly revoked."""
    path = Path(path)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with _locked(path) as entries:
        if not entries:
            raise ConfigError(f"{_SETTING}: {path} holds no tokens")
        chosen = {_find(entries, wanted) for wanted in ids}
        if actor is not None:
            mine = {n for n, e in enumerate(entries) if e.actor == actor}
            if not mine:
                raise ConfigError(f"no token of actor {actor!r} in {path}")
            chosen |= mine
        revoked, updated = [], []
        for number, entry in enumerate(entries):
            if number in chosen and entry.revoked_at is None:
                entry = TokenEntry(entry.digest, entry.actor, entry.role, entry.districts,
                                   entry.created_at, entry.expires_at, now)
                revoked.append(entry)
            updated.append(entry)
        if revoked:
            _write(path, updated)
    return revoked


def _find(entries: list[TokenEntry], wanted: str) -> int:
    wanted = wanted.strip().lower()
    if len(wanted) < 6 or not re.fullmatch(r"[0-9a-f]+", wanted):
        raise ConfigError(f"token id {wanted!r}: give the id `sitaware api token list` shows "
                          "(at least its first 6 hex digits)")
    found = [n for n, e in enumerate(entries) if e.digest.startswith(wanted)]
    if not found:
        raise ConfigError(f"no token with id {wanted} (see `sitaware api token list`)")
    if len(found) > 1:
        raise ConfigError(f"token id {wanted} is ambiguous: give more of it")
    return found[0]
