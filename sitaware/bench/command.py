"""`sitaware bench`: measure the pipeline on the real stack and report it.

    sitaware bench --quick --output bench.json     # < 5 min; bench.json and bench.png
    sitaware bench --smoke                          # < 1 min: every stage once, tiny rates
    sitaware bench --rates 500,1000,2000 --workers 2
    sitaware bench --city --duration 3m             # the large city live, its ceiling, idle control
    sitaware bench --city --smoke                   # the same in ~3 minutes at tiny rates
    sitaware bench --offer-rate                     # the large-city load process alone
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from sitaware.errors import ConfigError, SitawareError
from sitaware.settings import Settings

__all__ = ["register"]


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(sorted(float(r) for r in text.split(",") if r.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of numbers: {text!r}") from None
    if not rates or rates[0] <= 0:
        raise argparse.ArgumentTypeError("rates must be positive records/s")
    return rates


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _service_settings(settings: Settings) -> Settings:
    """Without SITAWARE_PII_KEY in the environment, use the local stack's settings (as
    `sitaware stack env` would export them)."""
    if settings.pii_key is not None:
        return settings
    from sitaware.stack.local import LocalStack

    return LocalStack(settings, log=lambda message: None).service_settings()


def _partition_list(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of partition counts: {text!r}") from None
    if any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError("partition counts must be at least 1")
    return counts


def _seconds(text: str) -> float:
    from sitaware.simulator import parse_duration
    from sitaware.simulator.errors import ScenarioError

    try:
        seconds = parse_duration(text).total_seconds()
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return seconds


def _scale(name: str) -> str:
    from sitaware.simulator import SCALES

    from .load import BENCH_SCALES

    if name not in SCALES and name not in BENCH_SCALES:
        raise ConfigError(f"--scale {name!r}: use one of {', '.join([*SCALES, *BENCH_SCALES])}")
    return name


def _run_offer_rate(args: argparse.Namespace, settings: Settings) -> int:
    from .city_load import measure_offer_rate

    settings = _service_settings(settings)
    result = measure_offer_rate(settings, _scale(args.scale or "metro"), partitions=args.partitions or 8,
                                log=lambda message: print(f"bench: {message}", file=sys.stderr, flush=True))
    runs = ", ".join(f"{r:,.0f}" for r in result["runs"])
    print(f"load process alone ({result['scale']}, {result['partitions']} partitions): "
          f"{result['records_per_s']:,.0f} records/s (median of {runs})")
    return 0


def _run_city(args: argparse.Namespace, settings: Settings) -> int:
    from .city_report import build_city_report, render_city_table
    from .city_run import CITY_PLANS, run_city
    from .report import machine_info, write_json

    plan = CITY_PLANS["smoke" if args.smoke else "city"]
    if args.scale:
        plan = replace(plan, scale=_scale(args.scale))
    for name in ("workers", "partitions", "control_partitions"):
        if getattr(args, name):
            plan = replace(plan, **{name: getattr(args, name)})
    if args.duration:
        plan = replace(plan, duration_s=args.duration, warmup_s=min(plan.warmup_s, args.duration / 4))
    if args.ceiling_s:
        plan = replace(plan, ceiling_s=args.ceiling_s)
    if args.faust_defaults:
        plan = replace(plan, tuned=False)
    if plan.partitions < plan.workers or min(plan.control_partitions, default=plan.workers) < plan.workers:
        raise ConfigError(f"--partitions and --control-partitions must be at least --workers ({plan.workers})")
    settings = _service_settings(settings)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info(settings)
    try:
        raw = run_city(settings, plan)
    except RuntimeError as exc:
        raise SitawareError(f"bench failed: {exc}") from exc
    report = build_city_report(raw, machine)
    write_json(report, output)
    print(render_city_table(report))
    print(f"\nwrote {output}")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.offer_rate:
        return _run_offer_rate(args, settings)
    if args.city:
        return _run_city(args, settings)
    if args.duration or args.control_partitions or args.ceiling_s or args.scale or args.faust_defaults:
        raise ConfigError("--duration, --scale, --control-partitions, --ceiling-s and --faust-defaults go with --city")
    from .report import build_report, machine_info, render_table, write_json, write_plot
    from .runner import DESIGN_RATE, PLANS, run_bench

    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.rates:
        plan = replace(plan, rates=args.rates)
    if args.workers:
        plan = replace(plan, workers=args.workers)
    if args.partitions:
        plan = replace(plan, partitions=args.partitions)
    if plan.partitions < plan.workers:
        raise ConfigError(f"--partitions ({plan.partitions}) must be at least --workers ({plan.workers})")
    settings = _service_settings(settings)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    machine = machine_info(settings)
    try:
        raw = run_bench(settings, plan)
    except RuntimeError as exc:
        raise SitawareError(f"bench failed: {exc}") from exc
    report = build_report(raw, machine, DESIGN_RATE)
    plot = output.with_suffix(".png")
    report["plot"] = str(plot)
    write_json(report, output)
    write_plot(report, plot)
    print(render_table(report))
    print(f"\nwrote {output} and {plot}")
    return 0


def register(commands) -> None:
    parser = commands.add_parser("bench", help="measure throughput, latency and sink speed on the real stack")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run (under 5 minutes)")
    size.add_argument("--smoke", action="store_true", help="every stage once at tiny rates (under a minute)")
    parser.add_argument("--output", default="sitaware-bench.json",
                        help="JSON report (default sitaware-bench.json); the plot goes beside it as .png")
    parser.add_argument("--rates", type=_rates, help="offered records/s, comma separated (default per size)")
    parser.add_argument("--workers", type=_positive, help="worker processes (default 1)")
    parser.add_argument("--partitions", type=_positive, help="partitions per topic (default 4, --city 8; smoke 2)")
    city = parser.add_argument_group("large city", "the steady live load of a large city at its peak")
    city.add_argument("--city", action="store_true",
                      help="offer the large city live (simulator scale metro: 20,000 units pinging every 10 s, "
                           "1,000 checkpoints, 10 alarms/s; ~4,540 records/s), then the no-op faust ceiling "
                           "over the same records and the control traffic of an idle pipeline; with --smoke: "
                           "a tiny city, every figure once")
    city.add_argument("--duration", type=_seconds,
                      help="how long the load runs, seconds or e.g. 3m (default 10m; smoke 20s)")
    city.add_argument("--scale", help="the city's scale (default metro; smoke bench-small)")
    city.add_argument("--control-partitions", type=_partition_list,
                      help="partition counts of the idle-pipeline runs (default 8,32; smoke 2,4)")
    city.add_argument("--ceiling-s", type=_seconds, help="longest no-op faust drain timing (default 60 s)")
    city.add_argument("--faust-defaults", action="store_true",
                      help="leave the workers on faust's consumer defaults (default: the no-op's settings)")
    city.add_argument("--offer-rate", action="store_true",
                      help="only time the load process, as fast as it goes, into throwaway topics "
                           "(3 runs of 10 s, the median)")
    parser.set_defaults(run=_run)
