"""The ground truth of a run: every situation the injections should make the pipeline
emit, with the keys a test matches a detected situation by (`match`), plus what the run
produced (`counts`) and how the background kept clear (`background`).

Injected scenarios are listed once per expected occurrence. One injection can imply
another (a watch-listed plate near an incident is also a `watchlist_hit`): the implied
entry carries `side_effect_of` with the causing entry's id.
"""

from __future__ import annotations

from .config import SimulationConfig
from .engine import Engine

__all__ = ["GroundTruth"]


class GroundTruth:
    def __init__(self, engine: Engine, config: SimulationConfig):
        self.engine = engine
        self.config = config
        self.injections: list[dict] = []
        self.skipped: list[dict] = []

    def add(self, kind: str, match: tuple[str, ...], event_time: int | None, **fields) -> dict:
        """Record an expected situation; instants are given as ms since the start."""
        entry = {"id": f"{kind}-{sum(e['type'] == kind for e in self.injections) + 1}", "type": kind,
                 "event_time": event_time, **fields, "match": ["type", *match]}
        self.injections.append(entry)
        return entry

    def skip(self, kind: str, reason: str) -> None:
        self.skipped.append({"type": kind, "at": self.engine.instant(self.engine.now), "reason": reason})

    def document(self, background: dict) -> dict:
        done, skipped = [], list(self.skipped)
        for entry in self.injections:
            if entry["event_time"] is None:  # its decisive record never came before the end
                skipped.append({"type": entry["type"], "at": None, "reason": "did not complete before the end"})
                continue
            fields = {k: self._instant(k, v) for k, v in entry.items() if k != "match"}
            done.append({**fields, "match": entry["match"]})
        done.sort(key=lambda e: (e["event_time"], e["id"]))
        config = self.config
        return {
            "seed": config.seed,
            "start": self.engine.instant(0),
            "end": self.engine.instant(config.duration_ms),
            "scenario": config.scenario,
            "scale": config.scale.name,
            "injections": done,
            "skipped": skipped,
            "counts": dict(sorted(self.engine.counts.items())),
            "background": background,
        }

    def _instant(self, key: str, value):
        timed = key in ("event_time", "window_start", "window_end") or key.endswith("_at")
        return self.engine.instant(value) if timed and isinstance(value, int) else value
