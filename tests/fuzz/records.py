"""Hypothesis strategies for the contract's input records (docs/surface.md): valid
records built from the contract's rules, and mutations of them that break exactly one
rule, each with the dead-letter stage the contract gives it.

The field table below is written from the contract, not read from the models, so a model
that drifts from the contract fails the properties.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from topics.codec import MAX_RECORD_BYTES
from topics.records import Alarm, Checkpoint, CheckpointPass, PatrolPing, Subscription, WatchlistEntry

__all__ = ["TOPICS", "TopicModel", "valid_record", "mutated_record", "to_bytes", "Mutation",
           "PII_FIELDS", "arbitrary_json", "field_values"]

# --- the contract's value kinds -------------------------------------------------------
IDENTIFIER = r"[A-Za-z0-9_.:\-]{1,64}"
SUBSCRIPTION_ID = r"[A-Za-z0-9_.\-]{1,64}"
ALARM_STATUS = ["received", "dispatched", "arrived", "closed", "cancelled"]
ALARM_CATEGORY = ["violent", "theft", "fraud", "dispute", "gathering", "traffic", "fire", "medical", "other"]
UNIT_TYPE = ["police_car", "foot_patrol", "motorcycle", "security_guard", "grid_worker"]
UNIT_STATUS = ["available", "dispatched", "on_scene", "off_duty"]
PLATE_COLOR = ["blue", "yellow", "green", "white", "black", "other"]
VEHICLE_TYPE = ["car", "truck", "bus", "motorcycle", "other"]
SITUATION_TYPE = ["alarm_hotspot", "crowd_gathering", "dispatch_recommendation", "coverage_gap",
                  "response_overdue", "arrival_detected", "arrival_mismatch", "unit_offline",
                  "watchlist_hit", "suspect_near_incident", "cloned_plate", "flow_anomaly"]
SEVERITY = ["info", "low", "medium", "high", "critical"]
PII_FIELDS = ("plate", "caller_phone", "webhook_secret")

identifiers = st.from_regex(IDENTIFIER, fullmatch=True)
subscription_ids = st.from_regex(SUBSCRIPTION_ID, fullmatch=True)
# Plates: 2..16 characters, none of them whitespace (Unicode's or Python's).
plates = st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=2, max_size=16)
OFFSETS = [timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]


def _rfc3339(moment: datetime) -> str:
    text = moment.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if text.endswith("+00:00") else text


instants = st.builds(
    _rfc3339, st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                           timezones=st.sampled_from(OFFSETS)))


def text(max_size: int, min_size: int = 0):
    return st.text(min_size=min_size, max_size=max_size)


def floats(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@dataclass(frozen=True)
class Field:
    """One field of a record as the contract states it."""

    kind: str  # id | enum | float | int | instant | str | plate | enum_list | str_list | bbox | bool
    values: st.SearchStrategy
    lo: float | None = None  # numbers: the allowed range; strings: min length
    hi: float | None = None  # numbers: the allowed range; strings: max length
    choices: tuple[str, ...] = ()


def _id(pattern=IDENTIFIER) -> Field:
    return Field("id", st.from_regex(pattern, fullmatch=True), 1, 64)


def _enum(options: list[str]) -> Field:
    return Field("enum", st.sampled_from(options), choices=tuple(options))


def _str(hi: int, lo: int = 0) -> Field:
    return Field("str", text(hi, lo), lo, hi)


def _float(lo: float, hi: float) -> Field:
    return Field("float", floats(lo, hi), lo, hi)


def _int(lo: int, hi: int) -> Field:
    return Field("int", st.integers(lo, hi), lo, hi)


INSTANT = Field("instant", instants)
PLATE = Field("plate", plates, 2, 16)
LAT, LON = _float(-90, 90), _float(-180, 180)


def _bbox():
    def ordered(a, b, c, d):
        return [min(a, c), min(b, d), max(a, c), max(b, d)]

    return st.builds(ordered, LON.values, LAT.values, LON.values, LAT.values)


@dataclass(frozen=True)
class TopicModel:
    """An input topic: its model, its fields, which are required for a given record, and
    the record's key."""

    topic: str
    model: type
    fields: dict[str, Field]
    always: tuple[str, ...]

    def required(self, record: dict) -> list[str]:
        needed = list(self.always)
        if self.model is Alarm:
            if record.get("status") == "received":
                needed += ["lat", "lon", "category", "priority"]
            if record.get("status") in ("dispatched", "arrived"):
                needed.append("unit_id")
        if self.model is Subscription and record.get("channel") == "webhook":
            needed += ["webhook_url", "webhook_secret"]
        return needed

    def key(self, record: dict) -> str | None:
        name = {"alarms": "alarm_id", "patrol-gps": "unit_id", "checkpoint-passes": "checkpoint_id",
                "checkpoints": "checkpoint_id", "watchlist": "plate", "subscriptions": "subscription_id"}
        value = record.get(name[self.topic]) if isinstance(record, dict) else None
        if not isinstance(value, str):
            return None
        return value.upper() if self.topic == "watchlist" else value


