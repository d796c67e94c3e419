"""docker-compose.yml, the Dockerfile and the Grafana / Prometheus / ClickHouse files it mounts.

Docker cannot run here, so these read the files and check what a `docker compose up`
would otherwise only reveal at run time (or never): unpinned images, services nobody
health-checks, start order without conditions, settings the code does not know, mounts
of files that do not exist, ports open to the network, datasources that dashboards
cannot find, credentials in the repository, servers that only listen on the container's
loopback, a simulated city faster than the workers, plugins fetched at start.

What can run here does: the healthcheck snippets (against a real HTTP server), the
simulator's options (through the CLI's own parser) and its load (by generating the city
it is told to run), and the Grafana image's plugin installer (on a real archive).
`promtool` checks the Prometheus file in tests/test_prometheus.py.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections import Counter
from datetime import datetime, timedelta
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from sitaware.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
CLICKHOUSE_USERS = REPO / "deploy" / "clickhouse" / "compose-users.xml"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = REPO / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARDS = GRAFANA / "dashboards"
GRAFANA_DOCKERFILE = GRAFANA / "Dockerfile"
PLUGIN_INSTALLER = GRAFANA / "install-plugin.sh"
CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"

EXPECTED_SERVICES = {"kafka", "clickhouse", "init", "worker", "api", "simulator", "prometheus", "grafana"}
# Services that run to completion instead of serving: they need no healthcheck and must
# not be restarted. Every other service is long-running.
JOBS = {"init", "simulator"}
CLICKHOUSE_UID = "sitaware-clickhouse"
PROMETHEUS_UID = "sitaware-prometheus"
# The ports users reach from other machines: Grafana, and the command-center API and map
# (every call needs a token).
PUBLIC_PORTS = {("grafana", 3000), ("api", 6080)}
# What one worker sustains (docs/performance.md: ~200 records/s); the live city must stay
# well below it, with room for bursts and for catching up after a restart.
ONE_WORKER_RECORDS_PER_S = 200
LIVE_CITY_HEADROOM = 2
SECRET_NAME = re.compile(r"PASSWORD|PII_KEY|SECRET|TOKEN")
REQUIRED_VAR = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")


# --- helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _image_is_pinned(ref: str) -> bool:
    if "@sha256:" in ref:
        return True
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest" and "$" not in tag


def _published_ports(service: dict) -> list[tuple[str | None, int, int]]:
    """(host ip or None for all interfaces, host port, container port) per mapping."""
    out = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            out.append(
                (entry.get("host_ip"), int(published) if published else 0, int(entry["target"]))
            )
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            ip, host, container = parts
        elif len(parts) == 2:
            ip, (host, container) = None, parts
        else:
            ip, host, container = None, "0", parts[0]
        out.append((ip.strip("[]") if ip else None, int(host), int(container)))
    return out


def _bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host source, container target) of every bind mount of a service."""
    out = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type") == "bind":
                out.append((vol["source"], vol["target"]))
            continue
        source, _, rest = str(vol).partition(":")
        if source.startswith((".", "/", "~")):
            out.append((source, rest.split(":", 1)[0]))
    return out


def _host_paths(service: dict) -> list[str]:
    paths = [source for source, _ in _bind_mounts(service)]
    env_files = service.get("env_file") or []
    for item in [env_files] if isinstance(env_files, str) else env_files:
        paths.append(item["path"] if isinstance(item, dict) else item)
    build = service.get("build")
    if isinstance(build, str):
        paths.append(build)
    elif isinstance(build, dict):
        context = build.get("context", ".")
        paths.append(context)
        paths.append(str(Path(context) / build.get("dockerfile", "Dockerfile")))
    return paths


