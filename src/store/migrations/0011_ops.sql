-- 0011: operations. Scheduled jobs (backups, retention) whose timing lives here, so a restart
-- neither repeats nor skips a run; the record of each scheduled backup; and the mark on cached
-- orders whose buyer's phone was erased on request (a later sync does not bring it back).

CREATE TABLE jobs (
    name             TEXT PRIMARY KEY,      -- 'backup', 'retention'
    created_at       INTEGER NOT NULL,      -- ms: when the schedule first existed
    last_started_at  INTEGER,               -- ms: the last run began
    last_finished_at INTEGER,               -- ms: the last run ended (NULL or older: interrupted)
    last_ok_at       INTEGER,               -- ms: start of the last successful run
    last_error       TEXT,                  -- why the last run failed; NULL after a success
    last_result      TEXT                   -- JSON summary of the last successful run
) STRICT;

CREATE TABLE backups (
    id         INTEGER PRIMARY KEY,
    file       TEXT    NOT NULL,            -- file name inside backup.dir
    created_at INTEGER NOT NULL,            -- ms
    bytes      INTEGER NOT NULL DEFAULT 0,
    encrypted  INTEGER NOT NULL CHECK (encrypted IN (0, 1)),
    status     TEXT    NOT NULL CHECK (status IN ('ok', 'failed', 'rotated')),
    error      TEXT,
    seconds    REAL    NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX backups_status ON backups (status, created_at);

ALTER TABLE orders ADD COLUMN phone_erased INTEGER NOT NULL DEFAULT 0;
