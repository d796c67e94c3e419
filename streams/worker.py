"""`sitaware worker`: run the pipeline. Several workers with the same settings share the work."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitaware.settings import Settings

__all__ = ["register", "faust_worker"]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sitaware.errors import ConfigError

    if settings.pii_key is None:
        # Plates and caller phones are pseudonymised with it before ClickHouse or a log line;
        # there is no safe default. The local stack generates one (`sitaware stack env`).
        raise ConfigError(
            "SITAWARE_PII_KEY is not set: the worker pseudonymises plates and caller phones "
            "with it (HMAC-SHA256) and will not run without one; use a random secret of at "
            "least 32 characters (the local stack's: eval \"$(sitaware stack env)\")")

    from streams.app import create_pipeline

    pipeline = create_pipeline(
        settings,
        datadir=Path(args.datadir) if args.datadir else None,
        web_port=args.web_port,
    )
    pipeline.declare_topics()
    faust_worker(pipeline.app, args.loglevel).execute_from_commandline()
    return 0


def faust_worker(app, loglevel: str):
    import faust

    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG (its handler spins on every
    # record): every debug call in faust and aiokafka then builds a log record to drop.
    worker.spinner = None
    return worker


def register(commands) -> None:
    parser = commands.add_parser("worker", help="run the pipeline (several may run at once)")
    parser.add_argument("--web-port", type=int, help="health and /metrics port (default SITAWARE_WORKER_WEB_PORT)")
    parser.add_argument("--datadir", help="table state directory (one per worker on a machine)")
    parser.add_argument("--loglevel", default="warning")
    parser.set_defaults(run=_run)
