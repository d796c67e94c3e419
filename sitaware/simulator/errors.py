"""Errors of the simulator, all reported by the CLI as one line.

    SitawareError            (sitaware.errors)
    └── SimulationError      the simulation cannot run or its records cannot be delivered
        └── ScenarioError    the requested scenario, duration or start cannot be simulated
"""

from sitaware.errors import SitawareError

__all__ = ["SimulationError", "ScenarioError"]


class SimulationError(SitawareError):
    """The simulation cannot run, or the broker did not take its records."""


class ScenarioError(SimulationError):
    """A scenario name, duration or start time that cannot be simulated."""
