"""The simulation clock: a discrete-event queue on integer milliseconds of event time.

Every record is emitted by an action running at the current clock time and stamped with
it, so the output is in event-time order by construction. Times are milliseconds since
the run's start (negative during the traffic warm-up, whose records are not emitted).
Ties run in scheduling order, which keeps a seed's output identical run after run.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

__all__ = ["Engine", "TimedRecord", "MINUTE", "SECOND"]

SECOND = 1000
MINUTE = 60 * SECOND
TimedRecord = tuple[int, str, str, dict]  # (event ms since start, topic, key, value)


class Engine:
    def __init__(self, seed: int, start: datetime, end_ms: int, warmup_ms: int = 0):
        self.seed = seed
        self.start = start
        self.end_ms = end_ms
        self.now = -warmup_ms  # the clock starts early for processes that need a warm-up
        self.counts: Counter[str] = Counter()
        # Ids carry a tag of (seed, start) so that two runs into one broker do not collide.
        self.run_tag = hashlib.sha1(f"{seed}|{start.isoformat()}".encode()).hexdigest()[:4]
        self._ids: Counter[str] = Counter()
        self._queue: list = []
        self._seq = itertools.count()
        self._out: list[TimedRecord] = []
        self._local_hour0 = start.hour + start.minute / 60 + start.second / 3600

    def rng(self, concern: str) -> random.Random:
        """An independent random stream per concern, so one concern's draws never shift
        another's (string seeds are hashed with SHA-512: stable across processes)."""
        return random.Random(f"{self.seed}:{concern}")

    def at(self, t_ms: int, action: Callable, *args) -> None:
        heapq.heappush(self._queue, (max(t_ms, self.now), next(self._seq), action, args))

    def after(self, delay_ms: float, action: Callable, *args) -> None:
        self.at(self.now + int(delay_ms), action, *args)

    def next_id(self, prefix: str, digits: int) -> str:
        self._ids[prefix] += 1
        return f"{prefix}-{self.run_tag}-{self._ids[prefix]:0{digits}d}"

    def instant(self, t_ms: int) -> str:
        """RFC 3339 in the city's local time, millisecond precision."""
        return (self.start + timedelta(milliseconds=t_ms)).isoformat(timespec="milliseconds")

    def ts(self) -> str:
        return self.instant(self.now)

    def local_hour(self, t_ms: int | None = None) -> float:
        return self._local_hour0 + (self.now if t_ms is None else t_ms) / 3_600_000

    def emit(self, topic: str, key: str, value: dict) -> None:
        if self.now >= 0:  # warm-up records only shape the state
            self._out.append((self.now, topic, key, value))
            self.counts[topic] += 1

    def run(self) -> Iterator[TimedRecord]:
        queue, out = self._queue, self._out
        while queue and queue[0][0] <= self.end_ms:
            t, _, action, args = heapq.heappop(queue)
            self.now = t
            action(*args)
            if out:
                yield from out
                out.clear()
