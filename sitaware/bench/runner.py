"""One benchmark run, start to end: its own topics (a fresh topic prefix), its own
worker subprocesses, the load process, the measurement steps, the baselines, and the
deletion of its topics.

Steps go up the offered rates; after the first step the pipeline does not sustain (lag
grows), higher rates are skipped (their figures would measure the backlog). A last step
offers records as fast as the load process can send them: the saturated throughput.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from sitaware.settings import Settings

from .baselines import bare_consume, bare_insert
from .load import LoadGenerator, LoadStep
from .measure import FEEDS, Probe, Sample, SituationWatch, percentile, window
from .workers import WorkerProcess, delete_run_topics, wait_all_ready

__all__ = ["Plan", "PLANS", "DESIGN_RATE", "run_bench"]


@dataclass(frozen=True)
class Plan:
    name: str
    rates: tuple[float, ...]  # offered records/s, ascending
    warmup_s: float  # after a rate change, before the measurement window
    window_s: float
    max_rate_s: float  # the as-fast-as-possible step (0: none)
    scale: str  # load.BENCH_SCALES
    pool_minutes: float
    partitions: int = 4
    workers: int = 1
    feed_idle_s: float = 30.0
    grace_s: float = 5.0  # for the last recommendations after the fixed-rate steps
    baseline_s: float = 20.0
    bare_rows_min: int = 10_000
    bare_rows_max: int = 200_000
    sample_every_s: float = 2.0


# The design load: the `city` scale live (5000 units, 100 checkpoints) is ~460 records/s.
DESIGN_RATE = 500.0

PLANS = {
    "smoke": Plan("smoke", (60.0,), 3, 6, 3, "bench-small", 8, partitions=2, feed_idle_s=3.0,
                  grace_s=3, baseline_s=5, bare_rows_min=5_000, bare_rows_max=5_000, sample_every_s=1.0),
    "quick": Plan("quick", (25.0, 50.0, 100.0, 200.0, DESIGN_RATE, 1000.0), 8, 20, 15, "bench", 10),
    "full": Plan("full", (25.0, 50.0, 100.0, 200.0, DESIGN_RATE, 1000.0, 2000.0, 4000.0, 8000.0),
                 15, 60, 60, "bench", 30),
}


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _sustained(stats: dict, load: LoadStep) -> bool:
    """Lag flat: the workers consumed (nearly) what was offered, and the input feeds' lag
    grew by less than two seconds of offered records over the window (offsets are
    committed every second and the lag gauge is refreshed every 5 s, so some lag and
    some noise are normal)."""
    if not stats or load.rate is None:
        return False
    offered = load.achieved_rate
    return (stats["consumed_per_s"] >= 0.9 * offered
            and stats["feed_lag_end"] - stats["feed_lag_start"] <= max(2 * offered, 100))


class _Run:
    def __init__(self, settings: Settings, plan: Plan, workdir: Path):
        self.settings, self.plan, self.workdir = settings, plan, workdir
        self.workers: list[WorkerProcess] = []
        self.samples: list[Sample] = []
        self.probe = Probe(settings, self.workers)

    def sample_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            started = time.monotonic()
            try:
                self.samples.append(self.probe.sample())
            except OSError as exc:  # a slow /metrics answer: skip this sample
                _log(f"metrics sample skipped: {exc}")
            if started >= end:
                return
            time.sleep(max(0.0, min(self.plan.sample_every_s - (time.monotonic() - started), end - time.monotonic())))

    def step(self, load: LoadGenerator, watch: SituationWatch, rate: float | None) -> dict:
        plan = self.plan
        seconds = plan.max_rate_s if rate is None else plan.warmup_s + plan.window_s
        begun = time.monotonic()
        load.begin(rate, seconds)
        self.sample_for(seconds)
        result = load.result(timeout=seconds + 120)
        if rate is None:
            # The load process takes a core while it floods; the saturated rate is what the
            # workers drain afterwards, with the backlog still there and the load idle.
            drain_from = time.monotonic()
            self.sample_for(plan.max_rate_s)
            stats = window(self.samples, drain_from, time.monotonic())
        else:
            stats = window(self.samples, begun + plan.warmup_s, time.monotonic())
        step = {"offered_per_s": rate, "mode": "fixed" if rate else "max", "sent": result.sent,
                "achieved_offered_per_s": result.achieved_rate, **stats,
                "sustained": _sustained(stats, result), "received_alarms": len(result.alarms),
                "active_keys": result.active_keys}
        step["_alarms"] = result.alarms
        _log(f"{'max rate' if rate is None else f'{rate:.0f}/s'}: sent {result.achieved_rate:.0f}/s, "
             f"consumed {stats.get('consumed_per_s', 0):.0f}/s, feed lag {stats.get('feed_lag_start', 0):.0f} -> "
             f"{stats.get('feed_lag_end', 0):.0f}, {'sustained' if step['sustained'] else 'NOT sustained'}")
        return step

    @staticmethod
    def latencies(watch: SituationWatch, step: dict) -> dict:
        found, missing = watch.latencies_ms(step.pop("_alarms"))
        step.update(latency_samples=len(found), alarms_without_recommendation=missing,
                    p50_latency_ms=percentile(found, 50), p99_latency_ms=percentile(found, 99))
        return step

    def run(self) -> dict:
        plan, settings = self.plan, self.settings
        load = LoadGenerator(settings, scale=plan.scale, pool_minutes=plan.pool_minutes).start()
        try:
            for _ in range(plan.workers):
                self.workers.append(WorkerProcess(settings, self.workdir).start())
            pool = load.wait_ready()
            _log(f"load pool: {pool['pool_records']} records; waiting for {plan.workers} worker(s)")
            startup_s = wait_all_ready(self.workers, timeout=120)
            _log(f"worker(s) ready in {startup_s:.1f} s")
            watch = SituationWatch(settings).start()
            load.reference()
            steps = []
            for rate in plan.rates:
                steps.append(self.step(load, watch, rate))
                if not steps[-1]["sustained"]:
                    _log("not sustained: higher rates skipped")
                    break
            # Latencies of the fixed-rate steps are taken before the flood, which would
            # delay their last recommendations.
            time.sleep(plan.grace_s)
            for step in steps:
                self.latencies(watch, step)
            if plan.max_rate_s > 0:
                steps.append(self.latencies(watch, self.step(load, watch, None)))
            self.sample_for(0)
            watch.stop()
            return {"steps": steps, "startup_s": startup_s, "pool": pool, "situations": dict(watch.by_type),
                    "first": self.samples[0], "last": self.samples[-1]}
        finally:
            load.stop()
            for worker in self.workers:
                worker.stop()


def run_bench(settings: Settings, plan: Plan) -> dict:
    """Run the plan on fresh topics; return the raw measurements (report.build_report)."""
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    settings = settings.model_copy(update={
        "topic_prefix": f"bench{uuid.uuid4().hex[:8]}.", "topic_partitions": plan.partitions,
        "feed_idle_s": plan.feed_idle_s})
    started = time.monotonic()
    _log(f"run {plan.name} on topics {settings.topic_prefix}*, {plan.partitions} partitions")
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, contract_topics(settings), settings.topic_replication)
    finally:
        admin.close()
    try:
        with tempfile.TemporaryDirectory(prefix="sitaware-bench-") as tmp:
            measured = _Run(settings, plan, Path(tmp)).run()
        _log("baseline: bare aiokafka consumer over the run's feeds")
        consume = bare_consume(settings, [settings.topic(f) for f in FEEDS], plan.baseline_s)
        first, last = measured["first"], measured["last"]
        rows = int(min(max(last.sink_rows - first.sink_rows, plan.bare_rows_min), plan.bare_rows_max))
        _log(f"baseline: bare ClickHouse columnar insert of {rows} rows")
        insert = bare_insert(settings, rows)
    finally:
        deleted = delete_run_topics(settings)
        _log(f"deleted {deleted} topics")
    return {**measured, "plan": replace(plan), "baseline_consume": consume, "baseline_insert": insert,
            "topic_prefix": settings.topic_prefix, "elapsed_s": time.monotonic() - started}
