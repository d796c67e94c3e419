"""The rows bound for ClickHouse stay in Kafka at least as long as the input feeds, so a
`sitaware rebuild` reaches as far back as a replay would."""

from __future__ import annotations

from datetime import timedelta

from sitaware.settings import load_settings
from streams.app import create_pipeline
from topics import specs


def test_the_worker_declares_its_rows_topic_with_the_feeds_retention(tmp_path):
    month = 30 * 24
    settings = load_settings(topic_prefix="retention.", app_id=None, feed_retention_hours=month)
    pipeline = create_pipeline(settings, datadir=tmp_path, store="memory://", web_enabled=False)
    declared = {spec.name: int(spec.configs["retention.ms"]) for spec in pipeline.internal_specs}
    rows = specs.internal_topic_name(settings, specs.CLICKHOUSE_ROWS)
    assert rows == "retention.sitaware-clickhouse-rows" == pipeline.clickhouse_rows.get_topic_name()
    assert declared[rows] == month * 3_600_000
    assert pipeline.clickhouse_rows.retention == timedelta(hours=month)
    # The others keep their week; the rows topic never less than that either.
    assert {v for k, v in declared.items() if k != rows} == {7 * 24 * 3_600_000}
    short = settings.model_copy(update={"feed_retention_hours": 24})
    assert specs.internal_retention_ms(short, specs.CLICKHOUSE_ROWS) == 7 * 24 * 3_600_000
