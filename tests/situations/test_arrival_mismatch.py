from __future__ import annotations

import math
from datetime import timedelta

import pytest

from streams.situations import arrival_mismatch, units
from streams.situations._common import event_id
from streams.situations.arrival_mismatch import ArrivalMismatchParams
from streams.situations.unit_track import TrackRetention, UnitTrack
from streams.situations.units import UnitRules
from topics.geo import haversine_km


def mismatches(situations):
    return [s for s in situations if s.type == "arrival_mismatch"]


@pytest.fixture
def report(alarm, alarm_site):
    """report(feed, minutes=4, site=True) -> mismatches from U1's `arrived` for A1 at t(minutes)."""

    def apply(feed, minutes=4, site=True, **kwargs):
        record = alarm("A1", minutes, "arrived", unit_id="U1")
        return mismatches(feed.alarm(record, alarm_site() if site else None, **kwargs))

    return apply


def test_far_ping_before_the_report_is_judged_when_a_later_ping_comes(
    unit_feed, report, ping, north_of, t
):
    feed = unit_feed()
    feed.ping(ping("U1", t(4, seconds=-30), *north_of(0.6)))
    assert report(feed) == []  # pings up to R may still be coming
    (found,) = mismatches(feed.ping(ping("U1", t(4, seconds=10), *north_of(0.6))))
    assert (found.event_time, found.severity, found.subject) == (t(4), "medium", "A1")
    assert found.metrics["distance_km"] == pytest.approx(0.6, abs=1e-4)
    assert found.metrics["ping_age_s"] == 30.0
    assert found.evidence == ["A1", "U1"]
    assert found.event_id == event_id("arrival_mismatch", "A1", "U1")
    assert found.model_version == arrival_mismatch.MODEL_VERSION
    assert mismatches(feed.ping(ping("U1", t(4, seconds=20), *north_of(0.6)))) == []  # once


def test_a_report_is_judged_at_once_when_a_later_ping_is_held(unit_feed, report, ping, north_of, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(3), *north_of(0.6)))
    feed.ping(ping("U1", t(5), *north_of(0.6)))
    assert len(report(feed, stream_time=t(5))) == 1


def test_near_ping_is_no_mismatch_and_the_pair_is_decided(unit_feed, report, ping, north_of, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(4), *north_of(0.4)))
    assert report(feed) == []
    assert feed.track.assignment("A1").mismatch_decided
    feed.ping(ping("U1", t(6), *north_of(2.0)))
    assert report(feed, minutes=6) == []  # a second report of the pair is not judged again


def test_exactly_the_radius_is_no_mismatch(unit_feed, report, ping, north_of, t, site):
    point = north_of(0.5)
    exact = haversine_km(*site, *point)
    for radius, expected in ((exact, 0), (math.nextafter(exact, 0), 1)):
        feed = unit_feed(UnitRules(mismatch=ArrivalMismatchParams(radius_km=radius)))
        feed.ping(ping("U1", t(4), *point))
        assert len(report(feed)) == expected


@pytest.mark.parametrize(
    "age, expected", [(timedelta(minutes=2), 1), (timedelta(minutes=2, milliseconds=1), 0)]
)
def test_the_judging_ping_is_at_most_two_minutes_old(
    unit_feed, report, ping, north_of, t, age, expected
):
    feed = unit_feed()
    feed.ping(ping("U1", t(4) - age, *north_of(1.0)))
    feed.ping(ping("U1", t(5), *north_of(1.0)))
    assert len(report(feed, stream_time=t(5))) == expected


def test_a_ping_after_the_report_is_not_the_judging_ping(unit_feed, report, ping, north_of, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(3), *north_of(0.7)))
    feed.ping(ping("U1", t(4, seconds=5)))  # at the site, but after R
    (found,) = report(feed, stream_time=t(4, seconds=5))
    assert found.metrics["ping_age_s"] == 60.0


def test_stream_time_passing_the_report_settles_it(unit_feed, report, ping, north_of, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(3, seconds=30), *north_of(0.8)))
    assert report(feed) == []
    assert mismatches(feed.tick(t(4))) == []  # not passed yet
    assert len(mismatches(feed.tick(t(4, ms=1)))) == 1


