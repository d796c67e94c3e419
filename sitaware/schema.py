"""`sitaware schema`: JSON Schemas of every record sitaware reads or writes, from the
pydantic models in `topics/records.py` (which are what the worker validates against).

    sitaware schema             one JSON object: topic -> JSON Schema (draft 2020-12)
    sitaware schema --out DIR   one file per record: DIR/<topic>.schema.json

Rules a model checks in code across fields are added as `if`/`then` clauses, so a producer
can validate a record before sending it. What JSON Schema cannot say is left to the
worker: an instant's explicit offset, finite numbers, the 64 KiB limit per record.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from pydantic import BaseModel

from sitaware.settings import Settings
from topics import records, specs

__all__ = ["register", "record_schemas", "RECORDS"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# topic -> (model, what the record key is). `alerts` stands for every `alerts.<subscription_id>`.
RECORDS: dict[str, tuple[type[BaseModel], str]] = {
    specs.ALARMS: (records.Alarm, "alarm_id"),
    specs.PATROL_GPS: (records.PatrolPing, "unit_id"),
    specs.CHECKPOINT_PASSES: (records.CheckpointPass, "checkpoint_id"),
    specs.CHECKPOINTS: (records.Checkpoint, "checkpoint_id; a null value deletes the key"),
    specs.WATCHLIST: (records.WatchlistEntry, "the plate upper-cased; a null value deletes the key"),
    specs.SUBSCRIPTIONS: (records.Subscription, "subscription_id; a null value deletes the key"),
    specs.SITUATIONS: (records.Situation, "event_id"),
    "alerts": (records.Alert, "event_id (topic alerts.<subscription_id>)"),
}

# The models' cross-field validators (model_validator) as JSON Schema conditions.
_REQUIRED_WHEN = {
    records.Alarm: [
        ({"status": {"const": "received"}}, ["lat", "lon", "category", "priority"]),
        ({"status": {"enum": ["dispatched", "arrived"]}}, ["unit_id"]),
    ],
    records.Subscription: [
        ({"channel": {"const": "webhook"}}, ["webhook_url", "webhook_secret"]),
    ],
}


def _schema(topic: str, model: type[BaseModel], key: str) -> dict:
    schema = model.model_json_schema()
    # The docstrings' own "Key: ..." is replaced by the key as this table states it.
    described = re.sub(r"\s*Key: [^.]*\.$", "", schema.pop("description", "").strip())
    conditions = [
        {"if": {"properties": when, "required": list(when)}, "then": {"required": required}}
        for when, required in _REQUIRED_WHEN.get(model, ())
    ]
    return {
        "$schema": DIALECT,
        **schema,
        "title": topic,
        "description": f"{described} Record key: {key}.".strip(),
        **({"allOf": conditions} if conditions else {}),
    }


def record_schemas() -> dict[str, dict]:
    """Topic -> the JSON Schema of its record value."""
    return {topic: _schema(topic, model, key) for topic, (model, key) in RECORDS.items()}


def _run(args: argparse.Namespace, settings: Settings) -> int:
    schemas = record_schemas()
    if args.out is None:
        print(json.dumps(schemas, indent=2, ensure_ascii=False))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for topic, schema in schemas.items():
        (args.out / f"{topic}.schema.json").write_text(
            json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"wrote {len(schemas)} schemas to {args.out}")
    return 0


def register(commands) -> None:
    parser = commands.add_parser("schema", help="JSON Schemas of every input and output record")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write one DIR/<topic>.schema.json per record instead of printing them")
    parser.set_defaults(run=_run)
