"""The `sitaware` command line (every command and option: docs/commands.md)."""

from __future__ import annotations

import argparse
import sys

from sitaware.cli_help import CommandParser, version
from sitaware.errors import SitawareError
from sitaware.settings import Settings, load_settings

__all__ = ["main", "build_parser"]


def _stack(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.stack.local import LocalStack

    log = lambda message: print(message, file=sys.stderr)  # noqa: E731 - stdout is for `env`
    if args.secure:
        settings = settings.model_copy(update={"stack_secure": True})
    stack = LocalStack(settings, log=log, progress=sys.stderr)
    if args.action == "up":
        stack.up()
    elif args.action == "down":
        stack.down()
    elif args.action == "status":
        parts = stack.status()
        for part in parts:
            print(part.line())
        return 0 if all(p.healthy for p in parts) else 1
    elif args.action == "env":
        print("\n".join(stack.env_lines()))
    return 0


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        created = ensure_topics(admin, contract_topics(settings), settings.topic_replication)
    finally:
        admin.close()
    print(f"created {len(created)} topics: {', '.join(created) or '-'}")
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from clickhouse_driver import Client

    from sinks.clickhouse.schema import apply_migrations
    from sitaware.credentials import account_password

    password = account_password(args, settings)
    client = Client(
        settings.clickhouse_host,
        port=settings.clickhouse_port,
        user=args.user or settings.clickhouse_user,
        password=password if password is not None else settings.clickhouse_password.get_secret_value(),
    )
    try:
        applied = apply_migrations(client, settings.clickhouse_database)
    finally:
        client.disconnect()
    print(f"applied migrations: {applied or 'none pending'}")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.demo import run_demo

    return run_demo(settings, args)


def build_parser() -> argparse.ArgumentParser:
    from sitaware.credentials import add_account_arguments

    parser = CommandParser(prog="sitaware", description="Situational-awareness backbone for police command centers.")
    parser.add_argument("--version", action="version", version=f"sitaware {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = commands.add_parser("stack", help="local real Kafka and ClickHouse on loopback")
    stack.add_argument("action", choices=["up", "down", "status", "env"],
                       help="up: install once (Kafka jars, ClickHouse), start, create topics, migrate; "
                            "down: stop; status: health; env: export lines for clients")
    stack.add_argument("--secure", action="store_true",
                       help="a new stack with SASL_SSL/SCRAM Kafka (a stack folder keeps its mode)")
    stack.set_defaults(run=_stack)

    topics = commands.add_parser("topics", help="create the contract's topics on the broker")
    topics.add_argument("action", choices=["create"], help="create the missing ones (idempotent)")
    topics.set_defaults(run=_topics)

    migrate = commands.add_parser("migrate", help="apply the ClickHouse schema migrations")
    add_account_arguments(migrate, "a ClickHouse user allowed to run DDL")
    migrate.set_defaults(run=_migrate)

    demo = commands.add_parser("demo", help="the main job: stack, worker, simulated city, live view")
    # One worker keeps up with the small city at 10x; larger scales need more workers (issue 7).
    demo.add_argument("--scale", default="small", choices=["small", "demo", "city"],
                      help="size of the simulated city")
    demo.add_argument("--speed", type=float, default=10.0, help="simulated time per wall second")
    demo.add_argument("--duration", default="2h", help="simulated time, e.g. 30m, 2h")
    demo.add_argument("--smoke", action="store_true", help="only the stack round trip, then exit")
    demo.set_defaults(run=_demo)

    for register in _optional_commands():
        register(commands)
    return parser


def _optional_commands():
    """Commands whose modules add their own parsers."""
    from streams.worker import register as worker

    def simulate(commands) -> None:
        from sitaware.simulator.command import add_simulate_arguments, simulate_command

        parser = commands.add_parser("simulate", help="synthetic city feed with a ground truth")
        add_simulate_arguments(parser)
        parser.set_defaults(run=simulate_command)

    from sitaware.api import register as api
    from sitaware.bench import register as bench
    from sitaware.ops import register as ops
    from sitaware.schema import register as schema
    from sitaware.subscribe import register as subscribe
    from sitaware.tail import register as tail

    return [worker, simulate, tail, subscribe, api, bench, ops, schema]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return args.run(args, settings)
    except SitawareError as exc:
        print(f"sitaware: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
