"""`sitaware stack up | down | status | env`: a real Kafka broker and ClickHouse server on loopback."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import SecretStr

from sitaware.settings import Settings
from sitaware.stack.clickhouse import ClickHouseServer
from sitaware.stack.kafka import KafkaBroker
from sitaware.stack.secrets import StackSecrets, load_or_create_secrets

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
    def __init__(self, settings: Settings, log=print):
        self.settings = settings
        self.log = log
        self.secrets: StackSecrets = load_or_create_secrets(settings.stack_dir)
        self.kafka = KafkaBroker(settings)
        self.clickhouse = ClickHouseServer(settings, self.secrets)

    def service_settings(self) -> Settings:
        """Settings for clients of this stack (what `stack env` exports)."""
        s = self.settings
        return s.model_copy(
            update={
                "kafka_bootstrap": f"127.0.0.1:{s.stack_kafka_port}",
                "clickhouse_host": "127.0.0.1",
                "clickhouse_port": s.stack_clickhouse_port,
                "clickhouse_user": "sitaware_writer",
                "clickhouse_password": SecretStr(self.secrets.clickhouse_writer_password),
                "clickhouse_reader_password": SecretStr(self.secrets.clickhouse_reader_password),
                "pii_key": s.pii_key or SecretStr(self.secrets.pii_key),
            }
        )

    def up(self) -> None:
        started = time.monotonic()
        if self.kafka.ensure_jars():
            self.log(f"kafka: jars gathered into {self.kafka.libs}")
        if self.clickhouse.ensure_installed():
            self.log("clickhouse: installed Debian's clickhouse-server")
        # Start both before waiting on either: they boot in parallel.
        self.kafka.start()
        self.clickhouse.start()
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
                f"127.0.0.1:{s.stack_kafka_port}",
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


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
