"""`sitaware stack up | down | status | env`: a real Kafka broker and ClickHouse server on loopback."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from pydantic import SecretStr

from sitaware.settings import Settings
from sitaware.stack.clickhouse import ClickHouseServer
from sitaware.stack.kafka import KafkaBroker
from sitaware.stack.secrets import StackSecrets, load_or_create_secrets, private_file

__all__ = ["LocalStack", "PartStatus"]


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool  # the process is alive
    healthy: bool  # it answers (metadata request / SELECT 1)
    detail: str

    def line(self) -> str:
        state = "healthy" if self.healthy else ("running, not answering" if self.running else "down")
        return f"{self.name:<11} {state:<24} {self.detail}"


class LocalStack:
    """`log` gets a line per phase of `up`; `progress` (a terminal or log stream, or None)
    the progress of the one-time downloads."""

    def __init__(self, settings: Settings, log=print, progress: TextIO | None = None):
        self.settings = settings
        self.log = log
        self.progress = progress
        self.secrets: StackSecrets = load_or_create_secrets(settings.stack_dir)
        self.kafka = KafkaBroker(settings)
        self.clickhouse = ClickHouseServer(settings, self.secrets)

    @property
    def secure(self) -> bool:
        return self.kafka.security is not None

    def service_settings(self) -> Settings:
        """Settings for clients of this stack (what `stack env` exports)."""
        s = self.kafka.client_settings()
        return s.model_copy(
            update={
                "clickhouse_host": "127.0.0.1",
                "clickhouse_port": s.stack_clickhouse_port,
                "clickhouse_user": "sitaware_writer",
                "clickhouse_password": SecretStr(self.secrets.clickhouse_writer_password),
                "clickhouse_reader_password": SecretStr(self.secrets.clickhouse_reader_password),
                "pii_key": s.pii_key or SecretStr(self.secrets.pii_key),
                **(self._secret_files(s) if self.secure else {}),
            }
        )

    def _secret_files(self, s: Settings) -> dict:
        """In secure mode every secret is also a 0600 file, and clients are given the files."""
        folder = s.stack_dir / "secrets"
        return {
            "clickhouse_password_file": private_file(folder / "clickhouse-writer.password",
                                                     self.secrets.clickhouse_writer_password),
            "clickhouse_reader_password_file": private_file(folder / "clickhouse-reader.password",
                                                            self.secrets.clickhouse_reader_password),
            **({} if s.pii_key else {"pii_key_file": private_file(folder / "pii.key", self.secrets.pii_key)}),
        }

    def up(self) -> None:
        started = time.monotonic()
        self.kafka.ensure_jars(self.log, self.progress)
        if self.clickhouse.ensure_installed(self.log, self.progress):
            self.log("clickhouse: installed Debian's clickhouse-server")
        # Start both before waiting on either: they boot in parallel. ClickHouse goes first
        # so that it boots while a secure broker's certificates are made, once the broker's
        # ports are known to be free (a taken port is reported before anything starts).
        kafka_down = self.kafka.process.pid() is None
        if kafka_down:
            self.kafka.require_free_ports()
        if self.clickhouse.process.pid() is None:
            self.log(f"clickhouse: starting the server (data in {self.clickhouse.workdir})")
        self.clickhouse.start()
        if self.secure and self.kafka.security.ensure_material():
            self.log(f"kafka: secure mode: made a local CA and the broker certificate in {self.kafka.security.tls_dir}")
        if kafka_down:
            self.log(f"kafka: starting the broker (data in {self.kafka.log_dir}); waiting until it answers")
        self.kafka.start()
        self.kafka.wait_healthy()
        self.clickhouse.wait_healthy()
        created = self.create_topics()
        applied = self.migrate()
        if created:
            self.log(f"kafka: created {len(created)} topics")
        if applied:
            self.log(f"clickhouse: applied migrations {applied}")
        self.log(f"stack up in {time.monotonic() - started:.1f}s")

    def create_topics(self) -> list[str]:
        from kafka import KafkaAdminClient

        from topics.admin import ensure_topics
        from topics.specs import contract_topics

        service = self.service_settings()
        admin = KafkaAdminClient(**service.kafka_python_config())
        try:
            return ensure_topics(admin, contract_topics(service), service.topic_replication)
        finally:
            admin.close()

    def migrate(self) -> list[int]:
        from sinks.clickhouse.schema import apply_migrations

        client = self.clickhouse.admin_client()
        try:
            return apply_migrations(client, self.settings.clickhouse_database)
        finally:
            client.disconnect()

    def down(self) -> None:
        for name, part in (("kafka", self.kafka), ("clickhouse", self.clickhouse)):
            self.log(f"{name}: {'stopped' if part.stop() else 'was not running'}")

    def status(self) -> list[PartStatus]:
        s = self.settings
        return [
            PartStatus(
                "kafka",
                self.kafka.process.pid() is not None,
                self.kafka.healthy(),
                f"127.0.0.1:{s.stack_kafka_port} ({self.kafka.security_protocol})",
            ),
            PartStatus(
                "clickhouse",
                self.clickhouse.process.pid() is not None,
                self.clickhouse.healthy(),
                f"127.0.0.1:{s.stack_clickhouse_port} (native), :{s.stack_clickhouse_http_port} (http)",
            ),
        ]

    def env_lines(self) -> list[str]:
        service = self.service_settings()
        if self.secure:
            return _secure_env_lines(service)
        values = {
            "KAFKA_BOOTSTRAP": service.kafka_bootstrap,
            "CLICKHOUSE_HOST": service.clickhouse_host,
            "CLICKHOUSE_PORT": service.clickhouse_port,
            "CLICKHOUSE_DATABASE": service.clickhouse_database,
            "CLICKHOUSE_USER": service.clickhouse_user,
            "CLICKHOUSE_PASSWORD": service.clickhouse_password.get_secret_value(),
            "CLICKHOUSE_READER_PASSWORD": service.clickhouse_reader_password.get_secret_value(),
            "PII_KEY": service.pii_key.get_secret_value(),
        }
        return [f"export SITAWARE_{k}={_shell_quote(str(v))}" for k, v in values.items()]


def _secure_env_lines(service: Settings) -> list[str]:
    """Secrets as the paths of their files, so they stay out of shells and process lists."""
    values = {
        "KAFKA_BOOTSTRAP": service.kafka_bootstrap,
        "KAFKA_SECURITY_PROTOCOL": service.kafka_security_protocol,
        "KAFKA_SASL_MECHANISM": service.kafka_sasl_mechanism,
        "KAFKA_SASL_USERNAME": service.kafka_sasl_username,
        "KAFKA_SASL_PASSWORD_FILE": service.kafka_sasl_password_file,
        "KAFKA_SSL_CAFILE": service.kafka_ssl_cafile,
        "CLICKHOUSE_HOST": service.clickhouse_host,
        "CLICKHOUSE_PORT": service.clickhouse_port,
        "CLICKHOUSE_DATABASE": service.clickhouse_database,
        "CLICKHOUSE_USER": service.clickhouse_user,
        "CLICKHOUSE_PASSWORD_FILE": service.clickhouse_password_file,
        "CLICKHOUSE_READER_PASSWORD_FILE": service.clickhouse_reader_password_file,
    }
    if service.pii_key_file:
        values["PII_KEY_FILE"] = service.pii_key_file
    return [f"export SITAWARE_{k}={_shell_quote(str(v))}" for k, v in values.items()]


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
