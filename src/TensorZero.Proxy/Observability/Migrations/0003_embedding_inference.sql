-- Embeddings inferences (POST /openai/v1/embeddings). TensorZero records none (its embeddings endpoint writes only to
-- its cache); the gateway records each one as chat inferences are, with the types of 0001: one EmbeddingInference row
-- per request and one ModelInference row per provider attempt (inference_id = this id; raw_response holds the
-- provider's answer, capped). The vectors are not copied here: they are in ModelInference.raw_response, as sent.
CREATE TABLE IF NOT EXISTS {database}.EmbeddingInference
(
    id UUID,
    embedding_model_name String,
    model String,
    model_provider_name String,
    input String,
    num_inputs UInt32,
    dimensions Nullable(UInt32),
    encoding_format String,
    output_dimensions Nullable(UInt32),
    input_tokens Nullable(UInt32),
    processing_time_ms UInt32,
    outcome String,
    attempt_count UInt16,
    timestamp DateTime('UTC')
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(timestamp)
ORDER BY id;