TOPICS: dict[str, TopicModel] = {
    "alarms": TopicModel("alarms", Alarm, {
        "alarm_id": _id(), "status": _enum(ALARM_STATUS), "ts": INSTANT, "lat": LAT, "lon": LON,
        "category": _enum(ALARM_CATEGORY), "priority": _int(1, 4), "district": _str(64),
        "address": _str(500), "summary": _str(500), "caller_phone": _str(32), "unit_id": _id(),
        "disposition": _str(200),
    }, ("alarm_id", "status", "ts")),
    "patrol-gps": TopicModel("patrol-gps", PatrolPing, {
        "unit_id": _id(), "ts": INSTANT, "lat": LAT, "lon": LON, "unit_type": _enum(UNIT_TYPE),
        "status": _enum(UNIT_STATUS), "speed_kmh": _float(0, 300), "heading_deg": _float(0, 360),
        "alarm_id": _id(),
    }, ("unit_id", "ts", "lat", "lon", "unit_type", "status")),
    "checkpoint-passes": TopicModel("checkpoint-passes", CheckpointPass, {
        "pass_id": _id(), "checkpoint_id": _id(), "ts": INSTANT, "plate": PLATE,
        "plate_color": _enum(PLATE_COLOR), "vehicle_type": _enum(VEHICLE_TYPE), "direction": _str(16),
        "speed_kmh": _float(0, 300),
    }, ("pass_id", "checkpoint_id", "ts", "plate", "plate_color")),
    "checkpoints": TopicModel("checkpoints", Checkpoint, {
        "checkpoint_id": _id(), "name": _str(200), "lat": LAT, "lon": LON, "district": _str(64),
        "road": _str(200),
    }, ("checkpoint_id", "name", "lat", "lon", "district")),
    "watchlist": TopicModel("watchlist", WatchlistEntry, {
        "plate": PLATE, "plate_color": _enum(PLATE_COLOR), "level": _int(1, 3), "reason": _str(500),
        "expires_at": INSTANT,
    }, ("plate", "level", "reason")),
    "subscriptions": TopicModel("subscriptions", Subscription, {
        "subscription_id": _id(SUBSCRIPTION_ID), "name": _str(200, 1), "owner": _str(200, 1),
        "types": Field("enum_list", st.lists(st.sampled_from(SITUATION_TYPE), max_size=4),
                       choices=tuple(SITUATION_TYPE)),
        "min_severity": _enum(SEVERITY), "districts": Field("str_list", st.lists(text(64), max_size=3), 0, 64),
        "bbox": Field("bbox", _bbox()), "cooldown_s": _int(0, 86_400), "channel": _enum(["kafka", "webhook"]),
        "webhook_url": Field("str", st.just("https://alerts.example.org/hook"), 0, 2048),
        "webhook_secret": Field("str", text(64, 1)), "enabled": Field("bool", st.booleans()),
        "disabled_reason": _str(200),
    }, ("subscription_id", "name", "owner", "channel")),
}


@st.composite
def valid_record(draw, spec: TopicModel, overrides: dict | None = None) -> dict:
    """A record every rule of the contract accepts (optional fields present or not)."""
    record = {}
    for name in spec.always:
        record[name] = draw(spec.fields[name].values)
    record.update(overrides or {})
    for name in spec.required(record):
        if name not in record:
            record[name] = draw(spec.fields[name].values)
    for name, field in spec.fields.items():
        if name not in record and draw(st.booleans()):
            record[name] = draw(field.values)
    record.update(overrides or {})
    for name in spec.required(record):  # a drawn status or channel may need more
        if name not in record:
            record[name] = draw(spec.fields[name].values)
    return record


def to_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Mutation:
    """A record with one rule broken (or, for `extra_field`, none): its bytes, what was
    done, and the stage the contract sends it to (None: it is still valid)."""

    kind: str
    field: str | None
    raw: bytes
    stage: str | None


BAD_INSTANTS = [
    "2026-03-02T09:00:00",  # no offset
    "2026-03-02",  # a date
    "2026-13-02T09:00:00Z", "2026-02-30T09:00:00Z", "2026-03-02T25:00:00Z",
    "2026-03-02T09:00:00+25:00", "yesterday", "", " ", "2026-03-02 09:00 CST",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",  # beyond datetime's range in UTC
    "1e10", "１２３",
]


