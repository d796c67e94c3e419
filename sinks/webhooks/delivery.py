"""Delivery of one alert to a webhook subscriber: signed POSTs, retried while it may heal.

Every attempt carries the same ``webhook-id`` (the alert_id, so the receiver can drop
duplicates) and a fresh timestamp and signature. Responses are classified:

    2xx                                  delivered
    410 Gone                             gone: stop; the caller disables the subscription
    408, 429, 5xx, timeout, no connection  retried: full-jitter exponential backoff, or the
                                         receiver's Retry-After (seconds), capped
    anything else (other 4xx, 3xx)       failed at once: retrying will not change it
    URL refused by the SSRF guard        refused, checked again before every attempt

Redirects are not followed: a redirect could lead the signed alert past the SSRF guard.
After the last retried attempt the result is failed; the caller dead-letters the alert.
The secret and the body never reach a log line, a metric or `DeliveryResult.last_error`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from prometheus_client import Counter

from sinks.webhooks import signing
from sinks.webhooks.targets import GuardedResolver, TargetRefused, TargetUnresolved, check_target

__all__ = [
    "DeliveryStatus",
    "DeliveryResult",
    "WebhookDelivery",
    "WEBHOOK_ATTEMPTS",
    "WEBHOOK_DELIVERIES",
]

log = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = Counter(
    "sitaware_webhook_attempts_total",
    "Webhook delivery attempts by outcome "
    "(delivered, gone, rejected, retryable_status, timeout, connection_error)",
    ["outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "sitaware_webhook_deliveries_total",
    "Finished webhook deliveries by status (delivered, gone, failed, refused)",
    ["status"],
)

DeliveryStatus = Literal["delivered", "gone", "failed", "refused"]


@dataclass(frozen=True)
class DeliveryResult:
    """How a delivery ended. `attempts` counts tries, each a request or a failure to
    connect; `last_error` names the cause without the secret or the body."""

    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class _Attempt:
    outcome: str  # a WEBHOOK_ATTEMPTS label
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def retryable(self) -> bool:
        return self.outcome in ("retryable_status", "timeout", "connection_error")


def _classify(code: int) -> str:
    if 200 <= code < 300:
        return "delivered"
    if code == 410:
        return "gone"
    if code in (408, 429) or code >= 500:
        return "retryable_status"
    return "rejected"


def _retry_after_s(value: str | None) -> float | None:
    # Only the delta-seconds form; an HTTP date falls back to our own backoff.
    value = (value or "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


class WebhookDelivery:
    """Delivers alerts over one pooled HTTP session; close it with `close()` (or use
    ``async with``). `session_factory` builds that session on first use; the default one
    resolves names through `GuardedResolver` unless `allow_private`.
    `sleep` and `rng` are the backoff's clock and dice, replaceable in tests."""

    def __init__(
        self,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        attempts: int = 5,
        base_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        timeout_s: float = 10.0,
        allow_private: bool = False,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: random.Random | None = None,
    ):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.session_factory = session_factory or self._guarded_session
        self.attempts = attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.sleep = sleep
        self.rng = rng if rng is not None else random.Random()
        self._session: aiohttp.ClientSession | None = None

    def _guarded_session(self) -> aiohttp.ClientSession:
        resolver = None if self.allow_private else GuardedResolver()
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver))

    async def __aenter__(self) -> "WebhookDelivery":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt-1)))."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** min(attempt - 1, 62))
        return self.rng.uniform(0, ceiling)

    async def deliver(self, url: str, secret: str, alert_id: str, body: bytes) -> DeliveryResult:
        try:
            signing.secret_key(secret)
        except ValueError as exc:  # the message names the problem, not the secret
            return self._finish(alert_id, DeliveryResult("failed", 0, None, str(exc)))
        last: _Attempt | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                # Again before every attempt: the name may have been re-pointed since.
                await asyncio.to_thread(check_target, url, self.allow_private)
            except TargetUnresolved as exc:
                last = _Attempt("connection_error", error=exc.reason)
            except TargetRefused as exc:
                return self._refused(alert_id, attempt - 1, last, exc.reason)
            else:
                try:
                    last = await self._attempt(url, secret, alert_id, body)
                except TargetRefused as exc:  # from GuardedResolver, before any request
                    return self._refused(alert_id, attempt - 1, last, exc.reason)
            WEBHOOK_ATTEMPTS.labels(last.outcome).inc()
            log.debug("webhook alert %s attempt %d: %s %s", alert_id, attempt, last.outcome,
                      last.status_code or "")
            if not last.retryable:
                status: DeliveryStatus = {"delivered": "delivered", "gone": "gone"}.get(
                    last.outcome, "failed")
                return self._finish(alert_id, DeliveryResult(status, attempt, last.status_code, last.error))
            if attempt < self.attempts:
                if last.retry_after_s is not None:
                    delay = min(self.max_delay_s, last.retry_after_s)
                else:
                    delay = self.backoff_s(attempt)
                await self.sleep(delay)
        assert last is not None
        return self._finish(alert_id, DeliveryResult("failed", self.attempts, last.status_code, last.error))

    async def _attempt(self, url: str, secret: str, alert_id: str, body: bytes) -> _Attempt:
        if self._session is None:
            self._session = self.session_factory()
        request_headers = signing.headers(secret, alert_id, int(time.time()), body)
        try:
            async with self._session.post(
                url, data=body, headers=request_headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                code = response.status
                outcome = _classify(code)
                return _Attempt(
                    outcome, code, None if outcome == "delivered" else f"HTTP {code}",
                    _retry_after_s(response.headers.get("Retry-After")),
                )
        except TimeoutError:  # before ClientError: aiohttp's timeouts are both
            return _Attempt("timeout", error=f"no response within {self.timeout_s:g}s")
        except aiohttp.InvalidURL:
            raise TargetRefused("URL not accepted by the HTTP client") from None
        except (aiohttp.ClientError, OSError) as exc:
            # Only the class: messages of some errors quote the request URL.
            return _Attempt("connection_error", error=type(exc).__name__)

    def _refused(self, alert_id: str, attempts: int, last: _Attempt | None, reason: str) -> DeliveryResult:
        code = last.status_code if last else None
        return self._finish(alert_id, DeliveryResult("refused", attempts, code, f"target refused: {reason}"))

    def _finish(self, alert_id: str, result: DeliveryResult) -> DeliveryResult:
        WEBHOOK_DELIVERIES.labels(result.status).inc()
        level = logging.INFO if result.status == "delivered" else logging.WARNING
        log.log(level, "webhook alert %s: %s after %d attempt(s)", alert_id, result.status, result.attempts)
        return result
