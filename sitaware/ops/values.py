"""ClickHouse values to JSON and back, by column type, without loss.

clickhouse-driver hands back Python values (datetimes, floats, ints, None); a backup keeps
them as JSON, one object per row, and a restore turns them back into what the driver
inserts. Instants with a zone are written in UTC with `Z`; non-finite floats as strings
("nan", "inf", "-inf"), since JSON has no literal for them. A type not listed here is
refused when the backup starts, so a restore never meets a value it cannot read.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import date, datetime, timezone
from typing import Any, Callable

from sitaware.ops.errors import OpsError

__all__ = ["encoder", "decoder", "UnsupportedType"]

Convert = Callable[[Any], Any]

_WRAPPER = re.compile(r"^(Nullable|Array|LowCardinality)\((.*)\)$")
_INTEGER = re.compile(r"^U?Int(8|16|32|64)$")
_PLAIN = re.compile(r"^(String|FixedString\(\d+\)|Enum(8|16)\(.*\))$")


class UnsupportedType(OpsError):
    """A column type the backup does not know how to keep exactly."""


def encoder(ch_type: str) -> Convert:
    """Python value from clickhouse-driver -> JSON-ready value."""
    return _converter(ch_type, encode=True)


def decoder(ch_type: str) -> Convert:
    """JSON value from a backup -> the Python value clickhouse-driver inserts."""
    return _converter(ch_type, encode=False)


def _converter(ch_type: str, encode: bool) -> Convert:
    t = ch_type.strip()
    wrapped = _WRAPPER.match(t)
    if wrapped:
        kind, inner_type = wrapped.groups()
        inner = _converter(inner_type, encode)
        if kind == "Nullable":
            return lambda v: None if v is None else inner(v)
        if kind == "Array":
            return lambda v: [inner(x) for x in v]
        return inner  # LowCardinality: same values
    if t.startswith("DateTime64"):
        raise UnsupportedType(f"column type {ch_type} is not handled by backups")
    if t == "DateTime" or t.startswith("DateTime("):
        return _encode_datetime if encode else _decode_datetime
    if t == "Date":
        return (lambda v: v.isoformat()) if encode else date.fromisoformat
    if t in ("Float32", "Float64"):
        return _encode_float if encode else float
    if _INTEGER.match(t):
        return int
    if t == "UUID":
        return str if encode else uuid.UUID
    if _PLAIN.match(t):
        return _encode_text if encode else _same
    raise UnsupportedType(f"column type {ch_type} is not handled by backups")


def _same(value):
    return value


def _encode_text(value):
    if isinstance(value, bytes):  # the driver could not decode it as UTF-8
        raise UnsupportedType("a String value is not UTF-8; backups keep text only")
    return value


def _encode_datetime(value: datetime) -> str:
    # Zoned columns come back aware: keep the instant, in UTC. Plain DateTime comes back
    # naive in the server's zone and goes back in the same way.
    if value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ") + "Z"
    return value.isoformat(sep=" ")


def _decode_datetime(value: str) -> datetime:
    # An aware datetime is inserted as its instant whatever the column's zone.
    return datetime.fromisoformat(value)


def _encode_float(value: float):
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
