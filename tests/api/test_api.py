"""The API end to end: a real `sitaware api` process, real Kafka and ClickHouse, real HTTP.

Every call a test makes is looked for in ClickHouse's audit_log, found by the test's own
actor (the run's tokens are unique) or, for refused anonymous calls, by a unique target.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from kafka import KafkaConsumer, TopicPartition

from sinks.clickhouse.tables import TABLES
from tests.api.conftest import situation_record
from tests.pipeline.conftest import poll

pytestmark = pytest.mark.stack


def audited(clickhouse, db, count: int, **where) -> list[tuple]:
    """Poll audit_log until `count` rows match `where` (column=value); return their
    (action, target, outcome, detail), sorted (ts has whole seconds: no order within one)."""
    condition = " AND ".join(f"{column} = %({column})s" for column in where)
    sql = f"SELECT action, target, outcome, detail FROM {db}.audit_log WHERE {condition}"
    def enough():
        rows = clickhouse.execute(sql, where)
        return rows if len(rows) >= count else None

    return sorted(poll(enough, timeout=20, message=f"{count} audit rows {where}"))


def test_health_and_metrics_need_no_token(api):
    assert api.call("GET", "/health")[0] == 200
    with urllib.request.urlopen(api.url + "/metrics", timeout=5) as response:
        assert b"sitaware_api_requests_total" in response.read()


def test_calls_without_a_valid_token_are_refused_and_audited(api, api_settings, clickhouse):
    missing, wrong = f"no-token-{uuid.uuid4().hex[:8]}", f"bad-token-{uuid.uuid4().hex[:8]}"
    bad_token = "not-" + api.tokens["admin"]
    assert api.call("GET", f"/api/subscriptions/{missing}")[0] == 401
    assert api.call("GET", f"/api/subscriptions/{wrong}", token=bad_token)[0] == 401
    assert api.call("GET", f"/api/stream?token={bad_token}&district={wrong}")[0] == 401
    db = api_settings.clickhouse_database
    assert audited(clickhouse, db, 1, actor="anonymous", target=missing) == [
        ("GET /api/subscriptions/{subscription_id}", missing, "unauthorized", "no token")]
    assert audited(clickhouse, db, 2, actor="anonymous", target=wrong) == [
        ("GET /api/stream", wrong, "unauthorized", "unknown token"),
        ("GET /api/subscriptions/{subscription_id}", wrong, "unauthorized", "unknown token")]
    # The token never reaches the audit log, not even a wrong one from a query string.
    leaks = clickhouse.execute(
        f"SELECT count() FROM {db}.audit_log WHERE position(detail, %(t)s) > 0 "
        "OR position(target, %(t)s) > 0 OR position(action, %(t)s) > 0", {"t": bad_token})
    assert leaks == [(0,)]


def test_viewer_reads_but_cannot_write(api, api_settings, clickhouse):
    token = api.tokens["viewer"]
    status, body = api.call("GET", "/api/situations?limit=5", token=token)
    assert status == 200 and body["count"] <= 5
    assert api.call("GET", "/api/subscriptions", token=token)[0] == 200
    sub = {"name": "viewer's", "channel": "kafka"}
    assert api.call("PUT", "/api/subscriptions/viewer-sub", token=token, body=sub)[0] == 403
    rows = audited(clickhouse, api_settings.clickhouse_database, 3, actor=api.actors["viewer"])
    assert [(a, t, o) for a, t, o, _ in rows] == [
        ("GET /api/situations", "", "ok"),
        ("GET /api/subscriptions", "", "ok"),
        ("PUT /api/subscriptions/{subscription_id}", "viewer-sub", "forbidden")]


@pytest.fixture
def seeded(api_settings, clickhouse):
    """Two situations in ClickHouse at a unique instant: one in Nanhu, one in Dongping."""
    at = datetime(2031, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=uuid.uuid4().int % 500_000)
    run = uuid.uuid4().hex[:8]
    rows = []
    for district in ("Nanhu", "Dongping"):
        record = situation_record(f"alarm_hotspot:{run}{district}", district, f"{district} 测试",
                                  when=at.isoformat())
        record |= {"metrics": json.dumps(record["metrics"]), "evidence": json.dumps(record["evidence"])}
        rows.append(TABLES["situations"].to_values(record))
    columns = ", ".join(TABLES["situations"].columns)
    table = f"{api_settings.clickhouse_database}.situations"
    clickhouse.execute(f"INSERT INTO {table} ({columns}) VALUES", rows)
    yield at, run
    clickhouse.execute(f"ALTER TABLE {table} DELETE WHERE event_id LIKE %(p)s", {"p": f"%:{run}%"})


def test_scoped_dispatcher_stays_within_its_districts(api, api_settings, clickhouse, seeded):
    token, actor = api.tokens["dispatcher"], api.actors["dispatcher"]  # scope: Nanhu
    at, run = seeded
    window = f"since={at.isoformat().replace('+00:00', 'Z')}&until={(at + timedelta(seconds=1)).isoformat().replace('+00:00', 'Z')}"
    status, body = api.call("GET", f"/api/situations?{window}", token=token)
    assert status == 200
    assert [s["event_id"] for s in body["situations"]] == [f"alarm_hotspot:{run}Nanhu"]
    assert api.call("GET", f"/api/situations?district=Dongping&{window}", token=token)[0] == 403
    # The admin sees the whole city.
    _, everything = api.call("GET", f"/api/situations?{window}", token=api.tokens["admin"])
    assert {s["district"] for s in everything["situations"]} == {"Nanhu", "Dongping"}

    def subscribe(name, districts):
        return api.call("PUT", f"/api/subscriptions/{name}-{run}", token=token,
                        body={"name": name, "channel": "kafka", "districts": districts})[0]

    assert subscribe("other", ["Dongping"]) == 403
    assert subscribe("citywide", []) == 403  # empty means every district: beyond its scope
    assert subscribe("mine", ["Nanhu"]) == 201
    _, listed = api.call("GET", "/api/subscriptions", token=token)
    assert f"mine-{run}" in {s["subscription_id"] for s in listed["subscriptions"]}

    rows = audited(clickhouse, api_settings.clickhouse_database, 6, actor=actor)
    assert [(a, t, o) for a, t, o, _ in rows] == sorted([
        ("GET /api/situations", "", "ok"),
        ("GET /api/situations", "Dongping", "forbidden"),
        ("PUT /api/subscriptions/{subscription_id}", f"other-{run}", "forbidden"),
        ("PUT /api/subscriptions/{subscription_id}", f"citywide-{run}", "forbidden"),
        ("PUT /api/subscriptions/{subscription_id}", f"mine-{run}", "ok"),
        ("GET /api/subscriptions", "", "ok"),
    ])


def _latest_on_topic(settings, topic: str, key: str):
    """The value (decoded JSON, or None for a tombstone) of the last record with `key`."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    name = settings.topic(topic)
    parts = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    ends = consumer.end_offsets(parts)
    found = "absent"
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        for batch in consumer.poll(timeout_ms=1000).values():
            for record in batch:
                if record.key == key.encode():
                    found = json.loads(record.value) if record.value is not None else None
    consumer.close()
    return found


