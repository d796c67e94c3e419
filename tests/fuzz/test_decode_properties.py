"""Properties of the decode path every input record goes through (topics/codec.py):
whatever bytes arrive on an input topic, `decode_record` returns either a valid record or
a rejection carrying the dead-letter stage, class and message — it never raises.

Pure and fast: no Kafka, no ClickHouse.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz.records import (PII_FIELDS, TOPICS, arbitrary_json, field_values, mutated_record, to_bytes,
                                valid_record)
from topics.codec import MAX_RECORD_BYTES, decode_record, encode_record

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.data_too_large])
topic_names = sorted(TOPICS)


def decoded(raw: bytes | None, topic: str):
    """decode_record's answer, checked for the shape every answer must have."""
    result = decode_record(raw, TOPICS[topic].model)  # any exception fails the property
    assert (result.record is None) != (result.rejection is None)
    if result.rejection is not None:
        r = result.rejection
        assert r.stage in ("decode", "validate")
        assert r.error_class and r.message
        # They become Kafka headers: UTF-8, short.
        assert len(r.message.encode("utf-8")) <= 2000 and r.error_class.encode("ascii")
    else:
        # An accepted record survives its own encoding unchanged.
        again = decode_record(encode_record(result.record), TOPICS[topic].model)
        assert again.record == result.record
    return result


@pytest.mark.parametrize("topic", topic_names)
@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw=b"")
@example(raw=b"\xff\xfe{}")
@example(raw=b"[" * 100_000)
@example(raw=b'{"a":' * 2000)
@example(raw=b"x" * (MAX_RECORD_BYTES + 1))
def test_arbitrary_bytes_never_escape_decode(topic, raw):
    decoded(raw, topic)


def test_a_null_value_is_a_decode_rejection():
    for topic in topic_names:
        assert decode_record(None, TOPICS[topic].model).rejection.stage == "decode"


@pytest.mark.parametrize("topic", topic_names)
@FUZZ
@given(value=arbitrary_json())
@example(value={"ts": "0001-01-01T00:00:00+01:00"})
def test_arbitrary_json_never_escapes_decode(topic, value):
    result = decoded(to_bytes(value), topic)
    if not isinstance(value, dict):
        assert result.rejection.stage == "decode"


@pytest.mark.parametrize("topic", topic_names)
@FUZZ
@given(data=st.data())
def test_objects_with_the_contract_field_names_never_escape_decode(topic, data):
    """Arbitrary values under the right names reach the validators (not just the parser)."""
    names = sorted(TOPICS[topic].fields)
    value = data.draw(st.dictionaries(st.sampled_from(names), field_values, max_size=len(names)))
    decoded(to_bytes(value), topic)


def _same(field_kind: str, sent, got) -> bool:
    if field_kind == "instant":
        want = datetime.fromisoformat(sent)
        return got == want and got.utcoffset() == timedelta(0)
    if field_kind == "bbox":
        return list(got) == sent
    return got == sent


@pytest.mark.parametrize("topic", topic_names)
@FUZZ
@given(data=st.data())
def test_valid_records_are_accepted_as_sent(topic, data):
    spec = TOPICS[topic]
    record = data.draw(valid_record(spec))
    result = decoded(to_bytes(record), topic)
    assert result.rejection is None, result.rejection
    for name, value in record.items():
        assert _same(spec.fields[name].kind, value, getattr(result.record, name)), name


@pytest.mark.parametrize("topic", topic_names)
@FUZZ
@given(data=st.data())
def test_a_broken_rule_is_rejected_at_its_stage(topic, data):
    mutation = data.draw(mutated_record(TOPICS[topic]))
    result = decoded(mutation.raw, topic)
    if mutation.stage is None:  # an unknown extra field is ignored (forward compatible)
        assert result.rejection is None, result.rejection
        return
    assert result.rejection is not None, f"{mutation.kind} of {mutation.field} was accepted"
    assert result.rejection.stage == mutation.stage, (mutation.kind, result.rejection)
    if mutation.stage == "validate" and mutation.field and mutation.kind != "extra_field":
        assert mutation.field in result.rejection.message, result.rejection.message


@pytest.mark.parametrize("topic", ["alarms", "checkpoint-passes", "watchlist", "subscriptions"])
@FUZZ
@given(data=st.data())
def test_rejections_never_echo_personal_data(topic, data):
    spec = TOPICS[topic]
    mutation = data.draw(mutated_record(spec))
    result = decoded(mutation.raw, topic)
    if result.rejection is None:
        return
    try:
        sent = json.loads(mutation.raw)
    except ValueError:
        return
    if not isinstance(sent, dict):
        return
    for name in PII_FIELDS:
        value = sent.get(name)
        if isinstance(value, str) and len(value) >= 4:
            assert value not in result.rejection.message, name
