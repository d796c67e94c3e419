"""`sitaware api` (serve the API and map page) and `sitaware api token` (create, list and
revoke access tokens)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

from sitaware.errors import ConfigError
from sitaware.settings import Settings

__all__ = ["register"]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.app import run_api

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    run_api(settings, args.bind or settings.api_bind, args.port or settings.api_port)
    return 0


def _tokens_file(args: argparse.Namespace, settings: Settings) -> Path:
    path = args.file or settings.api_tokens_file
    if path is None:
        raise ConfigError("give --file PATH or set SITAWARE_API_TOKENS_FILE")
    return Path(path)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.auth import create_token
    from sitaware.api.tokens import expiry_from, token_digest
    from sitaware.names import district_names

    if not args.actor or not args.role:
        raise ConfigError("a new token needs --actor NAME and --role ROLE "
                          "(or: sitaware api token list | revoke ID)")
    path = _tokens_file(args, settings)
    # A misspelt scope would silently show nothing; a zh-CN name is stored as the district id.
    districts = district_names(settings.districts_file).resolve_all(args.district)
    expires_at = expiry_from(args.expires_in, args.expires_at, datetime.now(timezone.utc))
    token = create_token(path, args.actor, args.role, districts, expires_at)
    scope = ", ".join(sorted(districts)) or "all districts"
    until = f", expires {_when(expires_at)}" if expires_at else ", no expiry"
    print(f"token {token_digest(token)[:12]} for {args.actor} ({args.role}, {scope}{until}); "
          f"stored as a hash in {path}; shown only now:", file=sys.stderr)
    print(token)
    return 0


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else "-"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.tokens import read_tokens

    now = datetime.now(timezone.utc)
    rows = [{"id": e.id, "actor": e.actor, "role": e.role, "districts": sorted(e.districts),
             "created_at": _when(e.created_at), "expires_at": _when(e.expires_at),
             "revoked_at": _when(e.revoked_at), "state": e.state(now)}
            for e in read_tokens(_tokens_file(args, settings))]
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    header = ("ID", "ACTOR", "ROLE", "DISTRICTS", "EXPIRES", "STATE")
    table = [header] + [(r["id"], r["actor"], r["role"], ",".join(r["districts"]) or "(all)",
                         r["expires_at"], r["state"] if r["state"] != "revoked" else f"revoked {r['revoked_at']}")
                        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.tokens import revoke_tokens

    if not args.ids and args.actor is None:
        raise ConfigError("name the tokens to revoke: ID ... (from `sitaware api token list`) or --actor NAME")
    path = _tokens_file(args, settings)
    revoked = revoke_tokens(path, args.ids, args.actor)
    for entry in revoked:
        print(f"revoked {entry.id} ({entry.actor}, {entry.role})")
    if not revoked:
        print("nothing to revoke: already revoked")
    print(f"a running API re-reads {path} on its next call (or on SIGHUP)", file=sys.stderr)
    return 0


def register(commands) -> None:
    from sitaware.api.tokens import ROLES
    from sitaware.settings import Settings

    defaults = Settings.model_fields
    parser = commands.add_parser("api", help="the command-center HTTP API and map page")
    parser.add_argument("--bind", help="address to listen on "
                        f"(default: SITAWARE_API_BIND, {defaults['api_bind'].default})")
    parser.add_argument("--port", type=int, help="port to listen on "
                        f"(default: SITAWARE_API_PORT, {defaults['api_port'].default})")
    parser.set_defaults(run=_serve)
    actions = parser.add_subparsers(dest="api_action", metavar="{token}")

    token = actions.add_parser(
        "token", help="access tokens: create one (print it once, store its hash), list, revoke",
        description="With --actor and --role: create a token, print it once and store only its "
                    "hash. `list` and `revoke` manage the tokens of the file.")
    token.add_argument("--actor", help="who uses it (the audit log's actor); required to create")
    token.add_argument("--role", choices=ROLES, help="what it may do; required to create")
    token.add_argument("--district", action="append", default=[], metavar="DISTRICT",
                       help="limit it to this district, by id or zh-CN name (repeatable; "
                            "default: the whole city)")
    expiry = token.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", metavar="DURATION",
                        help="valid for this long: 90m, 12h, 30d, 2w (default: no expiry)")
    expiry.add_argument("--expires-at", metavar="INSTANT",
                        help="valid until this RFC 3339 instant, e.g. 2026-12-31T23:59:00+08:00 "
                             "(default: no expiry)")
    token.add_argument("--file", help="the tokens file (default: SITAWARE_API_TOKENS_FILE)")
    token.set_defaults(run=_create)
    token_actions = token.add_subparsers(dest="token_action", metavar="{list,revoke}")

    listing = token_actions.add_parser("list", help="the tokens of the file: id, actor, role, "
                                       "districts, expiry, state (never the tokens themselves)")
    listing.add_argument("--json", action="store_true", help="one JSON object per token")
    _file_argument(listing)
    listing.set_defaults(run=_list)

    revoke = token_actions.add_parser("revoke", help="revoke tokens: a running API refuses them "
                                      "from its next call on (HTTP 401, audited)")
    revoke.add_argument("ids", nargs="*", metavar="ID", help="a token id from `list` (or its first 6+ digits)")
    revoke.add_argument("--actor", default=argparse.SUPPRESS, help="revoke every token of this actor")
    _file_argument(revoke)
    revoke.set_defaults(run=_revoke)


def _file_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: `api token --file F list` keeps F (a subcommand's own default would replace it).
    parser.add_argument("--file", default=argparse.SUPPRESS,
                        help="the tokens file (default: SITAWARE_API_TOKENS_FILE)")
