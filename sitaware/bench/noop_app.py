"""The framework's ceiling: a faust app whose one agent iterates `stream.events()` over the
three input feeds and does nothing, run as processes of their own over a bench run's topics
(its own consumer group), timed draining the records the pipeline was offered.

    python -m sitaware.bench.noop_app --app-id ID --status FILE --datadir DIR   # SITAWARE_* settings

Every half second the process writes `<events> <first event's time> <latest event's time>`
(unix seconds) to FILE; `Ceiling` (the parent side) sums them over its processes. Consumer
settings are `CONSUMER_TUNING`, the same the bench gives the pipeline's workers (through
faust's environment variables, `TUNING_ENV`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sitaware.settings import Settings

__all__ = ["CONSUMER_TUNING", "TUNING_ENV", "Ceiling"]

CONSUMER_TUNING = {"stream_buffer_maxsize": 65536, "broker_max_poll_records": 5000,
                   "consumer_max_fetch_size": 4 * 1024 * 1024}
# faust reads each of its settings from the environment variable of its upper-cased name,
# over what the app passes: the pipeline gets the tuning without a change in streams/.
TUNING_ENV = {name.upper(): str(value) for name, value in CONSUMER_TUNING.items()}


def _app(settings: Settings, app_id: str, datadir: Path, status: Path):
    import faust

    from streams.worker import faust_worker
    from topics.specs import ALARMS, CHECKPOINT_PASSES, PATROL_GPS

    app = faust.App(app_id,
                    **settings.faust_broker_config(), store="memory://", datadir=str(datadir),
                    topic_partitions=settings.topic_partitions, key_serializer="raw", value_serializer="raw",
                    consumer_auto_offset_reset="earliest", web_enabled=False, autodiscover=False,
                    topic_allow_declare=False, **CONSUMER_TUNING)
    feeds = app.topic(*(settings.topic(t) for t in (ALARMS, PATROL_GPS, CHECKPOINT_PASSES)))
    progress = [0, 0.0, 0.0]  # events, wall time of the first and of the latest

    @app.agent(feeds)
    async def noop(stream):
        clock = time.time
        async for _ in stream.events():
            if not progress[0]:
                progress[1] = clock()
            progress[0] += 1
            progress[2] = clock()

    @app.timer(0.5)
    async def report():
        partial = status.with_suffix(".tmp")
        partial.write_text("{} {} {}\n".format(*progress))
        partial.replace(status)

    return faust_worker(app, "warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-id", required=True, help="the consumer group (shared by the processes)")
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--datadir", type=Path, required=True)
    args = parser.parse_args()
    sys.argv = sys.argv[:1]  # faust's worker reads no arguments of ours
    _app(Settings(), args.app_id, args.datadir, args.status).execute_from_commandline()


class Ceiling:
    """N no-op processes in one group (a group id of their own per run) over the feeds."""

    def __init__(self, settings: Settings, workdir: Path, processes: int):
        self.settings, self.workdir, self.count = settings, workdir, processes
        self.procs: list[subprocess.Popen] = []
        self.status = [workdir / f"noop-{n}.status" for n in range(processes)]
        self.app_id = f"{settings.topic_prefix}noop-ceiling-{uuid.uuid4().hex[:6]}"  # a fresh group

    def start(self) -> "Ceiling":
        env = {**os.environ, **self.settings.as_env()}
        for n, status in enumerate(self.status):
            with open(self.workdir / f"noop-{n}.log", "ab") as log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "sitaware.bench.noop_app", "--app-id", self.app_id, "--status", str(status),
                     "--datadir", str(self.workdir / f"noop-{n}")], env=env, stdout=log, stderr=subprocess.STDOUT))
        return self

    def progress(self) -> tuple[int, float, float]:
        """(events counted by all processes, wall time of the first one, of the latest one)."""
        total, first, latest = 0, float("inf"), 0.0
        for n, (proc, status) in enumerate(zip(self.procs, self.status)):
            if proc.poll() is not None:
                tail = (self.workdir / f"noop-{n}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"no-op ceiling process exited ({proc.returncode}):\n{tail}")
            try:
                count, first_at, latest_at = status.read_text().split()
            except (OSError, ValueError):
                continue
            if int(count):
                total += int(count)
                first, latest = min(first, float(first_at)), max(latest, float(latest_at))
        return total, first, latest

    def drain(self, records: int, max_seconds: float, startup_timeout: float = 120.0) -> dict:
        """Events/s from the first event any process read to the latest, once `records` are
        counted or `max_seconds` after the first event."""
        started = time.monotonic()
        while True:
            count, first, latest = self.progress()
            if count >= records or (count and time.time() - first >= max_seconds):
                break
            if not count and time.monotonic() - started > startup_timeout:
                raise RuntimeError(f"the no-op ceiling read nothing in {startup_timeout:.0f} s")
            time.sleep(0.25)
        seconds = latest - first
        return {"events": count, "available": records, "seconds": round(seconds, 3), "processes": self.count,
                "events_per_s": (count - 1) / seconds if seconds > 0 else 0.0, "settings": CONSUMER_TUNING}

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
