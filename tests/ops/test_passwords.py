"""Passwords never need the command line: a prompt on a terminal for another --user (here a
real pseudo-terminal), a file, or the settings; `--password` still works but is discouraged."""

from __future__ import annotations

import argparse
import os
import pty
import select
import sys
import time

from pydantic import SecretStr

from sitaware.cli import build_parser


def _run_on_a_terminal(argv: list[str], env: dict[str, str], answer: str, timeout: float = 60.0) -> tuple[int, str]:
    """Run argv with a pseudo-terminal as its controlling terminal; type `answer` when it
    asks for a password. Returns (exit status, everything it wrote)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execve(argv[0], argv, env)
    seen, answered, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal: it has exited
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"password of ClickHouse user default:" in seen:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_migrate_prompts_for_another_users_password_on_a_terminal(ops_settings, local_stack, clickhouse_admin):
    fresh = f"{ops_settings.clickhouse_database}_p"
    settings = ops_settings.model_copy(update={"clickhouse_user": "sitaware_writer", "clickhouse_database": fresh,
                                               "clickhouse_password": SecretStr("wrong")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITAWARE_")} | settings.as_env()
    try:
        status, seen = _run_on_a_terminal([sys.executable, "-m", "sitaware.cli", "migrate", "--user", "default"],
                                          env, local_stack.secrets.clickhouse_admin_password)
        assert status == 0, seen
        assert "applied migrations: [1]" in seen
        assert local_stack.secrets.clickhouse_admin_password not in seen  # getpass does not echo
    finally:
        clickhouse_admin.execute(f"DROP DATABASE IF EXISTS {fresh}")


def test_every_password_option_has_a_file_alternative_and_a_warning():
    """Every command that takes --password also takes --password-file, and says why not to."""
    found = []

    def walk(parser, path):
        for action in parser._actions:
            if "--password" in action.option_strings:
                found.append(path)
                assert "discouraged" in action.help, path
                assert any("--password-file" in a.option_strings for a in parser._actions), path
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")

    walk(build_parser(), "sitaware")
    assert sorted(found) == ["sitaware backup", "sitaware migrate", "sitaware restore"]
