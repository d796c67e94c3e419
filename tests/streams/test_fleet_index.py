"""The sector agent's fleet index: which `fleet` keys hold which positions, and when a key
holds none any more (then the agent deletes it)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streams.agents._fleet import FleetIndex, fleet_key_order, latest_at

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)


def _position(unit: str, seconds: int) -> dict:
    return {"unit_id": unit, "unit_type": "police_car", "status": "available",
            "lat": 31.2, "lon": 121.4, "ts": (T0 + timedelta(seconds=seconds)).isoformat()}


def test_a_position_held_already_is_not_held_again():
    index = FleetIndex()
    first = index.hold("155:485", "155:485|7", [_position("U1", 0), _position("U2", 0)])
    assert len(first) == 2
    again = index.hold("155:485", "155:485|9", [_position("U1", 0), _position("U1", 10)])
    assert [p.ts for _, p in again] == [T0 + timedelta(seconds=10)]
    assert [p.ts for p in index.positions["155:485"]["U1"]] == [T0, T0 + timedelta(seconds=10)]


def test_a_key_is_freed_only_when_none_of_its_positions_is_held():
    index = FleetIndex()
    index.hold("s", "s|1", [_position("U1", 0), _position("U2", 0)])
    index.hold("s", "s|2", [_position("U1", 30), _position("U2", 30)])
    assert index.trim("s", "U1", T0 + timedelta(seconds=20)) == []  # U2's position still holds s|1
    assert index.trim("s", "U2", T0 + timedelta(seconds=20)) == ["s|1"]


def test_trim_keeps_a_units_latest_position_however_old():
    index = FleetIndex()
    index.hold("s", "s|1", [_position("U1", 0), _position("U1", 5)])
    assert index.trim("s", "U1", T0 + timedelta(hours=1)) == []
    assert index.latest("s", "U1").ts == T0 + timedelta(seconds=5)


def test_positions_arriving_out_of_order_are_kept_in_ts_order():
    index = FleetIndex()
    index.hold("s", "s|1", [_position("U1", 20), _position("U1", 0), _position("U1", 10)])
    held = index.positions["s"]["U1"]
    assert [p.ts for p in held] == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)]
    assert latest_at(held, T0 + timedelta(seconds=15)).ts == T0 + timedelta(seconds=10)
    assert latest_at(held, T0 - timedelta(seconds=1)) is None


def test_keys_sort_by_sector_then_record_offset_with_older_workers_keys_first():
    keys = ["s|10", "s|9", "s|U1|2026-12-03T08:00:00+00:00", "r|3"]
    assert sorted(keys, key=fleet_key_order) == ["r|3", "s|U1|2026-12-03T08:00:00+00:00", "s|9", "s|10"]
