"""Webhook delivery against a real HTTP receiver on 127.0.0.1: signatures, retries, SSRF guard."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import socket
import time

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

import sinks.webhooks.delivery as delivery_module
from sinks.webhooks import TargetRefused, WebhookDelivery, check_target, headers, sign, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = json.dumps({"alert_id": "al-1", "subscription_id": "sub-1", "event": {"summary": "x"}}).encode()


class Receiver:
    """A real aiohttp server answering POST /hook from a script of statuses, recording requests.

    A script entry is a status, (status, headers), or "hang"; the last entry repeats.
    """

    def __init__(self, *script):
        self.script = list(script) or [200]
        self.requests: list[tuple] = []  # (headers, body)
        self._release = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.headers.copy(), await request.read()))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step == "hang":
            await self._release.wait()
            step = 200
        status, extra = step if isinstance(step, tuple) else (step, {})
        return web.Response(status=status, headers=extra)

    async def __aenter__(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._release.set()
        await self._runner.cleanup()


class Sleeps(list):
    """Records the backoff delays instead of sleeping them."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


def run(scenario, *script, **options):
    """Run `scenario(receiver, delivery)` against a fresh receiver; return what it returns."""

    async def main():
        options.setdefault("allow_private", True)
        options.setdefault("sleep", Sleeps())
        async with Receiver(*script) as receiver, WebhookDelivery(**options) as delivery:
            return await scenario(receiver, delivery)

    return asyncio.run(main())


async def deliver(receiver, delivery):
    result = await delivery.deliver(receiver.url, SECRET, "al-1", BODY)
    return result, receiver, delivery


def metric(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_signature_verifies_with_verify_and_an_independent_hmac():
    result, receiver, _ = run(deliver, 200)
    assert result.status == "delivered" and result.attempts == 1 and result.last_status_code == 200
    [(got, body)] = receiver.requests
    assert body == BODY and got["content-type"] == "application/json"
    assert got["webhook-id"] == "al-1"
    assert abs(int(got["webhook-timestamp"]) - time.time()) < 5
    assert verify(SECRET, got, body)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{got['webhook-id']}.{got['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert got["webhook-signature"] == f"v1,{expected}"


def test_verify_refuses_tampering_stale_timestamps_and_other_secrets():
    sent = headers(SECRET, "al-1", 1_700_000_000, BODY)
    assert verify(SECRET, sent, BODY, now=1_700_000_100)
    assert not verify(SECRET, sent, BODY + b" ", now=1_700_000_100)
    assert not verify(SECRET, sent, BODY, now=1_700_000_301)
    assert not verify("another secret", sent, BODY, now=1_700_000_100)
    assert not verify(SECRET, {**sent, "webhook-id": "al-2"}, BODY, now=1_700_000_100)
    rotated = {**sent, "webhook-signature": "v1,AAAA " + sent["webhook-signature"]}
    assert verify(SECRET, rotated, BODY, now=1_700_000_100)
    # A secret without the whsec_ prefix is its UTF-8 bytes.
    plain = hmac.new("pässword".encode(), b"m.1.{}", hashlib.sha256).digest()
    assert sign("pässword", "m", 1, b"{}") == "v1," + base64.b64encode(plain).decode()


def test_two_503_then_200_is_delivered_on_the_third_attempt_with_one_webhook_id():
    before = metric("sitaware_webhook_attempts_total", outcome="retryable_status")
    sleeps = Sleeps()
    result, receiver, _ = run(deliver, 503, 503, 200, sleep=sleeps, rng=random.Random(7))
    assert (result.status, result.attempts, result.last_status_code) == ("delivered", 3, 200)
    assert len(receiver.requests) == 3
    assert {h["webhook-id"] for h, _ in receiver.requests} == {"al-1"}
    assert all(verify(SECRET, h, b) for h, b in receiver.requests)
    dice = random.Random(7)  # full jitter: uniform(0, min(max, base * 2**(n-1)))
    assert sleeps == [dice.uniform(0, 1.0), dice.uniform(0, 2.0)]
    assert metric("sitaware_webhook_attempts_total", outcome="retryable_status") == before + 2


def test_410_is_gone_after_one_request():
    sleeps = Sleeps()
    result, receiver, _ = run(deliver, 410, sleep=sleeps)
    assert (result.status, result.attempts, result.last_status_code) == ("gone", 1, 410)
    assert len(receiver.requests) == 1 and sleeps == []


@pytest.mark.parametrize("status", [400, 401, 404, 302])
def test_permanent_statuses_fail_after_one_request(status):
    result, receiver, _ = run(deliver, (status, {"Location": "http://10.0.0.1/"}), 200)
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 1, status)
    assert len(receiver.requests) == 1  # a redirect is not followed


def test_retry_after_is_honoured_and_capped():
    sleeps = Sleeps()
    script = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "3600"}), 200]
    result, receiver, _ = run(deliver, *script, sleep=sleeps, max_delay_s=60.0)
    assert (result.status, result.attempts) == ("delivered", 3)
    assert sleeps == [7.0, 60.0]