def test_subscription_round_trip_through_the_topic(api, api_settings):
    token, sid = api.tokens["admin"], f"hook-{uuid.uuid4().hex[:8]}"
    body = {"name": "东平区高危", "types": ["watchlist_hit"], "min_severity": "high",
            "districts": ["Dongping"], "channel": "webhook",
            # a public address literal: accepted without DNS; nothing delivers in this test
            "webhook_url": "https://93.184.215.14/sitaware", "webhook_secret": "s3cret-value-1234"}
    status, created = api.call("PUT", f"/api/subscriptions/{sid}", token=token, body=body)
    assert status == 201, created
    assert created["webhook_secret"] == "***" and created["owner"] == api.actors["admin"]
    status, got = api.call("GET", f"/api/subscriptions/{sid}", token=token)
    assert status == 200 and got == created
    _, listed = api.call("GET", "/api/subscriptions", token=token)
    assert "s3cret" not in json.dumps(listed)
    on_topic = _latest_on_topic(api_settings, "subscriptions", sid)
    assert on_topic["subscription_id"] == sid and on_topic["webhook_secret"] == "s3cret-value-1234"

    # A GET-edit-PUT round trip sends the mask back: the stored secret is kept.
    status, _ = api.call("PUT", f"/api/subscriptions/{sid}", token=token,
                         body={**got, "min_severity": "critical"})
    assert status == 200
    on_topic = _latest_on_topic(api_settings, "subscriptions", sid)
    assert on_topic["min_severity"] == "critical" and on_topic["webhook_secret"] == "s3cret-value-1234"

    assert api.call("DELETE", f"/api/subscriptions/{sid}", token=token)[0] == 204
    assert _latest_on_topic(api_settings, "subscriptions", sid) is None  # a tombstone
    assert api.call("GET", f"/api/subscriptions/{sid}", token=token)[0] == 404


