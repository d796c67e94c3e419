"""The shipped Prometheus config and the Grafana dashboards' Prometheus panels, on a real
Prometheus (Debian's, installed by deploy/install-system-deps.sh).

- `promtool check config` accepts deploy/prometheus/prometheus.yml as shipped (its
  targets are compose service names; checking does not resolve them).
- A Prometheus on loopback scrapes a real worker (the shipped worker job, its DNS
  discovery swapped for the worker's loopback address) that has taken a few good and bad
  records, and every Prometheus expression of every dashboard, its Grafana variables
  substituted, must return data through the HTTP API: a panel querying a metric, a label
  or a series the worker never exports stays empty, and fails here.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from sitaware.bench.workers import free_port
from tests.conftest import isolated_topics
from tests.pipeline.conftest import Feed, Worker, poll

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
WORKER_JOB = "sitaware-worker"
SCRAPE_INTERVAL_S = 1

# Grafana's values of the variables the panels use, for a 1 s scrape interval and a
# 5-minute range: $__rate_interval is max($__interval + scrape interval, 4 x scrape
# interval). A variable not listed here fails the test (it needs a value chosen here).
GRAFANA_VARIABLES = {
    "__rate_interval": f"{4 * SCRAPE_INTERVAL_S}s",
    "__interval": f"{SCRAPE_INTERVAL_S}s",
    "__range": "5m",
}



def _tool(name: str) -> str:
    """A missing tool fails (not skips): the project's set-up installs it."""
    path = shutil.which(name)
    assert path, f"{name} is not installed: run deploy/install-system-deps.sh as root (make install does)"
    return path


def _walk_panels(panels):
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


def _prometheus_targets() -> list[tuple[str, str]]:
    """(dashboard:panel title:refId, expr) of every Prometheus target of every dashboard."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in _walk_panels(json.loads(path.read_text()).get("panels") or []):
            for target in panel.get("targets") or []:
                datasource = target.get("datasource") or panel.get("datasource") or {}
                if datasource.get("type") == "prometheus":
                    out.append((f"{path.stem}:{panel.get('title')}:{target.get('refId')}", target["expr"]))
    return out


TARGETS = _prometheus_targets()


def substitute(expr: str) -> str:
    """The expression Grafana sends, its $name / ${name} variables replaced."""
    def value(match):
        name = match[1] or match[2]
        assert name in GRAFANA_VARIABLES, f"{expr!r}: no value for the Grafana variable ${name} in this test"
        return GRAFANA_VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def _promtool_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("promtool"), "check", "config", str(path)], capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_shipped_config(tmp_path):
    copy = tmp_path / "prometheus.yml"  # the file as compose mounts it, away from the repo
    shutil.copy(PROMETHEUS_CONFIG, copy)
    done = _promtool_check(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_promtool_refuses_a_broken_config(tmp_path):
    """The check above can fail: the same file with a scrape interval Prometheus refuses."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = "soon"
    broken = tmp_path / "prometheus.yml"
    broken.write_text(yaml.safe_dump(config))
    assert _promtool_check(broken).returncode != 0


def test_the_dashboards_have_prometheus_panels():
    assert len(TARGETS) >= 4, TARGETS
    assert substitute("rate(x[$__rate_interval])") == "rate(x[4s])"
    with pytest.raises(AssertionError, match=r"\$job"):
        substitute("up{job=~\"$job\"}")


# --- a real Prometheus scraping a real worker -----------------------------------------


