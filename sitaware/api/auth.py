"""Who is calling: bearer tokens, their roles and district scopes.

The tokens come from the tokens file (sitaware.api.tokens, setting SITAWARE_API_TOKENS_FILE).
Lookups compare every stored digest in constant time, so response timing does not reveal
how much of a digest matched. A revoked or expired token is refused like an unknown one,
but the refusal names the token's actor and why, for the audit log.

The API process re-reads the file when it changes — checked on each call by the file's
identity, size and modification time, one `stat` — and on SIGHUP, so revoking a token
takes effect without a restart. A file that has become unreadable keeps the previous
tokens in force and is reported in the log and on /health until it is fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sitaware.api.tokens import ROLES, TokenEntry, create_token, read_tokens, token_digest
from sitaware.errors import ConfigError

__all__ = ["Principal", "Refusal", "TokenBook", "TokenWatch", "ROLES", "ANONYMOUS", "create_token",
           "token_digest"]

log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"  # the audit actor of calls without a valid token
_SETTING = "SITAWARE_API_TOKENS_FILE"


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


@dataclass(frozen=True)
class Refusal:
    """Why a call's token was refused, for the audit row: its actor when the token is known."""

    actor: str
    reason: str  # "no token", "unknown token", "revoked token", "expired token"


class TokenBook:
    """The tokens of a tokens file, looked up by token."""

    def __init__(self, entries: list[TokenEntry]):
        self._entries = [(bytes.fromhex(e.digest), e, Principal(e.actor, e.role, e.districts))
                         for e in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def active(self, now: datetime | None = None) -> int:
        now = now or datetime.now(timezone.utc)
        return sum(1 for _, e, _ in self._entries if e.state(now) == "active")

    @classmethod
    def load(cls, path: Path | None) -> "TokenBook":
        """Read and check the file; any problem is a ConfigError naming the setting."""
        if path is None:
            raise ConfigError(
                f"{_SETTING} is not set: the API needs a tokens file "
                "(create one with `sitaware api token --actor NAME --role ROLE --file PATH`)")
        book = cls(read_tokens(Path(path)))
        if not book:
            raise ConfigError(f"{_SETTING}: {path} holds no tokens")
        return book

    def check(self, token: str | None, now: datetime | None = None) -> Principal | Refusal:
        if not token:
            return Refusal(ANONYMOUS, "no token")
        # aiohttp hands header bytes that are not UTF-8 over as surrogate escapes: hash the
        # bytes as sent (no token matches them) instead of failing with a 500.
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        found = None
        for stored, entry, principal in self._entries:  # no early exit: constant work per call
            if hmac.compare_digest(stored, digest):
                found = entry, principal
        if found is None:
            return Refusal(ANONYMOUS, "unknown token")
        entry, principal = found
        state = entry.state(now or datetime.now(timezone.utc))
        return principal if state == "active" else Refusal(entry.actor, f"{state} token")

    def lookup(self, token: str | None) -> Principal | None:
        """The caller of a valid (known, unrevoked, unexpired) token; None otherwise."""
        found = self.check(token)
        return found if isinstance(found, Principal) else None


class TokenWatch:
    """The tokens file as it is now: re-read when it changes, or when asked (SIGHUP)."""

    def __init__(self, path: Path | None, book: TokenBook | None = None):
        self.path = Path(path) if path is not None else None
        self.book = book if book is not None else TokenBook.load(self.path)
        self._seen = self._signature()
        self.error: str | None = None  # why the last re-read failed, while it does

    def _signature(self):
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return "missing"
        return st.st_ino, st.st_size, st.st_mtime_ns

    def current(self) -> TokenBook:
        """The book, re-read first if the file changed since it was read."""
        if self.path is not None and self._signature() != self._seen:
            self.reload("the file changed")
        return self.book

    def reload(self, why: str = "SIGHUP") -> bool:
        if self.path is None:
            return False
        signature = self._signature()
        try:
            book = TokenBook.load(self.path)
        except ConfigError as exc:
            if self.error != str(exc):
                log.error("tokens file not re-read (%s): %s; the previous %d tokens stay in force",
                          why, exc, len(self.book))
            self.error, self._seen = str(exc), signature
            return False
        self.book, self._seen, self.error = book, signature, None
        log.info("tokens file re-read (%s): %d tokens, %d active", why, len(book), book.active())
        return True
