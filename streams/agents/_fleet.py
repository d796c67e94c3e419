"""The sector agent's in-memory fleet: positions per sector and unit, and the `fleet` table
keys that hold them.

The unit agent sends a sector one record of positions per batch; the sector agent stores
the positions it did not hold yet under one `fleet` key ("<sector>|<offset of that
record>"), one changelog write per record instead of one per position. A key is deleted
once none of its positions is held any more. This index keeps the count per key, so the
agent knows when; it never touches the table itself (writes belong to stream context).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import datetime

from streams.situations.fleet import UnitPosition

__all__ = ["FleetIndex", "fleet_key", "fleet_key_order", "latest_at"]


def _ts(position: UnitPosition) -> datetime:
    return position.ts


def latest_at(held: list[UnitPosition], at: datetime) -> UnitPosition | None:
    """A unit's latest held position with ts <= at (held is in ts order, one per ts)."""
    before = bisect_right(held, at, key=_ts)
    return held[before - 1] if before else None


def fleet_key(sector: str, offset: int) -> str:
    return f"{sector}|{offset}"


def fleet_key_order(key: str) -> tuple[str, int]:
    """Keys by sector, then by the offset of their record (the first to come holds a
    position re-sent in a later one). Keys of older workers ("<sector>|<unit>|<ts>", one
    position each) sort first."""
    sector, _, rest = key.partition("|")
    return sector, int(rest) if rest.isdigit() else -1


class FleetIndex:
    """One partition's positions, sector -> unit -> positions in ts order (one per ts)."""

    def __init__(self) -> None:
        self.positions: dict[str, dict[str, list[UnitPosition]]] = defaultdict(dict)
        self._origin: dict[tuple[str, str, datetime], str] = {}  # (sector, unit, ts) -> key
        self._holding: dict[str, int] = {}  # key -> positions it holds

    def hold(self, sector: str, key: str, raw_positions: list[dict]) -> list[tuple[dict, UnitPosition]]:
        """Index the positions not held yet under `key`; return them (raw and decoded).
        A position already held (re-delivered, or re-sent after a crash) is skipped."""
        new = []
        for raw in raw_positions:
            position = UnitPosition.model_validate(raw)
            held = self.positions[sector].setdefault(position.unit_id, [])
            at = bisect_left(held, position.ts, key=_ts)
            if at < len(held) and held[at].ts == position.ts:
                continue
            held.insert(at, position)
            self._origin[(sector, position.unit_id, position.ts)] = key
            new.append((raw, position))
        if new:
            self._holding[key] = self._holding.get(key, 0) + len(new)
        return new

    def trim(self, sector: str, unit_id: str, before: datetime) -> list[str]:
        """Drop the unit's positions older than `before`, always keeping its latest; return
        the keys that now hold no position (to delete from the table)."""
        held = self.positions[sector].get(unit_id, [])
        freed = []
        while len(held) > 1 and held[0].ts < before:
            old = held.pop(0)
            key = self._origin.pop((sector, unit_id, old.ts), None)
            if key is None:
                continue
            left = self._holding[key] - 1
            if left:
                self._holding[key] = left
            else:
                del self._holding[key]
                freed.append(key)
        return freed

    def latest(self, sector: str, unit_id: str) -> UnitPosition | None:
        held = self.positions[sector].get(unit_id)
        return held[-1] if held else None
