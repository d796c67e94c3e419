"""The local Apache Kafka broker: jars from Maven Central, single-node KRaft on loopback."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from sitaware.errors import StackError
from sitaware.progress import Count, human_bytes
from sitaware.settings import DEPLOY_DIR, Settings
from sitaware.stack.process import ServiceProcess, require_free_port
from sitaware.stack.secure_kafka import BrokerSecurity

__all__ = ["KafkaBroker", "kafka_version"]

POM = DEPLOY_DIR / "kafka" / "pom.xml"
LOG4J = DEPLOY_DIR / "kafka" / "log4j2.properties"
SERVER_TEMPLATE = DEPLOY_DIR / "kafka" / "server.properties.template"


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise StackError(f"{POM} does not pin <kafka.version>")
    return match.group(1)


class KafkaBroker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.workdir = settings.stack_dir / "kafka"
        self.log_dir = self.workdir / "data"
        self.process = ServiceProcess("kafka", self.workdir)
        self.libs = settings.cache_dir / f"kafka-{kafka_version()}" / "libs"
        self.security_protocol = self._security_protocol()
        self.security = (
            BrokerSecurity(settings.stack_dir, settings.stack_java) if self.security_protocol == "SASL_SSL" else None
        )

    # --- mode -------------------------------------------------------------------------
    @property
    def _mode_file(self) -> Path:
        return self.workdir / "security-protocol"

    def _security_protocol(self) -> str:
        """The stack folder's mode, fixed when its broker storage is formatted: SCRAM users
        exist only in a metadata log formatted with them."""
        if self._mode_file.exists():
            recorded = self._mode_file.read_text().strip()
        elif (self.log_dir / "meta.properties").exists():
            recorded = "PLAINTEXT"  # formatted before modes were recorded
        else:
            return "SASL_SSL" if self.settings.stack_secure else "PLAINTEXT"
        if self.settings.stack_secure and recorded != "SASL_SSL":
            raise StackError(
                f"the stack in {self.settings.stack_dir} was created without --secure; a secure stack "
                "needs a stack folder of its own: set SITAWARE_STACK_DIR (and free ports with "
                "SITAWARE_STACK_KAFKA_PORT, SITAWARE_STACK_KAFKA_CONTROLLER_PORT, "
                "SITAWARE_STACK_CLICKHOUSE_PORT, SITAWARE_STACK_CLICKHOUSE_HTTP_PORT if this one runs)"
            )
        return recorded

    def client_settings(self) -> Settings:
        """Settings for clients of this broker: its address and, in secure mode, the login."""
        update = {"kafka_bootstrap": f"127.0.0.1:{self.settings.stack_kafka_port}"}
        if self.security is not None:
            update |= self.security.client_settings()
        return self.settings.model_copy(update=update)

    # --- install --------------------------------------------------------------------
    def ensure_jars(self, log: Callable[[str], None] = lambda m: None,
                    progress: TextIO | None = None) -> bool:
        """Gather the broker jars once; returns True if it ran Maven. `log` gets a line per
        phase, `progress` (if given) a count of what Maven downloads."""
        marker = self.libs / ".complete"
        if marker.exists():
            return False
        self._require_java()
        maven = shutil.which(self.settings.stack_maven)
        if maven is None:
            raise StackError(
                f"Maven ({self.settings.stack_maven!r}) is not on PATH: it is needed once to "
                "fetch the Kafka jars from Maven Central (apt-get install maven, or set "
                "SITAWARE_STACK_MAVEN)"
            )
        self.libs.mkdir(parents=True, exist_ok=True)
        # Not -q: Maven's "Downloaded from" lines are the progress.
        argv = [
            maven, "-B", "-f", str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={self.libs}",
        ]
        if self.settings.stack_maven_repository:
            argv += ["-s", str(self._mirror_settings(self.settings.stack_maven_repository))]
        where = self.settings.stack_maven_repository or "Maven Central"
        log(f"kafka: fetching the Kafka {kafka_version()} broker jars from {where} with Maven "
            f"(once; about 100 MB with Maven's plugins)")
        returncode, output, fetched = _run_maven(argv, log, progress)
        if returncode != 0:
            raise StackError(
                f"could not download the Kafka {kafka_version()} jars from {where}: {_maven_error(output)}"
            )
        jars = len(list(self.libs.glob("*.jar")))
        log(f"kafka: {jars} jars in {self.libs} ({fetched.files} files, {human_bytes(fetched.bytes)} downloaded)")
        marker.write_text(kafka_version())
        return True

    def _mirror_settings(self, url: str) -> Path:
        path = self.settings.cache_dir / "maven-mirror-settings.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "<settings><mirrors><mirror><id>sitaware-mirror</id><mirrorOf>*</mirrorOf>"
            f"<url>{url}</url></mirror></mirrors></settings>\n"
        )
        return path

    def _require_java(self) -> str:
        java = shutil.which(self.settings.stack_java)
        if java is None:
            raise StackError(
                f"Java ({self.settings.stack_java!r}) was not found: the Kafka broker needs a "
                "Java 17+ runtime (apt-get install openjdk-17-jre-headless, or set "
                "SITAWARE_STACK_JAVA to the java binary)"
            )
        return java

    # --- run ------------------------------------------------------------------------
    def _java(self, main_class: str, *args: str, heap: bool = False) -> list[str]:
        argv = [self._require_java()]
        if heap:
            argv += ["-Xms256m", "-Xmx1g", "-XX:+UseG1GC"]
        argv += [
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={self.workdir}",
            "-cp", f"{self.libs}/*", main_class, *args,
        ]
        return argv

    def _write_config(self) -> Path:
        config = self.workdir / "server.properties"
        ports = {"port": self.settings.stack_kafka_port, "controller_port": self.settings.stack_kafka_controller_port}
        text = SERVER_TEMPLATE.read_text().format(log_dir=self.log_dir, **ports)
        if self.security is not None:
            text = _override_properties(text, self.security.server_properties(**ports))
            config.touch(mode=0o600)
            config.chmod(0o600)  # holds the keystore and inter-broker passwords
        config.write_text(text)
        return config

    def _format_storage_once(self, config: Path) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = self._run_tool("kafka.tools.StorageTool", "random-uuid").split()[-1]
        scram = self.security.scram_arguments() if self.security is not None else []
        self._run_tool("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config), *scram)
        self._mode_file.write_text(self.security_protocol + "\n")

    def _run_tool(self, main_class: str, *args: str) -> str:
        proc = subprocess.run(self._java(main_class, *args), capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"{main_class} {args[0]} failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout.strip()

    def require_free_ports(self) -> None:
        require_free_port(self.settings.stack_kafka_port, "the Kafka broker", "SITAWARE_STACK_KAFKA_PORT")
        require_free_port(
            self.settings.stack_kafka_controller_port,
            "the Kafka controller",
            "SITAWARE_STACK_KAFKA_CONTROLLER_PORT",
        )

    def start(self) -> None:
        if self.process.pid() is not None:
            return
        self.require_free_ports()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.security is not None:
            self.security.ensure_material()
        config = self._write_config()
        self._format_storage_once(config)
        self.process.start(self._java("kafka.Kafka", str(config), heap=True))

    # A broker that kept thousands of partitions loads them all before it answers.
    def wait_healthy(self, timeout: float = 300.0) -> None:
        self.process.wait_until_healthy(
            self.healthy, "the Kafka broker", "a metadata request", self.workdir / "server.log", timeout
        )

    def healthy(self) -> bool:
        """Up means a metadata request to the broker succeeds."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(**self.client_settings().kafka_python_config(), request_timeout_ms=3000)
        except (KafkaError, OSError, ValueError):
            return False
        try:
            return bool(admin.describe_cluster().get("brokers"))
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    def stop(self) -> bool:
        return self.process.stop(timeout=60)


