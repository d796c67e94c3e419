"""Keyed pseudonyms for personal data (plates, caller phones) before ClickHouse or logs.

HMAC-SHA256 with `SITAWARE_PII_KEY`, hex: the same value always maps to the same token
(so analysts can still count and join), and without the key the token reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["pseudonym"]


def pseudonym(value: str | None, key: bytes) -> str:
    if not value:
        return ""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
