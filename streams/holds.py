"""Records an agent keeps back until the feeds' watermarks pass them, seen from outside.

The sector join holds a received alarm until every patrol-gps partition's watermark has
passed its ts; the cell rules hold it until every alarms partition's has. A hold that
never ends is silent — no recommendation, no hotspot — so every hold is registered here
with the wall time it began, and `/health` and the `sitaware_hold_oldest_seconds` metric
show the oldest per agent and what it waits for (`streams/web.py`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime
from typing import Callable

__all__ = ["Holds", "marks_wanted"]


class Holds:
    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        # agent -> key -> (wall time the hold began, partition)
        self._held: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
        # agent -> partition -> what the partition's holds wait for
        self._waits: dict[str, Callable[[int], dict]] = {}

    def agent(self, name: str, waits: Callable[[int], dict]) -> None:
        """Declare an agent that holds records; `waits(partition)` says what for."""
        self._waits[name] = waits
        self._held.setdefault(name, {})

    def hold(self, agent: str, key: str, partition: int) -> None:
        self._held[agent].setdefault(key, (self.wall(), partition))

    def release(self, agent: str, key: str) -> None:
        self._held[agent].pop(key, None)

    def clear(self, agent: str) -> None:
        """Forget the agent's holds (its index is being rebuilt after a rebalance)."""
        self._held[agent].clear()

    def oldest_s(self) -> dict[str, float]:
        """Per agent, the age in wall seconds of its oldest hold (0 when it holds nothing)."""
        now = self.wall()
        return {agent: max((now - since for since, _ in held.values()), default=0.0)
                for agent, held in self._held.items()}

    def describe(self) -> dict[str, dict]:
        now = self.wall()
        out = {}
        for agent, held in self._held.items():
            entry = {"held": len(held), "oldest_s": 0.0}
            if held:
                key, (since, partition) = min(held.items(), key=lambda kv: kv[1][0])
                waits = self._waits.get(agent)
                entry.update(oldest_s=round(now - since, 1), oldest_key=key, partition=partition,
                             waiting_for=waits(partition) if waits else None)
            out[agent] = entry
        return out


def marks_wanted(marks: dict[int, datetime], partitions: int) -> dict:
    """What a watermark join over `partitions` source partitions still lacks: the sources
    that have not reported, and the one whose mark holds the join back."""
    missing = [p for p in range(partitions) if p not in marks]
    lowest = min(marks.items(), key=lambda kv: kv[1]) if marks else None
    return {"missing": missing,
            "lowest": None if lowest is None else {"source": lowest[0], "mark": lowest[1].isoformat()}}
