"""`sitaware tail`: a live terminal view of situations, one line each, deduplicated by event_id."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timezone, timedelta

from sitaware.settings import Settings
from topics.records import SEVERITY_RANK
from topics.specs import SITUATIONS

__all__ = ["register", "format_line"]

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


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from kafka import KafkaConsumer

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
    parser.add_argument("--type", action="append", help="only this situation type (repeatable)")
    parser.add_argument("--district", action="append", help="only this district (repeatable)")
    parser.add_argument("--min-severity", default="info", choices=list(SEVERITY_RANK))
    parser.set_defaults(run=_run)
