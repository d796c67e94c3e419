from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from streams.situations import suspect_near_incident
from streams.situations._common import RESEND_RETENTION, event_id
from streams.situations.suspect_near_incident import (
    SuspectNearIncidentParams,
    SuspectSector,
    WatchedPass,
    on_alarm,
    on_pass,
    prune,
)
from topics.geo import geohash, haversine_km
from topics.records import Alarm, Checkpoint, CheckpointPass, Situation, WatchlistEntry

P = SuspectNearIncidentParams()
TYPE = "suspect_near_incident"
HOLD = P.window + P.lateness  # how far behind the watermark inputs are still held


class Join:
    """Drives one sector's state as the agent does; stream time defaults to the input's ts."""

    def __init__(self, detected_at: datetime, params=P, locale="zh-CN") -> None:
        self.state: SuspectSector | None = None
        self.detected_at, self.params, self.locale = detected_at, params, locale

    def _keep(self, result) -> list[Situation]:
        self.state, situations = result
        return situations

    def alarm(self, alarm: Alarm, stream_time=...) -> list[Situation]:
        at = alarm.ts if stream_time is ... else stream_time
        return self._keep(on_alarm(
            self.state, "S1", alarm, at, self.params, self.detected_at, locale=self.locale
        ))

    def passes(self, watched: WatchedPass, stream_time=...) -> list[Situation]:
        at = watched.ts if stream_time is ... else stream_time
        return self._keep(on_pass(
            self.state, "S1", watched, at, self.params, self.detected_at, locale=self.locale
        ))


@pytest.fixture
def join(detected_at):
    def make(params=P, locale="zh-CN") -> Join:
        return Join(detected_at, params, locale)

    return make


@pytest.fixture
def watched(t, north_of):
    """watched(pass_id="P1", minutes=0, km=1.0, level=2, ts=None) -> a WatchedPass at a
    checkpoint `km` due north of the alarm site."""

    def make(pass_id="P1", minutes=0, *, km=1.0, level=2, ts=None, plate="沪A12345"):
        lat, lon = north_of(km)
        checkpoint = Checkpoint(
            checkpoint_id="K1", name="卡口", lat=lat, lon=lon, district="黄浦区"
        )
        passage = CheckpointPass(
            pass_id=pass_id, checkpoint_id="K1", ts=ts or t(minutes), plate=plate,
            plate_color="blue",
        )
        entry = WatchlistEntry(plate=plate.upper(), level=level, reason="涉案车辆")
        return WatchedPass.of(passage, checkpoint, entry)

    return make


def test_a_listed_plate_near_a_fresh_theft_is_reported(join, alarm, watched, t):
    feed = join()
    assert feed.alarm(alarm("A1", 0)) == []
    w = watched("P1", 10)
    (found,) = feed.passes(w)
    assert (found.type, found.severity, found.subject) == (TYPE, "high", "沪A12345")
    assert found.event_id == event_id(TYPE, "A1", "P1")
    assert found.event_time == t(10)
    assert (found.lat, found.lon, found.district) == (w.lat, w.lon, "黄浦区")
    assert found.cell == geohash(w.lat, w.lon)
    assert found.metrics == {"distance_km": 1.0, "gap_min": 10.0, "level": 2.0}
    assert found.evidence == ["A1", "P1", "K1"]
    assert found.model_version == suspect_near_incident.MODEL_VERSION


@pytest.mark.parametrize("km, pairs", [(1.999, 1), (2.001, 0)])
def test_the_radius_is_two_km(join, alarm, watched, km, pairs):
    feed = join()
    feed.alarm(alarm("A1", 0))
    assert len(feed.passes(watched("P1", 5, km=km))) == pairs


def test_a_checkpoint_at_exactly_the_radius_pairs(join, alarm, watched, site):
    w = watched("P1", 5, km=2.0)
    exact = haversine_km(*site, w.lat, w.lon)
    at_radius, inside = join(SuspectNearIncidentParams(radius_km=exact)), join(
        SuspectNearIncidentParams(radius_km=math.nextafter(exact, 0))
    )
    for feed in (at_radius, inside):
        feed.alarm(alarm("A1", 0))
    assert len(at_radius.passes(w)) == 1
    assert inside.passes(w) == []


