"""Pydantic models of every record of the public surface (docs/surface.md).

Validation here *is* the contract: a record that does not build one of these models goes
to `dead-letters` with stage `validate`. Instants are parsed as timezone-aware and kept in
UTC; unknown fields are ignored for forward compatibility.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

__all__ = [
    "Identifier",
    "SubscriptionId",
    "Instant",
    "AlarmStatus",
    "AlarmCategory",
    "UnitType",
    "UnitStatus",
    "PlateColor",
    "VehicleType",
    "SituationType",
    "Severity",
    "SEVERITY_RANK",
    "POLICE_UNIT_TYPES",
    "Alarm",
    "PatrolPing",
    "CheckpointPass",
    "Checkpoint",
    "WatchlistEntry",
    "Subscription",
    "Situation",
    "Alert",
]


def _rfc3339_only(value: object) -> object:
    # Contract §1: an instant is an RFC 3339 string. A bare number would be read as epoch
    # seconds or milliseconds by guesswork, so it is a wrong type (found by fuzzing).
    if not isinstance(value, (str, datetime)):
        raise ValueError("instant must be an RFC 3339 string")
    return value


def _require_utc(value: datetime) -> datetime:
    # RFC 3339 demands an explicit offset; a naive instant is ambiguous, so refuse it.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("instant needs an explicit offset (Z or +hh:mm)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("instant is out of range") from None


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
SubscriptionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Instant = Annotated[datetime, BeforeValidator(_rfc3339_only), AfterValidator(_require_utc)]
# Numbers are strict: a JSON number only, never a numeric string or a boolean (lax mode
# would read `true` as 1.0 and "31.2" as 31.2; the contract calls them wrong types).
Latitude = Annotated[float, Field(ge=-90, le=90, strict=True), AfterValidator(_finite)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True), AfterValidator(_finite)]
Speed = Annotated[float, Field(ge=0, le=300, strict=True), AfterValidator(_finite)]
Heading = Annotated[float, Field(ge=0, le=360, strict=True), AfterValidator(_finite)]
Text500 = Annotated[str, StringConstraints(max_length=500)]

AlarmStatus = Literal["received", "dispatched", "arrived", "closed", "cancelled"]
AlarmCategory = Literal[
    "violent", "theft", "fraud", "dispute", "gathering", "traffic", "fire", "medical", "other"
]
UnitType = Literal["police_car", "foot_patrol", "motorcycle", "security_guard", "grid_worker"]
UnitStatus = Literal["available", "dispatched", "on_scene", "off_duty"]
PlateColor = Literal["blue", "yellow", "green", "white", "black", "other"]
VehicleType = Literal["car", "truck", "bus", "motorcycle", "other"]
SituationType = Literal[
    "alarm_hotspot",
    "crowd_gathering",
    "dispatch_recommendation",
    "coverage_gap",
    "response_overdue",
    "arrival_detected",
    "arrival_mismatch",
    "unit_offline",
    "watchlist_hit",
    "suspect_near_incident",
    "cloned_plate",
    "flow_anomaly",
]
Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
POLICE_UNIT_TYPES = frozenset({"police_car", "foot_patrol", "motorcycle"})


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class Alarm(_Record):
    """One lifecycle step of an emergency-call (110) incident. Key: alarm_id."""

    alarm_id: Identifier
    status: AlarmStatus
    ts: Instant
    lat: Latitude | None = None
    lon: Longitude | None = None
    category: AlarmCategory | None = None
    priority: Annotated[int, Field(ge=1, le=4, strict=True)] | None = None
    district: Annotated[str, StringConstraints(max_length=64)] | None = None
    address: Text500 | None = None
    summary: Text500 | None = None
    caller_phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    unit_id: Identifier | None = None
    disposition: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _status_requirements(self) -> "Alarm":
        if self.status == "received":
            for name in ("lat", "lon", "category", "priority"):
                if getattr(self, name) is None:
                    raise ValueError(f"{name} is required when status is received")
        if self.status in ("dispatched", "arrived") and self.unit_id is None:
            raise ValueError(f"unit_id is required when status is {self.status}")
        return self


class PatrolPing(_Record):
    """A position of a police or auxiliary unit. Key: unit_id."""

    unit_id: Identifier
    ts: Instant
    lat: Latitude
    lon: Longitude
    unit_type: UnitType
    status: UnitStatus
    speed_kmh: Speed | None = None
    heading_deg: Heading | None = None
    alarm_id: Identifier | None = None

    @property
    def is_police(self) -> bool:
        return self.unit_type in POLICE_UNIT_TYPES


class CheckpointPass(_Record):
    """A vehicle passing a road checkpoint (卡口). Key: checkpoint_id."""

    pass_id: Identifier
    checkpoint_id: Identifier
    ts: Instant
    plate: Annotated[str, StringConstraints(min_length=2, max_length=16, pattern=r"^\S+$")]
    plate_color: PlateColor
    vehicle_type: VehicleType | None = None
    direction: Annotated[str, StringConstraints(max_length=16)] | None = None
    speed_kmh: Speed | None = None

    @property
    def plate_key(self) -> str:
        """Plates are compared upper-cased (docs/surface.md, "checkpoint-passes")."""
        return self.plate.upper()


class Checkpoint(_Record):
    checkpoint_id: Identifier
    name: Annotated[str, StringConstraints(max_length=200)]
    lat: Latitude
    lon: Longitude
    district: Annotated[str, StringConstraints(max_length=64)]
    road: Annotated[str, StringConstraints(max_length=200)] | None = None


class WatchlistEntry(_Record):
    plate: Annotated[str, StringConstraints(min_length=2, max_length=16, pattern=r"^\S+$")]
    plate_color: PlateColor | None = None
    level: Annotated[int, Field(ge=1, le=3, strict=True)]
    reason: Annotated[str, StringConstraints(max_length=500)]
    expires_at: Instant | None = None

    def active_at(self, instant: datetime) -> bool:
        return self.expires_at is None or instant < self.expires_at


class Subscription(_Record):
    subscription_id: SubscriptionId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    owner: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    types: list[SituationType] = []
    min_severity: Severity = "info"
    districts: list[Annotated[str, StringConstraints(max_length=64)]] = []
    bbox: tuple[Longitude, Latitude, Longitude, Latitude] | None = None
    cooldown_s: Annotated[int, Field(ge=0, le=86_400, strict=True)] = 300
    channel: Literal["kafka", "webhook"]
    webhook_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    webhook_secret: str | None = None
    # A webhook answering 410 Gone disables its subscription: the worker re-publishes it
    # with enabled = false and the reason (docs/surface.md, "Subscriptions and alerts").
    enabled: StrictBool = True
    disabled_reason: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _channel_requirements(self) -> "Subscription":
        if self.channel == "webhook" and not (self.webhook_url and self.webhook_secret):
            raise ValueError("webhook_url and webhook_secret are required for channel webhook")
        if self.bbox and not (self.bbox[0] <= self.bbox[2] and self.bbox[1] <= self.bbox[3]):
            raise ValueError("bbox must be [min_lon, min_lat, max_lon, max_lat]")
        return self


class Situation(_Record):
    """A situational event on the `situations` topic (docs/surface.md). Key: event_id."""

    event_id: Identifier
    type: SituationType
    severity: Severity
    event_time: Instant
    detected_at: Instant
    window_start: Instant | None = None
    window_end: Instant | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    cell: str | None = None
    district: str | None = None
    subject: str | None = None
    metrics: dict[str, float] = {}
    evidence: list[str] = []
    summary: str
    model_version: str


class Alert(_Record):
    """A situation matched to a subscription (docs/surface.md). Key: event_id."""

    alert_id: Identifier
    subscription_id: SubscriptionId
    matched_at: Instant
    event: Situation