def _override_properties(base: str, overrides: str) -> str:
    """`base` with every key that `overrides` sets replaced (in place) or appended."""
    def key(line: str) -> str | None:
        line = line.strip()
        return None if not line or line.startswith("#") else line.split("=", 1)[0].strip()

    replacing = {key(line): line for line in overrides.splitlines() if key(line)}
    lines = [replacing.pop(key(line)) if key(line) in replacing else line for line in base.splitlines()]
    return "\n".join([*lines, *replacing.values()]) + "\n"


_DOWNLOADED = re.compile(r"Downloaded from [^:]+: \S+ \(([\d.]+) (B|kB|KB|MB|GB) at")
_COPYING = re.compile(r"Copying (\S+\.jar) to ")
_SIZE = {"B": 1, "kB": 1000, "KB": 1024, "MB": 1000 ** 2, "GB": 1000 ** 3}


@dataclass
class Fetched:
    files: int = 0
    bytes: int = 0

    def take(self, line: str) -> bool:
        """Count a Maven "Downloaded from" line; False for any other line."""
        match = _DOWNLOADED.search(line)
        if not match:
            return False
        self.files += 1
        self.bytes += int(float(match.group(1)) * _SIZE[match.group(2)])
        return True


def _run_maven(argv: list[str], log: Callable[[str], None], progress: TextIO | None):
    """Run Maven, following its output: (exit status, the output, what it downloaded)."""
    fetched, lines, copying = Fetched(), [], 0
    bar = Count(progress, None, "kafka: downloaded", "bytes") if progress else None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        lines.append(line)
        if fetched.take(line):
            if bar:
                bar.update(fetched.bytes, f"{fetched.files} files")
        elif _COPYING.search(line):
            if copying == 0:
                if bar:
                    bar.finish(fetched.bytes, f"{fetched.files} files")
                log("kafka: copying the broker jars into the cache")
            copying += 1
    returncode = proc.wait()
    if bar and copying == 0 and fetched.files:
        bar.finish(fetched.bytes, f"{fetched.files} files")
    return returncode, "".join(lines), fetched


def _maven_error(output: str) -> str:
    errors = [line for line in output.splitlines() if "[ERROR]" in line]
    text = errors[0] if errors else output.strip().splitlines()[-1] if output.strip() else ""
    return text.replace("[ERROR]", "").strip()[:400] or "mvn failed without a message"
