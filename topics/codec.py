"""Decode → validate each input record, classifying failures for the dead-letter topic.

A failure never echoes the record's values (they may hold plates or phone numbers): the
message names the field and the rule only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

__all__ = ["MAX_RECORD_BYTES", "Rejection", "Decoded", "decode_record", "encode_record"]

MAX_RECORD_BYTES = 64 * 1024  # docs/surface.md, Conventions
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Rejection:
    """Why a record went to a dead-letter topic (docs/surface.md, "Other output topics")."""

    stage: str  # decode | validate | reference | process | late
    error_class: str
    message: str


@dataclass(frozen=True)
class Decoded(Generic[T]):
    record: T | None
    rejection: Rejection | None


def decode_record(raw: bytes | None, model: type[T]) -> Decoded[T]:
    if raw is None:
        return Decoded(None, Rejection("decode", "EmptyValue", "record value is null"))
    if len(raw) > MAX_RECORD_BYTES:
        return Decoded(
            None,
            Rejection("decode", "RecordTooLarge", f"record is {len(raw)} bytes; limit {MAX_RECORD_BYTES}"),
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Decoded(None, Rejection("decode", "JSONDecodeError", f"not UTF-8 JSON: {exc.msg}"))
    if not isinstance(data, dict):
        return Decoded(None, Rejection("decode", "NotAnObject", f"value is a JSON {type(data).__name__}, not an object"))
    try:
        return Decoded(model.model_validate(data), None)
    except ValidationError as exc:
        return Decoded(None, Rejection("validate", "ValidationError", describe_validation_error(exc)))


def describe_validation_error(exc: ValidationError) -> str:
    """'field: rule; field: rule' — never the offending input value."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)[:500]


def encode_record(record: BaseModel) -> bytes:
    return orjson.dumps(record.model_dump(mode="json", exclude_none=True))
