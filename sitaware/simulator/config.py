"""What to simulate: the city's size (`CityScale` presets), the run (`SimulationConfig`),
the scenario selection and the daily curves of alarms and traffic."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .errors import ScenarioError

__all__ = [
    "CITY_TZ",
    "DEFAULT_START",
    "CityScale",
    "SCALES",
    "describe_scales",
    "SimulationConfig",
    "CORE_TYPES",
    "CHECKPOINT_TYPES",
    "INJECTION_TYPES",
    "SLA_MIN",
    "parse_scenario",
    "parse_duration",
    "daily_factor",
    "ALARM_CURVE",
    "TRAFFIC_CURVE",
]

CITY_TZ = timezone(timedelta(hours=8), "CST")
DEFAULT_START = datetime(2026, 3, 2, 8, 0, tzinfo=CITY_TZ)
SLA_MIN = {1: 5, 2: 10, 3: 20, 4: 60}  # response_overdue's SLA defaults (docs/surface.md)
MIN_INJECTION_DURATION = timedelta(minutes=20)

CORE_TYPES = (
    "alarm_hotspot",
    "crowd_gathering",
    "coverage_gap",
    "response_overdue",
    "arrival_mismatch",
    "unit_offline",
)
CHECKPOINT_TYPES = ("watchlist_hit", "suspect_near_incident", "cloned_plate", "flow_anomaly")
INJECTION_TYPES = CORE_TYPES + CHECKPOINT_TYPES
_GROUPS = {"all": INJECTION_TYPES, "none": (), "core": CORE_TYPES, "checkpoints": CHECKPOINT_TYPES}

# Relative activity by local hour (linear in between), peak 1.0. Alarms peak in the
# evening, traffic in the rush hours; both change slowly enough that a 5-minute window
# never jumps off its recent baseline.
ALARM_CURVE = (0.7, 0.6, 0.5, 0.4, 0.35, 0.35, 0.45, 0.6, 0.75, 0.85, 0.9, 0.9,
               0.85, 0.85, 0.85, 0.9, 0.9, 0.95, 0.95, 1.0, 1.0, 1.0, 0.95, 0.85)
TRAFFIC_CURVE = (0.3, 0.2, 0.15, 0.12, 0.15, 0.3, 0.55, 0.85, 1.0, 0.92, 0.8, 0.78,
                 0.75, 0.75, 0.78, 0.82, 0.9, 0.98, 1.0, 0.85, 0.7, 0.6, 0.5, 0.4)


def daily_factor(curve: tuple[float, ...], hour: float) -> float:
    hour %= 24.0
    low = int(hour)
    f = hour - low
    return curve[low] * (1 - f) + curve[(low + 1) % 24] * f


@dataclass(frozen=True)
class CityScale:
    """How big the simulated city is. Rates are at the daily-curve peak."""

    name: str
    units: int  # police and auxiliary units, all types
    checkpoints: int
    alarms_per_hour: float
    passes_per_minute: float  # per checkpoint and direction of travel
    watchlist: int  # watch-listed plates

    @property
    def peak_records_per_s(self) -> float:
        """Feed records/s of the simulated city at the peak: pings every 10-15 s (12.5 on
        average), passes both ways at every checkpoint, ~4 lifecycle records per alarm."""
        return self.units / 12.5 + self.checkpoints * 2 * self.passes_per_minute / 60 + self.alarms_per_hour / 900

    def describe(self) -> str:
        return (f"{self.name} ({self.units:,} units, {self.checkpoints:,} checkpoints, "
                f"~{self.peak_records_per_s:,.0f} records/s at peak)")


SCALES = {
    # 40 units, 10 checkpoints: ~11k records per 30 simulated minutes, generated in ~1 s.
    "small": CityScale("small", 40, 10, 24, 3.0, 8),
    # ~50 records/s of event time: a lively dashboard at --speed 1.
    "demo": CityScale("demo", 400, 20, 240, 8.0, 24),
    # ~460 records/s of event time (5000 units pinging, 100 checkpoints):
    # --speed 10 offers the pipeline ~4.5k records/s; the generator makes ~14k/s.
    "city": CityScale("city", 5000, 100, 1500, 20.0, 200),
    # A large city's peak: 20,000 police and auxiliary units, 1,000 checkpoints (2,500
    # passes/s), 10 received alarms/s. Offered live by `simulate --load` and `bench --city`
    # (sitaware/simulator/live.py: pings every 10 s, ~4,540 records/s); the discrete-event
    # simulator also runs it, at ~8,500 records/s of generation.
    "metro": CityScale("metro", 20_000, 1_000, 36_000, 75.0, 1_000),
}


def describe_scales() -> str:
    """The scales for a --scale help text, from SCALES itself."""
    return "; ".join(scale.describe() for scale in SCALES.values())


def parse_scenario(text: str) -> tuple[str, ...]:
    """`all`, `none`, `core`, `checkpoints`, or a comma list of injection types."""
    text = text.strip()
    if text in _GROUPS:
        return _GROUPS[text]
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [t for t in chosen if t not in INJECTION_TYPES]
    if unknown or not chosen:
        raise ScenarioError(
            f"unknown scenario {', '.join(unknown) or text!r}: use all, none, core, checkpoints "
            f"or a comma list of {', '.join(INJECTION_TYPES)}"
        )
    return tuple(t for t in INJECTION_TYPES if t in chosen)


def parse_duration(text: str | float | int | timedelta) -> timedelta:
    """`90` or `90s`, `30m`, `2h`, `1h30m` -> timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)):
        return timedelta(seconds=text)
    spec = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", spec):
        return timedelta(seconds=float(spec))
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", spec)
    if not parts or "".join(n + u for n, u in parts) != spec:
        raise ScenarioError(f"bad duration {text!r}: use seconds or e.g. 30m, 2h, 1h30m")
    unit = {"h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 0
    start: datetime = DEFAULT_START
    duration: timedelta = timedelta(minutes=30)
    scale: CityScale = SCALES["small"]
    scenario: str = "all"
    # At the end every unit still on duty reports off_duty: the end of the simulated shift,
    # so that the feed falling silent afterwards is not a wave of unit_offline situations.
    sign_off_at_end: bool = True
    injections: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ScenarioError("start needs an explicit offset, e.g. 2026-03-02T08:00:00+08:00")
        if self.duration <= timedelta(0):
            raise ScenarioError("duration must be positive")
        injections = parse_scenario(self.scenario)
        if injections and self.duration < MIN_INJECTION_DURATION:
            raise ScenarioError(
                f"scenario {self.scenario!r} needs --duration of at least 20m "
                "(a flow anomaly needs a baseline); use --scenario none for shorter runs"
            )
        object.__setattr__(self, "injections", injections)
        start = self.start.astimezone(CITY_TZ)
        object.__setattr__(self, "start", start.replace(microsecond=start.microsecond // 1000 * 1000))

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    @property
    def duration_ms(self) -> int:
        return int(self.duration.total_seconds() * 1000)