@pytest.mark.parametrize(
    "ms, gap_min, pairs",
    [(-30 * 60_000, -30.0, 1), (30 * 60_000, 30.0, 1), (-30 * 60_000 - 1, None, 0),
     (30 * 60_000 + 1, None, 0)],
)
def test_the_window_is_thirty_minutes_either_side_inclusive(
    join, alarm, watched, t, ms, gap_min, pairs
):
    feed = join()
    feed.alarm(alarm("A1", 60))
    found = feed.passes(watched("P1", ts=t(60, ms=ms)), stream_time=t(60))
    assert len(found) == pairs
    if pairs:
        assert found[0].metrics["gap_min"] == gap_min


def test_both_arrival_orders_give_the_same_single_event(join, alarm, watched):
    alarm_first, pass_first = join(), join()
    assert alarm_first.alarm(alarm("A1", 30)) == []
    (a,) = alarm_first.passes(watched("P1", 5), stream_time=alarm("A1", 30).ts)
    assert pass_first.passes(watched("P1", 5)) == []
    (b,) = pass_first.alarm(alarm("A1", 30))
    assert a == b
    assert a.event_id == event_id(TYPE, "A1", "P1") and a.metrics["gap_min"] == -25.0


def test_a_redelivered_input_resends_the_same_event_and_nothing_new(join, alarm, watched, t):
    feed = join()
    feed.alarm(alarm("A1", 0))
    (first,) = feed.passes(watched("P1", 10))
    held = feed.state
    assert feed.passes(watched("P1", 10)) == [first]
    assert feed.passes(watched("P1", 10), stream_time=t(19)) == [first]
    assert feed.alarm(alarm("A1", 0)) == []  # the alarm's own application emitted nothing
    assert (feed.state.alarms, feed.state.passes) == (held.alarms, held.passes)
    assert len(feed.state.emitted) == 1


def test_the_first_record_of_an_alarm_id_wins(join, alarm, watched, t):
    feed = join()
    feed.passes(watched("P1", 10))
    (first,) = feed.alarm(alarm("A1", 0))
    assert feed.alarm(alarm("A1", 5, category="violent")) == [first]
    assert [a.ts for a in feed.state.alarms] == [t(0)]


def test_one_pass_pairs_with_every_alarm_near_it(join, alarm, watched):
    feed = join()
    feed.alarm(alarm("A1", 0))
    feed.alarm(alarm("A2", 5, category="gathering"))
    found = feed.passes(watched("P1", 10, level=3))
    assert [s.evidence[0] for s in found] == ["A1", "A2"]
    assert len({s.event_id for s in found}) == 2
    assert {s.severity for s in found} == {"critical"}


@pytest.mark.parametrize(
    "fields",
    [{"category": "dispute"}, {"category": "traffic"}, {"status": "dispatched", "unit_id": "U1"}],
)
def test_other_categories_and_statuses_are_ignored(join, alarm, watched, fields):
    feed = join()
    assert feed.alarm(alarm("A1", 0, **fields)) == []
    assert feed.state is None
    assert feed.passes(watched("P1", 5)) == []
    assert feed.state.alarms == ()


def test_pruning_bounds_the_state(join, alarm, watched, t):
    feed = join()
    for i in range(0, 600, 5):  # ten hours of alarms and passes, one every five minutes
        feed.alarm(alarm(f"A{i}", i))
        feed.passes(watched(f"P{i}", i + 1))
    state = feed.state
    assert state.watermark == t(596)
    assert min(a.ts for a in state.alarms) >= t(596) - HOLD
    assert min(p.ts for p in state.passes) >= t(596) - HOLD
    assert len(state.alarms) <= 9 and len(state.passes) <= 9
    assert all(e.at >= t(596) - RESEND_RETENTION for e in state.emitted)


