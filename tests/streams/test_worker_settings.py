"""The worker refuses to start without a strong PII key: plates and caller phones would
otherwise reach ClickHouse under a guessable pseudonym."""

from __future__ import annotations

import os
import subprocess
import sys


def _worker(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "SITAWARE_PII_KEY"}
    return subprocess.run([sys.executable, "-m", "sitaware.cli", "worker"], capture_output=True, text=True,
                          env={**base, "SITAWARE_KAFKA_BOOTSTRAP": "127.0.0.1:1", **env}, timeout=60)


def test_a_missing_pii_key_stops_the_worker_with_the_setting_named():
    result = _worker()
    assert result.returncode == 2
    assert "SITAWARE_PII_KEY is not set" in result.stderr and "Traceback" not in result.stderr


def test_a_short_pii_key_is_refused():
    result = _worker(SITAWARE_PII_KEY="secret")
    assert result.returncode == 2
    assert "SITAWARE_PII_KEY" in result.stderr and "32 characters" in result.stderr
