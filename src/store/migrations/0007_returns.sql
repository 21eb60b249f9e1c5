-- Returns: WB buyer claims and Ozon returns, linked to their order by the marketplace's own
-- reference (Ozon posting number, WB srid). WB orders keep their srid (`ref`) so a claim finds
-- its FBS order.

ALTER TABLE orders ADD COLUMN ref TEXT;
CREATE INDEX orders_ref ON orders (marketplace, ref) WHERE ref IS NOT NULL;

CREATE TABLE returns (
    marketplace TEXT NOT NULL CHECK (marketplace IN ('wb', 'ozon')),
    return_id   TEXT NOT NULL,           -- WB claim id, Ozon return id
    order_ref   TEXT NOT NULL,           -- Ozon posting number, WB srid
    status      TEXT NOT NULL,           -- review | approved | rejected | in_transit | done | cancelled
    status_text TEXT NOT NULL,           -- the marketplace's own words
    reason      TEXT,
    product     TEXT,
    created_at  INTEGER NOT NULL,        -- ms
    updated_at  INTEGER NOT NULL,        -- ms: the marketplace's last change
    synced_at   INTEGER NOT NULL,
    PRIMARY KEY (marketplace, return_id)
) STRICT;
CREATE INDEX returns_order ON returns (marketplace, order_ref);
