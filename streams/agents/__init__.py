"""Faust agents: they move records and keep state; the situation models decide."""

from __future__ import annotations

__all__ = ["register"]


def register(pipeline) -> None:
    from streams.agents import alarms, cells, clickhouse_rows, presence, sectors, units

    for module in (alarms, cells, units, presence, sectors, clickhouse_rows):
        module.register(pipeline)
