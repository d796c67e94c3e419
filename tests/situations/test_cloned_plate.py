from __future__ import annotations

import math
from datetime import timedelta

import pytest

from streams.situations import cloned_plate
from streams.situations._common import event_id
from streams.situations.cloned_plate import (
    ClonedPlateParams,
    PlatePass,
    PlateTrail,
    newest,
    on_pass,
    trail_key,
)
from topics.geo import haversine_km
from topics.records import Checkpoint, CheckpointPass

P = ClonedPlateParams()
KEY = "沪A12345|blue"


@pytest.fixture
def seen(site):
    """seen(pass_id, ts, point=SITE) -> a PlatePass at checkpoint "C-<pass_id>"."""

    def make(pass_id: str, ts, point=site) -> PlatePass:
        return PlatePass(pass_id=pass_id, checkpoint_id=f"C-{pass_id}", ts=ts,
                         lat=point[0], lon=point[1], district="Huangpu")

    return make


@pytest.fixture
def trail(detected_at):
    """trail(passes, state=None, params=P, stream_time=...) -> (state, all situations).

    Stream time is the running largest pass ts (the agent's watermark) unless given.
    """

    def run(passes, state=None, params=P, locale="zh-CN", stream_time="running"):
        out, now = [], state.watermark if state else None
        for p in passes:
            now = p.ts if now is None else max(now, p.ts)
            at = now if stream_time == "running" else stream_time
            state, found = on_pass(
                state, KEY, "沪a12345", p, at, params, detected_at, locale=locale
            )
            out += found
        return state, out

    return run


def test_just_over_two_hundred_km_h_is_a_clone(trail, seen, t, north_of):
    state, (clone,) = trail([seen("P1", t(0)), seen("P2", t(2, seconds=59), north_of(10))])
    assert (clone.type, clone.severity, clone.subject) == ("cloned_plate", "high", "沪A12345")
    assert clone.event_id == event_id("cloned_plate", "P1", "P2")
    assert clone.event_time == t(2, seconds=59)
    assert (clone.lat, clone.lon) == north_of(10)
    assert clone.district == "Huangpu"
    assert clone.evidence == ["P1", "P2", "C-P1", "C-P2"]
    assert clone.metrics == {"distance_km": 10.0, "gap_s": 179.0, "speed_kmh": 201.1}
    assert clone.model_version == cloned_plate.MODEL_VERSION


def test_just_under_two_hundred_km_h_is_not(trail, seen, t, north_of):
    assert trail([seen("P1", t(0)), seen("P2", t(3, seconds=1), north_of(10))])[1] == []


def test_exactly_the_speed_limit_is_not_a_clone(trail, seen, t, site, north_of):
    passes = [seen("P1", t(0)), seen("P2", t(3), north_of(10))]
    exact = haversine_km(*site, *north_of(10)) / (180 / 3600)
    assert trail(passes, params=ClonedPlateParams(max_speed_kmh=exact))[1] == []
    below = ClonedPlateParams(max_speed_kmh=math.nextafter(exact, 0))
    assert len(trail(passes, params=below)[1]) == 1


def test_exactly_the_minimum_distance_is_not_a_clone(trail, seen, t, site, north_of):
    passes = [seen("P1", t(0)), seen("P2", t(0, seconds=10), north_of(1.2))]
    exact = haversine_km(*site, *north_of(1.2))
    assert trail(passes, params=ClonedPlateParams(min_distance_km=exact))[1] == []
    below = ClonedPlateParams(min_distance_km=math.nextafter(exact, 0))
    assert len(trail(passes, params=below)[1]) == 1


@pytest.mark.parametrize("km, clones", [(0.999, 0), (1.001, 1)])
def test_simultaneous_passes_count_beyond_one_km(trail, seen, t, north_of, km, clones):
    assert len(trail([seen("P1", t(0)), seen("P2", t(0), north_of(km))])[1]) == clones


def test_simultaneous_clone_has_no_speed_and_the_larger_pass_id_is_later(trail, seen, t, north_of):
    # Applied in reverse: the pair still reads P1 then P2 (same ts, larger pass_id later).
    _, (clone,) = trail([seen("P2", t(0), north_of(5)), seen("P1", t(0))])
    assert clone.metrics == {"distance_km": 5.0, "gap_s": 0.0}
    assert clone.evidence == ["P1", "P2", "C-P1", "C-P2"]
    assert (clone.lat, clone.lon) == north_of(5)


def test_the_same_plate_at_the_same_checkpoint_is_never_a_clone(trail, seen, t):
    assert trail([seen("P1", t(0)), seen("P2", t(0))])[1] == []


@pytest.mark.parametrize(
    "gap, clones", [(timedelta(hours=2), 1), (timedelta(hours=2, milliseconds=1), 0)]
)
def test_at_most_two_hours_apart(trail, seen, t, north_of, gap, clones):
    # 450 km: over 200 km/h even across the whole two hours.
    assert len(trail([seen("P1", t(0)), seen("P2", t(0) + gap, north_of(450))])[1]) == clones


