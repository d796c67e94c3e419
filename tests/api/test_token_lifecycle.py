"""Tokens change under a running API: a new token works, a revoked or expired one gets 401
(audited with its actor), all without a restart; SIGHUP re-reads the file too.
`sitaware api token list` shows ids and states, never a token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sitaware.api.auth import create_token, token_digest
from tests.api.test_api import audited
from tests.pipeline.conftest import poll

pytestmark = pytest.mark.stack


def _token_cli(api, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sitaware.cli", "api", "token", *args,
                           "--file", str(api.tokens_file)],
                          env=api.env(), capture_output=True, text=True, timeout=60)


def _status(api, token: str) -> int:
    return api.call("GET", "/api/subscriptions", token=token)[0]


def test_revoked_and_expired_tokens_get_401_without_a_restart(api, api_settings, clickhouse):
    actor = f"desk-{uuid.uuid4().hex[:8]}"
    made = _token_cli(api, "--actor", actor, "--role", "viewer", "--district", "东平区", "--expires-in", "30d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    poll(lambda: _status(api, token) == 200, timeout=10, message="the new token to be accepted")

    listed = _token_cli(api, "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if actor in line)
    assert token_digest(token)[:12] in line and "Dongping" in line and "active" in line
    assert token not in listed.stdout and token_digest(token) not in listed.stdout

    revoked = _token_cli(api, "revoke", token_digest(token)[:8])
    assert revoked.returncode == 0 and f"revoked {token_digest(token)[:12]} ({actor}, viewer)" in revoked.stdout
    assert _status(api, token) == 401  # the very next call: the file is checked on each one
    as_json = [json.loads(line) for line in _token_cli(api, "list", "--json").stdout.splitlines()]
    mine = next(row for row in as_json if row["actor"] == actor)
    assert mine["state"] == "revoked" and mine["revoked_at"] != "-" and mine["expires_at"] != "-"
    assert all(token not in json.dumps(row) for row in as_json)

    expiring_actor = f"temp-{uuid.uuid4().hex[:8]}"
    expiring = create_token(api.tokens_file, expiring_actor, "viewer", [],
                            expires_at=datetime.now(timezone.utc) + timedelta(seconds=3))
    assert _status(api, expiring) == 200
    poll(lambda: _status(api, expiring) == 401, timeout=15, message="the token to expire")

    db = api_settings.clickhouse_database
    assert audited(clickhouse, db, 1, actor=actor, outcome="unauthorized") == [
        ("GET /api/subscriptions", "", "unauthorized", "revoked token")]
    assert audited(clickhouse, db, 1, actor=expiring_actor, outcome="unauthorized")[0][3] == "expired token"
    assert api.call("GET", "/health")[1]["tokens"]["file_error"] is None


def test_sighup_rereads_a_change_the_file_check_cannot_see(api):
    token = create_token(api.tokens_file, f"hup-{uuid.uuid4().hex[:8]}", "viewer", [])
    poll(lambda: _status(api, token) == 200, timeout=10, message="the new token to be accepted")
    # Replace its digest in place: same inode, same size, and the old modification time put
    # back, so only a signal makes the API read the file again.
    before = os.stat(api.tokens_file)
    text = api.tokens_file.read_text()
    assert token_digest(token) in text
    with open(api.tokens_file, "r+", encoding="utf-8") as out:
        out.write(text.replace(token_digest(token), "0" * 64))
    os.utime(api.tokens_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert _status(api, token) == 200  # unseen so far
    api.proc.send_signal(signal.SIGHUP)
    poll(lambda: _status(api, token) == 401, timeout=10, message="SIGHUP to re-read the tokens file")
    assert _status(api, api.tokens["admin"]) == 200  # the other tokens are still there


def test_a_broken_file_keeps_the_tokens_in_force_and_says_so(api):
    good = api.tokens_file.read_text()
    try:
        api.tokens_file.write_text("[{not json")
        assert _status(api, api.tokens["viewer"]) == 200
        assert "not readable JSON" in api.call("GET", "/health")[1]["tokens"]["file_error"]
    finally:
        api.tokens_file.write_text(good)
    assert _status(api, api.tokens["viewer"]) == 200
    assert api.call("GET", "/health")[1]["tokens"]["file_error"] is None
