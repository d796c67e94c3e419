"""The open-loop load generator: a process of its own that replays the simulated city's
records at a fixed offered rate (or as fast as it can), with every `ts` rewritten to the
wall clock at send time so that the pipeline's stream time tracks wall time.

Open loop: record i of a step is due at start + i / rate whatever the pipeline does; a
producer that falls behind catches up without waiting. The records come from a pool
generated once (a fixed seed, a city scale made for benchmarks) and replayed lap after
lap; from the second lap on, alarm and pass ids get a `.<lap>` suffix so every alarm is
new to the pipeline. The parent drives it through a pipe:

    load = LoadGenerator(settings, scale="bench", pool_minutes=20).start()
    load.wait_ready()           # the pool is generated
    load.reference()            # checkpoints and watchlist, once
    load.begin(rate=500, seconds=30); ...; step = load.result()   # rate None: max rate
    load.stop()
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import orjson

from sitaware.settings import Settings
from sitaware.simulator import DEFAULT_START, CitySimulation, CityScale, SimulationConfig
from topics.specs import ALARMS

__all__ = ["BENCH_SCALES", "LoadGenerator", "LoadStep", "Replay", "build_pool"]

# Alarm-rich cities: GPS pings still dominate (as in the `city` scale) but one record in a
# few hundred is a received alarm, enough for latency percentiles in a short step.
BENCH_SCALES = {
    # ~50 records/s of event time (500 units, 12 checkpoints; 0.7 % received alarms, as
    # many as the simulator places where a unit can cover them). Replayed at up to ~4x
    # slower than that, pings stay fresher than the 2 minutes a recommendation needs.
    "bench": CityScale("bench", 500, 12, 12000, 20.0, 30),
    # ~25 records/s: for the smoke run's tiny rates (pings stay fresh at ~1x).
    "bench-small": CityScale("bench-small", 200, 5, 6000, 4.0, 10),
}
_ID_FIELDS = ("alarm_id", "pass_id")
_BATCH = 200  # records sent with one `ts` string before the clock is read again


def build_pool(scale: str, seed: int, minutes: float):
    """(reference records, feed records) of one simulated run (background city only)."""
    config = SimulationConfig(seed=seed, start=DEFAULT_START, duration=timedelta(minutes=minutes),
                              scale=BENCH_SCALES[scale], scenario="none", sign_off_at_end=False)
    reference, feed = [], []
    for t, record in CitySimulation(config).timed_records():
        (reference if t is None else feed).append(record)
    return reference, feed


def _now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Replay:
    """Feed records lap after lap, ids suffixed from the second lap, `ts` given per send."""

    def __init__(self, records, prefix: str):
        if not records:
            raise ValueError("empty record pool")
        self.records, self.prefix = records, prefix
        self.index, self.lap = 0, 0
        # The entities the worker keeps state for, as sent so far: units, alarms,
        # checkpoints (the feeds' keys) and plates (the plate agent's key).
        self.active: set[str] = set()

    def next(self, ts: str) -> tuple[str, bytes, bytes, str | None]:
        """(topic, key, value, alarm_id if a received alarm)."""
        record = self.records[self.index]
        value, key = {**record.value, "ts": ts}, record.key
        if self.lap:
            for name in _ID_FIELDS:
                if name in value:
                    value[name] = f"{value[name]}.{self.lap}"
            if record.topic == ALARMS:
                key = value["alarm_id"]
        self.active.add(f"{record.topic}:{key}")
        if "plate" in value:
            self.active.add(f"plate:{value['plate']}")
        self.index += 1
        if self.index == len(self.records):
            self.index, self.lap = 0, self.lap + 1
        received = value["alarm_id"] if record.topic == ALARMS and value.get("status") == "received" else None
        return self.prefix + record.topic, key.encode(), orjson.dumps(value), received


@dataclass
class LoadStep:
    rate: float | None  # offered records/s; None: as fast as possible
    seconds: float
    sent: int = 0
    started_at: float = 0.0  # wall clock (time.time())
    ended_at: float = 0.0
    alarms: dict[str, float] = field(default_factory=dict)  # received alarm_id -> produce time
    active_keys: int = 0  # distinct units, alarms, checkpoints and plates sent since the run began

    @property
    def achieved_rate(self) -> float:
        return self.sent / max(self.ended_at - self.started_at, 1e-9)


def _shift_expiry(value: dict, offset: timedelta) -> dict:
    # Watch-list expiries are relative to the pool's start; keep them relative to now.
    if value.get("expires_at"):
        value = {**value, "expires_at": (datetime.fromisoformat(value["expires_at"]) + offset).isoformat()}
    return value


class _Sender:
    """The child side: owns the pool and a Kafka producer."""

    def __init__(self, kafka: dict, prefix: str, scale: str, seed: int, minutes: float):
        from kafka import KafkaProducer

        self.prefix = prefix
        self.reference, feed = build_pool(scale, seed, minutes)
        self.replay = Replay(feed, prefix)
        self.producer = KafkaProducer(**kafka, client_id="sitaware-bench-load",
                                      acks=1, linger_ms=5, batch_size=256 * 1024)

    def send_reference(self) -> int:
        offset = datetime.now(timezone.utc) - DEFAULT_START
        for record in self.reference:
            value = orjson.dumps(_shift_expiry(record.value, offset))
            self.producer.send(self.prefix + record.topic, key=record.key.encode(), value=value)
        self.producer.flush()
        return len(self.reference)

    def offer(self, rate: float | None, seconds: float) -> LoadStep:
        step = LoadStep(rate, seconds, started_at=time.time())
        send, replay, alarms = self.producer.send, self.replay, step.alarms
        t0 = time.monotonic()
        end, sent = t0 + seconds, 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - t0) * rate) if rate else sent + _BATCH
            if due <= sent:
                time.sleep(max(0.0, min((sent + 1) / rate - (now - t0), 0.005)))
                continue
            ts, wall = _now_rfc3339(), time.time()
            for _ in range(min(due - sent, _BATCH)):
                topic, key, value, alarm_id = replay.next(ts)
                send(topic, key=key, value=value)
                if alarm_id:
                    alarms[alarm_id] = wall
                sent += 1
        self.producer.flush()
        step.sent, step.ended_at, step.active_keys = sent, time.time(), len(replay.active)
        return step

    def close(self) -> None:
        self.producer.close(timeout=10)


def _serve(conn, kafka, prefix, scale, seed, minutes) -> None:
    try:
        sender = _Sender(kafka, prefix, scale, seed, minutes)
    except Exception as exc:  # reported to the parent, which ends the run
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"pool_records": len(sender.replay.records), "reference_records": len(sender.reference)}))
    try:
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "reference":
                conn.send(("ok", sender.send_reference()))
            elif command == "offer":
                conn.send(("ok", sender.offer(*args)))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()


class LoadGenerator:
    """The parent side of the load process."""

    def __init__(self, settings: Settings, scale: str = "bench", pool_minutes: float = 20, seed: int = 7):
        self.settings, self.scale, self.pool_minutes, self.seed = settings, scale, pool_minutes, seed
        self._conn = None
        self._process = None

    def _child(self) -> tuple:
        """The child's function and its arguments (after the pipe's end)."""
        return _serve, (self.settings.kafka_python_config(), self.settings.topic_prefix,
                        self.scale, self.seed, self.pool_minutes)

    def start(self) -> "LoadGenerator":
        # spawn, not fork: the parent has Kafka client threads.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        target, args = self._child()
        self._process = context.Process(target=target, name="sitaware-bench-load", daemon=True,
                                        args=(child, *args))
        self._process.start()
        return self

    def _answer(self, timeout: float):
        if not self._conn.poll(timeout):
            raise RuntimeError(f"the load generator did not answer within {timeout:.0f} s")
        kind, payload = self._conn.recv()
        if kind == "error":
            raise RuntimeError(f"load generator failed: {payload}")
        return payload

    def wait_ready(self, timeout: float = 120) -> dict:
        return self._answer(timeout)

    def reference(self) -> int:
        self._conn.send(("reference",))
        return self._answer(60)

    def begin(self, rate: float | None, seconds: float) -> None:
        self._conn.send(("offer", rate, seconds))

    def result(self, timeout: float = 120) -> LoadStep:
        return self._answer(timeout)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            self._conn.send(("stop",))
        except OSError:
            pass
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        self._process = None