def test_the_same_pair_in_either_order_is_one_occurrence(trail, seen, t, north_of):
    first, second = seen("P1", t(0)), seen("P2", t(1), north_of(10))
    _, forward = trail([first, second])
    _, backward = trail([second, first])
    assert forward == backward and len(forward) == 1


def test_redelivery_resends_only_what_that_pass_emitted(trail, seen, t, north_of, detected_at):
    p1, p2, p3 = seen("P1", t(0)), seen("P2", t(1), north_of(10)), seen("P3", t(2))
    state, out = trail([p1, p2, p3])
    assert [s.evidence[:2] for s in out] == [["P1", "P2"], ["P2", "P3"]]
    for again, expected in ((p1, []), (p2, [out[0]]), (p3, [out[1]])):
        after, resent = on_pass(state, KEY, "沪A12345", again, t(2), P, detected_at)
        assert (after, resent) == (state, expected)


def test_the_trail_survives_the_table_as_json(trail, seen, t, north_of):
    state, _ = trail([seen("P1", t(0)), seen("P2", t(1), north_of(10))])
    assert len(state.emitted) == 1
    assert PlateTrail.model_validate(state.model_dump(mode="json")) == state


def test_different_colours_are_different_plates(t, site, north_of, detected_at):
    checkpoints = {
        name: Checkpoint(checkpoint_id=name, name=name, lat=lat, lon=lon, district="Huangpu")
        for name, (lat, lon) in (("C1", site), ("C2", north_of(10)))
    }
    trails, out = {}, []
    for pass_id, checkpoint_id, plate, colour in [
        ("P1", "C1", "沪A12345", "blue"),
        ("P2", "C2", "沪A12345", "yellow"),
        ("P3", "C2", "沪a12345", "blue"),
    ]:
        passage = CheckpointPass(pass_id=pass_id, checkpoint_id=checkpoint_id, ts=t(0), plate=plate,
                                 plate_color=colour)
        key, seen = trail_key(passage), PlatePass.of(passage, checkpoints[checkpoint_id])
        trails[key], found = on_pass(trails.get(key), key, plate, seen, t(0), P, detected_at)
        out += found
    assert sorted(trails) == [KEY, "沪A12345|yellow"]  # plates compare upper-cased
    assert [s.evidence for s in out] == [["P1", "P3", "C1", "C2"]]


def test_pass_of_takes_the_checkpoints_place(t):
    passage = CheckpointPass(pass_id="P1", checkpoint_id="C1", ts=t(0), plate="沪A1",
                             plate_color="blue")
    site = Checkpoint(checkpoint_id="C1", name="Renmin Rd", lat=31.2, lon=121.4, district="Huangpu")
    assert PlatePass.of(passage, site) == PlatePass(
        pass_id="P1", checkpoint_id="C1", ts=t(0), lat=31.2, lon=121.4, district="Huangpu"
    )


def test_a_pass_more_than_the_lateness_behind_stream_time_is_ignored(trail, seen, t, north_of):
    state, _ = trail([seen("P1", t(30))])
    late = seen("P0", t(19, seconds=59, ms=999), north_of(100))
    after, out = trail([late], state=state)
    assert (after, out) == (state, [])
    _, (clone,) = trail([seen("P0", t(20), north_of(100))], state=state)  # exactly the lateness
    assert clone.evidence[:2] == ["P0", "P1"]


def test_unknown_stream_time_moves_nothing(trail, seen, t):
    state, _ = trail([seen("P1", t(0)), seen("P2", t(600))], stream_time=None)
    assert state.watermark is None and [p.pass_id for p in state.passes] == ["P1", "P2"]
    assert newest(state) == t(600) and newest(None) is None


def test_pruning_bounds_the_state_over_a_day(trail, seen, t, site, north_of):
    # A pass a minute for 24 h, alternating between checkpoints 9 km apart: every pass is
    # a clone with the one before (540 km/h) and none further back (180 km/h at 3 min).
    passes = [seen(f"P{i:04d}", t(i), north_of(9) if i % 2 else site) for i in range(1440)]
    state, out = None, []
    for p in passes:
        state, found = trail([p], state=state)
        out += found
        # Held: 2 h + 10 min of passes; cached: RESEND_RETENTION (2 h) of situations.
        assert len(state.passes) <= 131 and len(state.emitted) <= 121
    assert len(out) == len({s.event_id for s in out}) == 1439
    assert state.passes[0].ts == t(1439) - timedelta(hours=2, minutes=10)


def test_summary_in_both_locales(trail, seen, t, north_of):
    passes = [seen("P1", t(0)), seen("P2", t(1), north_of(10))]
    (zh,), (en,) = trail(passes)[1], trail(passes, locale="en")[1]
    assert zh.summary == "号牌 沪A12345 在 1.0 分钟内先后出现在相距 10.0 公里的卡口 C-P1 与 C-P2，疑似套牌。"
    assert en.summary == (
        "Plate 沪A12345 passed checkpoints C-P1 and C-P2, 10.0 km apart, within 1.0 minutes: "
        "a possible cloned plate."
    )
