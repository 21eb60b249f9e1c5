-- Marketplaces as they really are: what each key reaches, part by part; each part's sync
-- progress; and the answer deadline of each marketplace thread.

-- What a marketplace key may do with each part (orders, statistics, content, questions,
-- chats, returns, stocks): from the WB token itself, the connection test, the sync and the
-- question polling, whichever told last.
CREATE TABLE marketplace_access (
    market     TEXT    NOT NULL CHECK (market IN ('wb', 'ozon')),
    part       TEXT    NOT NULL,
    access     TEXT    NOT NULL,               -- marketplace::Access
    reason     TEXT,
    source     TEXT    NOT NULL,               -- token, test, sync, poll
    checked_at INTEGER NOT NULL,
    PRIMARY KEY (market, part)
) STRICT;

-- What the key is (WB: the token's kind and expiry), as the last check found it.
CREATE TABLE marketplace_keys (
    market     TEXT    PRIMARY KEY CHECK (market IN ('wb', 'ozon')),
    kind       TEXT,
    expires_at INTEGER,
    read_only  INTEGER NOT NULL DEFAULT 0,
    checked_at INTEGER NOT NULL
) STRICT;

-- Each part's last sync: a part the key cannot reach is skipped, one a documented limit holds
-- back is put off and catches up from `finished_at` at the next run.
CREATE TABLE sync_parts (
    market      TEXT    NOT NULL CHECK (market IN ('wb', 'ozon')),
    part        TEXT    NOT NULL,
    status      TEXT    NOT NULL,              -- done, skipped, deferred, failed
    message     TEXT,
    finished_at INTEGER,                       -- ms: the last time it finished
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (market, part)
) STRICT;

-- The answer deadline of a marketplace thread (channel + recipient, as the inbox names them):
-- the buyer's latest unanswered message by the marketplace's clock, when supportd saw it, and
-- when the answer is due by which rule. Met once a reply to that thread is queued or sent after
-- `seen_at`; `overdue_at` marks the one "overdue" event.
CREATE TABLE reply_deadlines (
    channel    TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    message_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    due_at     INTEGER NOT NULL,
    rule       TEXT    NOT NULL,               -- marketplace::deadlines::DueRule
    overdue_at INTEGER,
    PRIMARY KEY (channel, recipient)
) STRICT;
CREATE INDEX reply_deadlines_due ON reply_deadlines (overdue_at, due_at);

-- Replies to a thread, for the deadline check.
CREATE INDEX outbox_thread ON outbox (channel, recipient, created_at);
