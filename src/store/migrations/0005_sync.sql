-- Marketplace sync: one row per (marketplace, kind) with the resumable position of the run in
-- progress and the outcome of the last one; buyers' opt-out of order notifications.

CREATE TABLE sync_state (
    marketplace TEXT NOT NULL CHECK (marketplace IN ('wb', 'ozon')),
    kind        TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    status      TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running', 'failed')),
    cursor      TEXT,                -- where the run in progress continues (page cursor/offset)
    window_from INTEGER,             -- ms: the run's time window
    window_to   INTEGER,
    fetched     INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER,
    finished_at INTEGER,             -- last successful finish
    error       TEXT,
    PRIMARY KEY (marketplace, kind)
) STRICT;

ALTER TABLE customers ADD COLUMN notify_opt_out INTEGER NOT NULL DEFAULT 0;
