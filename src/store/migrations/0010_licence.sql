-- Plans and licences: the trial's start, installed licences, expiry warnings, and an index
-- for the monthly usage statement.

-- One row: when this installation's 14-day trial began (its first start). Kept in the
-- database, so a new config file does not start a new trial.
CREATE TABLE licence_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    trial_started_at INTEGER NOT NULL
) STRICT;

-- Every licence installed, newest last. The token is the truth: it is verified again with
-- the build's key whenever it is read; the other columns are for people and queries.
CREATE TABLE licences (
    id           INTEGER PRIMARY KEY,
    licence_id   TEXT    NOT NULL,
    plan         TEXT    NOT NULL,
    customer     TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    valid_until  INTEGER NOT NULL,
    token        TEXT    NOT NULL,
    installed_at INTEGER NOT NULL,
    installed_by INTEGER REFERENCES users (id) ON DELETE SET NULL
) STRICT;

-- Warnings before and after a licence (or the trial) ends: one row per licence and kind, so a
-- restart neither repeats nor skips one.
CREATE TABLE licence_notices (
    key        TEXT    PRIMARY KEY,            -- 'licence:<id>:<valid_until>:7d', 'trial:<start>:ended', …
    kind       TEXT    NOT NULL,               -- ahead, grace, paused, trial_ending, trial_ended
    due_at     INTEGER NOT NULL,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'superseded', 'unsent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,               -- the next e-mail attempt (pending only)
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at    INTEGER
) STRICT;
CREATE INDEX licence_notices_pending ON licence_notices (state, next_at);

-- The usage statement counts a month's messages.
CREATE INDEX messages_created ON messages (created_at);
