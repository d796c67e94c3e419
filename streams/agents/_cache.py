"""In-memory indexes over tables: caches rebuilt lazily after every rebalance.

Several agents keep an index of their table (deadlines, pending alarms, tracked units) to
avoid a full table scan per tick. A rebalance can hand a worker partitions whose tables
were just recovered from their changelogs, so after one the index is rebuilt from the
table before it is used again — in stream context, where the table may be read.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["RebalanceCache"]


class RebalanceCache:
    def __init__(self, app, rebuild: Callable[[], None]) -> None:
        self._rebuild = rebuild
        self._stale = True
        app.on_rebalance_complete.connect(self._mark_stale)

    async def _mark_stale(self, sender, **kwargs) -> None:
        self._stale = True

    def fresh(self) -> None:
        """Rebuild the index if a rebalance happened since it was last built."""
        if self._stale:
            self._rebuild()
            self._stale = False
