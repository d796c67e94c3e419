"""`sitaware schema`: the exported JSON Schemas accept what the worker accepts and refuse
what it refuses, for one record of every topic."""

from __future__ import annotations

import json

import jsonschema
import pytest

from sitaware.cli import main
from sitaware.schema import RECORDS, record_schemas

SITUATION = {
    "event_id": "sit-coverage_gap-a1", "type": "coverage_gap", "severity": "high",
    "event_time": "2026-03-02T08:15:00+08:00", "detected_at": "2026-03-02T00:15:01Z",
    "lat": 31.2, "lon": 121.5, "cell": "wtw3sj", "district": "Dongping", "subject": "A-1",
    "metrics": {"auxiliary_units": 1}, "evidence": ["A-1", "G-7"],
    "summary": "东平区 报警 A-1 周边 3 公里内无可用警力", "model_version": "coverage_gap/1",
}
SAMPLES = {
    "alarms": {"alarm_id": "A-1", "status": "received", "ts": "2026-03-02T08:15:00+08:00",
               "lat": 31.2, "lon": 121.5, "category": "theft", "priority": 2, "district": "Dongping"},
    "patrol-gps": {"unit_id": "P-7", "ts": "2026-03-02T00:15:00Z", "lat": 31.2, "lon": 121.5,
                   "unit_type": "police_car", "status": "available", "speed_kmh": 32.5},
    "checkpoint-passes": {"pass_id": "K3-1", "checkpoint_id": "K3", "ts": "2026-03-02T00:15:00Z",
                          "plate": "沪A12345", "plate_color": "blue", "vehicle_type": "car"},
    "checkpoints": {"checkpoint_id": "K3", "name": "东平大道卡口", "lat": 31.2, "lon": 121.5,
                    "district": "Dongping"},
    "watchlist": {"plate": "沪A12345", "level": 2, "reason": "盗抢车辆", "expires_at": "2026-04-01T00:00:00Z"},
    "subscriptions": {"subscription_id": "east-gaps", "name": "东区盲区", "owner": "duty-east",
                      "types": ["coverage_gap"], "districts": ["Dongping"], "min_severity": "medium",
                      "channel": "webhook", "webhook_url": "https://ops.example/hooks/sitaware",
                      "webhook_secret": "whsec_c2VjcmV0"},
    "situations": SITUATION,
    "alerts": {"alert_id": "alert-1", "subscription_id": "east-gaps",
               "matched_at": "2026-03-02T00:15:02Z", "event": SITUATION},
}
# Records the models refuse, and so must the schemas.
BROKEN = [
    ("alarms", {**SAMPLES["alarms"], "priority": "2"}),  # a number sent as a string
    ("alarms", {k: v for k, v in SAMPLES["alarms"].items() if k != "lat"}),  # received without lat
    ("alarms", {"alarm_id": "A-1", "status": "dispatched", "ts": "2026-03-02T00:16:00Z"}),  # no unit_id
    ("patrol-gps", {**SAMPLES["patrol-gps"], "unit_type": "bicycle"}),
    ("checkpoint-passes", {**SAMPLES["checkpoint-passes"], "plate": "沪A 12345"}),
    ("watchlist", {**SAMPLES["watchlist"], "level": 4}),
    ("subscriptions", {k: v for k, v in SAMPLES["subscriptions"].items() if k != "webhook_secret"}),
    ("subscriptions", {**SAMPLES["subscriptions"], "subscription_id": "east:gaps"}),
    ("situations", {**SITUATION, "severity": "urgent"}),
]


def test_every_record_of_the_surface_has_a_schema():
    assert set(record_schemas()) == set(SAMPLES) == set(RECORDS)


@pytest.mark.parametrize("topic", sorted(SAMPLES))
def test_a_valid_record_passes_its_schema_and_its_model(topic):
    schema = record_schemas()[topic]
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(SAMPLES[topic], schema, cls=jsonschema.Draft202012Validator)
    RECORDS[topic][0].model_validate_json(json.dumps(SAMPLES[topic]))


@pytest.mark.parametrize("topic, record", BROKEN, ids=[f"{t}-{i}" for i, (t, _) in enumerate(BROKEN)])
def test_a_record_the_model_refuses_fails_its_schema(topic, record):
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        RECORDS[topic][0].model_validate_json(json.dumps(record))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, record_schemas()[topic], cls=jsonschema.Draft202012Validator)


def test_the_command_prints_them_or_writes_one_file_per_record(tmp_path, capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == record_schemas()

    assert main(["schema", "--out", str(tmp_path / "schemas")]) == 0
    written = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "schemas").iterdir()}
    assert written == {f"{topic}.schema.json": schema for topic, schema in record_schemas().items()}