def test_the_pruning_horizon_is_window_plus_lateness(join, alarm, t):
    feed = join()
    feed.alarm(alarm("OLD", ts=t(0, ms=-1)), stream_time=None)
    feed.alarm(alarm("EDGE", 0), stream_time=None)
    feed.alarm(alarm("NEW", 40))  # stream time t40: horizon t0
    assert [a.alarm_id for a in feed.state.alarms] == ["EDGE", "NEW"]


def test_an_input_older_than_the_horizon_is_ignored(join, alarm, watched, t):
    feed = join()
    feed.alarm(alarm("A1", 100))
    assert feed.passes(watched("P1", ts=t(60, ms=-1)), stream_time=t(100)) == []
    assert feed.state.passes == ()
    assert len(feed.passes(watched("P2", 70), stream_time=t(100))) == 1  # late but held


def test_a_pair_whose_inputs_were_pruned_is_never_sent_again(join, alarm, watched, t):
    feed = join()
    feed.alarm(alarm("A1", 0))
    (first,) = feed.passes(watched("P1", 10))
    assert feed.passes(watched("P1", 10), stream_time=t(200)) == []
    assert feed.alarm(alarm("A1", 0), stream_time=t(200)) == []
    assert feed.state.alarms == feed.state.passes == feed.state.emitted == ()
    assert prune(feed.state, t(200), P) is None


def test_unknown_stream_time_keeps_everything(join, alarm, watched, t):
    feed = join()
    feed.alarm(alarm("A1", 0), stream_time=None)
    for i in range(1, 50):
        feed.passes(watched(f"P{i}", 100 * i), stream_time=None)
    assert feed.state.watermark is None
    assert len(feed.state.passes) == 49
    assert len(feed.passes(watched("P0", 20), stream_time=None)) == 1  # A1 is still held
    assert prune(feed.state, None, P) == feed.state


def test_the_watermark_never_moves_back(join, alarm, t):
    feed = join()
    feed.alarm(alarm("A1", 50))
    feed.alarm(alarm("A2", 20), stream_time=t(10))
    assert feed.state.watermark == t(50)
    assert [a.alarm_id for a in feed.state.alarms] == ["A2", "A1"]


def test_summaries_give_the_gap_without_sign(join, alarm, watched):
    zh, en = join(), join(locale="en")
    for feed in (zh, en):
        feed.passes(watched("P1", 0, km=1.5, plate="沪a12345"))
    ((z,), (e,)) = (feed.alarm(alarm("A1", 12)) for feed in (zh, en))
    assert z.metrics["gap_min"] == -12.0
    assert z.summary == (
        "布控车辆 沪A12345 经过卡口 K1，距警情 A1 现场 1.50 公里，时间相差 12 分钟。"
    )
    assert e.summary == (
        "Watch-listed vehicle 沪A12345 passed checkpoint K1, 1.50 km from alarm A1 "
        "and 12 minutes apart."
    )
    assert "涉案车辆" not in z.summary


def test_a_watched_pass_needs_an_entry_that_applies(t, site):
    checkpoint = Checkpoint(
        checkpoint_id="K1", name="卡口", lat=site[0], lon=site[1], district="d"
    )
    passage = CheckpointPass(
        pass_id="P1", checkpoint_id="K1", ts=t(10), plate="沪A12345", plate_color="blue"
    )
    expired = WatchlistEntry(plate="沪A12345", level=1, reason="r", expires_at=t(10))
    with pytest.raises(ValueError):
        WatchedPass.of(passage, checkpoint, expired)
    other_colour = WatchlistEntry(plate="沪A12345", level=1, reason="r", plate_color="yellow")
    with pytest.raises(ValueError):
        WatchedPass.of(passage, checkpoint, other_colour)


def test_a_state_is_bound_to_its_sector(alarm, detected_at):
    state = SuspectSector(sector="S2")
    with pytest.raises(ValueError):
        on_alarm(state, "S1", alarm("A1", 0), None, P, detected_at)


def test_the_model_version_follows_the_parameters():
    wider = SuspectNearIncidentParams(window=timedelta(minutes=31))
    assert wider.model_version != P.model_version
    assert P.model_version == SuspectNearIncidentParams(radius_km=2).model_version
