"""The local ClickHouse server: Debian's package, run as the stack's own process."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from typing import Callable, TextIO

from sitaware.errors import StackError
from sitaware.progress import Progress
from sitaware.settings import DEPLOY_DIR, Settings
from sitaware.stack.process import ServiceProcess, require_free_port
from sitaware.stack.secrets import StackSecrets

__all__ = ["ClickHouseServer", "SERVER_BINARIES", "run_apt"]

SERVER_BINARIES = ("/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse")
PACKAGES = ["clickhouse-server", "clickhouse-client"]


def _sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class _AptStep(Progress):
    """One of apt's phases (downloading, installing) as a bar, with apt's own description."""

    PHASES = {"dlstatus": "apt-get: downloading", "pmstatus": "apt-get: installing"}

    def __init__(self, stream: TextIO, kind: str):
        super().__init__(stream, 100)
        self.phase = self.PHASES[kind]

    def describe(self, done: int, *details) -> str:
        return f"{self.phase}: {details[0]}" if details else self.phase


def run_apt(argv: list[str], env: dict[str, str], progress: TextIO | None = None) -> None:
    """Run apt-get with its machine-readable status (APT::Status-Fd) on stdout: a bar for the
    download (`dlstatus`) and then one for the install (`pmstatus`). StackError if it fails."""
    argv = [argv[0], "-o", "APT::Status-Fd=1", *argv[1:]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    phase, bar, other = None, None, []
    for line in proc.stdout:
        kind, _, rest = line.rstrip("\n").partition(":")
        fields = rest.split(":", 2)
        if kind not in ("dlstatus", "pmstatus") or len(fields) < 3:
            other.append(line.rstrip("\n"))
            continue
        try:
            percent = int(float(fields[1]))
        except ValueError:
            continue
        if progress is None:
            continue
        if kind != phase:  # apt downloads everything, then installs
            if bar is not None:
                bar.finish(100, "done")
            phase, bar = kind, _AptStep(progress, kind)
        bar.update(percent, fields[2])
    returncode = proc.wait()
    if bar is not None and returncode == 0:
        bar.finish(100, "done")
    if returncode != 0:
        tail = [line for line in other if line.strip()][-3:]
        raise StackError(f"could not install ClickHouse from Debian's packages ({' '.join(argv)}): "
                         + " | ".join(tail))


class ClickHouseServer:
    def __init__(self, settings: Settings, secrets: StackSecrets):
        self.settings = settings
        self.secrets = secrets
        self.workdir = settings.stack_dir / "clickhouse"
        self.process = ServiceProcess("clickhouse", self.workdir)

    # --- install --------------------------------------------------------------------
    @staticmethod
    def binary() -> str | None:
        return next((b for b in SERVER_BINARIES if os.access(b, os.X_OK)), None)

    def ensure_installed(self, log: Callable[[str], None] = lambda m: None,
                         progress: TextIO | None = None) -> bool:
        """Install Debian's clickhouse-server when absent; True if it installed it. `log`
        gets a line per phase, `progress` (if given) apt's download and install progress."""
        if self.binary():
            return False
        if shutil.which("apt-get") is None:
            raise StackError("ClickHouse is not installed and apt-get is not available to install it")
        if os.geteuid() != 0:
            raise StackError(
                "ClickHouse is not installed; installing it needs root: "
                "sudo apt-get install clickhouse-server clickhouse-client"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        log("clickhouse: not installed; apt-get update (Debian's package lists)")
        run_apt(["apt-get", "update", "-qq"], env, progress)
        log(f"clickhouse: apt-get install {' '.join(PACKAGES)} (once; about 200 MB)")
        run_apt(["apt-get", "install", "-y", "-qq", *PACKAGES], env, progress)
        if not self.binary():
            raise StackError("apt-get installed ClickHouse but no server binary was found")
        return True

    # --- run ------------------------------------------------------------------------
    def _write_config(self) -> str:
        for sub in ("data", "log"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "workdir": self.workdir,
            "port": self.settings.stack_clickhouse_port,
            "http_port": self.settings.stack_clickhouse_http_port,
            "database": self.settings.clickhouse_database,
            "admin_sha256": _sha256(self.secrets.clickhouse_admin_password),
            "writer_sha256": _sha256(self.secrets.clickhouse_writer_password),
            "reader_sha256": _sha256(self.secrets.clickhouse_reader_password),
        }
        for name in ("config.xml", "users.xml"):
            template = (DEPLOY_DIR / "clickhouse" / f"{name}.template").read_text()
            target = self.workdir / name
            target.write_text(template.format(**values))
            target.chmod(0o600)  # holds password hashes
        return str(self.workdir / "config.xml")

    def start(self) -> None:
        if self.process.pid() is not None:
            return
        binary = self.binary()
        if binary is None:
            raise StackError("ClickHouse server binary not found (run `sitaware stack up`)")
        require_free_port(self.settings.stack_clickhouse_port, "ClickHouse (native)", "SITAWARE_STACK_CLICKHOUSE_PORT")
        require_free_port(self.settings.stack_clickhouse_http_port, "ClickHouse (HTTP)", "SITAWARE_STACK_CLICKHOUSE_HTTP_PORT")
        config = self._write_config()
        argv = [binary] + (["server"] if binary.endswith("/clickhouse") else [])
        self.process.start(argv + [f"--config-file={config}"])

    def admin_client(self):
        from clickhouse_driver import Client

        return Client(
            "127.0.0.1",
            port=self.settings.stack_clickhouse_port,
            user="default",
            password=self.secrets.clickhouse_admin_password,
            connect_timeout=3,
            send_receive_timeout=30,
        )

    def healthy(self) -> bool:
        from clickhouse_driver.errors import Error as ClickHouseError

        client = self.admin_client()
        driver_log = logging.getLogger("clickhouse_driver.connection")
        level = driver_log.level
        driver_log.setLevel(logging.CRITICAL)  # a refused probe is an answer, not a traceback
        try:
            return client.execute("SELECT 1") == [(1,)]
        except (ClickHouseError, OSError, EOFError):
            return False
        finally:
            driver_log.setLevel(level)
            client.disconnect()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        self.process.wait_until_healthy(
            self.healthy, "ClickHouse", "SELECT 1", self.workdir / "log" / "error.log", timeout
        )

    def stop(self) -> bool:
        return self.process.stop(timeout=30)
