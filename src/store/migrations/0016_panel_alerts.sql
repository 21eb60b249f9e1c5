-- The panel as a seller's daily tool (issue 18): each operator's own alerts (by Telegram to
-- their own chat with the shop's bot, by e-mail) with quiet hours, and the record of alerts
-- sent (one row per user, kind, subject and route, written before the alert goes out, so a
-- restart neither repeats nor skips one).
CREATE TABLE alert_prefs (
    user_id          INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    telegram_chat_id TEXT,
    email            TEXT,
    on_handoff       INTEGER NOT NULL DEFAULT 1,
    on_overdue       INTEGER NOT NULL DEFAULT 1,
    on_failed        INTEGER NOT NULL DEFAULT 1,
    overdue_minutes  INTEGER NOT NULL DEFAULT 60 CHECK (overdue_minutes BETWEEN 5 AND 10080),
    quiet_from       TEXT,
    quiet_to         TEXT,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE alerts_sent (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('handoff', 'overdue', 'failed')),
    subject    TEXT    NOT NULL,
    via        TEXT    NOT NULL CHECK (via IN ('telegram', 'email')),
    status     TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'quiet')),
    error      TEXT,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER,
    UNIQUE (user_id, kind, subject, via)
);

-- How far the alerts have read the event feed and the outbox.
CREATE TABLE alert_cursor (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
