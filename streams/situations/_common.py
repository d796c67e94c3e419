"""What every situation model shares: ids, versions, state base, the re-emission cache.

Re-delivery: the pipeline is at-least-once, so an agent may apply an input again after a
crash, with its table state already holding the effect of the first application while the
situation it sent was lost. Every model therefore remembers, briefly, the situations an
input caused (`Emitted`, keyed by a `cause` string naming that input) and sends them again,
unchanged, when the same input is applied again (`replay`). Consumers dedupe by event_id.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from topics.geo import geohash
from topics.records import Alarm, Instant, Situation

__all__ = [
    "LATENESS",
    "StateModel",
    "Emitted",
    "VersionedParams",
    "alarm_cell",
    "event_id",
    "make_situation",
    "replay",
    "stamp",
    "tick_cause",
]

LATENESS = timedelta(minutes=10)  # docs/surface.md, Conventions: default allowed lateness

# How long (in stream time) a re-send cache keeps what it sent. A cause is re-delivered when
# a worker dies before committing it: a window of seconds of wall time, but while a backlog
# is drained those seconds can span many minutes of stream time — longer than the lateness.
# Two hours of stream time is minutes of wall time at any replay speed seen here.
RESEND_RETENTION = timedelta(hours=2)


class StateModel(BaseModel):
    """Base of every state object: immutable, stored in a Faust table as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Emitted(StateModel):
    """A situation sent because of `cause`, kept so a re-delivered cause re-sends it."""

    cause: str
    at: Instant  # the state's watermark when it was sent: the cache is pruned by it

    def kept_at(self, watermark: datetime) -> bool:
        return self.at >= watermark - RESEND_RETENTION
    situation: Situation


def received_site(alarm: Alarm) -> dict:
    """The fields that place an alarm: only its `received` record carries them."""
    if alarm.status != "received":
        raise ValueError("only a received alarm record carries the alarm's site")
    return {"alarm_id": alarm.alarm_id, "ts": alarm.ts, "lat": alarm.lat, "lon": alarm.lon}


def stamp(instant: datetime) -> str:
    """Canonical UTC text of an instant, for ids and cause keys (microseconds kept)."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_id(type_: str, *parts: str | datetime) -> str:
    """Deterministic id of one occurrence: the same parts give the same id on every replay."""
    text = "|".join(stamp(p) if isinstance(p, datetime) else str(p) for p in parts)
    return f"{type_}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def tick_cause(stream_time: datetime) -> str:
    """Cause key of a timer check: re-running the check at the same stream time re-sends."""
    return f"tick:{stamp(stream_time)}"


def alarm_cell(alarm: Alarm) -> str:
    """The grid cell of a received alarm (the key of the per-cell models' state)."""
    return geohash(alarm.lat, alarm.lon)


def replay(emitted: tuple[Emitted, ...], cause: str, type_: str | None = None) -> list[Situation]:
    """What `cause` emitted before (of one type, if given): re-sent when it is applied again."""
    return [
        e.situation for e in emitted
        if e.cause == cause and (type_ is None or e.situation.type == type_)
    ]


def _canonical(value: object) -> object:
    # One spelling per value, so that 10 and 10.0 km or 600 s and 10 min digest the same.
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, frozenset | set):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    raise TypeError(f"parameter of unsupported type {type(value).__name__}")


class VersionedParams:
    """Mixin for the frozen parameter dataclasses: `model_version` = rule + parameter digest."""

    RULE: ClassVar[str]

    @property
    def model_version(self) -> str:
        values = {f.name: _canonical(getattr(self, f.name)) for f in fields(self)}
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.RULE}+{digest}"


def make_situation(
    type_: str,
    *,
    id_parts: tuple[str | datetime, ...],
    severity: str,
    event_time: datetime,
    detected_at: datetime,
    model_version: str,
    summary: str,
    where: object | None = None,
    lat: float | None = None,
    lon: float | None = None,
    cell: str | None = None,
    district: str | None = None,
    subject: str | None = None,
    metrics: dict[str, float] | None = None,
    evidence: list[str] | tuple[str, ...] = (),
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Situation:
    """Build a situation; `where` (an alarm, site, lifecycle or ping) supplies the place."""
    if where is not None:
        lat, lon = where.lat, where.lon
        cell = getattr(where, "cell", None)
        district = getattr(where, "district", None)
    if cell is None and lat is not None and lon is not None:
        cell = geohash(lat, lon)
    clean = {k: float(v) for k, v in (metrics or {}).items() if math.isfinite(v)}
    return Situation(
        event_id=event_id(type_, *id_parts),
        type=type_,
        severity=severity,
        event_time=event_time,
        detected_at=detected_at,
        window_start=window_start,
        window_end=window_end,
        lat=lat,
        lon=lon,
        cell=cell,
        district=district,
        subject=subject,
        metrics=clean,
        evidence=list(evidence),
        summary=summary,
        model_version=model_version,
    )
