from datetime import datetime, timedelta, timezone

from streams.clock import StreamClock

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)


class FakeWall:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_stream_time_is_min_over_active_feeds_and_partitions():
    wall = FakeWall()
    clock = StreamClock(wall=wall)
    assert clock.now() is None
    clock.observe("alarms", 0, T0 + timedelta(minutes=5))
    clock.observe("gps", 0, T0 + timedelta(minutes=9))
    clock.observe("gps", 1, T0 + timedelta(minutes=7))
    assert clock.now() == T0 + timedelta(minutes=5)
    # A feed consumed faster does not make the slower feed's records late.
    assert not clock.is_late(T0, timedelta(minutes=10))
    clock.observe("alarms", 0, T0 + timedelta(minutes=20))
    assert clock.now() == T0 + timedelta(minutes=7)  # gps partition 1 holds it back


def test_idle_partition_releases_and_idle_city_advances_with_wall_clock():
    wall = FakeWall()
    clock = StreamClock(idle_after=timedelta(seconds=30), wall=wall)
    clock.observe("gps", 0, T0)
    wall.t += 20
    clock.observe("gps", 1, T0 + timedelta(minutes=3))
    assert clock.now() == T0
    wall.t += 15  # partition 0 idle for 35 s, partition 1 for 15 s
    assert clock.now() == T0 + timedelta(minutes=3)
    wall.t += 30  # everything idle since 30 s after the last record
    assert clock.now() == T0 + timedelta(minutes=3, seconds=15)
    wall.t += 60
    assert clock.now() == T0 + timedelta(minutes=4, seconds=15)


def test_stream_time_never_goes_backwards_and_lateness_is_strict():
    wall = FakeWall()
    clock = StreamClock(wall=wall)
    clock.observe("alarms", 0, T0 + timedelta(minutes=30))
    assert clock.now() == T0 + timedelta(minutes=30)
    clock.observe("gps", 0, T0)  # a new, slower feed appears
    assert clock.now() == T0 + timedelta(minutes=30)
    assert clock.is_late(T0 + timedelta(minutes=19, seconds=59), timedelta(minutes=10))
    assert not clock.is_late(T0 + timedelta(minutes=20), timedelta(minutes=10))


def test_assigned_partition_holds_stream_time_until_it_delivers_or_idles():
    wall = FakeWall()
    clock = StreamClock(idle_after=timedelta(seconds=30), wall=wall)
    clock.track("alarms", 0)
    clock.observe("gps", 0, T0 + timedelta(minutes=30))
    assert clock.now() is None  # the alarm backlog has not been fetched yet
    assert not clock.is_late(T0, timedelta(minutes=10))
    clock.observe("alarms", 0, T0)
    assert clock.now() == T0
    wall.t += 31
    clock.observe("gps", 0, T0 + timedelta(minutes=31))
    assert clock.now() == T0 + timedelta(minutes=31)  # the idle alarm partition is released


def test_all_idle_starts_from_the_newest_event_seen():
    wall = FakeWall()
    clock = StreamClock(idle_after=timedelta(seconds=3), wall=wall)
    clock.observe("gps", 0, T0 + timedelta(minutes=15))
    clock.observe("gps", 1, T0 + timedelta(minutes=2))
    assert clock.now() == T0 + timedelta(minutes=2)
    wall.t += 10  # both went idle at once, 7 s ago
    assert clock.now() == T0 + timedelta(minutes=15, seconds=7)


def test_partition_with_a_backlog_is_never_idle():
    wall = FakeWall()
    waiting = {("gps", 1): True}
    clock = StreamClock(idle_after=timedelta(seconds=3), wall=wall,
                        backlog=lambda feed, partition, offset: waiting.get((feed, partition), False))
    clock.observe("gps", 0, T0 + timedelta(minutes=9), offset=50)
    clock.observe("gps", 1, T0 + timedelta(minutes=2), offset=7)
    wall.t += 60  # the agent has not reached partition 1's fetched records for a minute
    clock.observe("gps", 0, T0 + timedelta(minutes=10), offset=51)
    assert clock.now() == T0 + timedelta(minutes=2)
    waiting[("gps", 1)] = False
    assert clock.now() == T0 + timedelta(minutes=10)


def test_a_restarted_worker_with_nothing_to_read_resumes_from_the_logs_last_records():
    wall = FakeWall()
    clock = StreamClock(idle_after=timedelta(seconds=30), wall=wall)
    clock.track("gps", 0)
    clock.track("alarms", 0)
    assert clock.now() is None  # nothing seen: no stream time, no timers
    clock.seed("gps", 0, T0 + timedelta(minutes=30))
    clock.seed("alarms", 0, T0 + timedelta(minutes=29))
    assert clock.now() == T0 + timedelta(minutes=29)
    wall.t += 90  # everything quiet: advances with the wall clock from the newest
    assert clock.now() == T0 + timedelta(minutes=31)
    clock.observe("gps", 0, T0 + timedelta(minutes=32))
    clock.seed("gps", 0, T0)  # a partition that delivered keeps its own watermark
    assert clock.partition_watermark("gps", 0, release=False) == T0 + timedelta(minutes=32)


def test_a_ts_too_far_ahead_of_the_wall_clock_never_moves_stream_time():
    wall = FakeWall()
    wall.t = T0.timestamp()
    clock = StreamClock(wall=wall, max_ahead=timedelta(minutes=5))
    clock.observe("gps", 0, T0)
    assert clock.is_ahead(T0 + timedelta(minutes=5, milliseconds=1))
    assert not clock.is_ahead(T0 + timedelta(minutes=5))  # exactly the bound is accepted
    clock.observe("gps", 0, T0 + timedelta(days=365))
    assert clock.now() == T0
    assert not clock.is_late(T0 + timedelta(seconds=1), timedelta(minutes=10))
    assert not StreamClock(wall=wall).is_ahead(T0 + timedelta(days=365))  # no bound set
