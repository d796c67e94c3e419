"""ClickHouse: the schema (versioned migrations) and the batching sink."""
