"""`sitaware api` (serve the API and map page) and `sitaware api token` (create a token)."""

from __future__ import annotations

import argparse
import logging
import sys

from sitaware.errors import ConfigError
from sitaware.settings import Settings

__all__ = ["register"]


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.app import run_api

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    run_api(settings, args.bind or settings.api_bind, args.port or settings.api_port)
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.api.auth import create_token
    from topics.districts import Districts

    path = args.file or settings.api_tokens_file
    if path is None:
        raise ConfigError("give --file PATH or set SITAWARE_API_TOKENS_FILE")
    known = Districts.from_geojson(settings.districts_file).names
    for district in args.district:  # a misspelt scope would silently show nothing
        if district not in known:
            raise ConfigError(f"unknown district {district!r} (the city has: {', '.join(known)})")
    token = create_token(path, args.actor, args.role, args.district)
    scope = ", ".join(sorted(set(args.district))) or "all districts"
    print(f"token for {args.actor} ({args.role}, {scope}); stored as a hash in {path}; "
          "shown only now:", file=sys.stderr)
    print(token)
    return 0


def register(commands) -> None:
    from sitaware.api.auth import ROLES

    parser = commands.add_parser("api", help="the command-center HTTP API and map page")
    parser.add_argument("--bind", help="address to listen on (default SITAWARE_API_BIND)")
    parser.add_argument("--port", type=int, help="port (default SITAWARE_API_PORT)")
    parser.set_defaults(run=_serve)
    actions = parser.add_subparsers(dest="api_action", metavar="{token}")
    token = actions.add_parser("token", help="create an access token: print it once, store its hash")
    token.add_argument("--actor", required=True, help="who uses it (the audit log's actor)")
    token.add_argument("--role", required=True, choices=ROLES)
    token.add_argument("--district", action="append", default=[],
                       help="limit it to this district (repeatable; none: the whole city)")
    token.add_argument("--file", help="the tokens file (default SITAWARE_API_TOKENS_FILE)")
    token.set_defaults(run=_token)
