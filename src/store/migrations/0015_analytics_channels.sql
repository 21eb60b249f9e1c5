-- The channels of migration 0014 (Telegram Business, WhatsApp, VK) are sources of their own in
-- the analytics, not "other": the conversation trigger of 0012 again with them, and the facts
-- of conversations already on them corrected.
DROP TRIGGER analytics_conversation_new;

-- A conversation begins: its facts row, with the source told by the channel and, for the
-- marketplaces, by the thread id the adapters give (wb: feedback:…, chat:…, else a question;
-- ozon: review:…, question:…, else a chat).
CREATE TRIGGER analytics_conversation_new AFTER INSERT ON conversations BEGIN
    INSERT OR IGNORE INTO conv_facts (started_at, conversation_id, source)
    VALUES (NEW.created_at, NEW.id, COALESCE((SELECT CASE
        WHEN NEW.channel = 'wb_questions' THEN CASE
            WHEN cu.external_id LIKE 'feedback:%' THEN 'wb_review'
            WHEN cu.external_id LIKE 'chat:%' THEN 'wb_chat' ELSE 'wb_question' END
        WHEN NEW.channel = 'ozon_chat' THEN CASE
            WHEN cu.external_id LIKE 'review:%' THEN 'ozon_review'
            WHEN cu.external_id LIKE 'question:%' THEN 'ozon_question' ELSE 'ozon_chat' END
        WHEN NEW.channel IN ('telegram', 'telegram_business', 'whatsapp', 'vk', 'widget', 'api') THEN NEW.channel
        WHEN NEW.channel IN ('cli', 'eval') THEN 'test'
        ELSE 'other' END
      FROM customers cu WHERE cu.id = NEW.customer_id), 'other'));
END;

UPDATE conv_facts SET source = (SELECT c.channel FROM conversations c WHERE c.id = conv_facts.conversation_id)
WHERE source = 'other' AND conversation_id IN (
    SELECT id FROM conversations WHERE channel IN ('telegram_business', 'whatsapp', 'vk'));
