"""The ClickHouse account of a command run by hand (`migrate`, `backup`, `restore`).

The password never needs to be on the command line, where shell history and the process
list would keep it. In order: `--password-file FILE`; for the settings' own user, the
settings (SITAWARE_CLICKHOUSE_PASSWORD or SITAWARE_CLICKHOUSE_PASSWORD_FILE); for another
`--user`, a prompt when stdin is a terminal (else the settings' password, as before).
`--password` still works for scripts that have it, and the help says why not to.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from sitaware.errors import ConfigError
from sitaware.settings import Settings

__all__ = ["add_account_arguments", "account_password"]


def add_account_arguments(parser: argparse.ArgumentParser, user_help: str) -> None:
    parser.add_argument("--user", help=f"{user_help} (default: SITAWARE_CLICKHOUSE_USER)")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help="read the user's password from FILE (default: the settings' password for "
                             "their user; a prompt for another --user when stdin is a terminal)")
    parser.add_argument("--password", help="the password itself: discouraged, it stays in shell history "
                                           "and the process list; use --password-file or the prompt")


def account_password(args: argparse.Namespace, settings: Settings, stdin=None) -> str | None:
    """The password for `args.user`; None means the settings' password."""
    stdin = stdin or sys.stdin
    if args.password is not None:
        return args.password
    if args.password_file is not None:
        try:
            return args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"--password-file {args.password_file}: cannot read it ({exc.strerror})") from None
    if args.user and args.user != settings.clickhouse_user and stdin.isatty():
        return getpass.getpass(f"password of ClickHouse user {args.user}: ")
    return None