def test_an_unknown_site_waits_and_the_ping_is_fixed_meanwhile(
    unit_feed, report, ping, alarm_site, north_of, t
):
    feed = unit_feed()
    feed.ping(ping("U1", t(3, seconds=50), *north_of(0.9)))
    assert report(feed, site=False) == []
    feed.ping(ping("U1", t(4, seconds=10)))  # settles on the t3:50 ping; later pings do not matter
    assert feed.track.assignment("A1").report_ping.ts == t(3, seconds=50)
    (found,) = mismatches(feed.site(alarm_site(), stream_time=t(5)))
    assert found.metrics["distance_km"] == pytest.approx(0.9, abs=1e-4)


def test_redelivered_report_resends_the_same_id_and_keeps_state(
    unit_feed, report, ping, north_of, t
):
    feed = unit_feed()
    feed.ping(ping("U1", t(3), *north_of(0.6)))
    feed.ping(ping("U1", t(5), *north_of(0.6)))
    (found,) = report(feed, stream_time=t(5))
    before = feed.track
    assert report(feed, stream_time=t(5)) == [found]
    assert feed.track == before


def test_no_ping_at_all_is_no_mismatch(unit_feed, report, t):
    feed = unit_feed()
    assert report(feed) == []
    assert mismatches(feed.tick(t(10))) == []
    assert feed.track.assignment("A1").mismatch_decided


def test_state_round_trips_through_json(unit_feed, report, ping, north_of, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(3), *north_of(0.6)))
    report(feed, site=False)
    feed.ping(ping("U1", t(5), *north_of(0.6)))
    assert UnitTrack.model_validate(feed.track.model_dump(mode="json")) == feed.track


def test_summary_in_both_locales(unit_feed, report, ping, north_of, t):
    texts = []
    for locale in ("zh-CN", "en"):
        feed = unit_feed(locale=locale)
        feed.ping(ping("U1", t(5), *north_of(0.6)))
        feed.ping(ping("U1", t(3), *north_of(0.6)))  # out of order, still on time
        texts += [s.summary for s in report(feed, stream_time=t(5))]
    assert texts == [
        "U1 上报到达警情 A1，但其定位距现场 0.60 公里。",
        "Unit U1 reported arrival at alarm A1 but its position is 0.60 km from the scene.",
    ]


def test_ping_retention_must_cover_what_an_on_time_report_needs():
    with pytest.raises(ValueError):
        UnitRules(retention=TrackRetention(pings=timedelta(minutes=11, seconds=59)))
    UnitRules(retention=TrackRetention(pings=timedelta(minutes=12)))


def test_while_stream_time_is_unknown_pings_are_kept_for_a_report_that_trails_them(
    detected_at, alarm, alarm_site, ping, north_of, t
):
    # After a start, the unit agent may race through a GPS backlog before the alarms
    # feed has vouched for any time; a forwarded `arrived` may then trail by 40 minutes.
    rules, track = UnitRules(), None
    for minute in range(0, 45):
        track, _ = units.on_ping(track, ping("U1", t(minute), *north_of(0.8)), None, rules, detected_at)
    assert track.watermark is None and len(track.pings) == 45
    track, found = units.on_alarm(
        track, alarm("A1", 4, "arrived", unit_id="U1"), alarm_site(), None, rules, detected_at)
    assert [s.type for s in found] == ["arrival_mismatch"]
    assert units.on_tick(track, None, rules, detected_at) == (track, [])


def test_once_stream_time_has_moved_on_a_report_that_far_behind_is_not_recorded(
    detected_at, alarm, alarm_site, ping, north_of, t
):
    rules, track = UnitRules(), None
    for minute in range(0, 45):
        track, _ = units.on_ping(track, ping("U1", t(minute), *north_of(0.8)), t(minute), rules, detected_at)
    track, found = units.on_alarm(
        track, alarm("A1", 4, "arrived", unit_id="U1"), alarm_site(), t(44), rules, detected_at)
    assert found == [] and track.assignment("A1") is None
