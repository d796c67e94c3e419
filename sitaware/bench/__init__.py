"""`sitaware bench`: throughput, end-to-end latency, memory and ClickHouse sink speed of
the pipeline on the real stack, against bare aiokafka and clickhouse-driver baselines.

    command   the CLI command (`register`)
    runner    one run: topics, workers, load steps, baselines, clean-up
    load      the open-loop load generator process
    measure   /metrics, /proc and situations-topic measurements
    baselines bare consume and bare insert
    report    JSON, table and PNG plot (png: a tiny dependency-free PNG canvas)

    city_run    `--city`: the large city live, the no-op faust ceiling, idle control traffic
    city_load   the large-city load process (simulator/live_producer.py) and its offer rate
    noop_app    the no-op faust agent over the feeds (the framework's ceiling)
    offsets     records and bytes per topic from the broker, before and after
    city_report the `--city` report
"""

from .command import register

__all__ = ["register"]
