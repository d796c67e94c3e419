"""`sitaware subscribe put|list|delete` against the real broker, on topics of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _cli(settings, *args, allow_private=False):
    env = {**os.environ, "SITAWARE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
           "SITAWARE_TOPIC_PREFIX": settings.topic_prefix,
           "SITAWARE_WEBHOOK_ALLOW_PRIVATE": str(allow_private).lower()}
    return subprocess.run([sys.executable, "-m", "sitaware.cli", "subscribe", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_put_list_delete(run_settings, tmp_path):
    hook = {"subscription_id": "east-gaps", "name": "东区盲区", "owner": "duty-east", "channel": "webhook",
            "types": ["coverage_gap"], "webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s3cret-value"}
    path = tmp_path / "hook.json"
    path.write_text(json.dumps(hook, ensure_ascii=False))

    refused = _cli(run_settings, "put", str(path))
    assert refused.returncode == 2 and "webhook_url refused" in refused.stderr

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**hook, "channel": "pager"}))
    invalid = _cli(run_settings, "put", str(bad), allow_private=True)
    assert invalid.returncode == 2 and "channel" in invalid.stderr

    assert _cli(run_settings, "put", str(path), allow_private=True).returncode == 0
    listed = [json.loads(line) for line in _cli(run_settings, "list").stdout.splitlines()]
    assert [s["subscription_id"] for s in listed] == ["east-gaps"]
    assert listed[0]["webhook_secret"] == "***" and listed[0]["name"] == "东区盲区"

    assert _cli(run_settings, "delete", "east-gaps").returncode == 0
    assert _cli(run_settings, "list").stdout == ""


def test_names_are_checked_and_zh_district_names_stored_as_ids(run_settings, tmp_path):
    base = {"subscription_id": "east-zh", "name": "东区", "owner": "duty-east", "channel": "kafka"}
    cases = [({"districts": ["东平区", "Atlantis"]}, "districts.1: unknown district 'Atlantis'", "Dongping (东平区)"),
             ({"types": ["riot"]}, "types.0: unknown situation type 'riot'", "alarm_hotspot"),
             ({"min_severity": "urgent"}, "min_severity: unknown severity 'urgent'", "info, low, medium")]
    for number, (fields, problem, known) in enumerate(cases):
        path = tmp_path / f"bad{number}.json"
        path.write_text(json.dumps({**base, **fields}, ensure_ascii=False))
        done = _cli(run_settings, "put", str(path))
        assert done.returncode == 2 and problem in done.stderr and known in done.stderr, done.stderr
    assert _cli(run_settings, "list").stdout == ""  # nothing was written

    path = tmp_path / "east.json"
    path.write_text(json.dumps({**base, "districts": ["东平区", "Dongcheng"]}, ensure_ascii=False))
    assert _cli(run_settings, "put", str(path)).returncode == 0
    listed = [json.loads(line) for line in _cli(run_settings, "list").stdout.splitlines()]
    assert [s["districts"] for s in listed] == [["Dongping", "Dongcheng"]]
    assert _cli(run_settings, "delete", "east-zh").returncode == 0
