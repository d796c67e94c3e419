"""`sitaware tail`: a live terminal view of situations, one line each, deduplicated by event_id."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timezone, timedelta

from sitaware.settings import Settings
from topics.records import SEVERITY_RANK
from topics.specs import SITUATIONS

__all__ = ["register", "format_line", "wanted", "check_filters"]

_COLOURS = {"info": "37", "low": "36", "medium": "33", "high": "31", "critical": "1;41"}
_LOCAL = timezone(timedelta(hours=8))  # command-center local time (UTC+8)


def format_line(situation: dict, colour: bool = False) -> str:
    from datetime import datetime

    when = datetime.fromisoformat(situation["event_time"]).astimezone(_LOCAL).strftime("%m-%d %H:%M:%S")
    severity = situation["severity"]
    label = f"{severity:<8}"
    if colour:
        label = f"\033[{_COLOURS[severity]}m{label}\033[0m"
    place = situation.get("district") or situation.get("cell") or "-"
    return f"{when}  {label} {situation['type']:<24} {place:<10} {situation['summary']}"


def wanted(situation: dict, args: argparse.Namespace) -> bool:
    return (
        (not args.type or situation["type"] in args.type)
        and (not args.district or situation.get("district") in args.district)
        and SEVERITY_RANK[situation["severity"]] >= SEVERITY_RANK[args.min_severity]
    )


def check_filters(args: argparse.Namespace, settings: Settings) -> argparse.Namespace:
    """The filters as known names (district aliases become ids); UnknownName otherwise, so a
    misspelt filter fails at once instead of showing nothing."""
    from sitaware.names import district_names, situation_type

    districts = district_names(settings.districts_file)
    return argparse.Namespace(**{
        **vars(args),
        "type": [situation_type(t) for t in args.type] if args.type else None,
        "district": districts.resolve_all(args.district) if args.district else None,
    })


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from kafka import KafkaConsumer

    args = check_filters(args, settings)
    consumer = KafkaConsumer(
        settings.topic(SITUATIONS),
        **settings.kafka_python_config(),
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
    )
    seen: set[str] = set()
    colour = sys.stdout.isatty()
    try:
        for record in consumer:
            situation = json.loads(record.value)
            if situation["event_id"] in seen or not wanted(situation, args):
                continue
            seen.add(situation["event_id"])
            print(format_line(situation, colour), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


def register(commands) -> None:
    parser = commands.add_parser("tail", help="live view of situations in the terminal")
    parser.add_argument("--from-beginning", action="store_true", help="replay the topic first")
    parser.add_argument("--type", action="append", metavar="TYPE",
                        help="only this situation type (repeatable; default: every type)")
    parser.add_argument("--district", action="append", metavar="DISTRICT",
                        help="only this district, by id or zh-CN name (repeatable; default: every district)")
    parser.add_argument("--min-severity", default="info", choices=list(SEVERITY_RANK),
                        help="the lowest severity shown")
    parser.set_defaults(run=_run)
