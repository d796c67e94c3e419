"""Shared fixtures: the real local stack (brought up once, idempotently) and clients of it."""

from __future__ import annotations

import uuid

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


@pytest.fixture
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clickhouse_admin(local_stack: LocalStack):
    client = local_stack.clickhouse.admin_client()
    yield client
    client.disconnect()
