"""`sitaware simulate`: the arguments and the command, for the CLI to wire in:

    add_simulate_arguments(subparsers.add_parser("simulate", help=...))
    ... return simulate_command(args, settings)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sitaware.settings import Settings

from .config import SCALES
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
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo",
                        help="city size: small (40 units), demo (400), city (4000; ~480 records/s)")
    parser.add_argument("--start", default=None,
                        help="event time of the start, RFC 3339 with offset, or 'now' for a live run "
                             "(default 2026-03-02T08:00:00+08:00)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="also write every record as JSON Lines, one file per topic")
    parser.add_argument("--truth", type=Path, default=None,
                        help="ground-truth file (default <output-dir>/truth.json or ./sitaware-truth.json)")
    return parser


def simulate_command(args: argparse.Namespace, settings: Settings) -> int:
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