def test_loopback_webhook_is_refused(api):
    body = {"name": "internal", "channel": "webhook", "webhook_url": "http://127.0.0.1:6066/metrics",
            "webhook_secret": "s3cret-value-1234"}
    status, answer = api.call("PUT", "/api/subscriptions/loopback-hook", token=api.tokens["admin"], body=body)
    assert status == 422 and "loopback" in answer["error"]
    status, answer = api.call("PUT", "/api/subscriptions/no-url", token=api.tokens["admin"],
                              body={"name": "x", "channel": "webhook"})
    assert status == 422 and answer["problems"][0]["message"].endswith("required for channel webhook")


def _open_stream(api, query: str):
    response = urllib.request.urlopen(f"{api.url}/api/stream?{query}", timeout=20)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    while response.readline().strip() != b": connected":  # registered from here on
        pass
    return response


def _next_event(response) -> dict:
    while True:
        line = response.readline()
        assert line, "the stream ended"
        if line.startswith(b"data: "):
            return json.loads(line[6:])


def test_stream_delivers_published_situations_within_scope(api, publish):
    run = uuid.uuid4().hex[:8]
    # The kiosk form: the token in the query string (EventSource cannot send headers).
    response = _open_stream(api, f"token={api.tokens['streamer']}")  # scope: Nanhu
    try:
        publish("situations", f"x:{run}", situation_record(f"alarm_hotspot:{run}D", "Dongping", "东平"))
        publish("situations", f"x:{run}", situation_record(f"alarm_hotspot:{run}N", "Nanhu", "南湖"))
        event = _next_event(response)
        assert event["event_id"] == f"alarm_hotspot:{run}N" and event["summary"] == "南湖"
    finally:
        response.close()
    # A type filter, with the header form of the token.
    request = urllib.request.Request(f"{api.url}/api/stream?type=coverage_gap",
                                     headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    response = urllib.request.urlopen(request, timeout=20)
    try:
        while response.readline().strip() != b": connected":
            pass
        publish("situations", run, situation_record(f"alarm_hotspot:{run}X", "Nanhu", "不要"))
        publish("situations", run, situation_record(f"coverage_gap:{run}", "Dongping", "要", type="coverage_gap"))
        assert _next_event(response)["event_id"] == f"coverage_gap:{run}"
    finally:
        response.close()


def test_units_latest_position_by_district(api, publish):
    run = uuid.uuid4().hex[:6]
    now = datetime.now(timezone.utc)

    def ping(unit, district, seconds, status="available"):
        lat, lon = {"Nanhu": (31.15, 121.30), "Dongping": (31.15, 121.50)}[district]
        publish("patrol-gps", unit, {"unit_id": unit, "ts": (now + timedelta(seconds=seconds)).isoformat(),
                                     "lat": lat, "lon": lon, "unit_type": "police_car", "status": status})

    ping(f"PC-{run}-1", "Nanhu", 0)
    ping(f"PC-{run}-1", "Nanhu", 10, "dispatched")
    ping(f"PC-{run}-1", "Nanhu", 5, "on_scene")  # older than the one before: ignored
    ping(f"PC-{run}-2", "Dongping", 0)

    def mine(token):
        status, body = api.call("GET", "/api/units", token=token)
        assert status == 200
        return {u["unit_id"]: (u["status"], u["district"]) for u in body["units"] if run in u["unit_id"]}

    poll(lambda: len(mine(api.tokens["admin"])) == 2 and mine(api.tokens["admin"])[f"PC-{run}-1"][0] == "dispatched",
         timeout=15, message="both units")
    assert mine(api.tokens["admin"]) == {f"PC-{run}-1": ("dispatched", "Nanhu"), f"PC-{run}-2": ("available", "Dongping")}
    assert mine(api.tokens["dispatcher"]) == {f"PC-{run}-1": ("dispatched", "Nanhu")}
    assert api.call("GET", "/api/units?district=Dongping", token=api.tokens["dispatcher"])[0] == 403


def test_clickhouse_away_answers_503_with_retry_after(api_settings, tmp_path):
    from tests.api.conftest import Api, _free_port

    away = Api(api_settings.model_copy(update={"clickhouse_port": _free_port()}), tmp_path).start()
    try:
        request = urllib.request.Request(away.url + "/api/situations",
                                         headers={"Authorization": f"Bearer {away.tokens['viewer']}"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=30)
        assert answer.value.code == 503
        assert answer.value.headers["Retry-After"] == "5"
        body = json.loads(answer.value.read())
        assert body["retry_after_s"] == 5 and "ClickHouse is unreachable" in body["error"]
    finally:
        away.stop()


def test_names_are_checked_and_zh_names_are_aliases(api, api_settings, seeded):
    """District filters and subscriptions take a district id or its zh-CN name (stored as the
    id); an unknown district, type or severity is a 422 that lists the known ones."""
    token, at, run = api.tokens["admin"], *seeded
    window = f"since={at.isoformat().replace('+00:00', 'Z')}&until={(at + timedelta(seconds=1)).isoformat().replace('+00:00', 'Z')}"
    by_id = api.call("GET", f"/api/situations?district=Dongping&{window}", token=token)
    by_alias = api.call("GET", "/api/situations?district=%E4%B8%9C%E5%B9%B3%E5%8C%BA&" + window, token=token)
    assert by_id[0] == by_alias[0] == 200 and by_alias[1] == by_id[1]
    assert [s["event_id"] for s in by_alias[1]["situations"]] == [f"alarm_hotspot:{run}Dongping"]

    for path in ("/api/situations", "/api/cells", "/api/units", "/api/stream"):
        status, answer = api.call("GET", f"{path}?district=Dongpin", token=token)
        assert status == 422, path
        assert "unknown district 'Dongpin'" in answer["error"] and "Dongping (东平区)" in answer["known"]
    status, answer = api.call("GET", "/api/situations?type=hotspot", token=token)
    assert status == 422 and "alarm_hotspot" in answer["known"]
    status, answer = api.call("GET", "/api/stream?type=alarm_hotspot,hotspot", token=token)
    assert status == 422 and "unknown situation type 'hotspot'" in answer["error"]

    sid = f"zh-{run}"
    status, created = api.call("PUT", f"/api/subscriptions/{sid}", token=token, body={
        "name": "东平", "channel": "kafka", "districts": ["东平区", "Nanhu", "Dongping"]})
    assert status == 201 and created["districts"] == ["Dongping", "Nanhu"]
    assert _latest_on_topic(api_settings, "subscriptions", sid)["districts"] == ["Dongping", "Nanhu"]
    for body, field, known in (({"districts": ["Atlantis"]}, "districts.0", "Nanhu (南湖区)"),
                               ({"types": ["alarm_hotspot", "riot"]}, "types.1", "crowd_gathering"),
                               ({"min_severity": "urgent"}, "min_severity", "critical")):
        status, answer = api.call("PUT", f"/api/subscriptions/{sid}", token=token,
                                  body={"name": "x", "channel": "kafka", **body})
        assert status == 422, body
        assert answer["problems"][0]["field"] == field and known in answer["problems"][0]["known"]
    assert api.call("GET", f"/api/subscriptions/{sid}", token=token)[1]["name"] == "东平"  # unchanged
    assert api.call("DELETE", f"/api/subscriptions/{sid}", token=token)[0] == 204
