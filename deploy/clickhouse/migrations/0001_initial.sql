-- sitaware ClickHouse schema, version 1 (docs/surface.md, "ClickHouse tables").
--
-- Portable subset: runs on ClickHouse 18.16 (Debian) and on current ClickHouse.
-- Exactness under at-least-once delivery comes from the table design, not from insert
-- deduplication (absent on 18.16): every row is keyed by its identity and carries a
-- version that only grows, so duplicates and replays collapse under FINAL.
-- Aggregate rows carry their absolute value (the pipeline's deduplicated count), which
-- is also their version: the largest count for a key is the latest.

CREATE TABLE IF NOT EXISTS {db}.alarm_counts_1m
(
    minute   DateTime('UTC'),
    cell     String,
    district String,
    category String,
    priority UInt8,
    alarms   UInt64
)
ENGINE = ReplacingMergeTree(alarms)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, cell, district, category, priority);

CREATE TABLE IF NOT EXISTS {db}.unit_presence_1m
(
    minute    DateTime('UTC'),
    cell      String,
    unit_type String,
    status    String,
    units     UInt64
)
ENGINE = ReplacingMergeTree(units)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, cell, unit_type, status);

CREATE TABLE IF NOT EXISTS {db}.checkpoint_flow_1m
(
    minute         DateTime('UTC'),
    checkpoint_id  String,
    district       String,
    passes         UInt64,
    speed_samples  UInt64,
    avg_speed_kmh  Float64
)
ENGINE = ReplacingMergeTree(passes)
PARTITION BY toYYYYMM(minute)
ORDER BY (minute, checkpoint_id);

CREATE TABLE IF NOT EXISTS {db}.alarm_lifecycle
(
    alarm_id      String,
    received_at   DateTime('UTC'),
    category      String,
    priority      UInt8,
    district      String,
    cell          String,
    caller_token  String,
    dispatched_at Nullable(DateTime('UTC')),
    arrived_at    Nullable(DateTime('UTC')),
    closed_at     Nullable(DateTime('UTC')),
    first_unit_id String,
    response_s    Nullable(Float64),
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY alarm_id;

CREATE TABLE IF NOT EXISTS {db}.situations
(
    event_id      String,
    type          String,
    severity      String,
    event_time    DateTime('UTC'),
    detected_at   DateTime('UTC'),
    window_start  Nullable(DateTime('UTC')),
    window_end    Nullable(DateTime('UTC')),
    cell          String,
    district      String,
    lat           Nullable(Float64),
    lon           Nullable(Float64),
    subject       String,
    summary       String,
    metrics       String,
    evidence      String,
    model_version String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (type, event_id);

CREATE TABLE IF NOT EXISTS {db}.alert_deliveries
(
    alert_id        String,
    subscription_id String,
    event_id        String,
    channel         String,
    status          String,
    attempts        UInt32,
    matched_at      DateTime('UTC'),
    last_attempt_at DateTime('UTC'),
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(matched_at)
ORDER BY (subscription_id, alert_id);

CREATE TABLE IF NOT EXISTS {db}.audit_log
(
    ts      DateTime('UTC'),
    actor   String,
    action  String,
    target  String,
    outcome String,
    detail  String
)
ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, actor, action);
