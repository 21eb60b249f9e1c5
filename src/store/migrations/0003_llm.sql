-- Language-model calls (tokens, cost, timings) and the response cache.

CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,                -- ms since the epoch
    month TEXT NOT NULL,                -- 'YYYY-MM' (UTC), the budget period
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'cache')),
    error TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    cached_prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_rub REAL NOT NULL DEFAULT 0,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    ttft_ms INTEGER,
    conversation_id INTEGER
) STRICT;
CREATE INDEX llm_calls_month ON llm_calls (month, provider);

CREATE TABLE llm_cache (
    key TEXT PRIMARY KEY,               -- sha256 of the normalized request
    completion TEXT NOT NULL,           -- JSON of the answer as first produced
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX llm_cache_expiry ON llm_cache (expires_at);
