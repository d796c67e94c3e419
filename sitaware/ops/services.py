"""Connections to Kafka and ClickHouse that fail fast, with a message naming the settings."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from sitaware.ops.errors import ServiceUnreachable
from sitaware.settings import Settings

__all__ = ["clickhouse_client", "kafka_consumer", "kafka_admin", "BOOTSTRAP_TIMEOUT_MS"]

# An operator waits for these commands: a broker that does not answer within a few seconds
# is reported, not waited on for kafka-python's default 30 s.
BOOTSTRAP_TIMEOUT_MS = 5000


def clickhouse_client(settings: Settings, user: str | None = None, password: str | None = None) -> Client:
    """A connected client (checked with SELECT 1) as `user`, default the settings' user."""
    client = Client(
        settings.clickhouse_host, port=settings.clickhouse_port,
        user=user or settings.clickhouse_user,
        password=password if password is not None else settings.clickhouse_password.get_secret_value(),
        connect_timeout=5, send_receive_timeout=300,
    )
    driver_log = logging.getLogger("clickhouse_driver.connection")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)  # the error below says it once, without a traceback
    try:
        client.execute("SELECT 1")
    except (ch_errors.Error, OSError, EOFError) as exc:
        client.disconnect()
        raise ServiceUnreachable(
            f"cannot reach ClickHouse at {settings.clickhouse_host}:{settings.clickhouse_port} as "
            f"{user or settings.clickhouse_user!r} (SITAWARE_CLICKHOUSE_HOST, SITAWARE_CLICKHOUSE_PORT, "
            f"SITAWARE_CLICKHOUSE_USER, SITAWARE_CLICKHOUSE_PASSWORD): {_first_line(exc)}"
        ) from exc
    finally:
        driver_log.setLevel(level)
    return client


def _kafka_unreachable(settings: Settings, exc: Exception) -> ServiceUnreachable:
    return ServiceUnreachable(
        f"cannot reach Kafka at {settings.kafka_bootstrap} (SITAWARE_KAFKA_BOOTSTRAP): {_first_line(exc)}"
    )


@contextmanager
def kafka_consumer(settings: Settings):
    """A consumer with no group: it reads what it is assigned and commits nothing."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            **settings.kafka_python_config(), group_id=None, enable_auto_commit=False,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS, max_partition_fetch_bytes=4 * 1024 * 1024,
        )
    except KafkaError as exc:
        raise _kafka_unreachable(settings, exc) from exc
    try:
        yield consumer
    finally:
        consumer.close()


@contextmanager
def kafka_admin(settings: Settings):
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(**settings.kafka_python_config(),
                                 bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except KafkaError as exc:
        raise _kafka_unreachable(settings, exc) from exc
    try:
        yield admin
    finally:
        admin.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
