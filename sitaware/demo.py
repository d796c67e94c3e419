"""`sitaware demo` (the README's main job): stack, a worker, a simulated city, the API and
its map page, and a live view in the terminal.

The worker and the simulator run as child processes with the stack's settings; the live
view (`sitaware tail`) runs in the foreground. Ctrl-C stops all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import urllib.request
import subprocess
import sys
import time
from datetime import datetime, timezone

from sitaware.settings import Settings

__all__ = ["run_demo"]


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    from sitaware.smoke import smoke_round_trip
    from sitaware.stack.local import LocalStack

    stack = LocalStack(settings, log=lambda m: print(m, file=sys.stderr))
    stack.up()
    service = stack.service_settings()
    smoke_round_trip(service, service.clickhouse_reader_password.get_secret_value(),
                     log=lambda m: print(m, file=sys.stderr))
    if args.smoke:
        return 0
    if not service.topic_prefix:
        service = demo_topics(service)
        print(f"demo topics: {service.topic_prefix}* (SITAWARE_TOPIC_PREFIX={service.topic_prefix} "
              "to read them from another terminal; removed by the next demo)", file=sys.stderr)
    env = {**os.environ, **service.as_env()}
    logs = settings.stack_dir / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "sitaware.cli"]
    children = [
        subprocess.Popen(cli + ["worker"], env=env, stdout=open(logs / "worker.log", "ab"),
                         stderr=subprocess.STDOUT),
    ]
    _wait_for_worker(settings.worker_web_port, children[0])
    children.append(subprocess.Popen(
        # A seed of its own: a plate of an earlier demo run seen again now, at another
        # checkpoint, would be a (true) cloned plate on the shared topics.
        cli + ["simulate", "--scale", args.scale, "--speed", str(args.speed), "--duration", args.duration,
               "--start", replay_start(args.duration, args.speed).isoformat(timespec="seconds"),
               "--seed", str(random.randrange(1 << 30)), "--truth", str(logs / "truth.json")],
        env=env, stdout=open(logs / "simulate.log", "ab"), stderr=subprocess.STDOUT,
    ))
    # The command-center map: a fresh admin token for this run (only its hash is stored).
    from sitaware.api.auth import create_token

    tokens = logs / "tokens.json"
    tokens.unlink(missing_ok=True)
    token = create_token(tokens, "demo", "admin", [])
    children.append(subprocess.Popen(
        cli + ["api"], env={**env, "SITAWARE_API_TOKENS_FILE": str(tokens)},
        stdout=open(logs / "api.log", "ab"), stderr=subprocess.STDOUT,
    ))
    print(f"worker, simulator and API running (logs in {logs}); situations follow. Ctrl-C to stop.\n"
          f"map: http://{settings.api_bind}:{settings.api_port}/?token={token}", file=sys.stderr)
    try:
        return subprocess.call(cli + ["tail"], env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


DEMO_PREFIX = "demo-"


def demo_topics(settings: Settings) -> Settings:
    """Topics of this run's own, and those of earlier demo runs removed.

    A run replayed from the past (see `replay_start`) on the topics of an earlier run would
    start behind the stream time that run reached: a worker seeds stream time from the
    feeds' last records, so the new city would be late from its first record. Each demo
    therefore runs on fresh topics under a prefix of its own (and its own consumer group).
    """
    import shutil

    from kafka import KafkaAdminClient

    from topics.admin import delete_topics_with_prefix, ensure_topics
    from topics.specs import contract_topics

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    run = settings.model_copy(update={"topic_prefix": f"{DEMO_PREFIX}{stamp}-{random.randrange(16 ** 4):04x}."})
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        delete_topics_with_prefix(admin, DEMO_PREFIX)
        ensure_topics(admin, contract_topics(run), run.topic_replication)
    finally:
        admin.close()
    workers = settings.stack_dir / "worker"
    for state in workers.glob(f"{DEMO_PREFIX}*") if workers.is_dir() else ():
        shutil.rmtree(state, ignore_errors=True)  # table state of an earlier demo's app
    return run


def replay_start(duration: str, speed: float, now: datetime | None = None) -> datetime:
    """The event time a run at `speed` starts at so that it ends at the wall clock.

    Faster than real time, event time gains (speed - 1) s on the wall clock every second; a
    city started at now would run minutes into the future, where the worker refuses its
    records (`SITAWARE_MAX_AHEAD_S`). Started this far in the past, its event time stays at
    or behind the wall clock and reaches it when the run ends.
    """
    from sitaware.simulator.config import parse_duration

    simulated = parse_duration(duration)
    now = now or datetime.now(timezone.utc)
    if speed <= 1:
        return now  # a live city: event time never runs ahead
    return now - simulated + simulated / speed


def _wait_for_worker(port: int, worker: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the worker's /health says it owns partitions (so the feed is not ahead of it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if json.loads(r.read()).get("assigned_partitions"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
