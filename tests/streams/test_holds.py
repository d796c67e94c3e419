"""The registry of held records: ages, the oldest hold and what it waits for."""

from __future__ import annotations

from datetime import datetime, timezone

from streams.holds import Holds, marks_wanted


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_oldest_hold_is_reported_with_what_it_waits_for():
    wall, mark = Wall(), datetime(2026, 3, 2, tzinfo=timezone.utc)
    holds = Holds(wall=wall)
    holds.agent("sectors", lambda partition: {"partition": partition, "gps": marks_wanted({0: mark}, 3)})
    holds.agent("cells", lambda partition: {})
    holds.hold("sectors", "s1|A1", 2)
    wall.now += 5
    holds.hold("sectors", "s1|A2", 1)
    holds.hold("sectors", "s1|A1", 2)  # held again (re-delivered): the first time counts
    wall.now += 5
    assert holds.oldest_s() == {"sectors": 10.0, "cells": 0.0}
    described = holds.describe()["sectors"]
    assert described["held"] == 2 and described["oldest_key"] == "s1|A1" and described["partition"] == 2
    assert described["waiting_for"]["gps"] == {"missing": [1, 2], "lowest": {"source": 0, "mark": mark.isoformat()}}
    holds.release("sectors", "s1|A1")
    assert holds.oldest_s()["sectors"] == 5.0
    holds.clear("sectors")
    assert holds.describe()["sectors"] == {"held": 0, "oldest_s": 0.0}
