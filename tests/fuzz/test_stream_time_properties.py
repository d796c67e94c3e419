"""Stream time under valid but extreme event times (found by fuzzing).

The contract accepts any RFC 3339 instant, so one record from a producer with a wrong
clock (ts in 2100, or 9999) is valid. Stream time is the feed's largest ts, and never goes
backwards: such a record would make every later on-time record of the feed late, and once
every feed is idle the clock would overflow. So the worker's clock ignores a ts more than
`SITAWARE_MAX_AHEAD_S` (300 s) ahead of the wall clock, and the worker dead-letters the
record (stage `validate`, class `TimestampAhead`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from streams.clock import StreamClock

WALL = datetime(2026, 11, 29, 20, 0, tzinfo=timezone.utc)
far_future = st.datetimes(min_value=datetime(2100, 1, 1), max_value=datetime(9999, 12, 30),
                          timezones=st.just(timezone.utc))


def _clock(wall: list[float]) -> StreamClock:
    return StreamClock(idle_after=timedelta(seconds=30), wall=lambda: wall[0], max_ahead=timedelta(minutes=5))


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(future=far_future)
def test_a_far_future_record_does_not_make_on_time_records_late(future):
    wall = [WALL.timestamp()]
    clock = _clock(wall)
    clock.observe("alarms", 0, WALL, 0)
    clock.observe("alarms", 0, future, 1)
    assert not clock.is_late(WALL + timedelta(seconds=5), timedelta(minutes=10))


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(future=st.datetimes(min_value=datetime(9999, 1, 1), max_value=datetime(9999, 12, 30),
                           timezones=st.just(timezone.utc)))
def test_stream_time_does_not_overflow_when_the_city_goes_quiet(future):
    wall = [WALL.timestamp()]
    clock = _clock(wall)
    clock.observe("alarms", 0, future, 0)
    wall[0] += 366 * 86_400  # a year of wall time with every feed idle
    clock.now()
