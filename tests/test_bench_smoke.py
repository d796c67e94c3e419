"""`sitaware bench --smoke` on the real stack: every stage runs and the report is complete.

No timing assertions: a benchmark measures, it is not a timed test.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from sitaware.bench.report import REQUIRED_KEYS

pytestmark = pytest.mark.stack


def test_bench_smoke_writes_every_figure_and_a_plot(stack_settings, tmp_path):
    output = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "sitaware.cli", "bench", "--smoke", "--output", str(output)],
        env={**os.environ, **stack_settings.as_env()}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads(output.read_text())
    for key in REQUIRED_KEYS:
        value = report.get(key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
    assert report["machine"]["cores"] >= 1
    assert report["offered_rates"]
    assert report["active_keys"] > 0  # the entities the load sent (units at least)
    assert "pipeline throughput" in proc.stdout  # the readable table

    plot = tmp_path / "r.png"
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bench_city_smoke_writes_every_large_city_figure(stack_settings, tmp_path):
    from sitaware.bench.city_report import CITY_REQUIRED_KEYS

    output = tmp_path / "city.json"
    proc = subprocess.run(
        [sys.executable, "-m", "sitaware.cli", "bench", "--city", "--smoke", "--output", str(output)],
        env={**os.environ, **stack_settings.as_env()}, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads(output.read_text())
    for key in CITY_REQUIRED_KEYS:
        value = report.get(key)
        assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value), (key, value)
    # Counted, not just present: the worker read the feeds and wrote its internal topics, the
    # no-op app read them too, and the idle pipeline was measured at every partition count.
    assert report["records_in"] > 0 and report["records_out_per_record_in"] > 0
    assert report["changelog_bytes_per_record_in"] > 0 and report["faust_ceiling_events_per_s"] > 0
    assert set(report["control_records_per_s_by_partitions"]) == {"2", "4"}
    assert report["alarms_received"] > 0
    assert "records out per record in" in proc.stdout
