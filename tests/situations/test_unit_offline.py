from __future__ import annotations


from streams.situations import unit_offline
from streams.situations._common import RESEND_RETENTION, event_id
from streams.situations.unit_offline import UnitOfflineParams, check_offline
from streams.situations.unit_track import UnitTrack


def offline(situations):
    return [s for s in situations if s.type == "unit_offline"]


def test_three_minutes_of_silence_is_offline_not_a_millisecond_less(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(0)))
    assert feed.tick(t(3, ms=-1)) == []
    (found,) = feed.tick(t(3))
    assert (found.type, found.severity, found.subject) == ("unit_offline", "medium", "U1")
    assert found.event_time == t(3)
    assert (found.window_start, found.window_end) == (t(0), t(3))
    assert found.event_id == event_id("unit_offline", "U1", t(0))
    assert found.model_version == unit_offline.MODEL_VERSION
    assert feed.tick(t(5)) == []  # once per silence
    assert feed.tick(t(3)) == [found]  # the same tick again re-sends it


def test_a_new_ping_ends_the_silence_and_the_next_one_has_a_new_id(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(0)))
    (first,) = feed.tick(t(3))
    feed.ping(ping("U1", t(4)))
    assert feed.tick(t(6)) == []
    (second,) = feed.tick(t(7))
    assert second.event_id == event_id("unit_offline", "U1", t(4)) != first.event_id


def test_an_off_duty_unit_is_never_offline(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(0)))
    feed.ping(ping("U1", t(1), status="off_duty"))
    assert feed.tick(t(60)) == []


def test_an_auxiliary_unit_is_low_severity(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("G1", t(0), unit_type="security_guard"))
    assert [s.severity for s in feed.tick(t(3))] == ["low"]


def test_a_unit_that_never_pinged_has_no_silence(unit_feed, alarm, t, detected_at):
    feed = unit_feed()
    feed.alarm(alarm("A1", 0, "dispatched", unit_id="U1"))
    assert offline(feed.tick(t(10))) == []
    assert check_offline(None, t(10), UnitOfflineParams(), detected_at) == (None, [])


def test_a_late_ping_changes_nothing(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(20)))
    before = feed.track
    feed.ping(ping("U1", t(10, ms=-1)), stream_time=t(20))
    assert feed.track == before


def test_the_track_stays_small_over_a_long_shift(unit_feed, ping, alarm, alarm_site, t):
    feed = unit_feed()
    for i in range(6 * 60 * 8):  # a ping every 10 s for 8 hours, a dispatch every hour
        ts = t(0, seconds=10 * i)
        if i % 360 == 0:
            dispatch = alarm(f"A{i}", ts=ts, status="dispatched", unit_id="U1")
            feed.alarm(dispatch, alarm_site(f"A{i}", i / 6))
        feed.ping(ping("U1", ts, alarm_id=f"A{i - i % 360}"))
    assert len(feed.track.pings) <= 20 * 6 + 1  # the ping retention: lateness + 10 min
    assert all(e.at >= feed.track.watermark - RESEND_RETENTION for e in feed.track.emitted)
    feed.tick(t(8 * 60 + 12 * 60))
    assert feed.track.assignments == () and len(feed.track.pings) == 1


def test_state_round_trips_through_json(unit_feed, ping, t):
    feed = unit_feed()
    feed.ping(ping("U1", t(0), alarm_id="A1"))
    feed.tick(t(3))
    assert UnitTrack.model_validate(feed.track.model_dump(mode="json")) == feed.track


def test_summary_in_both_locales(unit_feed, ping, t):
    texts = []
    for locale in ("zh-CN", "en"):
        feed = unit_feed(locale=locale)
        feed.ping(ping("U1", t(0)))
        texts += [s.summary for s in feed.tick(t(3))]
    assert texts == ["U1 已 3 分钟未回传定位。", "Unit U1 has sent no position for 3 minutes."]


def test_a_ping_ending_a_long_silence_reports_it_without_a_tick():
    from datetime import datetime, timedelta, timezone

    from streams.situations import units
    from topics.records import PatrolPing

    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
    rules, now = units.UnitRules(), datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)

    def ping(minutes):
        return PatrolPing(unit_id="MC-1", ts=t0 + timedelta(minutes=minutes), lat=31.1, lon=121.3,
                          unit_type="motorcycle", status="available")

    track, out = units.on_ping(None, ping(0), t0, rules, now)
    track, out = units.on_ping(track, ping(2.99), t0 + timedelta(minutes=2.99), rules, now)
    assert out == []  # a gap just under 3 min is no silence
    track, out = units.on_ping(track, ping(6), t0 + timedelta(minutes=6), rules, now)
    assert [(s.type, s.event_time) for s in out] == [("unit_offline", t0 + timedelta(minutes=5.99))]
    again, repeated = units.on_ping(track, ping(6), t0 + timedelta(minutes=6), rules, now)
    assert [s.event_id for s in repeated if s.type == "unit_offline"] in ([], [out[0].event_id])


def test_a_re_delivered_tick_re_sends_by_its_own_name_even_without_a_stream_time(ping, t, detected_at):
    # The unit agent runs ticks at a unit time held back by in-memory marks; after a restart
    # that time is unknown (None) or different, but the tick record names the cause.
    from streams.situations import units

    rules, track = units.UnitRules(), None
    track, _ = units.on_ping(track, ping("U1", t(0)), t(0), rules, detected_at)
    track, (found,) = units.on_tick(track, t(3), rules, detected_at, cause="tick:A")
    assert units.on_tick(track, None, rules, detected_at, cause="tick:A") == (track, [found])
    assert units.on_tick(track, t(2), rules, detected_at, cause="tick:A")[1] == [found]
    assert units.on_tick(track, None, rules, detected_at, cause="tick:B") == (track, [])
