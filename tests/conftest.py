"""Shared fixtures: the real local stack (brought up once, idempotently) and clients of it."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import pytest

from sitaware.settings import Settings, load_settings
from sitaware.stack.local import LocalStack


@pytest.fixture(scope="session")
def local_stack() -> LocalStack:
    stack = LocalStack(load_settings(), log=lambda message: None)
    stack.up()  # a quick no-op when the stack already runs
    return stack


@pytest.fixture(scope="session")
def stack_settings(local_stack: LocalStack) -> Settings:
    """Settings pointing at the running stack, as `sitaware stack env` exports them."""
    return local_stack.service_settings()


@contextmanager
def isolated_topics(settings: Settings, letter: str, **updates):
    """Settings with a topic prefix of their own and the contract's topics created for it;
    on exit every topic with the prefix (the Faust app's internal ones too) is deleted — a
    broker left with thousands of test partitions takes minutes to start."""
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    settings = settings.model_copy(update={"topic_prefix": f"{letter}{uuid.uuid4().hex[:8]}.", **updates})
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, contract_topics(settings))
    finally:
        admin.close()
    try:
        yield settings
    finally:
        _delete_prefixed_topics(settings)


def _delete_prefixed_topics(settings: Settings, attempts: int = 10) -> None:
    """With a client of its own: one made before a broker restart (the fault tests) can be
    left without a usable connection (kafka-python: "No node_id provided")."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    for attempt in range(attempts):
        try:
            admin = KafkaAdminClient(**settings.kafka_python_config())
        except KafkaError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
            continue
        try:
            mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
            if mine:
                admin.delete_topics(mine)
            return
        except KafkaError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)  # the broker is still coming back: poll again
        finally:
            admin.close()


@pytest.fixture
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clickhouse_admin(local_stack: LocalStack):
    client = local_stack.clickhouse.admin_client()
    yield client
    client.disconnect()


def writer_client(settings: Settings):
    """A clickhouse-driver client as the pipeline's writer user, in the settings' database."""
    from clickhouse_driver import Client

    return Client(settings.clickhouse_host, port=settings.clickhouse_port, user=settings.clickhouse_user,
                  password=settings.clickhouse_password.get_secret_value(), database=settings.clickhouse_database)
