-- Operator panel: saved replies with placeholders, and internal notes in conversations.

CREATE TABLE snippets (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,              -- may hold {name} and {order}
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Notes operators leave for each other: shown in the panel, never sent to the buyer.
ALTER TABLE messages ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
