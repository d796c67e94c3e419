"""`sitaware bench`: throughput, end-to-end latency, memory and ClickHouse sink speed of
the pipeline on the real stack, against bare aiokafka and clickhouse-driver baselines.

    command   the CLI command (`register`)
    runner    one run: topics, workers, load steps, baselines, clean-up
    load      the open-loop load generator process
    measure   /metrics, /proc and situations-topic measurements
    baselines bare consume and bare insert
    report    JSON, table and PNG plot (png: a tiny dependency-free PNG canvas)
"""

from .command import register

__all__ = ["register"]
