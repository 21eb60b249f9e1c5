-- Conversation engine: dialog state, handoff and rating on conversations; the marketplace
-- order cache the engine answers from; events for the operator panel.

ALTER TABLE conversations ADD COLUMN state TEXT NOT NULL DEFAULT '{}';      -- engine::dialog::State (JSON)
ALTER TABLE conversations ADD COLUMN handoff_reason TEXT;                    -- why a person was asked to reply
ALTER TABLE conversations ADD COLUMN handoff_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat INTEGER CHECK (csat BETWEEN 1 AND 5);
ALTER TABLE conversations ADD COLUMN csat_at INTEGER;

-- Orders as the marketplace reported them (the marketplace is the source of truth).
CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    marketplace TEXT NOT NULL CHECK (marketplace IN ('wb', 'ozon')),
    number      TEXT NOT NULL,                 -- WB order id / Ozon posting number
    status      TEXT NOT NULL,                 -- marketplace::OrderStatus (canonical)
    status_raw  TEXT NOT NULL,                 -- the marketplace's own status
    phone       TEXT,                          -- buyer phone (+7…) when the marketplace gives it
    items       TEXT NOT NULL DEFAULT '[]',    -- JSON [{article, name, size, quantity, price_rub}]
    tracking    TEXT,
    pickup_point TEXT,
    storage_until INTEGER,                     -- ms: last day at the pick-up point
    eta         INTEGER,                       -- ms: expected delivery
    created_at  INTEGER NOT NULL,              -- ms: order placed
    status_at   INTEGER NOT NULL,              -- ms: current status since
    synced_at   INTEGER NOT NULL,              -- ms: when we last heard from the marketplace
    UNIQUE (marketplace, number)
) STRICT;
CREATE INDEX orders_phone ON orders (phone);

CREATE TABLE order_status_history (
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    status   TEXT NOT NULL,
    status_raw TEXT NOT NULL,
    at       INTEGER NOT NULL
) STRICT;
CREATE INDEX order_status_history_order ON order_status_history (order_id, at);

-- Orders a customer has shown to be theirs (by number), so later questions need no number.
CREATE TABLE customer_orders (
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    order_id    INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    linked_at   INTEGER NOT NULL,
    PRIMARY KEY (customer_id, order_id)
) STRICT;

-- What happened, in order, for the operator panel's live view and its catch-up after a blip.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    conversation_id INTEGER,
    payload         TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX events_conversation ON events (conversation_id, id);
