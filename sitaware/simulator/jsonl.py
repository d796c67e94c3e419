"""Records as JSON Lines, one file per topic (`alarms.jsonl`, `patrol-gps.jsonl`, ...):
each line is a record's value; its key follows from the value (`KEY_OF`)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import orjson

from topics.specs import ALARMS, CHECKPOINT_PASSES, CHECKPOINTS, PATROL_GPS, WATCHLIST

__all__ = ["KEY_OF", "RecordFiles", "load_records", "encode_value"]

KEY_OF = {
    ALARMS: lambda v: v["alarm_id"],
    PATROL_GPS: lambda v: v["unit_id"],
    CHECKPOINT_PASSES: lambda v: v["checkpoint_id"],
    CHECKPOINTS: lambda v: v["checkpoint_id"],
    WATCHLIST: lambda v: v["plate"].upper(),
}


def encode_value(value: dict) -> bytes:
    """Compact JSON in UTF-8, non-ASCII text kept as is (plates like 沪A12345 stay readable)."""
    return orjson.dumps(value)


class RecordFiles:
    """Appends each record's value to <dir>/<topic>.jsonl."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict = {}

    def write(self, topic: str, value: dict) -> None:
        out = self._files.get(topic)
        if out is None:
            out = self._files[topic] = (self.directory / f"{topic}.jsonl").open("wb")
        out.write(encode_value(value) + b"\n")

    def close(self) -> None:
        for out in self._files.values():
            out.close()
        self._files.clear()


def load_records(directory: str | Path) -> list[tuple[str, str, dict]]:
    """Read back what `RecordFiles` wrote: reference topics first, then the feeds merged
    by event time (stable, so each topic keeps its order)."""
    reference, feeds = [], []
    for topic in KEY_OF:
        path = Path(directory) / f"{topic}.jsonl"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as lines:
            rows = [(topic, KEY_OF[topic](v), v) for v in map(json.loads, lines)]
        (reference if topic in (CHECKPOINTS, WATCHLIST) else feeds).extend(rows)
    feeds.sort(key=lambda r: datetime.fromisoformat(r[2]["ts"]))
    return reference + feeds
