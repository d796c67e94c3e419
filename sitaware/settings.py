"""Settings: one frozen object read from `SITAWARE_*` environment variables or `.env`.

Every component takes a `Settings` instance; tests build one with explicit values.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sitaware.errors import ConfigError

__all__ = ["Settings", "load_settings", "REPO_ROOT", "DEPLOY_DIR"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = REPO_ROOT / "deploy"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SITAWARE_", env_file=".env", extra="ignore", frozen=True
    )

    # --- where the services are -------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers, `host:port[,host:port...]`."
    )
    clickhouse_host: str = Field("127.0.0.1", description="ClickHouse server host (native protocol).")
    clickhouse_port: int = Field(19000, ge=1, le=65535, description="ClickHouse native-protocol port.")
    clickhouse_database: str = Field(
        "sitaware", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="The ClickHouse database that holds sitaware's tables.",
    )
    clickhouse_user: str = Field(
        "sitaware_writer", description="ClickHouse account of the pipeline (writes) and of `rebuild`/`backup`/`restore`."
    )
    clickhouse_password: SecretStr = Field(SecretStr(""), description="Password of `SITAWARE_CLICKHOUSE_USER`.")
    # Read-only account for dashboards and the API's queries.
    clickhouse_reader_user: str = Field(
        "sitaware_reader", description="Read-only ClickHouse account of the API's queries and dashboards."
    )
    clickhouse_reader_password: SecretStr = Field(
        SecretStr(""), description="Password of `SITAWARE_CLICKHOUSE_READER_USER`."
    )

    # --- Kafka security -------------------------------------------------------------
    # SASL_SSL: TLS to the brokers (verified against kafka_ssl_cafile) and SCRAM login.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="`SASL_SSL`: TLS to the brokers (checked against `SITAWARE_KAFKA_SSL_CAFILE`, host names "
        "included) and a SCRAM login; it then needs the username, password and CA file.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", description="The SCRAM mechanism of the SASL login."
    )
    kafka_sasl_username: str | None = Field(None, description="The SCRAM user (with `SASL_SSL`).")
    kafka_sasl_password: SecretStr | None = Field(None, description="The SCRAM user's password (with `SASL_SSL`).")
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM file of the CA the brokers' certificates are checked against (with `SASL_SSL`)."
    )

    # --- secrets from files (the Docker/Kubernetes secret-file convention) ----------
    # A file whose content is the secret; it replaces the setting without `_FILE`, so the
    # secret itself never sits in the environment. Setting both is refused.
    kafka_sasl_password_file: Path | None = Field(
        None, description="A file holding `SITAWARE_KAFKA_SASL_PASSWORD` (a trailing newline is ignored)."
    )
    clickhouse_password_file: Path | None = Field(
        None, description="A file holding `SITAWARE_CLICKHOUSE_PASSWORD`."
    )
    clickhouse_reader_password_file: Path | None = Field(
        None, description="A file holding `SITAWARE_CLICKHOUSE_READER_PASSWORD`."
    )
    pii_key_file: Path | None = Field(None, description="A file holding `SITAWARE_PII_KEY`.")

    # --- topics -------------------------------------------------------------------
    # Prefix for every topic name; empty in production. Tests use it to isolate runs.
    topic_prefix: str = Field(
        "", pattern=r"^[A-Za-z0-9_.-]{0,32}$",
        description="Prefix of every topic name; empty in production (tests and benchmarks isolate their runs with it).",
    )
    topic_partitions: int = Field(
        8, ge=1, le=1024, description="Partitions of every topic the project creates (the compacted `subscriptions`: 1)."
    )
    topic_replication: int = Field(1, ge=1, le=16, description="Replication factor of the topics `sitaware topics create` makes.")
    feed_retention_hours: int = Field(
        168, ge=1,
        description="Retention of the input feeds; `<app>-clickhouse-rows` keeps at least as long (the window of `sitaware rebuild`).",
    )

    # --- event time ---------------------------------------------------------------
    # What stream time is and how lateness is judged: docs/surface.md, "Stream time".
    allowed_lateness_s: float = Field(
        600, ge=0, description="A record whose `ts` is this far behind stream time is late: it goes to `late-events`."
    )
    feed_idle_s: float = Field(
        30, gt=0, description="A feed partition quiet this long (wall time) with nothing left to read stops holding stream time back."
    )
    # A record stamped further ahead of the worker's clock than this is a dead letter (stage
    # validate): one producer with a wrong clock would otherwise carry stream time into the
    # future, and every on-time record after it would be judged late. 0 turns the check off.
    max_ahead_s: float = Field(
        300, ge=0,
        description="A record stamped further ahead of the worker's clock is a dead letter "
        "(stage `validate`, class `TimestampAhead`); 0 turns the check off.",
    )

    # A record an agent holds back for the feeds' watermarks should be released within
    # FEED_IDLE_S of its partition going quiet; one held much longer is a stuck hold.
    hold_degraded_s: float = Field(
        60, gt=0,
        description="`/health` reports `degraded` while an agent holds a record back for the "
        "watermarks longer than this (wall seconds); `sitaware_hold_oldest_seconds` shows the age.",
    )

    # --- the city ---------------------------------------------------------------
    # District polygons (GeoJSON FeatureCollection, properties.district).
    districts_file: Path = Field(
        REPO_ROOT / "sitaware" / "simulator" / "data" / "districts.geojson",
        description="The district polygons: a GeoJSON FeatureCollection whose `properties.district` names each district.",
    )

    # --- data protection and presentation -----------------------------------------
    # The HMAC key of the pseudonyms that replace plates and caller phones (required by the
    # worker; the local stack generates one).
    pii_key: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key of the pseudonyms that replace plates and caller phones "
        "(≥ 32 characters; required by the worker; the local stack generates one).",
    )
    locale: Literal["zh-CN", "en"] = Field("zh-CN", description="Language of the situations' `summary`.")

    # --- alerts -------------------------------------------------------------------
    # Matching, cooldown and webhook delivery: docs/surface.md, "Subscriptions and alerts".
    # Webhook targets on loopback, private or link-local addresses are refused unless this
    # is set (tests and on-premises receivers on a private network).
    webhook_allow_private: bool = Field(
        False,
        description="Allow webhook targets on loopback, private or link-local addresses (on-premises receivers, tests).",
    )
    webhook_attempts: int = Field(
        5, ge=1, le=20, description="Delivery attempts of one webhook alert before it is dead-lettered."
    )
    webhook_base_delay_s: float = Field(
        1.0, gt=0, description="First retry delay of a webhook; exponential backoff with full jitter after it."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook attempt.")

    # --- worker ------------------------------------------------------------------
    # The Faust app id (consumer group, internal topic and state names). Workers with the
    # same id share the work; a new id re-reads the inputs from the start (a replay).
    app_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The Faust app id (consumer group, internal topics, state); default `<SITAWARE_TOPIC_PREFIX>sitaware`. "
        "Workers with the same id share the work; a new id re-reads the inputs from the start (a replay).",
    )
    # The worker's HTTP server (/health, /metrics). 0.0.0.0 in containers.
    worker_web_bind: str = Field(
        "127.0.0.1", description="Address of the worker's `/health` and `/metrics` server (`0.0.0.0` in containers)."
    )
    worker_web_port: int = Field(6066, ge=1, le=65535, description="Port of the worker's `/health` and `/metrics` server.")
    # A worker silent (no heartbeat) this long leaves the consumer group and its partitions
    # move to the others. Shorter: faster takeover after a crash; too short: needless
    # rebalances under load. The broker refuses less than its group.min.session.timeout.ms (6 s).
    worker_session_timeout_s: float = Field(
        60.0, ge=6.0, le=300.0,
        description="A worker silent this long leaves the consumer group and its partitions move to the others "
        "(shorter: faster takeover after a crash; too short: needless rebalances under load).",
    )
    # Faust's own Prometheus sensors (sitaware_faust_*: per-event, per-send and per-table
    # metrics) on /metrics. Off by default: they cost about a tenth of a worker's CPU, and
    # sitaware's own metrics (records in, lag, sink) are what the dashboards use.
    worker_faust_metrics: bool = Field(
        False,
        description="Faust's own per-event, per-send and per-table sensors (`sitaware_faust_*`) on `/metrics`; "
        "they cost about a tenth of a worker's CPU.",
    )

    # --- API ----------------------------------------------------------------------
    # `sitaware api`: the command-center HTTP API and map page. 0.0.0.0 in containers.
    api_bind: str = Field("127.0.0.1", description="Address of `sitaware api` (`0.0.0.0` in containers).")
    api_port: int = Field(6080, ge=1, le=65535, description="Port of `sitaware api`.")
    # JSON list of {token_sha256, actor, role, districts}; `sitaware api token` writes it.
    api_tokens_file: Path | None = Field(
        None,
        description="The API's tokens file (SHA-256 of each token, actor, role, districts), written by "
        "`sitaware api token`; the API refuses to start without it.",
    )

    # --- local stack (`sitaware stack ...`) ----------------------------------------
    stack_dir: Path = Field(
        Path.home() / ".local" / "state" / "sitaware",
        description="Folder of the local stack: configs, data, logs, secrets (a folder keeps its plaintext or secure mode).",
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "sitaware", description="Download cache (the Kafka jars from Maven Central)."
    )
    stack_kafka_port: int = Field(19092, ge=1, le=65535, description="The local broker's client port.")
    stack_kafka_controller_port: int = Field(
        19093, ge=1, le=65535, description="The local broker's KRaft controller port (plaintext, loopback)."
    )
    stack_clickhouse_port: int = Field(19000, ge=1, le=65535, description="The local ClickHouse's native port.")
    stack_clickhouse_http_port: int = Field(18123, ge=1, le=65535, description="The local ClickHouse's HTTP port.")
    # Secure mode (`stack up --secure`) for a new stack folder: SASL_SSL-only broker. A
    # folder keeps the mode it was created with.
    stack_secure: bool = Field(
        False, description="Make a new stack folder in secure mode (as `stack up --secure`: a SASL_SSL-only broker)."
    )
    stack_java: str = Field("java", description="The Java binary the local broker runs on.")
    stack_maven: str = Field("mvn", description="The Maven binary that fetches the Kafka jars.")
    # A Maven repository (mirror) to fetch the Kafka jars from instead of Maven Central.
    stack_maven_repository: str | None = Field(
        None, description="A Maven repository (mirror) to fetch the Kafka jars from instead of Maven Central."
    )

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for secret in SECRET_FILES:
            path = data.get(f"{secret}_file")
            if not path:
                continue
            given = data.get(secret)
            if isinstance(given, SecretStr):
                given = given.get_secret_value()
            if given:
                raise ValueError(
                    f"SITAWARE_{secret.upper()} and SITAWARE_{secret.upper()}_FILE are both set: "
                    "give the secret one way only"
                )
            data[secret] = _read_secret_file(Path(path), f"SITAWARE_{secret.upper()}_FILE")
        return data

    @model_validator(mode="after")
    def _sasl_ssl_is_complete(self) -> "Settings":
        if self.kafka_security_protocol == "SASL_SSL":
            missing = [
                f"SITAWARE_{name.upper()}"
                for name, value in (
                    ("kafka_sasl_username", self.kafka_sasl_username),
                    ("kafka_sasl_password", self.kafka_sasl_password and self.kafka_sasl_password.get_secret_value()),
                    ("kafka_ssl_cafile", self.kafka_ssl_cafile),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"SITAWARE_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs {', '.join(missing)} "
                    "(the password may come from SITAWARE_KAFKA_SASL_PASSWORD_FILE)"
                )
            if not self.kafka_ssl_cafile.is_file():
                raise ValueError(f"SITAWARE_KAFKA_SSL_CAFILE: {self.kafka_ssl_cafile} is not a readable file")
        return self

    @field_validator("pii_key")
    @classmethod
    def _pii_key_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (a random secret)")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {server!r}")
        return value

    def as_env(self) -> dict[str, str]:
        """These settings as SITAWARE_* environment variables (for child processes)."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None or (name in SECRET_FILES and getattr(self, f"{name}_file")):
                continue  # a secret read from a file is passed on as the file's path
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = str(value).lower()
            env[f"SITAWARE_{name.upper()}"] = str(value)
        return env

    def topic(self, name: str) -> str:
        """The real topic name for a contract topic name."""
        return f"{self.topic_prefix}{name}"

    @cached_property
    def bootstrap_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",")]

    # --- Kafka clients: the one place where settings become client configuration ------
    def _sasl_ssl(self) -> bool:
        return self.kafka_security_protocol == "SASL_SSL"

    def kafka_python_config(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer, KafkaAdminClient."""
        config: dict[str, Any] = {"bootstrap_servers": _servers(self.kafka_bootstrap)}
        if self._sasl_ssl():
            config.update(
                security_protocol="SASL_SSL",
                ssl_cafile=str(self.kafka_ssl_cafile),
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password.get_secret_value(),
            )
        return config

    def aiokafka_config(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's AIOKafkaProducer and AIOKafkaConsumer."""
        config: dict[str, Any] = {"bootstrap_servers": _servers(self.kafka_bootstrap)}
        if self._sasl_ssl():
            config.update(
                security_protocol="SASL_SSL",
                ssl_context=self.kafka_ssl_context(),
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password.get_secret_value(),
            )
        return config

    def faust_broker_config(self) -> dict[str, Any]:
        """`broker` and `broker_credentials` for faust.App."""
        config: dict[str, Any] = {"broker": [f"kafka://{s}" for s in _servers(self.kafka_bootstrap)]}
        if self._sasl_ssl():
            import faust

            config["broker_credentials"] = faust.SASLCredentials(
                username=self.kafka_sasl_username,
                password=self.kafka_sasl_password.get_secret_value(),
                mechanism=self.kafka_sasl_mechanism,
                ssl_context=self.kafka_ssl_context(),
            )
        return config

    def kafka_ssl_context(self):
        """TLS context that trusts only the configured CA and checks the broker's host name."""
        from aiokafka.helpers import create_ssl_context

        return create_ssl_context(cafile=str(self.kafka_ssl_cafile))


# Secrets that may be given as `<name>_file` instead.
SECRET_FILES = ("kafka_sasl_password", "clickhouse_password", "clickhouse_reader_password", "pii_key")


def _servers(bootstrap: str) -> list[str]:
    return [s.strip() for s in bootstrap.split(",")]


def _read_secret_file(path: Path, setting: str) -> str:
    try:
        # Secret files usually end with a newline (echo, kubectl create secret --from-file).
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"{setting}: cannot read {path}: {reason}") from None
    if not value:
        raise ValueError(f"{setting}: {path} is empty")
    return value


def load_settings(**overrides) -> Settings:
    """Read settings; a bad value fails fast with the setting's environment name."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            # Errors that involve several settings have no location; their message names them.
            problems.append(f"SITAWARE_{field.upper()}: {err['msg']}" if field else err["msg"].removeprefix("Value error, "))
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
