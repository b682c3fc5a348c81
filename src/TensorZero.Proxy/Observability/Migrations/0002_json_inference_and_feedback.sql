-- JSON functions' inferences and feedback (TensorZero's JsonInference, BooleanMetricFeedback, FloatMetricFeedback,
-- CommentFeedback, DemonstrationFeedback), adapted to ClickHouse 18.16 as 0001 adapted ChatInference: String for
-- LowCardinality(String), UInt8 for Bool, Nested(key, value) for Map, DateTime('UTC') written by the gateway for
-- TensorZero's UUIDv7ToDateTime(id). ReplacingMergeTree with the id in the sorting key (delivery is at-least-once;
-- TensorZero's MergeTree keys such as (metric_name, target_id) would merge distinct feedback away here).

-- 0001's ChatInference with TensorZero's JSON columns (output is {"raw", "parsed"}; output_schema and
-- auxiliary_content instead of tool_params).
CREATE TABLE IF NOT EXISTS {database}.JsonInference
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
    output_schema String,
    auxiliary_content String,
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

CREATE TABLE IF NOT EXISTS {database}.BooleanMetricFeedback
(
    id UUID,
    target_id UUID,
    metric_name String,
    value UInt8,
    tags Nested(key String, value String),
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (metric_name, target_id, id);

-- TensorZero stores Float32.
CREATE TABLE IF NOT EXISTS {database}.FloatMetricFeedback
(
    id UUID,
    target_id UUID,
    metric_name String,
    value Float32,
    tags Nested(key String, value String),
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (metric_name, target_id, id);

CREATE TABLE IF NOT EXISTS {database}.CommentFeedback
(
    id UUID,
    target_id UUID,
    target_type Enum8('inference' = 1, 'episode' = 2),
    value String,
    tags Nested(key String, value String),
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (target_id, id);

-- value: content blocks (chat function) or {"raw", "parsed"} (JSON function), as JSON text.
CREATE TABLE IF NOT EXISTS {database}.DemonstrationFeedback
(
    id UUID,
    inference_id UUID,
    value String,
    tags Nested(key String, value String),
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (inference_id, id);

-- Inferences by episode (TensorZero's InferenceByEpisodeId): feedback's episode check reads it instead of scanning
-- both inference tables. Filled by views on every insert, and once from the rows already there.
CREATE TABLE IF NOT EXISTS {database}.InferenceByEpisodeId
(
    episode_id UUID,
    id UUID,
    function_name String,
    variant_name String,
    function_type String,
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY (episode_id, id);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.ChatInferenceByEpisodeIdView TO {database}.InferenceByEpisodeId
AS SELECT episode_id, id, function_name, variant_name, 'chat' AS function_type, timestamp FROM {database}.ChatInference;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.JsonInferenceByEpisodeIdView TO {database}.InferenceByEpisodeId
AS SELECT episode_id, id, function_name, variant_name, 'json' AS function_type, timestamp FROM {database}.JsonInference;

INSERT INTO {database}.InferenceByEpisodeId
SELECT episode_id, id, function_name, variant_name, 'chat' AS function_type, timestamp FROM {database}.ChatInference;
