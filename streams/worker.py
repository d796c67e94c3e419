"""`sitaware worker`: run the pipeline. Several workers with the same settings share the work."""

from __future__ import annotations

import argparse
from pathlib import Path

from sitaware.settings import Settings

__all__ = ["register"]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    from streams.app import create_pipeline

    pipeline = create_pipeline(
        settings,
        datadir=Path(args.datadir) if args.datadir else None,
        web_port=args.web_port,
    )
    pipeline.declare_topics()
    worker = faust.Worker(pipeline.app, loglevel=args.loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0


def register(commands) -> None:
    parser = commands.add_parser("worker", help="run the pipeline (several may run at once)")
    parser.add_argument("--web-port", type=int, help="health and /metrics port (default SITAWARE_WORKER_WEB_PORT)")
    parser.add_argument("--datadir", help="table state directory (one per worker on a machine)")
    parser.add_argument("--loglevel", default="warning")
    parser.set_defaults(run=_run)
