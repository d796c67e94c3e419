"""`sitaware bench`: measure the pipeline on the real stack and report it.

    sitaware bench --quick --output bench.json     # < 5 min; bench.json and bench.png
    sitaware bench --smoke                          # < 1 min: every stage once, tiny rates
    sitaware bench --rates 500,1000,2000 --workers 2
"""

from __future__ import annotations

import argparse
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


def _run(args: argparse.Namespace, settings: Settings) -> int:
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
    parser.add_argument("--partitions", type=_positive, help="partitions per topic (default 4; smoke 2)")
    parser.set_defaults(run=_run)
