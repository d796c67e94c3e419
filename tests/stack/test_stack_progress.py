"""The first `stack up` says what it does: a line per phase, and the progress of the
downloads (Maven's, apt's)."""

from __future__ import annotations

import io
import os
import stat
import textwrap
from pathlib import Path

import pytest

from sitaware.errors import StackError
from sitaware.settings import load_settings
from sitaware.stack.clickhouse import run_apt
from sitaware.stack.kafka import KafkaBroker, kafka_version

LOCAL_REPOSITORY = Path.home() / ".m2" / "repository"


def test_the_kafka_jars_download_reports_its_phases_and_progress(tmp_path, monkeypatch):
    """A real Maven run from an empty local repository; its 'remote' is the machine's own
    Maven repository served as a file:// mirror, so every artifact is really transferred."""
    if not (LOCAL_REPOSITORY / "org" / "apache" / "kafka" / "kafka_2.13" / kafka_version()).is_dir():
        pytest.skip(f"no Kafka {kafka_version()} in {LOCAL_REPOSITORY} to serve as the mirror (first stack up)")
    monkeypatch.setenv("MAVEN_OPTS", f"-Dmaven.repo.local={tmp_path / 'm2'}")
    settings = load_settings(stack_dir=tmp_path / "stack", cache_dir=tmp_path / "cache",
                             stack_maven_repository=LOCAL_REPOSITORY.as_uri())
    broker, lines, progress = KafkaBroker(settings), [], io.StringIO()
    assert broker.ensure_jars(lines.append, progress)
    assert lines[0].startswith(f"kafka: fetching the Kafka {kafka_version()} broker jars from file://")
    assert lines[1] == "kafka: copying the broker jars into the cache"
    jars = len(list(broker.libs.glob("*.jar")))
    assert jars > 20 and lines[2].startswith(f"kafka: {jars} jars in {broker.libs} (")
    shown = progress.getvalue().splitlines()
    assert shown and shown[-1].startswith("kafka: downloaded: ") and " MB (" in shown[-1] and "files)" in shown[-1]
    assert not broker.ensure_jars(lines.append, progress) and len(lines) == 3  # once only


def _fake_apt(tmp_path: Path, script: str) -> str:
    """An apt-get stand-in (the package manager is a boundary we do not own): it prints what
    apt prints on its status descriptor, then exits as told."""
    path = tmp_path / "apt-get"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_apt_status_becomes_a_bar_per_phase(tmp_path):
    apt = _fake_apt(tmp_path, """\
        case "$*" in *APT::Status-Fd=1*) ;; *) echo "no status descriptor asked for" >&2; exit 1;; esac
        echo "dlstatus:1:0.0:Retrieving file 1 of 2"
        echo "dlstatus:2:50.0:Retrieving file 2 of 2"
        echo "Selecting previously unselected package clickhouse-common-static."
        echo "pmstatus:clickhouse-server:40.0:Unpacking clickhouse-server"
        echo "pmstatus:clickhouse-server:90.0:Setting up clickhouse-server"
        """)
    progress = io.StringIO()
    run_apt([apt, "install", "-y", "clickhouse-server"], dict(os.environ), progress)
    shown = progress.getvalue().splitlines()
    assert shown[0] == "[          ]   0% apt-get: downloading: Retrieving file 1 of 2"
    assert "[##########] 100% apt-get: downloading: done" in shown
    assert shown[-1] == "[##########] 100% apt-get: installing: done"
    assert any("apt-get: installing: Unpacking clickhouse-server" in line for line in shown)


def test_a_failed_apt_is_named_with_its_last_words(tmp_path):
    apt = _fake_apt(tmp_path, """\
        echo "dlstatus:1:10.0:Retrieving file 1 of 9"
        echo "E: Failed to fetch http://deb.debian.org/debian/pool/main/c/clickhouse  Connection refused"
        exit 100
        """)
    with pytest.raises(StackError, match="could not install ClickHouse .* Connection refused"):
        run_apt([apt, "install", "-y", "clickhouse-server"], dict(os.environ), io.StringIO())
