"""docker-compose.yml, the Dockerfile and the Grafana / Prometheus / ClickHouse files it mounts.

Docker cannot run here, so these read the files and check what a `docker compose up`
would otherwise only reveal at run time (or never): unpinned images, services nobody
health-checks, start order without conditions, settings the code does not know, mounts
of files that do not exist, ports open to the network, datasources that dashboards
cannot find, credentials in the repository.
"""

from __future__ import annotations

import json
import re
import tomllib
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

EXPECTED_SERVICES = {"kafka", "clickhouse", "init", "worker", "simulator", "prometheus", "grafana"}
# Services that run to completion instead of serving: they need no healthcheck and must
# not be restarted. Every other service is long-running.
JOBS = {"init", "simulator"}
CLICKHOUSE_UID = "sitaware-clickhouse"
PROMETHEUS_UID = "sitaware-prometheus"
# The one port users reach from other machines.
PUBLIC_PORTS = {("grafana", 3000)}
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
    assert "localhost:6066/health" in json.dumps(services["worker"]["healthcheck"]["test"])


def test_secrets_come_from_required_variables(services):
    found = 0
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
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
    assert public_seen == PUBLIC_PORTS, "grafana does not publish port 3000"


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
    assert re.fullmatch(r"grafana-clickhouse-datasource \d+\.\d+\.\d+",
                        _environment(grafana)["GF_INSTALL_PLUGINS"]), "ClickHouse plugin not pinned"


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