def _wrong_type_values(field: Field) -> st.SearchStrategy:
    """JSON values no reading of the contract accepts for this field's kind."""
    containers = st.sampled_from([[], {}, [1], {"a": 1}])
    if field.kind in ("float", "int"):
        options = [containers, st.booleans(), st.sampled_from(["1", "1.5", "NaN", "north"])]
        if field.kind == "int":
            options.append(st.sampled_from([1.5, 2.25]))
        return st.one_of(*options)
    if field.kind == "instant":
        # An instant is an RFC 3339 string: a bare number is not one (seconds? millis?).
        return st.one_of(containers, st.booleans(), st.integers(0, 2_000_000_000),
                         st.floats(0, 2e9, allow_nan=False))
    if field.kind == "bool":
        return st.one_of(containers, st.sampled_from(["yes", "no", "true", 2]))
    if field.kind in ("enum_list", "str_list", "bbox"):
        return st.one_of(st.sampled_from(["x", 1, True, {"a": 1}]))
    return st.one_of(containers, st.booleans(), st.integers(), floats(-1e6, 1e6))


def _out_of_range(field: Field) -> st.SearchStrategy:
    if field.kind == "int":
        return st.one_of(st.integers(max_value=int(field.lo) - 1), st.integers(min_value=int(field.hi) + 1))
    return st.one_of(floats(-1e308, field.lo).filter(lambda x: x < field.lo),
                     floats(field.hi, 1e308).filter(lambda x: x > field.hi))


NON_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80abc"]


@st.composite
def mutated_record(draw, spec: TopicModel) -> Mutation:
    record = draw(valid_record(spec))
    fields = spec.fields
    having = {f.kind for f in fields.values()}
    kinds = ["drop_required", "null_required", "extra_field", "wrong_type", "out_of_range",
             "huge_string", "non_utf8", "not_an_object"]
    kinds += ["unknown_enum"] if having & {"enum", "enum_list"} else []
    kinds += ["not_finite"] if "float" in having else []
    kinds += ["bad_timestamp"] if "instant" in having else []
    kind = draw(st.sampled_from(kinds))

    def pick(names):
        names = sorted(names)
        return draw(st.sampled_from(names)) if names else None

    if kind in ("drop_required", "null_required"):
        name = pick(spec.required(record))
        if kind == "drop_required":
            del record[name]
        else:
            record[name] = None
        return Mutation(kind, name, to_bytes(record), "validate")
    if kind == "extra_field":
        name = draw(st.text(min_size=1, max_size=20).filter(lambda n: n not in fields))
        record[name] = draw(arbitrary_json(3))
        return Mutation(kind, name, to_bytes(record), None)
    if kind == "wrong_type":
        name = pick(record)
        record[name] = draw(_wrong_type_values(fields[name]))
        return Mutation(kind, name, to_bytes(record), "validate")
    if kind == "unknown_enum":
        name = pick(n for n, f in fields.items() if f.kind in ("enum", "enum_list"))
        bad = draw(st.text(max_size=20).filter(lambda v: v not in fields[name].choices))
        record[name] = [bad] if fields[name].kind == "enum_list" else bad
        return Mutation(kind, name, to_bytes(record), "validate")
    if kind == "out_of_range":
        name = pick(n for n, f in fields.items() if f.kind in ("float", "int"))
        record[name] = draw(_out_of_range(fields[name]))
        return Mutation(kind, name, to_bytes(record), "validate")
    if kind == "huge_string":
        name = pick(n for n, f in fields.items() if f.kind in ("str", "id", "plate") and f.hi)
        length = draw(st.one_of(st.integers(int(fields[name].hi) + 1, int(fields[name].hi) + 50),
                                st.just(MAX_RECORD_BYTES + 1)))
        record[name] = draw(st.sampled_from(["x", "警", "a"])) * length
        raw = to_bytes(record)
        return Mutation(kind, name, raw, "decode" if len(raw) > MAX_RECORD_BYTES else "validate")
    if kind == "not_finite":
        name = pick(n for n, f in fields.items() if f.kind == "float")
        record[name] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        # json.dumps writes NaN / Infinity, which JSON does not have: not JSON at all.
        return Mutation(kind, name, to_bytes(record), "decode")
    if kind == "bad_timestamp":
        name = pick(n for n, f in fields.items() if f.kind == "instant")
        record[name] = draw(st.sampled_from(BAD_INSTANTS))
        return Mutation(kind, name, to_bytes(record), "validate")
    if kind == "non_utf8":
        raw = to_bytes(record)
        at = draw(st.integers(0, len(raw)))
        return Mutation(kind, None, raw[:at] + draw(st.sampled_from(NON_UTF8)) + raw[at:], "decode")
    # not_an_object
    return Mutation(kind, None, to_bytes(draw(st.sampled_from([[record], "record", 1, None, True]))), "decode")


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), floats(-1e308, 1e308), st.text(max_size=30),
                        instants, st.sampled_from(BAD_INSTANTS))
# Cheap to draw: what a field of a record may plausibly hold, right or wrong.
field_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=4))


def arbitrary_json(depth: int = 4) -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), floats(-1e308, 1e308), st.text(max_size=30))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=depth * 4)
