"""Simulator fixtures: small runs, generated once per session (no Kafka needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import pytest

from sitaware.simulator import SCALES, CitySimulation, SimulationConfig


@dataclass(frozen=True)
class Run:
    records: tuple
    truth: dict


@lru_cache(maxsize=None)
def simulate(seed: int = 7, scenario: str = "all", minutes: int = 30, start=None) -> Run:
    config = SimulationConfig(seed=seed, scenario=scenario, duration=timedelta(minutes=minutes),
                              scale=SCALES["small"], **({"start": start} if start else {}))
    sim = CitySimulation(config)
    records = tuple(sim)
    return Run(records, sim.truth)


@pytest.fixture(scope="session")
def simulated():
    """simulated(seed, scenario, minutes, start) -> Run, cached for the session."""
    return simulate


@pytest.fixture(scope="session")
def run_all() -> Run:
    return simulate(7, "all")


@pytest.fixture(scope="session")
def run_none() -> Run:
    return simulate(7, "none")
