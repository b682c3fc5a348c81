-- The inference tables (DESIGN.md §7). Valid on ClickHouse 18.16 and current ClickHouse: String, UUID,
-- UIntN, Nullable, Nested and DateTime only. ReplacingMergeTree with the id in the sorting key: a batch
-- sent twice (delivery is at-least-once) leaves one row per id once parts merge, so queries count
-- DISTINCT ids or read with FINAL. Partitioned by month; a duplicate has the same timestamp, so the
-- same partition.
CREATE TABLE IF NOT EXISTS {database}.ChatInference
(
    id UUID,
    episode_id UUID,
    function_name String,
    variant_name String,
    model String,
    model_name String,
    model_provider_name String,
    input String,
    output String,
    tool_params String,
    inference_params String,
    tags Nested(key String, value String),
    extra_headers Nullable(String),
    extra_body Nullable(String),
    input_tokens Nullable(UInt32),
    output_tokens Nullable(UInt32),
    finish_reason Nullable(String),
    processing_time_ms UInt32,
    ttft_ms Nullable(UInt32),
    outcome String,
    attempt_count UInt16,
    stream UInt8,
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY id;

CREATE TABLE IF NOT EXISTS {database}.ModelInference
(
    id UUID,
    inference_id UUID,
    attempt UInt16,
    model_name String,
    model_provider_name String,
    variant_name String,
    raw_request String,
    raw_request_bytes UInt32,
    raw_response String,
    raw_response_bytes UInt32,
    input_tokens Nullable(UInt32),
    output_tokens Nullable(UInt32),
    finish_reason Nullable(String),
    response_time_ms UInt32,
    ttft_ms Nullable(UInt32),
    outcome String,
    status_code Nullable(UInt16),
    error Nullable(String),
    headers Nested(key String, value String),
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (inference_id, id);
