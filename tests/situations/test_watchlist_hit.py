from __future__ import annotations

import pytest

from streams.situations import watchlist_hit
from streams.situations._common import event_id
from streams.situations.watchlist_hit import WatchlistHitParams, detect_watchlist_hit, entry_applies
from topics.geo import geohash
from topics.records import Checkpoint, CheckpointPass, WatchlistEntry

P = WatchlistHitParams()
REASON = "涉嫌盗窃 suspected burglary ring"  # free text that must never reach a summary


@pytest.fixture
def checkpoint(site):
    return Checkpoint(
        checkpoint_id="K1", name="人民广场", lat=site[0], lon=site[1], district="黄浦区"
    )


@pytest.fixture
def passage(t):
    """passage(minutes=0, **fields) -> a pass of 沪A12345 (blue) at K1."""

    def make(minutes: float = 0, **fields) -> CheckpointPass:
        record = {"pass_id": "P1", "checkpoint_id": "K1", "ts": t(minutes),
                  "plate": "沪A12345", "plate_color": "blue"}
        return CheckpointPass(**(record | fields))

    return make


@pytest.fixture
def entry():
    def make(**fields) -> WatchlistEntry:
        return WatchlistEntry(**({"plate": "沪A12345", "level": 2, "reason": REASON} | fields))

    return make


@pytest.fixture
def hit(checkpoint, detected_at):
    def run(passage, entry, locale="zh-CN"):
        return detect_watchlist_hit(passage, entry, checkpoint, P, detected_at, locale=locale)

    return run


def test_a_listed_plate_is_a_hit_placed_at_the_checkpoint(hit, passage, entry, checkpoint, t):
    (found,) = hit(passage(), entry())
    assert (found.type, found.severity, found.subject) == ("watchlist_hit", "high", "沪A12345")
    assert found.event_id == event_id("watchlist_hit", "P1")
    assert found.event_time == t(0)
    assert (found.lat, found.lon, found.district) == (checkpoint.lat, checkpoint.lon, "黄浦区")
    assert found.cell == geohash(checkpoint.lat, checkpoint.lon)
    assert found.metrics == {"level": 2.0}
    assert found.evidence == ["P1", "K1"]
    assert found.model_version == watchlist_hit.MODEL_VERSION


def test_no_entry_or_another_plate_is_no_hit(hit, passage, entry):
    assert hit(passage(), None) == []
    assert hit(passage(), entry(plate="沪A12346")) == []


def test_plates_are_compared_upper_cased(hit, passage, entry):
    (found,) = hit(passage(plate="沪a12345"), entry(plate="沪A12345"))
    assert found.subject == "沪A12345"
    assert entry_applies(entry(plate="沪a12345"), passage(plate="沪A12345"))


@pytest.mark.parametrize(
    "listed, passed, applies",
    [("blue", "blue", True), ("yellow", "blue", False), (None, "green", True)],
)
def test_a_listed_colour_must_match(passage, entry, listed, passed, applies):
    assert entry_applies(entry(plate_color=listed), passage(plate_color=passed)) is applies


def test_expired_exactly_at_the_pass_is_no_hit(hit, passage, entry, t):
    assert hit(passage(10), entry(expires_at=t(10))) == []


def test_expiring_one_millisecond_after_the_pass_is_a_hit(hit, passage, entry, t):
    assert len(hit(passage(10), entry(expires_at=t(10, ms=1)))) == 1


def test_expiry_is_judged_in_event_time_not_the_detection_time(hit, passage, entry, t):
    # detected_at (09:00) is long past expires_at (08:30): the pass at 08:10 still counts.
    assert len(hit(passage(10), entry(expires_at=t(30)))) == 1


@pytest.mark.parametrize("level, severity", [(1, "medium"), (2, "high"), (3, "critical")])
def test_severity_follows_the_level(hit, passage, entry, level, severity):
    (found,) = hit(passage(), entry(level=level))
    assert (found.severity, found.metrics["level"]) == (severity, level)


def test_summaries_name_plate_and_checkpoint_never_the_reason(hit, passage, entry):
    (zh,), (en,) = hit(passage(), entry(level=3)), hit(passage(), entry(level=3), locale="en")
    assert zh.summary == "3 级布控车辆 沪A12345 经过卡口 K1。"
    assert en.summary == "Level 3 watch-listed vehicle 沪A12345 passed checkpoint K1."
    for found in (zh, en):
        assert REASON not in found.summary and "burglary" not in found.summary
        assert REASON not in found.model_dump_json()


def test_a_pass_judged_against_another_checkpoint_is_refused(passage, entry, site, detected_at):
    other = Checkpoint(checkpoint_id="K2", name="x", lat=site[0], lon=site[1], district="d")
    with pytest.raises(ValueError):
        detect_watchlist_hit(passage(), entry(), other, P, detected_at)
