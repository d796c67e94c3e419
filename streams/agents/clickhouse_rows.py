"""ClickHouse sink agent: batches rows from `<app>-clickhouse-rows` into inserts per table.

Rows reach this topic as sends tied to their source events (Faust flushes them before it
commits the source offsets), and this agent acks a batch only after ClickHouse took it:
`take()` acks in its `finally`, so the insert retries inside the loop until it succeeds.
While ClickHouse is down the agent blocks, the stream buffer fills and Faust stops
fetching: memory stays bounded by the batch and the buffer.
"""

from __future__ import annotations

from collections import defaultdict

import orjson

from sinks.clickhouse.sink import ClickHouseSink, PermanentInsertError
from streams.metrics import SINK_RECORDS
from topics.codec import Rejection

__all__ = ["register", "BATCH_ROWS", "BATCH_SECONDS"]

BATCH_ROWS = 1000
BATCH_SECONDS = 1.0


def register(pipeline) -> None:
    app = pipeline.app
    sink = ClickHouseSink(pipeline.settings)

    @app.agent(pipeline.clickhouse_rows, name="clickhouse-sink")
    async def clickhouse_sink(stream):
        async for events in stream.take_events(BATCH_ROWS, within=BATCH_SECONDS):
            by_table: dict[str, list[dict]] = defaultdict(list)
            for event in events:
                value = orjson.loads(event.message.value)
                by_table[value["table"]].append(value["row"])
            for table, rows in by_table.items():
                try:
                    await sink.insert(table, rows)
                except PermanentInsertError as exc:
                    # One bad row must not block the rest: insert row by row, dead-letter
                    # the ones ClickHouse refuses.
                    app.log.error("insert into %s refused: %s; retrying row by row", table, exc)
                    for event in events:
                        value = orjson.loads(event.message.value)
                        if value["table"] != table:
                            continue
                        try:
                            await sink.insert(table, [value["row"]])
                        except PermanentInsertError as row_exc:
                            await pipeline.dead_letters.send(
                                key=event.message.key, value=event.message.value,
                                headers=_headers(event, Rejection("process", "PermanentInsertError", str(row_exc)[:300])),
                            )
            SINK_RECORDS.inc(len(events))  # all handled: take() acks them when this body ends

    app.sink = sink


def _headers(event, rejection):
    from streams.deadletters import dead_letter_headers

    m = event.message
    return dead_letter_headers(m.topic, m.partition, m.offset, rejection)
