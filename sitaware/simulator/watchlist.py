"""The watch list published on the `watchlist` reference topic: plates of interest with a
level and a reason. Their plates are drawn from the plate book first, so background
traffic never carries them; only staged scenarios drive them past a checkpoint. One
entry in ten is already expired (never seen on the road)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .engine import Engine
from .plates import PlateBook

__all__ = ["WatchEntry", "build_watchlist"]

_DAY_MS = 86_400_000
_REASONS = {
    3: ("在逃人员关联车辆", "涉嫌暴力犯罪车辆"),
    2: ("盗抢车辆", "涉案车辆"),
    1: ("套牌嫌疑", "多次违法未处理"),
}


@dataclass(frozen=True)
class WatchEntry:
    plate: str
    plate_color: str  # of the vehicle; the record names it only when `colour_listed`
    colour_listed: bool
    level: int
    reason: str
    expires_at_ms: int | None  # since the run's start; None: no expiry

    @property
    def expired(self) -> bool:
        return self.expires_at_ms is not None and self.expires_at_ms <= 0

    def record(self, engine: Engine) -> tuple[str, dict]:
        """(key, value) for the `watchlist` topic: keyed by the upper-cased plate."""
        value = {"plate": self.plate, "level": self.level, "reason": self.reason}
        if self.colour_listed:
            value["plate_color"] = self.plate_color
        if self.expires_at_ms is not None:
            value["expires_at"] = engine.instant(self.expires_at_ms)
        return self.plate.upper(), value


def build_watchlist(plates: PlateBook, rng: random.Random, size: int) -> list[WatchEntry]:
    entries = []
    for n in range(size):
        vehicle = plates.fresh("car")
        level = rng.choices((1, 2, 3), weights=(5, 3, 2))[0]
        if n % 10 == 9:
            expires = -_DAY_MS
        else:
            expires = rng.choice((None, 30 * _DAY_MS, 90 * _DAY_MS))
        entries.append(WatchEntry(vehicle.plate, vehicle.plate_color, rng.random() < 0.7, level,
                                  rng.choice(_REASONS[level]), expires))
    return entries
