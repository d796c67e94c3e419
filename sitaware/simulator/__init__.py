"""The synthetic city simulator: a deterministic, believable city's feeds (alarms,
patrol GPS, checkpoint passes, reference data) with injected scenarios and their ground
truth, for demos, end-to-end tests and benchmarks.

    CitySimulation(SimulationConfig(seed=7, scale=SCALES["small"], scenario="all"))
        iterate for (topic, key, value) records in event-time order; .truth afterwards
    run_simulation(settings, seed, speed, duration, scenario, ...)
        the same, produced to Kafka, paced, with a progress bar and a truth file
    find_occurrences(records) / match_truth(truth, found)
        an independent re-count of the contract's rules over the records
    LiveCity(SCALES["metro"]) / live_producer.LiveLoad
        the steady live load of a scale at its peak, fast enough for a large city (`--load`)
"""

from .checks import find_occurrences, match_truth, max_alarms_per_cell
from .city import DISTRICTS_PATH, City
from .command import add_simulate_arguments, simulate_command
from .config import (
    CHECKPOINT_TYPES,
    CORE_TYPES,
    DEFAULT_START,
    INJECTION_TYPES,
    SCALES,
    CityScale,
    describe_scales,
    SimulationConfig,
    parse_duration,
    parse_scenario,
)
from .errors import ScenarioError, SimulationError
from .generator import CitySimulation, SimRecord, live_start
from .jsonl import load_records
from .live import LiveCity
from .producer import Pacer, run_simulation

__all__ = [
    "CitySimulation",
    "SimRecord",
    "SimulationConfig",
    "CityScale",
    "SCALES",
    "describe_scales",
    "LiveCity",
    "DEFAULT_START",
    "INJECTION_TYPES",
    "CORE_TYPES",
    "CHECKPOINT_TYPES",
    "City",
    "DISTRICTS_PATH",
    "live_start",
    "parse_duration",
    "parse_scenario",
    "run_simulation",
    "Pacer",
    "add_simulate_arguments",
    "simulate_command",
    "find_occurrences",
    "match_truth",
    "max_alarms_per_cell",
    "load_records",
    "SimulationError",
    "ScenarioError",
]
