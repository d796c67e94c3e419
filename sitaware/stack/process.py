"""Background service processes of the local stack: start detached, track by pid file, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from sitaware.errors import StackError

__all__ = ["port_is_free", "require_free_port", "ServiceProcess"]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, what: str, setting: str) -> None:
    if not port_is_free(port):
        raise StackError(
            f"port {port} on 127.0.0.1 (for {what}) is already in use by another process; "
            f"stop that process or choose another port with {setting}"
        )


class ServiceProcess:
    """One long-running process whose pid lives in `<workdir>/<name>.pid`."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.pid_file = workdir / f"{name}.pid"
        self.log_file = workdir / f"{name}.out"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, argv: list[str], env: dict[str, str] | None = None) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,  # survives the CLI; not killed by its Ctrl-C
                )
            except OSError as exc:
                raise StackError(f"cannot start {self.name} ({argv[0]}): {exc.strerror}") from exc
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def exited_early(self) -> str | None:
        """If the process died, the tail of its output, to explain why."""
        if self.pid() is not None:
            return None
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        return "\n".join(lines[-15:]) or "(no output)"

    def wait_until_healthy(self, healthy, what: str, probe: str, log: Path, timeout: float) -> None:
        """Poll `healthy()` until it answers; fail fast, with its output, if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if healthy():
                return
            died = self.exited_early()
            if died is not None:
                raise StackError(f"{what} exited during start-up:\n{died}")
            time.sleep(0.3)
        raise StackError(f"{what} did not answer {probe} within {timeout:.0f}s (log: {log})")

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait, then SIGKILL. Returns True if a process was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
