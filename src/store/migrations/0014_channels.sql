-- What the channel reported after a send (WhatsApp status webhooks: sent, delivered, read,
-- failed), and sends parked until the buyer writes again (outside WhatsApp's 24-hour window).
ALTER TABLE outbox ADD COLUMN delivery TEXT
    CHECK (delivery IS NULL OR delivery IN ('parked', 'sent', 'delivered', 'read', 'failed'));
ALTER TABLE outbox ADD COLUMN delivery_error TEXT;
ALTER TABLE outbox ADD COLUMN delivery_at INTEGER;
CREATE INDEX outbox_external ON outbox (channel, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX outbox_message ON outbox (message_id) WHERE message_id IS NOT NULL;
