"""`sitaware simulate`: the arguments and the command, for the CLI to wire in:

    add_simulate_arguments(subparsers.add_parser("simulate", help=...))
    ... return simulate_command(args, settings)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitaware.settings import Settings

from .config import SCALES, describe_scales, parse_duration
from .producer import run_simulation, truth_file

__all__ = ["add_simulate_arguments", "simulate_command"]


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("speed must be >= 0")
    return value


def add_simulate_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same records")
    parser.add_argument("--speed", type=_speed, default=1.0,
                        help="event time runs this many times faster than wall time; 0 or inf: "
                             "as fast as possible (default 1)")
    parser.add_argument("--duration", default="30m", help="simulated time: seconds, or e.g. 30m, 2h (default 30m)")
    parser.add_argument("--scenario", default="all",
                        help="all (default), none (background only), core (alarm/GPS injections), "
                             "checkpoints (checkpoint injections), or a comma list of situation types")
    parser.add_argument("--scale", choices=list(SCALES), default="demo",
                        help=f"city size (default demo): {describe_scales()}".replace("%", "%%"))
    parser.add_argument("--load", action="store_true",
                        help="offer the scale's steady live load instead (event time = now, every unit "
                             "pings every 10 s, alarm lifecycles, no scenarios and no truth file; "
                             "--duration of wall time; the load `sitaware bench --city` offers)")
    parser.add_argument("--start", default=None,
                        help="event time of the start, RFC 3339 with offset, or 'now' for a live run "
                             "(default 2026-03-02T08:00:00+08:00)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="also write every record as JSON Lines, one file per topic")
    parser.add_argument("--truth", type=Path, default=None,
                        help="ground-truth file (default <output-dir>/truth.json or ./sitaware-truth.json)")
    return parser


def _live_load(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from .live_producer import LiveLoad

    seconds = parse_duration(args.duration).total_seconds()

    async def offer():
        load = await LiveLoad(settings, SCALES[args.scale], seed=args.seed).start()
        try:
            await load.reference()
            return await load.offer(seconds, pace=1.0 if args.speed else 0.0)
        finally:
            await load.stop()

    result = asyncio.run(offer())
    print(f"offered {result.total} records in {result.ended_at - result.started_at:.0f} s "
          f"({result.records_per_s:,.0f}/s): " + ", ".join(f"{t} {n}" for t, n in sorted(result.sent.items())))
    if result.failed:
        print(f"warning: {result.failed} records were not delivered; first: {result.first_failure}", file=sys.stderr)
        return 1
    return 0


def simulate_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.load:
        return _live_load(args, settings)
    truth = run_simulation(
        settings, seed=args.seed, speed=args.speed, duration=args.duration, scenario=args.scenario,
        start=args.start, output_dir=args.output_dir, truth_path=args.truth, scale=args.scale,
    )
    where = truth_file(args.output_dir, args.truth)
    produced = sum(truth["counts"].values())
    print(f"produced {produced} records from {truth['start']} to {truth['end']}; "
          f"{len(truth['injections'])} expected situations in {where}")
    if truth["skipped"]:
        print(f"warning: {len(truth['skipped'])} injections could not be staged (see 'skipped')", file=sys.stderr)
    return 0