def _env_reference(value: str) -> str | None:
    """NAME of a Grafana provisioning `$NAME` / `${NAME}` value, else None."""
    m = re.fullmatch(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", value or "")
    return (m.group(1) or m.group(2)) if m else None


def _container_path_of(service: dict, host_path: Path) -> str | None:
    for source, target in _bind_mounts(service):
        if (REPO / source).resolve() == host_path.resolve():
            return target
    return None


def _walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


# --- compose ------------------------------------------------------------------------


def test_compose_parses_with_the_expected_services(compose):
    assert isinstance(compose, dict), "docker-compose.yml is not a mapping"
    assert EXPECTED_SERVICES <= set(compose.get("services") or {}), (
        f"missing services: {EXPECTED_SERVICES - set(compose.get('services') or {})}"
    )


def test_every_image_is_pinned(services):
    for name, service in services.items():
        assert "image" in service, f"{name}: no image (name the built image with a version tag)"
        assert _image_is_pinned(service["image"]), f"{name}: image {service['image']!r} is not pinned"


def test_jobs_run_once_and_everything_else_restarts(services):
    for name, service in services.items():
        restart = str(service.get("restart", "no"))
        if name in JOBS:
            assert restart == "no", f"{name} is a one-shot job but restart={restart!r}"
        else:
            assert restart != "no", f"long-running service {name} has no restart policy"


def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in services.items():
        if name in JOBS:
            continue
        check = service.get("healthcheck") or {}
        test = check.get("test")
        assert test and not check.get("disable"), f"{name}: no healthcheck"
        assert test not in (["NONE"], "NONE"), f"{name}: healthcheck disabled"
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_every_dependency_waits_on_a_condition(services):
    waits = 0
    for name, service in services.items():
        depends = service.get("depends_on")
        if depends is None:
            continue
        assert isinstance(depends, dict), f"{name}: depends_on without conditions (list form)"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
            elif condition == "service_completed_successfully":
                assert target in JOBS, f"{name} waits for {target} to complete, but it is a server"
            else:
                pytest.fail(f"{name} -> {target}: condition {condition!r} (use service_healthy "
                            "or service_completed_successfully)")
            waits += 1
    assert waits, "no service declares depends_on"


def test_start_order(services):
    """init after the data stores, worker after init, simulator after the worker."""
    assert set(services["init"]["depends_on"]) >= {"kafka", "clickhouse"}
    assert services["worker"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["simulator"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["simulator"]["depends_on"]["worker"]["condition"] == "service_healthy"
    assert set(services["api"]["depends_on"]) >= {"init", "kafka", "clickhouse"}


def test_sitaware_variables_are_settings(services):
    known = {"SITAWARE_" + field.upper() for field in Settings.model_fields}
    seen = set()
    for name, service in services.items():
        for key in _environment(service):
            if key.startswith("SITAWARE_"):
                assert key in known, f"{name}: {key} is not a field of sitaware.settings.Settings"
                seen.add(key)
    assert seen, "no SITAWARE_ setting is passed to any container"


def test_worker_gets_every_setting_it_needs(services):
    env = _environment(services["worker"])
    for field in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_HOST", "CLICKHOUSE_PORT", "CLICKHOUSE_DATABASE",
                  "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "PII_KEY", "LOCALE"):
        assert f"SITAWARE_{field}" in env, f"worker: SITAWARE_{field} not set"
    assert env["SITAWARE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["SITAWARE_CLICKHOUSE_HOST"] == "clickhouse"
    assert env["SITAWARE_CLICKHOUSE_PORT"] == "9000"
    assert env["SITAWARE_CLICKHOUSE_USER"] == "sitaware_writer"
    assert [str(p) for p in services["worker"].get("expose", [])] == ["6066"]


def test_worker_listens_on_every_interface(services):
    """The default bind is 127.0.0.1 (sitaware.settings): in a container, only the worker
    itself could reach /metrics, and Prometheus would scrape nothing."""
    env = _environment(services["worker"])
    assert Settings.model_fields["worker_web_bind"].default == "127.0.0.1"
    assert env.get("SITAWARE_WORKER_WEB_BIND") == "0.0.0.0", "worker: SITAWARE_WORKER_WEB_BIND is not 0.0.0.0"
    assert env.get("SITAWARE_WORKER_WEB_PORT") == "6066", "worker: SITAWARE_WORKER_WEB_PORT is not the exposed 6066"
    assert "6066" in _healthcheck_snippet(services["worker"])


# --- healthchecks that go through the network address -------------------------------


def _healthcheck_snippet(service: dict) -> str:
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and len(test) == 4, f"healthcheck {test!r} is not a python -c check"
    return test[3]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _run_snippet(snippet: str, port: int) -> int:
    return subprocess.run([sys.executable, "-c", snippet], timeout=30, capture_output=True).returncode


@pytest.mark.parametrize("name,port", [("worker", "6066"), ("api", "6080")])
def test_healthcheck_goes_through_the_containers_network_address(services, name, port):
    """Through the address other containers use (the container's hostname resolves to it),
    not loopback: a server bound to 127.0.0.1 only must fail its healthcheck. Here the
    snippet runs for real against an HTTP server on every interface (it must pass) and
    against a closed port (it must fail)."""
    snippet = _healthcheck_snippet(services[name])
    assert "localhost" not in snippet and "127.0.0.1" not in snippet, f"{name}: healthcheck on loopback"
    assert "socket.gethostbyname(socket.gethostname())" in snippet
    assert f":{port}/health" in snippet
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        local = snippet.replace(f":{port}/", f":{server.server_address[1]}/")
        assert _run_snippet(local, server.server_address[1]) == 0, f"{name}: healthcheck fails on a healthy server"
    finally:
        server.shutdown()
        server.server_close()
    closed = snippet.replace(f":{port}/", f":{server.server_address[1]}/")
    assert _run_snippet(closed, server.server_address[1]) != 0, f"{name}: healthcheck passes with nothing listening"


# --- the api service ------------------------------------------------------------------


def test_api_serves_the_map_on_every_interface(services):
    api = services["api"]
    env = _environment(api)
    assert api["command"] == ["api"]
    assert "image" in api and api["image"] == services["worker"]["image"], "api: not the sitaware image"
    assert env["SITAWARE_API_BIND"] == "0.0.0.0"
    port = int(env["SITAWARE_API_PORT"])
    assert [(h, c) for _, h, c in _published_ports(api)] == [(port, port)]
    for field, value in (("KAFKA_BOOTSTRAP", "kafka:9092"), ("CLICKHOUSE_HOST", "clickhouse"),
                         ("CLICKHOUSE_PORT", "9000"), ("CLICKHOUSE_DATABASE", "sitaware"),
                         ("CLICKHOUSE_READER_USER", "sitaware_reader"), ("CLICKHOUSE_USER", "sitaware_writer")):
        assert env.get(f"SITAWARE_{field}") == value, f"api: SITAWARE_{field}"
    # The same passwords ClickHouse checks for those users (compose-users.xml's from_env).
    clickhouse_env = _environment(services["clickhouse"])
    users = ET.parse(CLICKHOUSE_USERS).getroot().find("users")
    for setting, user in (("SITAWARE_CLICKHOUSE_READER_PASSWORD", "sitaware_reader"),
                          ("SITAWARE_CLICKHOUSE_PASSWORD", "sitaware_writer")):
        assert env[setting] == clickhouse_env[users.find(f"{user}/password").get("from_env")], setting
    assert services["api"]["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_api_tokens_file_lives_in_a_volume_the_runtime_user_owns(compose, services):
    """`docker compose run --rm --no-deps api api token ...` writes it; the api reads it."""
    tokens = Path(_environment(services["api"])["SITAWARE_API_TOKENS_FILE"])
    mounts = {}
    for vol in services["api"].get("volumes") or []:
        source, _, target = str(vol).partition(":")
        mounts[target.split(":")[0]] = source
    assert str(tokens.parent) in mounts, f"api: {tokens.parent} is not a mounted volume"
    volume = mounts[str(tokens.parent)]
    assert volume in (compose.get("volumes") or {}), f"api: {volume} is not a named volume"
    # A new named volume copies the owner of the image's directory at its mount point;
    # without one made by the image it is root's, and `api token` cannot write to it.
    uid = next(ln.split()[1].split(":")[0] for ln in reversed(DOCKERFILE.read_text().splitlines())
               if ln.startswith("USER "))
    assert re.search(rf"install -d -o {uid} -g \d+ -m 07\d\d {re.escape(str(tokens.parent))}\b",
                     DOCKERFILE.read_text()), f"Dockerfile does not make {tokens.parent} for uid {uid}"


# --- the simulated city ---------------------------------------------------------------


def _simulate_args(services) -> list[str]:
    """The `sitaware simulate` options of the simulator service, as its shell receives them."""
    sim = services["simulator"]
    command = sim["command"]
    if sim.get("entrypoint") == ["/bin/sh", "-c"]:
        assert len(command) == 1, "simulator: one shell command line"
        words = shlex.split(command[0].replace("$$", "$"))
        assert words[:3] == ["exec", "sitaware", "simulate"], words
        return words[3:]
    assert "entrypoint" not in sim and command[0] == "simulate", command
    return list(command[1:])


def _parsed_simulate_args(services):
    import argparse

    from sitaware.simulator import add_simulate_arguments

    args = _simulate_args(services)
    if "--seed" in args:  # a fresh seed per run, from the shell; any integer will do here
        i = args.index("--seed") + 1
        assert args[i] == "$(date +%s)", f"simulator: --seed {args[i]!r}"
        args[i] = "1"
    return add_simulate_arguments(argparse.ArgumentParser()).parse_args(args)


def test_simulator_runs_a_live_city(services):
    parsed = _parsed_simulate_args(services)  # exits (fails) on an option the CLI does not know
    assert parsed.start == "now", "simulator: not a live city (--start now)"
    assert parsed.speed == 1, f"simulator: --speed {parsed.speed}, a live city runs at wall-clock pace"
    assert "--seed" in _simulate_args(services), "simulator: the same seed on every run replays the same plates"


def test_the_live_city_is_a_load_one_worker_sustains(services):
    """Generates the simulator's city (its scale, 10 minutes at the alarm and the traffic
    peak) and counts records per second of event time, which at --speed 1 is the rate the
    workers get."""
    from sitaware.simulator import SCALES, CitySimulation, SimulationConfig
    from sitaware.simulator.config import CITY_TZ

    parsed = _parsed_simulate_args(services)
    window = timedelta(minutes=10)
    rates = []
    for hour in (8, 19):  # TRAFFIC_CURVE and ALARM_CURVE peak at 08:00 and 19:00
        config = SimulationConfig(seed=1, start=datetime(2026, 3, 2, hour, tzinfo=CITY_TZ), duration=window,
                                  scale=SCALES[parsed.scale], scenario="none")
        counts = Counter(record.topic for t, record in CitySimulation(config).timed_records() if t is not None)
        rates.append(sum(counts.values()) / window.total_seconds() * parsed.speed)
    assert min(rates) > 0
    limit = ONE_WORKER_RECORDS_PER_S / LIVE_CITY_HEADROOM
    assert max(rates) < limit, f"simulator: {max(rates):.0f} records/s, one worker sustains {limit:.0f} with headroom"


def test_secrets_come_from_required_variables(services):
    found = 0
    for name, service in services.items():
        for key, value in _environment(service).items():
            # A *_FILE setting is where a secret is (SITAWARE_API_TOKENS_FILE), not one.
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert REQUIRED_VAR.match(value), (
                    f"{name}: {key} must be a required variable ${{VAR:?message}}, not {value!r}"
                )
                found += 1
    assert found, "no password or key passed to any container"


def test_env_example_lists_every_compose_variable():
    raw = COMPOSE_FILE.read_text()
    # ${NAME...} that compose interpolates; $$ is an escaped dollar for the container.
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", raw))
    listed = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            listed[key.strip()] = value.strip()
    assert used, "compose interpolates no variables"
    assert used <= set(listed), f".env.example lacks {sorted(used - set(listed))}"
    for key, value in listed.items():
        # A host-side `sitaware` reads the same .env: keep container settings out of it.
        assert not key.startswith("SITAWARE_"), f".env.example sets {key}"
        if SECRET_NAME.search(key):
            assert "change-me" in value, f".env.example: {key} is not a placeholder"


def test_every_host_path_exists_in_the_repo(services):
    checked = 0
    for name, service in services.items():
        for raw in _host_paths(service):
            assert not raw.startswith(("/", "~")), f"{name}: absolute host path {raw!r}"
            path = (REPO / raw).resolve()
            assert path.is_relative_to(REPO), f"{name}: {raw!r} is outside the repository"
            assert path.exists(), f"{name}: {raw!r} does not exist"
            checked += 1
    assert checked, "no host paths found to check"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for vol in service.get("volumes") or []:
            source = vol.get("source") if isinstance(vol, dict) else str(vol).partition(":")[0]
            if isinstance(vol, dict) and vol.get("type") != "volume":
                continue
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source!r} is not declared"


def test_published_ports_bind_to_loopback(services):
    public_seen = set()
    for name, service in services.items():
        for ip, host, container in _published_ports(service):
            if (name, container) in PUBLIC_PORTS:
                public_seen.add((name, container))
                continue
            assert ip == "127.0.0.1", (
                f"{name}: port {host}->{container} is published on {ip or 'all interfaces'}"
            )
    assert public_seen == PUBLIC_PORTS, f"published to other machines: {sorted(public_seen)}, expected {PUBLIC_PORTS}"


def test_kafka_listeners(services):
    env = _environment(services["kafka"])
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(a.endswith("://kafka:9092") for a in advertised)
    assert any(a.endswith("://127.0.0.1:19092") for a in advertised)
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1", key
    assert "kafka-broker-api-versions.sh" in json.dumps(services["kafka"]["healthcheck"]["test"])


# --- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_pinned_nonroot_and_copies_the_packages():
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines()]
    instructions = [ln for ln in lines if ln and not ln.startswith("#")]
    froms = [ln.split()[1] for ln in instructions if ln.upper().startswith("FROM ")]
    assert froms and all(_image_is_pinned(ref) for ref in froms), f"unpinned base image: {froms}"
    users = [ln.split()[1] for ln in instructions if ln.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image runs as root"
    assert 'ENTRYPOINT ["sitaware"]' in instructions
    copied = set()
    for ln in instructions:
        if ln.upper().startswith("COPY ") and "--from" not in ln:
            for source in ln.split()[1:-1]:
                if not source.startswith("--"):
                    assert (REPO / source).exists(), f"Dockerfile copies missing {source!r}"
                    copied.add(source.rstrip("/"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*").rstrip(".") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    missing = (packages | {"pyproject.toml", "deploy"}) - copied
    assert not missing, f"Dockerfile does not copy {sorted(missing)}"


# --- ClickHouse users ------------------------------------------------------------------


def test_clickhouse_users(services):
    root = ET.parse(CLICKHOUSE_USERS).getroot()
    service = services["clickhouse"]
    assert _container_path_of(service, CLICKHOUSE_USERS) in (
        "/etc/clickhouse-server/users.d/sitaware.xml",
    ), "compose-users.xml is not mounted into users.d"
    env = _environment(service)
    users = root.find("users")
    database = _environment(services["worker"])["SITAWARE_CLICKHOUSE_DATABASE"]
    for user in ("sitaware_writer", "sitaware_reader"):
        node = users.find(user)
        assert node is not None, f"user {user} missing"
        password = node.find("password")
        assert password is not None and not (password.text or "").strip(), (
            f"{user}: password must come from the environment, not the file"
        )
        assert password.get("from_env") in env, f"{user}: from_env variable not set on clickhouse"
        assert [d.text for d in node.iter("database")] == [database]
    reader_profile = users.find("sitaware_reader").findtext("profile")
    assert root.find("profiles").find(reader_profile).findtext("readonly") == "2"
    assert users.find("sitaware_writer").findtext("profile") != reader_profile
    assert "CLICKHOUSE_PASSWORD" in env, "default (admin) user has no password"
    assert "$$CLICKHOUSE_PASSWORD" in json.dumps(service["healthcheck"]["test"])


# --- Prometheus ------------------------------------------------------------------------


def test_prometheus_scrapes_the_worker(services):
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert _container_path_of(services["prometheus"], PROMETHEUS_CONFIG) == "/etc/prometheus/prometheus.yml"
    targets = set()
    for job in config["scrape_configs"]:
        if job.get("metrics_path", "/metrics") != "/metrics":
            continue
        for sc in job.get("static_configs") or []:
            targets.update(sc.get("targets") or [])
        for sd in job.get("dns_sd_configs") or []:
            targets.update(f"{n}:{sd.get('port')}" for n in sd.get("names") or [])
    assert "worker:6066" in targets, f"worker:6066/metrics is not scraped ({sorted(targets)})"
    api_port = _environment(services["api"])["SITAWARE_API_PORT"]
    assert f"api:{api_port}" in targets, f"the api's /metrics is not scraped ({sorted(targets)})"


def test_the_api_serves_metrics():
    """What Prometheus is told to scrape on the api exists."""
    from sitaware.api.app import create_app
    from sitaware.api.auth import TokenBook

    routes = {getattr(r.resource, "canonical", None) for r in create_app(Settings(), TokenBook([])).router.routes()}
    assert "/metrics" in routes


# --- Grafana ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict]:
    config = yaml.safe_load(DATASOURCES.read_text())
    assert config["apiVersion"] == 1
    return {ds["uid"]: ds for ds in config["datasources"]}


def test_grafana_provisioning_is_mounted(services):
    grafana = services["grafana"]
    assert _container_path_of(grafana, DATASOURCES.parent) == "/etc/grafana/provisioning/datasources"
    assert _container_path_of(grafana, DASHBOARD_PROVIDERS.parent) == "/etc/grafana/provisioning/dashboards"


def _dockerfile_values(path: Path, instruction: str) -> dict[str, str]:
    """NAME=value pairs of every ARG or ENV line (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    out = {}
    for line in text.splitlines():
        if line.startswith(instruction + " "):
            for pair in shlex.split(line[len(instruction) + 1:]):
                name, _, value = pair.partition("=")
                out[name] = value
    return out


def test_grafana_plugin_is_in_the_image_not_downloaded_at_start(services):
    grafana = services["grafana"]
    assert "GF_INSTALL_PLUGINS" not in COMPOSE_FILE.read_text(), "a plugin is downloaded at every start"
    assert not any(k.startswith("GF_PLUGINS_PREINSTALL") and v != "true" for k, v in _environment(grafana).items())
    build = grafana.get("build") or {}
    assert (REPO / build.get("context", "")).resolve() == GRAFANA.resolve(), "grafana: not built from deploy/grafana"
    assert (GRAFANA / build.get("dockerfile", "Dockerfile")).resolve() == GRAFANA_DOCKERFILE.resolve()
    lines = [ln.strip() for ln in GRAFANA_DOCKERFILE.read_text().splitlines()]
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert len(froms) == 1 and _image_is_pinned(froms[0]) and froms[0].startswith("grafana/grafana:"), froms
    args = _dockerfile_values(GRAFANA_DOCKERFILE, "ARG")
    env = _dockerfile_values(GRAFANA_DOCKERFILE, "ENV")
    assert args["CLICKHOUSE_PLUGIN"] == CLICKHOUSE_PLUGIN
    version = args["CLICKHOUSE_PLUGIN_VERSION"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"plugin version {version!r} is not pinned"
    # The tag names what is inside, so a bump of either shows in `docker images`.
    grafana_version = froms[0].rsplit(":", 1)[1]
    assert grafana["image"] == f"sitaware-grafana:{grafana_version}-clickhouse-{version}"
    # The image's plugins must not sit under a volume, which would hide them.
    plugins = env.get("GF_PATHS_PLUGINS", "")
    assert plugins.startswith("/"), "GF_PATHS_PLUGINS is not set in the image"
    for vol in grafana.get("volumes") or []:
        target = str(vol).split(":")[1]
        assert not (plugins + "/").startswith(target.rstrip("/") + "/"), f"{plugins} is under the mount {target}"
    assert env.get("GF_PLUGINS_PREINSTALL_DISABLED") == "true"
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "grafana image runs as root"
    for ln in lines:
        if ln.startswith("COPY "):
            for source in ln.split()[1:-1]:
                assert (GRAFANA / source).exists(), f"deploy/grafana/Dockerfile copies missing {source!r}"
    run = re.sub(r"\\\n\s*", " ", GRAFANA_DOCKERFILE.read_text())
    install = [ln for ln in run.splitlines() if ln.startswith("RUN ") and "sitaware-install-plugin" in ln]
    assert install and '"$CLICKHOUSE_PLUGIN" "$CLICKHOUSE_PLUGIN_VERSION"' in install[0], "the plugin is not installed"


def _plugin_archive(path: Path, version: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{CLICKHOUSE_PLUGIN}/plugin.json",
                         json.dumps({"id": CLICKHOUSE_PLUGIN, "info": {"version": version}}, indent=2))
        archive.writestr(f"{CLICKHOUSE_PLUGIN}/gpx_clickhouse_linux_amd64", b"\x7fELF")
    return path


def _install_plugin(source: Path, target: Path, version: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(target.parent)}  # no `grafana` here
    return subprocess.run(["sh", str(PLUGIN_INSTALLER), str(source), str(target), CLICKHOUSE_PLUGIN, version, "amd64"],
                          capture_output=True, text=True, timeout=60, env=env)


def test_plugin_installer_unpacks_an_offline_archive(tmp_path):
    version = _dockerfile_values(GRAFANA_DOCKERFILE, "ARG")["CLICKHOUSE_PLUGIN_VERSION"]
    source = tmp_path / "plugins"
    source.mkdir()
    _plugin_archive(source / f"{CLICKHOUSE_PLUGIN}-{version}.linux_amd64.zip", version)
    target = tmp_path / "installed"
    done = _install_plugin(source, target, version)
    assert done.returncode == 0, done.stderr
    assert "no download" in done.stdout
    manifest = json.loads((target / CLICKHOUSE_PLUGIN / "plugin.json").read_text())
    assert manifest["info"]["version"] == version
    assert os.access(target / CLICKHOUSE_PLUGIN / "gpx_clickhouse_linux_amd64", os.X_OK)


def test_plugin_installer_refuses_another_version(tmp_path):
    source = tmp_path / "plugins"
    source.mkdir()
    _plugin_archive(source / f"{CLICKHOUSE_PLUGIN}-4.4.0.zip", "4.3.9")  # mislabelled archive
    done = _install_plugin(source, tmp_path / "installed", "4.4.0")
    assert done.returncode != 0 and "does not name version 4.4.0" in done.stderr


def test_plugin_installer_without_an_archive_downloads_at_build_time(tmp_path):
    """No archive: `grafana cli` (absent here, present in the Grafana image) is the way."""
    source = tmp_path / "plugins"
    source.mkdir()
    done = _install_plugin(source, tmp_path / "installed", "4.4.0")
    assert "downloading 4.4.0 with grafana cli" in done.stdout
    assert done.returncode != 0 and not (tmp_path / "installed" / CLICKHOUSE_PLUGIN).exists()


def test_clickhouse_datasource(datasources, services):
    ds = datasources[CLICKHOUSE_UID]
    assert ds["type"] == "grafana-clickhouse-datasource"
    jd = ds["jsonData"]
    assert jd["host"] == "clickhouse" and "clickhouse" in services
    assert jd["port"] == 9000
    assert jd["protocol"] == "native"
    assert jd["username"] == "sitaware_reader"
    assert jd["defaultDatabase"] == "sitaware"
    assert jd["defaultDatabase"] == _environment(services["worker"])["SITAWARE_CLICKHOUSE_DATABASE"]
    assert "password" not in jd
    variable = _env_reference(ds["secureJsonData"]["password"])
    assert variable, "the ClickHouse password must be an environment reference ($NAME)"
    grafana_env = _environment(services["grafana"])
    clickhouse_env = _environment(services["clickhouse"])
    assert variable in grafana_env, f"grafana's environment does not set {variable}"
    # Grafana's copy of the reader password is the one ClickHouse checks.
    reader_var = ET.parse(CLICKHOUSE_USERS).getroot().find("users/sitaware_reader/password").get("from_env")
    assert grafana_env[variable] == clickhouse_env[reader_var]


def test_prometheus_datasource(datasources, services):
    ds = datasources[PROMETHEUS_UID]
    assert ds["type"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090" and "prometheus" in services
    assert set(datasources) == {CLICKHOUSE_UID, PROMETHEUS_UID}
    assert sum(bool(d.get("isDefault")) for d in datasources.values()) <= 1


def test_dashboard_provider_reads_the_mounted_folder(services):
    config = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())
    assert config["apiVersion"] == 1
    mounted = _container_path_of(services["grafana"], DASHBOARDS)
    assert mounted, "deploy/grafana/dashboards is not mounted into grafana"
    paths = [p["options"]["path"] for p in config["providers"] if p.get("type") == "file"]
    assert paths == [mounted]


def test_dashboards_use_provisioned_datasources(datasources):
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, "no dashboards"
    uids = set()
    for path in files:
        dashboard = json.loads(path.read_text())
        assert dashboard.get("uid") and dashboard.get("title"), f"{path.name}: no uid/title"
        assert dashboard["uid"] not in uids, f"{path.name}: duplicate dashboard uid"
        uids.add(dashboard["uid"])
        panels = list(_walk_panels(dashboard.get("panels") or []))
        assert panels, f"{path.name}: no panels"
        for panel in panels:
            if panel.get("type") in ("row", "text"):
                continue
            where = f"{path.name} panel {panel.get('title')!r}"
            ds = panel.get("datasource") or {}
            assert isinstance(ds, dict) and ds.get("uid") in datasources, f"{where}: datasource {ds!r}"
            assert ds.get("type") == datasources[ds["uid"]]["type"], f"{where}: datasource type"
            assert panel.get("targets"), f"{where}: no query"
            for target in panel["targets"]:
                tds = target.get("datasource", ds)
                assert isinstance(tds, dict) and tds.get("uid") in datasources, f"{where}: target {tds!r}"


def test_pipeline_health_dashboard():
    dashboard = json.loads((DASHBOARDS / "pipeline-health.json").read_text())
    panels = [p for p in _walk_panels(dashboard["panels"]) if p.get("type") != "row"]
    assert len(panels) == 3
    exprs = {t["expr"] for p in panels for t in p["targets"]}
    assert all(p["datasource"]["uid"] == PROMETHEUS_UID for p in panels)
    expected = {
        "sitaware_records_in_total": "topic",
        "sitaware_dead_letters_total": "stage",
        "sitaware_consumer_lag": "partition",
    }
    for metric, label in expected.items():
        hits = [e for e in exprs if re.search(rf"\b{metric}\b", e)]
        assert hits, f"no panel queries {metric}"
        assert any(label in e for e in hits), f"{metric} is not broken down by {label}"