def _local_config(worker_port: int) -> dict:
    """The shipped config, its worker job pointed at a worker on loopback."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = f"{SCRAPE_INTERVAL_S}s"
    jobs = [job for job in config["scrape_configs"] if job["job_name"] == WORKER_JOB]
    assert len(jobs) == 1, f"the shipped config has no {WORKER_JOB} job"
    job = jobs[0]
    assert [sd["port"] for sd in job.pop("dns_sd_configs")] == [6066]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
    config["scrape_configs"] = [job]
    return config


class Prometheus:
    def __init__(self, config: dict, workdir: Path):
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self.proc = subprocess.Popen(
            [_tool("prometheus"), f"--config.file={self.config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)

    def get(self, path: str, **params):
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read()) if path.startswith("/api/") else answer.read()

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"prometheus exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
        try:
            self.get("/-/ready")
            return True
        except OSError:
            return False

    def worker_scraped(self) -> bool:
        active = self.get("/api/v1/targets")["data"]["activeTargets"]
        return any(t["labels"]["job"] == WORKER_JOB and t["health"] == "up" for t in active)

    def query(self, expr: str) -> list:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _records():
    """Good alarms and pings of a past day (no clash with other runs' rows), and records
    the worker must dead-letter: so that records-in, dead letters and lag have series."""
    rng = random.Random()
    day = datetime(1990, 1, 1, 8, tzinfo=timezone.utc) + timedelta(days=rng.randrange(3_000))
    ts = lambda s: (day + timedelta(seconds=s)).isoformat(timespec="milliseconds")  # noqa: E731
    lat, lon = 31.0 + rng.random() * 0.3, 121.2 + rng.random() * 0.3
    for i in range(6):
        yield "alarms", f"PA{i}", {"alarm_id": f"PA{i}", "status": "received", "ts": ts(i), "lat": lat, "lon": lon,
                                   "category": "theft", "priority": 3}
        yield "patrol-gps", f"PU{i}", {"unit_id": f"PU{i}", "ts": ts(i), "lat": lat, "lon": lon,
                                       "unit_type": "police_car", "status": "available"}
    yield "alarms", "bad", b"not json at all"
    yield "patrol-gps", "bad", json.dumps({"unit_id": "PU0", "ts": ts(9), "lat": 91.0, "lon": lon,
                                           "unit_type": "police_car", "status": "available"}).encode()


@pytest.fixture
def scraped_worker(stack_settings, tmp_path):
    with isolated_topics(stack_settings, "p", topic_partitions=2, feed_idle_s=3.0) as settings:
        worker = Worker(settings, tmp_path).start()
        prometheus = Prometheus(_local_config(worker.port), tmp_path)
        feed = Feed(settings)
        try:
            poll(prometheus.ready, timeout=60, message="prometheus to be ready")
            for topic, key, value in _records():
                feed.send(topic, key, value)
            feed.flush()
            yield prometheus, settings
        finally:
            feed.close()
            prometheus.stop()
            worker.stop()


@pytest.mark.timeout(600)
def test_every_dashboard_expression_has_data_on_a_scraped_worker(scraped_worker):
    prometheus, settings = scraped_worker
    poll(prometheus.worker_scraped, timeout=60, message="prometheus to scrape the worker")
    empty = {name: substitute(expr) for name, expr in TARGETS}

    def all_have_data() -> bool:
        for name in list(empty):
            if prometheus.query(empty[name]):
                del empty[name]
        return not empty

    try:
        poll(all_have_data, timeout=180, interval=1.0, message="data for every dashboard expression")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still empty: {json.dumps(empty, indent=1)}") from None


@pytest.mark.timeout(600)
def test_the_lag_panel_shows_backlogs_not_changelogs(scraped_worker):
    """A worker writes its tables' changelogs and reads them only to recover, so their
    end-minus-committed figure grows with every table update: it is no backlog, and the
    panel must not plot it (the worker exports it: streams/web.py measures every assigned
    partition, changelogs included)."""
    prometheus, settings = scraped_worker
    (expr,) = [substitute(e) for name, e in TARGETS if "sitaware_consumer_lag" in e]
    poll(prometheus.worker_scraped, timeout=60, message="prometheus to scrape the worker")

    def topics() -> set[str]:
        return {series["metric"]["topic"] for series in prometheus.query(expr)}

    inputs = {settings.topic("alarms"), settings.topic("patrol-gps")}
    shown = poll(lambda: topics() >= inputs and topics(), timeout=120, message=f"lag of {sorted(inputs)}")
    assert not [t for t in shown if t.endswith("-changelog")], sorted(shown)
