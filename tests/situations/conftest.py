"""Factories for the situation-model tests: instants, alarms, pings, points at a distance."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from streams.situations import units
from streams.situations.fleet import UnitPosition
from streams.situations.unit_track import AlarmSite, UnitTrack
from topics.geo import EARTH_RADIUS_KM
from topics.records import Alarm, PatrolPing, Situation

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
SITE = (31.2304, 121.4737)  # central Shanghai; +-0.001 deg stays in geohash cell wtw3sj
DETECTED_AT = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def t():
    """t(minutes, seconds=..., ms=...) -> an instant relative to T0."""

    def at(minutes: float = 0, *, seconds: float = 0, ms: float = 0) -> datetime:
        return T0 + timedelta(minutes=minutes, seconds=seconds, milliseconds=ms)

    return at


@pytest.fixture
def north_of():
    """north_of(km, lat, lon) -> a point km (great-circle) due north of (lat, lon)."""

    def point(km: float, lat: float = SITE[0], lon: float = SITE[1]) -> tuple[float, float]:
        return lat + math.degrees(km / EARTH_RADIUS_KM), lon

    return point


@pytest.fixture
def alarm(t):
    """alarm(alarm_id, minutes, status="received", ...) -> an Alarm at SITE by default."""

    def make(alarm_id: str, minutes: float = 0, status: str = "received", *, ts=None, **fields):
        record = {"alarm_id": alarm_id, "status": status, "ts": ts or t(minutes)}
        if status == "received":
            record |= {"lat": SITE[0], "lon": SITE[1], "category": "theft", "priority": 2}
        return Alarm(**(record | fields))

    return make


@pytest.fixture
def ping(t):
    """ping(unit_id, ts, lat, lon, ...) -> a PatrolPing of an available police car."""

    def make(unit_id: str, ts: datetime, lat: float = SITE[0], lon: float = SITE[1], **fields):
        record = {"unit_id": unit_id, "ts": ts, "lat": lat, "lon": lon,
                  "unit_type": "police_car", "status": "available"}
        return PatrolPing(**(record | fields))

    return make


@pytest.fixture
def detected_at() -> datetime:
    return DETECTED_AT


@pytest.fixture
def site() -> tuple[float, float]:
    return SITE


@pytest.fixture
def position(ping):
    """position(unit_id, ts, lat, lon, ...) -> a UnitPosition (available police car by default)."""

    def make(unit_id: str, ts: datetime, lat: float = SITE[0], lon: float = SITE[1], **fields):
        return UnitPosition.from_ping(ping(unit_id, ts, lat, lon, **fields))

    return make


class UnitFeed:
    """Drives the per-unit entry points as the agent does (stream time: the input's ts)."""

    def __init__(self, rules: units.UnitRules, detected_at: datetime, locale: str) -> None:
        self.rules, self.detected_at, self.locale = rules, detected_at, locale
        self.track: UnitTrack | None = None

    def _keep(self, result) -> list[Situation]:
        self.track, situations = result
        return situations

    def ping(self, ping: PatrolPing, *, stream_time=None, site=None) -> list[Situation]:
        return self._keep(units.on_ping(
            self.track, ping, stream_time or ping.ts, self.rules, self.detected_at,
            site=site, locale=self.locale,
        ))

    def alarm(self, alarm: Alarm, site=None, *, stream_time=None) -> list[Situation]:
        return self._keep(units.on_alarm(
            self.track, alarm, site, stream_time or alarm.ts, self.rules, self.detected_at,
            locale=self.locale,
        ))

    def site(self, site: AlarmSite, *, stream_time) -> list[Situation]:
        return self._keep(units.on_site(
            self.track, site, stream_time, self.rules, self.detected_at, locale=self.locale
        ))

    def tick(self, stream_time: datetime) -> list[Situation]:
        return self._keep(
            units.on_tick(self.track, stream_time, self.rules, self.detected_at, locale=self.locale)
        )


@pytest.fixture
def unit_feed(detected_at):
    """unit_feed(rules=UnitRules(), locale="zh-CN") -> a fresh UnitFeed."""

    def make(rules: units.UnitRules | None = None, locale: str = "zh-CN") -> UnitFeed:
        return UnitFeed(rules or units.UnitRules(), detected_at, locale)

    return make


@pytest.fixture
def alarm_site(alarm):
    """alarm_site(alarm_id="A1", minutes=0, **fields) -> the AlarmSite of a received alarm."""

    def make(alarm_id: str = "A1", minutes: float = 0, **fields) -> AlarmSite:
        return AlarmSite.from_alarm(alarm(alarm_id, minutes, **fields))

    return make


@pytest.fixture
def cell_feed(detected_at):
    """cell_feed(apply_alarm, params) -> run(alarms, state=None, params=None, locale=...)

    run applies the alarms in order and returns (state, all situations).
    """

    def bind(apply_alarm, default_params):
        def run(alarms, state=None, params=None, locale="zh-CN"):
            out = []
            for a in alarms:
                state, situations = apply_alarm(
                    state, a, params or default_params, detected_at, locale=locale
                )
                out += situations
            return state, out

        return run

    return bind
