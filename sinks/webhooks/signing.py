"""Standard Webhooks signatures (https://www.standardwebhooks.com) of alert deliveries.

The signed content is ``f"{msg_id}.{timestamp}."`` followed by the raw body bytes; the
signature is ``"v1," + base64(HMAC-SHA256(key, signed content))``.

The key is taken from a subscription's ``webhook_secret``:

- a secret starting with ``whsec_`` is a Standard Webhooks secret: the rest is the
  standard base64 of the key bytes, with or without its ``=`` padding (what the reference
  libraries generate and accept);
- any other secret is used as its UTF-8 bytes, so a plain shared password also works.

Both sides must read the secret the same way; receivers can use `verify` below or any
Standard Webhooks library (which expects the ``whsec_`` form).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

__all__ = ["SECRET_PREFIX", "secret_key", "sign", "headers", "verify"]

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret; ValueError when it is empty or not valid base64 after whsec_.

    The error message never repeats the secret.
    """
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX):]
        # The reference libraries accept the base64 without its `=` padding (a secret copied
        # without its tail still has to sign as they do): pad it to a whole quantum.
        encoded += "=" * (-len(encoded) % 4)
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("webhook secret: whsec_ must be followed by standard base64") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``"v1,<base64 HMAC-SHA256 of f'{msg_id}.{timestamp}.' + body>"``."""
    return "v1," + _signature(secret_key(secret), msg_id, timestamp, body)


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The request headers of one delivery attempt (timestamp in Unix seconds)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """True when the headers carry a valid v1 signature of `body` made at most
    `tolerance_s` away from `now` (default: the wall clock), which refuses replays.

    Header names are matched case-insensitively; the signature header may list several
    space-separated signatures (key rotation), any valid ``v1`` one is enough.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not msg_id or not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        return False
    timestamp = int(raw_timestamp)
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = _signature(secret_key(secret), msg_id, timestamp, body).encode("ascii")
    valid = False
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        # Compare every candidate in constant time; do not stop at the first match.
        if version == "v1" and hmac.compare_digest(expected, value.encode("ascii", "replace")):
            valid = True
    return valid
