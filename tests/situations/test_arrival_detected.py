from __future__ import annotations

import math

import pytest

from streams.situations import arrival_detected
from streams.situations._common import event_id
from streams.situations.arrival_detected import ArrivalDetectedParams
from streams.situations.unit_track import UnitTrack
from streams.situations.units import UnitRules, on_ping
from topics.geo import haversine_km


@pytest.fixture
def dispatched(unit_feed, alarm, alarm_site):
    """A feed for unit U1, dispatched at t1 to alarm A1 (received at t0 at SITE)."""

    def make(rules=None, locale="zh-CN", site=True):
        feed = unit_feed(rules, locale)
        record = alarm("A1", 1, "dispatched", unit_id="U1")
        assert feed.alarm(record, alarm_site() if site else None) == []
        return feed

    return make


def test_first_ping_within_150_m_is_the_arrival(dispatched, ping, north_of, t):
    feed = dispatched()
    assert feed.ping(ping("U1", t(2), *north_of(0.151))) == []
    (arrival,) = feed.ping(ping("U1", t(3), *north_of(0.149)))
    assert (arrival.type, arrival.event_time, arrival.subject) == ("arrival_detected", t(3), "A1")
    assert arrival.metrics["response_s"] == 180.0
    assert arrival.metrics["distance_km"] == pytest.approx(0.149, abs=1e-4)
    assert arrival.evidence == ["A1", "U1"]
    assert arrival.event_id == event_id("arrival_detected", "A1", "U1")
    assert arrival.model_version == arrival_detected.MODEL_VERSION
    assert feed.ping(ping("U1", t(4), *north_of(0.01))) == []  # once per (alarm, unit)


def test_radius_is_inclusive(dispatched, ping, north_of, t, site):
    point = north_of(0.15)
    exact = haversine_km(*site, *point)
    inside = dispatched(UnitRules(arrival=ArrivalDetectedParams(radius_km=exact)))
    assert len(inside.ping(ping("U1", t(3), *point))) == 1
    smaller = ArrivalDetectedParams(radius_km=math.nextafter(exact, 0))
    outside = dispatched(UnitRules(arrival=smaller))
    assert outside.ping(ping("U1", t(3), *point)) == []


def test_a_ping_before_the_assignment_does_not_count(unit_feed, ping, alarm, alarm_site, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(1)))  # at the site, but not yet dispatched
    assert feed.alarm(alarm("A1", 2, "dispatched", unit_id="U1"), alarm_site()) == []
    assert [s.event_time for s in feed.ping(ping("U1", t(3)))] == [t(3)]


def test_a_ping_naming_the_alarm_assigns_the_unit(unit_feed, ping, alarm_site, t):
    feed = unit_feed()
    (arrival,) = feed.ping(ping("U1", t(2), alarm_id="A1", status="on_scene"), site=alarm_site())
    assert arrival.metrics["response_s"] == 120.0


def test_a_late_site_is_judged_against_the_held_pings(dispatched, ping, alarm_site, t):
    feed = dispatched(site=False)
    assert feed.ping(ping("U1", t(3))) == []
    assert feed.ping(ping("U1", t(4))) == []
    (arrival,) = feed.site(alarm_site(), stream_time=t(4))
    assert arrival.event_time == t(3)


def test_a_late_dispatch_record_finds_the_arrival_ping(
    unit_feed, ping, alarm, alarm_site, north_of, t
):
    feed = unit_feed()
    feed.ping(ping("U1", t(2), *north_of(1.0)))
    feed.ping(ping("U1", t(3)))
    late = alarm("A1", 1, "dispatched", unit_id="U1")
    (arrival,) = feed.alarm(late, alarm_site(), stream_time=t(4))
    assert arrival.event_time == t(3)


def test_redelivered_ping_resends_the_same_arrival_and_keeps_state(dispatched, ping, t):
    feed = dispatched()
    (arrival,) = feed.ping(ping("U1", t(3)))
    before = feed.track
    assert feed.ping(ping("U1", t(3))) == [arrival]
    assert feed.track == before


def test_redelivered_dispatch_changes_nothing(dispatched, alarm, alarm_site, ping, t):
    feed = dispatched()
    feed.ping(ping("U1", t(3)))
    before = feed.track
    again = alarm("A1", 1, "dispatched", unit_id="U1")
    assert feed.alarm(again, alarm_site(), stream_time=t(3)) == []
    assert feed.track == before


def test_state_round_trips_through_json(dispatched, ping, t):
    feed = dispatched()
    feed.ping(ping("U1", t(3)))
    assert UnitTrack.model_validate(feed.track.model_dump(mode="json")) == feed.track


def test_a_ping_of_another_unit_is_refused(dispatched, ping, t, detected_at):
    feed = dispatched()
    with pytest.raises(ValueError):
        on_ping(feed.track, ping("U2", t(3)), t(3), UnitRules(), detected_at)


def test_summary_in_both_locales(dispatched, ping, t):
    (zh,) = dispatched().ping(ping("U1", t(3)))
    (en,) = dispatched(locale="en").ping(ping("U1", t(3)))
    assert zh.summary == "U1 已到达警情 A1 现场，响应用时 3.0 分钟。"
    assert en.summary == "Unit U1 reached the scene of alarm A1 after 3.0 minutes."
