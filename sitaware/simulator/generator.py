"""One simulation run: the city's feeds and the injected scenarios merged into a single
event-time-ordered stream of `(topic, key, value)` records, reference data first.

    sim = CitySimulation(SimulationConfig(seed=7, scenario="all"))
    for topic, key, value in sim: ...
    sim.truth  # the ground truth, complete once the records are exhausted

Topics are the contract's names (unprefixed). Instants are RFC 3339 in the city's local
time (+08:00) with milliseconds. The same config gives the same records, byte for byte:
all randomness comes from `random.Random` streams seeded from the config's seed, and
nothing reads the clock (live mode picks its start before the run: `live_start()`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from topics.specs import CHECKPOINTS, WATCHLIST

from .alarms import BackgroundAlarms, Dispatcher
from .city import City
from .config import CITY_TZ, SimulationConfig
from .engine import Engine
from .errors import SimulationError
from .fleet import Fleet
from .incidents import CELL_CAP, IncidentLog
from .plates import PlateBook
from .scenarios import Stage, schedule_injections
from .traffic import WARMUP_MS, Traffic
from .truth import GroundTruth
from .units import build_units
from .watchlist import build_watchlist

__all__ = ["CitySimulation", "SimRecord", "live_start"]


class SimRecord(NamedTuple):
    topic: str
    key: str
    value: dict


def live_start() -> datetime:
    """Now, in the city's time zone, to the millisecond: the start of a live run."""
    now = datetime.now(CITY_TZ)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CitySimulation:
    """A single-use run of the simulated city."""

    def __init__(self, config: SimulationConfig, city: City | None = None):
        self.config = config
        self.engine = engine = Engine(config.seed, config.start, config.duration_ms, WARMUP_MS)
        self.city = city = city or City.build(config.scale.checkpoints)
        self.plates = PlateBook(engine.rng("plates"))
        self.watchlist = build_watchlist(self.plates, engine.rng("watchlist"), config.scale.watchlist)
        units = build_units(engine.rng("units"), city, config.scale.units)
        self.fleet = Fleet(engine, city, units, engine.rng("fleet"))
        self.log = IncidentLog(city)
        self.dispatcher = Dispatcher(engine, city, self.fleet, self.log, engine.rng("dispatch"))
        self.background = BackgroundAlarms(engine, city, config.scale, self.dispatcher, engine.rng("alarms"))
        self.traffic = Traffic(engine, city, config.scale, self.plates, engine.rng("traffic"))
        self._truth = GroundTruth(engine, config)
        self.fleet.start(config.sign_off_at_end)
        self.background.start()
        self.traffic.start()
        schedule_injections(
            Stage(engine, city, self.fleet, self.log, self.dispatcher, self.traffic, self.plates,
                  self._truth, engine.rng("scenarios"), self.watchlist),
            config.injections,
        )
        self._started = False
        self._finished = False

    def reference_records(self) -> list[SimRecord]:
        """`checkpoints` (every checkpoint), then `watchlist` (every entry)."""
        out = [SimRecord(CHECKPOINTS, c.checkpoint_id, c.record()) for c in self.city.checkpoints]
        out += [SimRecord(WATCHLIST, *entry.record(self.engine)) for entry in self.watchlist]
        return out

    def timed_records(self) -> Iterator[tuple[int | None, SimRecord]]:
        """Records with their event time in ms since the start (None for reference data)."""
        if self._started:
            raise SimulationError("a CitySimulation runs once; build a new one to run again")
        self._started = True
        for record in self.reference_records():
            self.engine.counts[record.topic] += 1
            yield None, record
        for t, topic, key, value in self.engine.run():
            yield t, SimRecord(topic, key, value)
        self._finished = True

    def __iter__(self) -> Iterator[SimRecord]:
        for _, record in self.timed_records():
            yield record

    @property
    def truth(self) -> dict:
        """The ground-truth document (see `truth.GroundTruth`); final once iteration ends."""
        return self._truth.document({
            "alarms_skipped": self.background.skipped,  # calls no place could take
            "cell_cap_per_15min": CELL_CAP,
            "complete": self._finished,
        })

    def write_truth(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
