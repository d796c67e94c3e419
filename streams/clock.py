"""Stream time: the event-time watermark every lateness and deadline is judged on (docs/surface.md, Conventions).

For each input feed the watermark is the smallest, over the feed's *active* partitions, of
the largest event `ts` seen on that partition — a partition that is consumed faster (e.g.
during a replay) never makes its siblings' records late. The pipeline's stream time is the
smallest feed watermark among active feeds. A partition or feed with no record for
`idle_after` of wall time stops holding stream time back; when every feed is idle, stream
time advances with the wall clock from the newest event seen, so timers still fire in a
quiet city.
A partition assigned but not yet delivering holds stream time where it is, so a backlog
that is fetched later is not judged late. Stream time never goes backwards.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

__all__ = ["StreamClock"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class StreamClock:
    def __init__(
        self,
        idle_after: timedelta = timedelta(seconds=30),
        wall: Callable[[], float] = time.time,
        backlog: Callable[[str, int, int | None], bool] = lambda feed, partition, offset: False,
        max_ahead: timedelta | None = None,
    ):
        self.idle_after_s = idle_after.total_seconds()
        self.wall = wall
        # backlog(feed, partition, last offset seen or None): records are waiting there
        # (the consumer knows of records the agent has not reached). Such a partition is
        # never idle, however long the agent takes to reach it.
        self.backlog = backlog
        # A ts further ahead of the wall clock than this never moves stream time (the caller
        # dead-letters the record): stream time never goes back, so one wrong clock would
        # otherwise make every later on-time record late. None: no bound.
        self.max_ahead_s = None if max_ahead is None else max_ahead.total_seconds()
        self._offsets: dict[tuple[str, int], int] = {}
        # (feed, partition) -> [max event ts (epoch s), wall time last seen]
        self._partitions: dict[tuple[str, int], list[float]] = {}
        self._stream_s: float | None = None
        self._anchor: tuple[float, float] | None = None  # (stream s, wall s) when all went idle

    def is_ahead(self, ts: datetime) -> bool:
        """Is `ts` further ahead of the wall clock than the clock accepts?"""
        return self.max_ahead_s is not None and ts.timestamp() > self.wall() + self.max_ahead_s

    def observe(self, feed: str, partition: int, ts: datetime, offset: int | None = None) -> None:
        if offset is not None:
            self._offsets[(feed, partition)] = offset
        if self.is_ahead(ts):
            return
        event_s = ts.timestamp()
        entry = self._partitions.get((feed, partition))
        if entry is None:
            self._partitions[(feed, partition)] = [event_s, self.wall()]
        else:
            entry[0] = max(entry[0], event_s)
            entry[1] = self.wall()

    def track(self, feed: str, partition: int) -> None:
        """A feed partition was assigned: until it delivers a record or goes idle, it holds
        stream time where it is (a backlog not fetched yet must not be judged late)."""
        self._partitions.setdefault((feed, partition), [float("-inf"), self.wall()])

    def seed(self, feed: str, partition: int, ts: datetime) -> None:
        """A tracked partition with nothing left to read: its watermark is the ts of its last
        record (already processed by the group). Ignored once the partition delivered."""
        entry = self._partitions.get((feed, partition))
        if entry is not None and entry[0] == float("-inf"):
            entry[0] = ts.timestamp()

    def forget(self, feed: str, partition: int) -> None:
        """A partition was revoked from this worker: it no longer holds stream time."""
        self._partitions.pop((feed, partition), None)
        self._offsets.pop((feed, partition), None)

    def now(self) -> datetime | None:
        """Current stream time, or None before any record was seen."""
        wall_now = self.wall()
        feeds: dict[str, float] = {}
        for (feed, partition), (max_s, seen_wall) in self._partitions.items():
            # Asking the consumer about a backlog costs more than the rest of this loop, and
            # only matters for a partition that has been quiet for `idle_after`.
            if wall_now - seen_wall < self.idle_after_s or self.backlog(feed, partition, self._offsets.get((feed, partition))):
                feeds[feed] = min(feeds.get(feed, max_s), max_s)
        if feeds:
            candidate = min(feeds.values())
            self._anchor = None
            if candidate == float("-inf"):  # an assigned partition has not delivered yet
                if self._stream_s is None:
                    return None
                candidate = self._stream_s
        elif self._partitions:
            # Everything idle: advance with the wall clock from the last stream time.
            if self._anchor is None:
                # Every record that was coming has come: start from the newest one.
                start = max(m for m, _ in self._partitions.values())
                if self._stream_s is not None:
                    start = max(start, self._stream_s)
                if start == float("-inf"):  # nothing was ever delivered
                    return None
                last_seen = max(w for _, w in self._partitions.values())
                self._anchor = (start, last_seen + self.idle_after_s)
            stream_at_idle, idle_since = self._anchor
            candidate = stream_at_idle + max(0.0, wall_now - idle_since)
        else:
            return None
        self._stream_s = candidate if self._stream_s is None else max(self._stream_s, candidate)
        return _EPOCH + timedelta(seconds=self._stream_s)

    def partition_watermark(self, feed: str, partition: int, release: bool = True) -> datetime | None:
        """What this worker can promise about one partition: no more records from it older
        than its largest ts — or than stream time, if `release` says the partition has been
        read to its end and stream time is further along."""
        entry = self._partitions.get((feed, partition))
        newest = None if entry is None or entry[0] == float("-inf") else _EPOCH + timedelta(seconds=entry[0])
        stream_time = self.now() if release else None
        candidates = [t for t in (newest, stream_time) if t is not None]
        return max(candidates) if candidates else None

    def last_offset(self, feed: str, partition: int) -> int | None:
        return self._offsets.get((feed, partition))

    def describe(self) -> list[dict]:
        """Per feed partition: newest ts, last offset, seconds since a record, backlog."""
        wall_now = self.wall()
        rows = []
        for (feed, partition), (max_s, seen_wall) in sorted(self._partitions.items()):
            offset = self._offsets.get((feed, partition))
            rows.append({
                "feed": feed, "partition": partition,
                "newest": None if max_s == float("-inf") else (_EPOCH + timedelta(seconds=max_s)).isoformat(),
                "offset": offset, "quiet_s": round(wall_now - seen_wall, 1),
                "backlog": self.backlog(feed, partition, offset),
            })
        return rows

    def is_late(self, ts: datetime, allowed_lateness: timedelta) -> bool:
        stream_time = self.now()
        return stream_time is not None and ts < stream_time - allowed_lateness
