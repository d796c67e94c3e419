"""The large-city run (`sitaware bench --city`): the steady load of a city at its peak, live
(event time = now), against the pipeline's workers, then the framework's ceiling over the
same records, then the control traffic of an idle pipeline at a few partition counts.

1. Fresh topics; the load process (`city_load`) and the workers start; the reference data
   (checkpoints, watch list) goes first; the load offers the city's rates for `duration_s`.
   The workers are sampled (/metrics, /proc) and the broker's end offsets and log sizes of
   every topic of the run are taken before and after.
2. The workers stop; `noop_app` processes (as many as workers, same consumer settings) drain
   the feeds from the start: the framework's ceiling on this machine, in this run.
3. For each of `control_partitions`: fresh topics, the workers, a handful of feed records
   (stream time needs one), then nothing: the records/s the workers write to their internal
   topics while the feeds are idle (ticks, watermarks, whatever else an idle pipeline sends).
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from sitaware.settings import Settings

from .city_load import CityLoad, city_scale, measure_offer_rate
from .measure import FEEDS, Probe, SituationWatch
from .noop_app import TUNING_ENV, Ceiling
from .offsets import snapshot, written
from .workers import WorkerProcess, delete_run_topics, wait_all_ready

__all__ = ["CityPlan", "CITY_PLANS", "run_city"]


@dataclass(frozen=True)
class CityPlan:
    name: str
    scale: str  # simulator.SCALES (or load.BENCH_SCALES for the smoke run)
    duration_s: float = 600.0
    warmup_s: float = 30.0  # not in the throughput window
    partitions: int = 8
    workers: int = 1
    feed_idle_s: float = 30.0
    grace_s: float = 5.0  # for recommendations still on their way when the load stops
    ceiling_s: float = 60.0  # the no-op drain's longest timing
    control_partitions: tuple[int, ...] = (8, 32)
    control_window_s: float = 30.0
    sample_every_s: float = 5.0
    tuned: bool = True  # the workers get the no-op's consumer settings (noop_app.TUNING_ENV)


CITY_PLANS = {
    "city": CityPlan("city", "metro"),
    "smoke": CityPlan("city-smoke", "bench-small", duration_s=20, warmup_s=4, partitions=2, feed_idle_s=3,
                      grace_s=2, ceiling_s=5, control_partitions=(2, 4), control_window_s=5, sample_every_s=1),
}


def _log(message: str) -> None:
    print(f"bench city: {message}", file=sys.stderr, flush=True)


def _fresh(settings: Settings, label: str, partitions: int, feed_idle_s: float) -> Settings:
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    settings = settings.model_copy(update={"topic_prefix": f"{label}{uuid.uuid4().hex[:8]}.",
                                           "topic_partitions": partitions, "feed_idle_s": feed_idle_s})
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, contract_topics(settings), settings.topic_replication)
    finally:
        admin.close()
    return settings


def _admin(settings: Settings):
    from kafka import KafkaAdminClient

    return KafkaAdminClient(**settings.kafka_python_config())


def _start_workers(settings: Settings, plan: CityPlan, workdir: Path) -> list[WorkerProcess]:
    env = TUNING_ENV if plan.tuned else None
    return [WorkerProcess(settings, workdir, extra_env=env).start() for _ in range(plan.workers)]


def _internal(settings: Settings, topic: str) -> bool:
    """A topic the workers write for themselves: internal, changelogs, the rows topic."""
    from topics.specs import app_id

    return topic.startswith(f"{app_id(settings)}-") and "__assignor" not in topic


class _Sampler:
    def __init__(self, probe: Probe, every_s: float):
        self.probe, self.every_s, self.samples = probe, every_s, []

    def take(self, tries: int = 1):
        """A sample (a slow /metrics answer is skipped; the run's first and last are retried)."""
        for attempt in range(tries):
            try:
                self.samples.append(self.probe.sample())
                return self.samples[-1]
            except OSError as exc:
                _log(f"metrics sample skipped: {exc}")
        if not self.samples:
            raise RuntimeError("the workers' /metrics did not answer")
        return self.samples[-1]

    def until(self, deadline: float, report_every_s: float = 30.0) -> None:
        last_report = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(max(0.0, min(self.every_s, deadline - time.monotonic())))
            sample = self.take()
            if sample.t - last_report >= report_every_s:
                last_report = sample.t
                _log(f"{sample.records_in:,.0f} feed records read, feed lag {sample.lag_feeds:,.0f}, "
                     f"RSS {sample.rss_mb:,.0f} MB")


def _pipeline(settings: Settings, plan: CityPlan, workdir: Path) -> dict:
    load = CityLoad(settings, plan.scale).start()
    workers = []
    try:
        workers = _start_workers(settings, plan, workdir)
        city = load.wait_ready()
        startup_s = wait_all_ready(workers, timeout=300)
        _log(f"{plan.workers} worker(s) ready in {startup_s:.1f} s; load: {city['units']} units, "
             f"{city['checkpoints']} checkpoints, {sum(city['rates'].values()):,.0f} records/s")
        watch = SituationWatch(settings).start()
        reference = load.reference()
        sampler = _Sampler(Probe(settings, workers), plan.sample_every_s)
        admin = _admin(settings)
        try:
            before = snapshot(settings, admin, settings.topic_prefix)
            first = sampler.take(tries=5)
            load.begin(plan.duration_s, pace=1.0)
            sampler.until(time.monotonic() + plan.duration_s)
            offered = load.result(timeout=300)
            last = sampler.take(tries=5)
            after = snapshot(settings, admin, settings.topic_prefix)
        finally:
            admin.close()
        time.sleep(plan.grace_s)
        found, missing = watch.latencies_ms(offered.alarms)
        watch.stop()
    finally:
        load.stop()
        for worker in workers:
            worker.stop()
    return {"startup_s": startup_s, "city": city, "reference_records": reference, "offered": offered,
            "samples": sampler.samples, "first": first, "last": last, "before": before, "after": after,
            "latencies_ms": found, "alarms_without_recommendation": missing, "situations": dict(watch.by_type)}


def _ceiling(settings: Settings, plan: CityPlan, workdir: Path, feed_records: int) -> dict:
    ceiling = Ceiling(settings, workdir, plan.workers).start()
    try:
        return ceiling.drain(feed_records, plan.ceiling_s)
    finally:
        ceiling.stop()


def _seed_feeds(settings: Settings, scale: str) -> int:
    """The reference data and one record per feed at least: stream time starts with them."""
    from kafka import KafkaProducer
    import orjson

    from sitaware.simulator.live import LiveCity

    city = LiveCity(city_scale(scale), tag="CTL")
    now = datetime.now(timezone.utc)
    ts = now.isoformat(timespec="milliseconds")
    producer = KafkaProducer(**settings.kafka_python_config(), acks=1, linger_ms=5)
    try:
        records = city.batch(0.0, ts, pings=min(len(city.units), 200), passes=20, alarms=0)
        for topic, key, value in [*city.reference_records(now), *records]:
            producer.send(settings.topic(topic), key=key.encode(), value=orjson.dumps(value))
        producer.flush()
    finally:
        producer.close(timeout=10)
    return len(records)


def _control(base: Settings, plan: CityPlan, partitions: int, workdir: Path) -> dict:
    settings = _fresh(base, "ctl", partitions, plan.feed_idle_s)
    try:
        workers = _start_workers(settings, plan, workdir)
        try:
            startup_s = wait_all_ready(workers, timeout=300)
            seeded = _seed_feeds(settings, plan.scale)
            probe = Probe(settings, workers)
            deadline = time.monotonic() + 120
            while probe.sample().records_in < seeded and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(plan.feed_idle_s + 2)  # every feed idle: stream time follows the clock
            admin = _admin(settings)
            try:
                before = snapshot(settings, admin, settings.topic_prefix)
                started = time.monotonic()
                time.sleep(plan.control_window_s)
                after = snapshot(settings, admin, settings.topic_prefix)
                seconds = time.monotonic() - started
            finally:
                admin.close()
        finally:
            for worker in workers:
                worker.stop()
    finally:
        delete_run_topics(settings)
    per_topic = {t.removeprefix(settings.topic_prefix): w["records"] / seconds
                 for t, w in written(before, after).items() if _internal(settings, t) and w["records"]}
    total = sum(per_topic.values())
    _log(f"idle pipeline, {partitions} partitions: {total:.1f} records/s on internal topics")
    return {"partitions": partitions, "records_per_s": total, "seconds": round(seconds, 1),
            "worker_startup_s": round(startup_s, 1), "per_topic": per_topic}


def run_city(settings: Settings, plan: CityPlan) -> dict:
    """Run the plan; return the raw measurements (report.build_city_report)."""
    started = time.monotonic()
    offer_s = 10.0 if plan.duration_s >= 60 else 2.0
    _log(f"the load process alone, as fast as it goes: 3 x {offer_s:.0f} s into throwaway topics")
    offer_rate = measure_offer_rate(settings, plan.scale, seconds=offer_s, partitions=plan.partitions, log=_log)
    _log(f"load offers {offer_rate['records_per_s']:,.0f} records/s (median of 3)")
    run_settings = _fresh(settings, "city", plan.partitions, plan.feed_idle_s)
    _log(f"run {plan.name} ({plan.scale}, {plan.duration_s:.0f} s) on topics {run_settings.topic_prefix}*, "
         f"{plan.partitions} partitions, {plan.workers} worker(s)")
    with tempfile.TemporaryDirectory(prefix="sitaware-bench-city-") as tmp:
        workdir = Path(tmp)
        try:
            measured = _pipeline(run_settings, plan, workdir)
            feeds = {run_settings.topic(f) for f in FEEDS}
            feed_records = sum(n for t, n in measured["after"].records.items() if t in feeds)
            _log(f"no-op faust ceiling: {plan.workers} process(es) draining {feed_records:,} feed records")
            ceiling = _ceiling(run_settings, plan, workdir, feed_records)
            _log(f"ceiling: {ceiling['events_per_s']:,.0f} events/s over {ceiling['seconds']} s")
        finally:
            _log(f"deleted {delete_run_topics(run_settings)} topics")
        control = [_control(settings, plan, p, workdir) for p in plan.control_partitions]
    return {**measured, "plan": replace(plan), "ceiling": ceiling, "control": control,
            "topic_prefix": run_settings.topic_prefix, "internal": _internal_names(run_settings, measured),
            "offer_rate": offer_rate, "elapsed_s": time.monotonic() - started}


def _internal_names(settings: Settings, measured: dict) -> dict[str, str]:
    """Each topic of the run: 'input' (feeds, reference data), 'internal' (written by the
    workers for themselves: internal topics, changelogs, rows) or 'output'."""
    from topics.specs import CHECKPOINTS, SUBSCRIPTIONS, WATCHLIST

    inputs = {settings.topic(f) for f in (*FEEDS, CHECKPOINTS, WATCHLIST, SUBSCRIPTIONS)}
    return {topic: "input" if topic in inputs else "internal" if _internal(settings, topic) else "output"
            for topic in measured["after"].records}
