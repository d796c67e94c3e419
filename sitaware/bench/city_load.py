"""The large-city load as a process of its own: `sitaware.simulator.live_producer.LiveLoad`
(aiokafka, batched, orjson) driven through a pipe like the replay load (`load.LoadGenerator`).

    load = CityLoad(settings, "metro").start(); load.wait_ready(); load.reference()
    load.begin(seconds=600); ...; result = load.result()   # an OfferResult; pace 0: max rate

`measure_offer_rate` times the process alone, as fast as it goes, into a throwaway topic
prefix (the median of three runs): the load must offer far more than the city's peak, or a
bench would measure the load instead of the pipeline.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid

from sitaware.settings import Settings
from sitaware.simulator import SCALES

from .load import BENCH_SCALES, LoadGenerator

__all__ = ["CityLoad", "measure_offer_rate", "city_scale"]


def city_scale(name: str):
    """A simulator scale, or a bench scale (the smoke run's small city)."""
    return SCALES.get(name) or BENCH_SCALES[name]


def _serve(conn, settings: Settings, scale: str, seed: int) -> None:
    from sitaware.simulator.live_producer import LiveLoad

    loop = asyncio.new_event_loop()
    try:
        load = loop.run_until_complete(LiveLoad(settings, city_scale(scale), seed).start())
    except Exception as exc:  # reported to the parent, which ends the run
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    city = load.city
    conn.send(("ready", {"units": len(city.units), "checkpoints": len(city.city.checkpoints),
                         "watchlist": len(city.watchlist), "rates": city.rates}))
    try:
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "reference":
                conn.send(("ok", loop.run_until_complete(load.reference())))
            elif command == "offer":
                conn.send(("ok", loop.run_until_complete(load.offer(*args))))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        loop.run_until_complete(load.stop())
        loop.close()


class CityLoad(LoadGenerator):
    """The parent side: same pipe protocol as the replay load, `begin(seconds, pace)`."""

    def __init__(self, settings: Settings, scale: str = "metro", seed: int = 7):
        super().__init__(settings, scale=scale, seed=seed)

    def _child(self) -> tuple:
        return _serve, (self.settings, self.scale, self.seed)

    def begin(self, seconds: float, pace: float = 1.0) -> None:  # type: ignore[override]
        self._conn.send(("offer", seconds, pace))


def measure_offer_rate(settings: Settings, scale: str = "metro", seconds: float = 10.0, runs: int = 3,
                       partitions: int = 8, log=lambda message: None) -> dict:
    """Records/s the load process offers as fast as it can, into fresh topics that are deleted
    afterwards: every run's rate and their median."""
    from kafka import KafkaAdminClient

    from topics.admin import ensure_topics
    from topics.specs import contract_topics

    settings = settings.model_copy(update={"topic_prefix": f"offer{uuid.uuid4().hex[:8]}.",
                                           "topic_partitions": partitions})
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        ensure_topics(admin, contract_topics(settings), settings.topic_replication)
        load = CityLoad(settings, scale).start()
        try:
            load.wait_ready()
            load.reference()
            rates = []
            for n in range(runs):
                load.begin(seconds, pace=0.0)
                result = load.result(timeout=seconds + 120)
                if result.failed:
                    raise RuntimeError(f"{result.failed} records not delivered: {result.first_failure}")
                rates.append(result.records_per_s)
                log(f"offer run {n + 1}: {result.total} records, {result.records_per_s:,.0f}/s")
        finally:
            load.stop()
    finally:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        admin.close()
    return {"records_per_s": statistics.median(rates), "runs": rates, "seconds": seconds,
            "partitions": partitions, "scale": scale}
