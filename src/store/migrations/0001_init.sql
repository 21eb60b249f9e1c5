-- 0001: the foundation schema. Never edit an applied migration: add a new file instead.
-- Timestamps are Unix milliseconds (INTEGER).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- Browser sessions and API tokens. Only the SHA-256 of a token is stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('session', 'api')),
    name         TEXT    NOT NULL DEFAULT '',
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE password_resets (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    target        TEXT,
    ip            TEXT,
    details       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Plain (non-secret) runtime settings, JSON values.
CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Integration secrets (bot tokens, marketplace keys): XChaCha20-Poly1305 with the data-dir key.
CREATE TABLE credentials (
    name       TEXT    PRIMARY KEY,
    ciphertext BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by INTEGER REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE customers (
    id           INTEGER PRIMARY KEY,
    channel      TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    display_name TEXT    NOT NULL DEFAULT '',
    phone        TEXT,
    email        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (channel, external_id)
);

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    customer_id      INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    channel          TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
    handled_by       TEXT    NOT NULL DEFAULT 'bot' CHECK (handled_by IN ('bot', 'operator')),
    assigned_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_message_at  INTEGER NOT NULL
);
CREATE INDEX conversations_customer ON conversations (customer_id, status);
CREATE INDEX conversations_recent ON conversations (status, last_message_at);

-- Raw inbound channel messages, stored before the channel is acknowledged.
-- (channel, external_id) is the channel's own id: a redelivery is a no-op.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    channel      TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    processed_at INTEGER,
    UNIQUE (channel, external_id)
);
CREATE INDEX inbox_pending ON inbox (status, id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    direction       TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
    author          TEXT    NOT NULL CHECK (author IN ('buyer', 'bot', 'operator', 'system')),
    author_user_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    body            TEXT    NOT NULL,
    attachments     TEXT    NOT NULL DEFAULT '[]',
    provenance      TEXT,
    inbox_id        INTEGER REFERENCES inbox (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
-- One conversation message per inbound item, so reprocessing after a crash cannot duplicate it.
CREATE UNIQUE INDEX messages_inbox ON messages (inbox_id) WHERE inbox_id IS NOT NULL;

-- Outbound channel messages: persisted, retried with backoff, sent once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    conversation_id INTEGER REFERENCES conversations (id) ON DELETE SET NULL,
    message_id      INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE,
    status          TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    external_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
