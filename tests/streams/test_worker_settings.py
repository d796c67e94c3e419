"""Settings the worker fails fast on: a missing or weak PII key (plates and caller phones would
otherwise reach ClickHouse under a guessable pseudonym), unusable secret files, incomplete
Kafka security settings."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sitaware.errors import ConfigError
from sitaware.settings import load_settings


def _worker(**env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "SITAWARE_PII_KEY"}
    return subprocess.run([sys.executable, "-m", "sitaware.cli", "worker"], capture_output=True, text=True,
                          env={**base, "SITAWARE_KAFKA_BOOTSTRAP": "127.0.0.1:1", **env}, timeout=60)


def test_a_missing_pii_key_stops_the_worker_with_the_setting_named():
    result = _worker()
    assert result.returncode == 2
    assert "SITAWARE_PII_KEY is not set" in result.stderr and "Traceback" not in result.stderr


def test_a_short_pii_key_is_refused():
    result = _worker(SITAWARE_PII_KEY="secret")
    assert result.returncode == 2
    assert "SITAWARE_PII_KEY" in result.stderr and "32 characters" in result.stderr


# --- secrets from files and Kafka security settings -------------------------------------

def test_a_secret_file_replaces_the_setting_and_child_processes_get_the_file(tmp_path):
    secret = tmp_path / "writer.password"
    secret.write_text("s3cret-from-file\n")  # secret files usually end with a newline
    settings = load_settings(clickhouse_password_file=secret)
    assert settings.clickhouse_password.get_secret_value() == "s3cret-from-file"
    env = settings.as_env()
    assert env["SITAWARE_CLICKHOUSE_PASSWORD_FILE"] == str(secret)
    assert "SITAWARE_CLICKHOUSE_PASSWORD" not in env  # the secret stays out of the environment


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_an_unusable_secret_file_is_named(tmp_path, problem):
    path = tmp_path / "kafka.password"
    if problem == "empty":
        path.write_text("\n")
    with pytest.raises(ConfigError, match=f"SITAWARE_KAFKA_SASL_PASSWORD_FILE: .*{path.name}"):
        load_settings(kafka_sasl_password_file=path)


def test_a_secret_given_twice_is_refused(tmp_path):
    path = tmp_path / "p"
    path.write_text("one")
    with pytest.raises(ConfigError, match="SITAWARE_CLICKHOUSE_READER_PASSWORD and SITAWARE_CLICKHOUSE_READER_PASSWORD_FILE"):
        load_settings(clickhouse_reader_password="two", clickhouse_reader_password_file=path)


def test_sasl_ssl_without_credentials_names_what_is_missing(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="sitaware")
    assert "SITAWARE_KAFKA_SASL_PASSWORD" in str(err.value) and "SITAWARE_KAFKA_SSL_CAFILE" in str(err.value)
    assert "SITAWARE_KAFKA_SASL_USERNAME" not in str(err.value)
    with pytest.raises(ConfigError, match="SITAWARE_KAFKA_SSL_CAFILE: .* not a readable file"):
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password="p",
                      kafka_ssl_cafile=tmp_path / "absent.pem")


def test_client_configs_carry_the_credentials(tmp_path):
    cafile = tmp_path / "ca.pem"
    cafile.write_text("")  # only its path is used here
    password = tmp_path / "kafka.password"
    password.write_text("pw")
    plain = load_settings(kafka_bootstrap="h1:1,h2:2")
    assert plain.kafka_python_config() == {"bootstrap_servers": ["h1:1", "h2:2"]}
    assert plain.faust_broker_config() == {"broker": ["kafka://h1:1", "kafka://h2:2"]}
    secure = load_settings(kafka_bootstrap="h1:1", kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                           kafka_sasl_password_file=password, kafka_ssl_cafile=cafile,
                           kafka_sasl_mechanism="SCRAM-SHA-256")
    assert secure.kafka_python_config() == {
        "bootstrap_servers": ["h1:1"], "security_protocol": "SASL_SSL", "ssl_cafile": str(cafile),
        "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "u", "sasl_plain_password": "pw",
    }


def test_the_worker_stops_on_a_missing_password_file_naming_the_setting(tmp_path):
    result = _worker(SITAWARE_PII_KEY="k" * 32, SITAWARE_KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "SITAWARE_KAFKA_SASL_PASSWORD_FILE" in result.stderr and "Traceback" not in result.stderr
