"""Webhook signatures (sinks/webhooks/signing.py) against the reference `standardwebhooks`
library: what a subscriber verifies with it must be what the worker sends, and the other
way round. Secrets in the Standard Webhooks form: ``whsec_`` + base64 of the key bytes.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from sinks.webhooks.signing import headers, sign, verify


def _secret(key_bytes: int) -> str:
    return "whsec_" + base64.b64encode(os.urandom(key_bytes)).decode()


def _alert_body() -> bytes:
    alert = {"alert_id": "al-1", "subscription_id": "ops-east", "matched_at": "2026-03-02T08:00:01Z",
             "event": {"event_id": "ev-1", "type": "alarm_hotspot", "summary": "黄浦区 5 起警情"}}
    return json.dumps(alert, ensure_ascii=False).encode()


# 24 bytes: the length the reference libraries generate (no base64 padding); 32 and 64:
# longer keys, padded.
SECRETS = [pytest.param(_secret(n), id=f"{n}-byte key") for n in (24, 32, 64)]


@pytest.mark.parametrize("secret", SECRETS)
def test_their_verifier_accepts_our_delivery(secret):
    body = _alert_body()
    sent = headers(secret, "al-1", int(time.time()), body)
    assert Webhook(secret).verify(body, sent) == json.loads(body)


@pytest.mark.parametrize("secret", SECRETS)
def test_their_verifier_refuses_our_delivery_of_another_body(secret):
    body = _alert_body()
    sent = headers(secret, "al-1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"ev-1", b"ev-2"), sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(_secret(24)).verify(body, sent)


@pytest.mark.parametrize("secret", SECRETS)
def test_our_verifier_accepts_their_signature(secret):
    body = _alert_body()
    now = int(time.time())
    theirs = Webhook(secret).sign("al-1", datetime.fromtimestamp(now, timezone.utc), body.decode())
    received = {"Webhook-Id": "al-1", "Webhook-Timestamp": str(now), "Webhook-Signature": theirs}
    assert verify(secret, received, body)
    assert not verify(secret, {**received, "Webhook-Id": "al-2"}, body)
    assert not verify(_secret(24), received, body)


@pytest.mark.parametrize("secret", SECRETS)
def test_same_signature_for_the_same_id_timestamp_body_and_secret(secret):
    body = _alert_body()
    when = 1_772_409_600  # 2026-03-02T00:00:00Z
    theirs = Webhook(secret).sign("al-1", datetime.fromtimestamp(when, timezone.utc), body.decode())
    assert sign(secret, "al-1", when, body) == theirs


def test_the_specifications_example_secret():
    """The secret of the Standard Webhooks specification's examples, both ways."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    when = int(time.time())
    ours = headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", when, body)
    Webhook(secret).verify(body, ours)
    assert ours["webhook-signature"] == Webhook(secret).sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", datetime.fromtimestamp(when, timezone.utc), body.decode())


@pytest.mark.parametrize("key_bytes", [32, 64], ids=["one = dropped", "two = dropped"])
def test_an_unpadded_secret_works_as_in_the_reference_library(key_bytes):
    secret = "whsec_" + base64.b64encode(os.urandom(key_bytes)).decode().rstrip("=")
    body = _alert_body()
    when = int(time.time())
    assert sign(secret, "al-1", when, body) == Webhook(secret).sign(
        "al-1", datetime.fromtimestamp(when, timezone.utc), body.decode())
    assert verify(secret, headers(secret, "al-1", when, body), body)
