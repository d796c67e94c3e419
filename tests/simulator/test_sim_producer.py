"""run_simulation end to end against a stand-in for the broker (the network boundary)."""

from __future__ import annotations

import argparse
import io
import json

import pytest

import sitaware.simulator.producer as producer_module
from sitaware.progress import ProgressBar
from sitaware.settings import Settings
from sitaware.simulator import SCALES, Pacer, add_simulate_arguments, load_records, run_simulation, simulate_command
from sitaware.simulator.config import DEFAULT_START


class _Future:
    def add_errback(self, callback):
        return self


class FakeProducer:
    def __init__(self):
        self.sent: list[tuple[str, str, dict]] = []
        self.flushed = self.closed = False

    def send(self, topic, key=None, value=None):
        self.sent.append((topic, key, value))
        return _Future()

    def flush(self):
        self.flushed = True

    def close(self):
        self.closed = True


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


@pytest.fixture
def settings() -> Settings:
    return Settings(topic_prefix="t1.", _env_file=None)


def test_a_run_sends_every_record_and_writes_truth_progress_and_jsonl(tmp_path, settings, run_all):
    sink, clock, progress = FakeProducer(), FakeClock(), io.StringIO()
    truth = run_simulation(settings, seed=7, speed=0, duration="30m", scenario="all", output_dir=tmp_path,
                           scale="small", producer=sink, progress=progress, clock=clock, sleep=clock.sleep)
    assert [(t, k, v) for t, k, v in sink.sent] == [("t1." + r.topic, r.key, r.value) for r in run_all.records]
    assert sink.flushed and not sink.closed  # a producer passed in stays the caller's
    assert clock.slept == 0
    written = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert written == truth == run_all.truth
    assert set(written) >= {"seed", "start", "end", "scenario", "injections", "counts"}
    as_text = lambda records: sorted(json.dumps(list(r), ensure_ascii=False) for r in records)  # noqa: E731
    assert as_text(load_records(tmp_path)) == as_text(run_all.records)
    lines = progress.getvalue().splitlines()
    assert lines[0].startswith("[          ]   0% ") and lines[-1] == (
        f"[##########] 100% {len(run_all.records)} records 08:30 sim-time")
    assert len(lines) == 11  # one line per tenth off a terminal


def test_pacing_runs_event_time_speed_times_faster_than_the_wall(tmp_path, settings):
    sink, clock = FakeProducer(), FakeClock()
    run_simulation(settings, seed=1, speed=60, duration="10m", scenario="none", scale="small",
                   truth_path=tmp_path / "t.json", producer=sink, progress=None, clock=clock, sleep=clock.sleep)
    assert 9.7 <= clock.slept <= 10.0  # 10 simulated minutes at 60x: 10 s of wall time
    assert (tmp_path / "t.json").exists()


def test_a_pacer_never_sends_early_and_never_waits_when_behind():
    clock = FakeClock()
    pacer = Pacer(2.0, clock, clock.sleep)
    pacer.wait(0)
    pacer.wait(4000)  # 4 s of event time at 2x: due 2 s after the start
    assert clock.now == 102.0
    clock.now += 10  # the producer fell behind
    pacer.wait(6000)
    assert clock.now == 112.0
    assert Pacer(float("inf"), clock, clock.sleep).unpaced and Pacer(0, clock, clock.sleep).unpaced


def test_progress_on_a_terminal_redraws_one_line():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, clock = Tty(), FakeClock()
    bar = ProgressBar(out, DEFAULT_START, 60_000, clock=clock)
    bar.update(31_200, 3120)
    bar.update(40_000, 4000)  # within 0.2 s: not redrawn
    bar.finish(60_000, 6000)
    assert out.getvalue() == ("\r[#####     ]  52% 3120 records 08:00 sim-time"
                              "\r[##########] 100% 6000 records 08:01 sim-time\n")


def test_the_cli_arguments_drive_run_simulation(tmp_path, settings, monkeypatch, capsys):
    sink = FakeProducer()
    monkeypatch.setattr(producer_module, "_kafka_producer", lambda _settings: sink)
    parser = add_simulate_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--seed", "3", "--speed", "inf", "--duration", "20m", "--scenario", "checkpoints",
                              "--scale", "small", "--start", "2026-03-02T20:00:00+08:00",
                              "--truth", str(tmp_path / "truth.json")])
    assert simulate_command(args, settings) == 0
    assert sink.closed and sink.sent
    truth = json.loads((tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert truth["start"] == "2026-03-02T20:00:00.000+08:00" and truth["scenario"] == "checkpoints"
    assert "expected situations" in capsys.readouterr().out


def test_live_mode_starts_now():
    from datetime import datetime, timezone

    start = producer_module.resolve_start("now")
    assert abs((datetime.now(timezone.utc) - start).total_seconds()) < 5
    assert start.utcoffset().total_seconds() == 8 * 3600


def test_the_scale_help_is_generated_from_the_scales_themselves():
    parser = add_simulate_arguments(argparse.ArgumentParser())
    scale = next(a for a in parser._actions if a.dest == "scale")
    assert list(scale.choices) == list(SCALES)
    for preset in SCALES.values():
        assert preset.describe() in scale.help
        assert f"{preset.units:,} units" in preset.describe()
