"""The large-city run's report (`sitaware bench --city`): JSON figures and a readable table.
Field meanings: /tmp/notes-bench.md (for the README) and `build_city_report` below."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timezone

from .measure import percentile

__all__ = ["build_city_report", "render_city_table", "CITY_REQUIRED_KEYS"]

# Present and finite in every run, the smoke run included (tests/test_bench_smoke.py).
CITY_REQUIRED_KEYS = (
    "load_offer_records_per_s", "offered_events_per_s", "pipeline_events_per_s", "records_in",
    "records_out_per_record_in", "changelog_bytes_per_record_in", "worker_cpu_s_per_1k_records",
    "rss_mb_after_10_min", "control_records_per_s", "faust_ceiling_events_per_s", "ratio_vs_faust_ceiling",
    "p50_latency_ms", "p99_latency_ms", "alarms_received", "alarms_with_recommendation",
)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _throughput(samples, first, warmup_s: float) -> tuple[float, float]:
    """(feed records/s read by the workers after the warm-up, the window's seconds)."""
    inside = [s for s in samples if s.t >= first.t + warmup_s] or samples
    a, b = inside[0], samples[-1]
    if b.t - a.t <= 0:
        a = first
    span = b.t - a.t
    return _ratio(b.records_in - a.records_in, span), span


def build_city_report(raw: dict, machine: dict) -> dict:
    plan, first, last, offered = raw["plan"], raw["first"], raw["last"], raw["offered"]
    records_in = last.records_in - first.records_in
    consumed, window_s = _throughput(raw["samples"], first, plan.warmup_s)
    prefix, kinds = raw["topic_prefix"], raw["internal"]
    topics = {}
    for topic, counts in _written(raw).items():
        name = topic.removeprefix(prefix)
        topics[name] = {"kind": kinds.get(topic, "output"), **counts,
                        "records_per_record_in": _ratio(counts["records"], records_in),
                        "bytes_per_record_in": _ratio(counts["bytes"], records_in)}
    internal = {n: t for n, t in topics.items() if t["kind"] == "internal"}
    changelog_bytes = sum(t["bytes"] for n, t in internal.items() if n.endswith("-changelog"))
    found = raw["latencies_ms"]
    control = {str(c["partitions"]): c["records_per_s"] for c in raw["control"]}
    ceiling = raw["ceiling"]["events_per_s"]
    seconds = offered.ended_at - offered.started_at
    return {
        "mode": plan.name,
        "load_offer_records_per_s": raw["offer_rate"]["records_per_s"],
        "offered_events_per_s": _ratio(offered.total, seconds),
        "offered_per_topic": offered.sent,
        "pipeline_events_per_s": consumed,
        "pipeline_events_per_s_basis": f"feed records read by the workers per second, the last {window_s:.0f} s "
                                       f"of the load (after {plan.warmup_s:.0f} s of warm-up)",
        "records_in": records_in,
        "feed_lag_at_end": last.lag_feeds,
        "records_out_per_record_in": _ratio(sum(t["records"] for t in internal.values()), records_in),
        "changelog_bytes_per_record_in": _ratio(changelog_bytes, records_in),
        "topics": topics,
        "worker_cpu_s_per_1k_records": _ratio(1000 * (last.cpu_s - first.cpu_s), records_in),
        "worker_cores": _ratio(last.cpu_s - first.cpu_s, last.t - first.t),
        "rss_mb_after_10_min": last.rss_mb,
        "rss_measured_after_s": round(last.t - first.t),
        "peak_rss_mb": last.peak_rss_mb,
        "control_records_per_s": raw["control"][0]["records_per_s"] if raw["control"] else 0.0,
        "control_records_per_s_by_partitions": control,
        "control": raw["control"],
        "faust_ceiling_events_per_s": ceiling,
        "ratio_vs_faust_ceiling": _ratio(consumed, ceiling),
        "faust_ceiling": raw["ceiling"],
        "p50_latency_ms": percentile(found, 50),
        "p99_latency_ms": percentile(found, 99),
        "alarms_received": len(offered.alarms),
        "alarms_with_recommendation": len(found),
        "load_failures": offered.failed,
        "situations_seen": raw["situations"],
        "run": {"plan": asdict(plan), "topic_prefix": prefix, "worker_startup_s": raw["startup_s"],
                "city": raw["city"], "offer_rate": raw["offer_rate"], "worker_settings": _worker_settings(plan),
                "elapsed_s": raw["elapsed_s"], "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
        "machine": machine,
    }


def _written(raw: dict) -> dict:
    from .offsets import written

    return written(raw["before"], raw["after"])


def _worker_settings(plan) -> dict:
    from .noop_app import CONSUMER_TUNING

    return CONSUMER_TUNING if plan.tuned else {}


def _fmt(value, unit: str = "", digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}{unit}"


def render_city_table(r: dict) -> str:
    control = ", ".join(f"P={p}: {v:,.1f}/s" for p, v in r["control_records_per_s_by_partitions"].items())
    rows = [
        ("load process alone (median of 3)", _fmt(r["load_offer_records_per_s"], " records/s")),
        ("offered (live, event time = now)", _fmt(r["offered_events_per_s"], " records/s")),
        ("pipeline read", _fmt(r["pipeline_events_per_s"], " events/s")),
        ("no-op faust ceiling", _fmt(r["faust_ceiling_events_per_s"], " events/s")),
        ("ratio vs faust ceiling", _fmt(r["ratio_vs_faust_ceiling"], "", 3)),
        ("records out per record in", _fmt(r["records_out_per_record_in"], " (internal, changelogs, rows)", 2)),
        ("changelog bytes per record in", _fmt(r["changelog_bytes_per_record_in"], " B")),
        ("worker CPU per 1,000 records", _fmt(r["worker_cpu_s_per_1k_records"], " s", 3)),
        (f"RSS after {r['rss_measured_after_s']} s", _fmt(r["rss_mb_after_10_min"], " MB")),
        ("control records, feeds idle", control or "-"),
        ("alarm -> dispatch_recommendation", f"p50 {_fmt(r['p50_latency_ms'], ' ms')}, p99 "
         f"{_fmt(r['p99_latency_ms'], ' ms')} ({r['alarms_with_recommendation']} of {r['alarms_received']} alarms)"),
        ("feed lag at the end", _fmt(r["feed_lag_at_end"], " records")),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    lines += ["", f"{'topic':<44} {'kind':<8} {'records':>10} {'per in':>7} {'bytes/in':>9}"]
    for name, t in sorted(r["topics"].items(), key=lambda item: (item[1]["kind"], item[0])):
        if t["records"]:
            lines.append(f"{name[-44:]:<44} {t['kind']:<8} {t['records']:>10,} {t['records_per_record_in']:>7.3f} "
                         f"{t['bytes_per_record_in']:>9.1f}")
    m = r["machine"]
    lines += ["", f"{m.get('cores')} cores ({m.get('cpu', '?')}), load average at start "
                  f"{m['load_average'][0]:.2f}; {r['run']['date']}, {r['run']['elapsed_s']:.0f} s"]
    return "\n".join(lines)