def test_persistent_500_fails_after_all_attempts_without_leaking_the_secret():
    before = metric("sitaware_webhook_deliveries_total", status="failed")
    sleeps = Sleeps()
    result, receiver, _ = run(deliver, 500, sleep=sleeps, attempts=4, base_delay_s=1.0, max_delay_s=3.0)
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 4, 500)
    assert len(receiver.requests) == 4
    assert len(sleeps) == 3 and all(0 <= d <= cap for d, cap in zip(sleeps, [1.0, 2.0, 3.0]))
    assert SECRET not in result.last_error and BODY.decode() not in result.last_error
    assert metric("sitaware_webhook_deliveries_total", status="failed") == before + 1


def test_a_hanging_receiver_times_out_and_is_retried():
    before = metric("sitaware_webhook_attempts_total", outcome="timeout")
    result, receiver, _ = run(deliver, "hang", attempts=2, timeout_s=0.2)
    assert (result.status, result.attempts, result.last_status_code) == ("failed", 2, None)
    assert "0.2s" in result.last_error and len(receiver.requests) == 2
    assert metric("sitaware_webhook_attempts_total", outcome="timeout") == before + 2


def test_a_closed_port_is_a_retried_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"

    async def scenario(receiver, delivery):
        return await delivery.deliver(closed, SECRET, "al-1", BODY)

    result = run(scenario, attempts=3)
    assert (result.status, result.attempts) == ("failed", 3)
    assert "Connect" in result.last_error


def test_loopback_is_refused_without_a_request_unless_private_targets_are_allowed():
    result, receiver, _ = run(deliver, 200, allow_private=False)
    assert (result.status, result.attempts) == ("refused", 0)
    assert "loopback" in result.last_error and receiver.requests == []
    result, receiver, _ = run(deliver, 200, allow_private=True)
    assert result.status == "delivered" and len(receiver.requests) == 1


def test_the_target_is_checked_again_before_every_attempt(monkeypatch):
    calls = []

    def rebinding_check(url, allow_private):
        calls.append(url)
        if len(calls) > 1:  # the name now points inside
            raise TargetRefused("host 'x' resolves to 10.0.0.1, a private address")

    monkeypatch.setattr(delivery_module, "check_target", rebinding_check)
    result, receiver, _ = run(deliver, 503, 200)
    assert (result.status, result.attempts, result.last_status_code) == ("refused", 1, 503)
    assert len(receiver.requests) == 1 and len(calls) == 2


def test_the_connector_refuses_a_name_resolving_inside_even_past_the_check(monkeypatch):
    monkeypatch.setattr(delivery_module, "check_target", lambda url, allow_private: None)

    async def scenario(receiver, delivery):
        url = f"http://localhost:{receiver.port}/hook"
        return await delivery.deliver(url, SECRET, "al-1", BODY), receiver

    result, receiver = run(scenario, 200, allow_private=False)
    assert (result.status, result.attempts) == ("refused", 0) and receiver.requests == []


def test_an_invalid_whsec_secret_fails_without_a_request():
    async def scenario(receiver, delivery):
        return await delivery.deliver(receiver.url, "whsec_not*base64", "al-1", BODY), receiver

    result, receiver = run(scenario, 200)
    assert (result.status, result.attempts) == ("failed", 0) and receiver.requests == []
    assert "not*base64" not in result.last_error


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/hook",
    "http://192.168.1.20/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://100.64.0.1/hook",
    "http://localhost/hook",
    "http://127.1/hook",
])
def test_non_public_hosts_are_refused(url):
    with pytest.raises(TargetRefused):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "http:///nohost", "/hook"]
)
def test_other_schemes_and_missing_hosts_are_refused_even_when_private_is_allowed(url):
    with pytest.raises(TargetRefused):
        check_target(url, allow_private=True)


def test_a_public_address_passes():
    check_target("https://93.184.216.34:8443/hook", allow_private=False)
