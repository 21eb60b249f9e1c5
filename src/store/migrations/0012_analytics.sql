-- 0012: analytics. The report figures are computed from these tables, which triggers keep up
-- to date in the same transaction as the writes they summarise: no code path can forget them,
-- and a crash cannot leave them behind the conversations. Existing data is summarised at the
-- end of this migration.

-- One row per conversation (clustered by its start, the period key of conversation figures).
CREATE TABLE conv_facts (
    started_at        INTEGER NOT NULL,   -- conversations.created_at
    conversation_id   INTEGER NOT NULL,
    source            TEXT    NOT NULL,   -- analytics::Source: telegram, widget, api, wb_question, wb_review,
                                          -- wb_chat, ozon_chat, ozon_review, ozon_question, test, other
    buyer_msgs        INTEGER NOT NULL DEFAULT 0,
    bot_msgs          INTEGER NOT NULL DEFAULT 0,
    operator_msgs     INTEGER NOT NULL DEFAULT 0,
    first_buyer_at    INTEGER,
    first_reply_at    INTEGER,            -- the first reply by the bot or a person
    last_buyer_id     INTEGER,            -- the buyer waits while last_buyer_id > last_reply_id
    last_reply_id     INTEGER,
    first_answer_ms   INTEGER,            -- the bot's first answer: the buyer's message received → reply stored
    answer_ms_sum     INTEGER NOT NULL DEFAULT 0,
    answers           INTEGER NOT NULL DEFAULT 0,   -- bot replies with a measured time
    intent            TEXT,               -- the first intent other than greeting and thanks
    handed_at         INTEGER,            -- a person first became involved; never cleared
    handoff_reason    TEXT,               -- why, at that moment (the bot's reason, takeover, approval, …)
    first_human_at    INTEGER,            -- the first operator reply after handed_at
    first_operator_id INTEGER,
    resolved_at       INTEGER,            -- closed, rated, or resolved by a person («Решено»)
    csat              INTEGER,
    PRIMARY KEY (started_at, conversation_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX conv_facts_conversation ON conv_facts (conversation_id);

-- Messages per UTC hour, source and author (internal notes are not messages to anyone).
CREATE TABLE msg_hourly (
    hour   INTEGER NOT NULL,              -- created_at / 3600000
    source TEXT    NOT NULL,
    author TEXT    NOT NULL,
    n      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, source, author)
) WITHOUT ROWID;

-- Knowledge documents used in a conversation's bot answers, with the conversation's rating.
CREATE TABLE conv_docs (
    started_at      INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    doc             TEXT    NOT NULL,     -- 'a:<article id>' or 'p:<product id>'
    uses            INTEGER NOT NULL DEFAULT 0,
    csat            INTEGER,
    PRIMARY KEY (started_at, conversation_id, doc)
) WITHOUT ROWID;
CREATE INDEX conv_docs_conversation ON conv_docs (conversation_id);

-- Buyer messages the knowledge base could not answer: one row per message. `terms` (the
-- analyzer's stems, the grouping key) is filled in by analytics::gaps and reset when the text
-- changes.
CREATE TABLE kb_gaps (
    message_id      INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    at              INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('not_found', 'low_confidence', 'taken_over')),
    conversation_id INTEGER NOT NULL,
    terms           TEXT
);
CREATE INDEX kb_gaps_at ON kb_gaps (at, terms);
CREATE INDEX kb_gaps_unkeyed ON kb_gaps (message_id) WHERE terms IS NULL;

-- Operators' replies by time (the per-operator workload).
CREATE INDEX messages_operator ON messages (created_at, author_user_id, conversation_id)
    WHERE author = 'operator' AND internal = 0;

-- Monotonic totals for Prometheus counters (low cardinality: closed label sets).
CREATE TABLE metric_totals (
    metric TEXT NOT NULL,
    l1     TEXT NOT NULL DEFAULT '',
    l2     TEXT NOT NULL DEFAULT '',
    value  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (metric, l1, l2)
) WITHOUT ROWID;
-- Upper bounds (seconds) of the model latency histogram.
CREATE TABLE metric_buckets (le REAL PRIMARY KEY);
INSERT INTO metric_buckets (le) VALUES (0.1), (0.25), (0.5), (1), (2.5), (5), (10), (30), (60);

-- Scheduled e-mail reports: one row per period and recipient list, recorded before it is
-- mailed and marked after, so restarts neither repeat nor skip one.
CREATE TABLE report_runs (
    key         TEXT    PRIMARY KEY,      -- 'weekly:<period start>'
    schedule    TEXT    NOT NULL,         -- daily | weekly
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
) STRICT;
CREATE INDEX report_runs_pending ON report_runs (state, next_at);

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
        WHEN NEW.channel IN ('telegram', 'widget', 'api') THEN NEW.channel
        WHEN NEW.channel IN ('cli', 'eval') THEN 'test'
        ELSE 'other' END
      FROM customers cu WHERE cu.id = NEW.customer_id), 'other'));
END;

CREATE TRIGGER analytics_conversation_gone AFTER DELETE ON conversations BEGIN
    DELETE FROM conv_facts WHERE conversation_id = OLD.id;
    DELETE FROM conv_docs WHERE conversation_id = OLD.id;
    DELETE FROM kb_gaps WHERE conversation_id = OLD.id;
END;

-- Every message to or from a buyer: the hourly counts, the conversation's counts and waits,
-- and the Prometheus totals.
CREATE TRIGGER analytics_message_new AFTER INSERT ON messages WHEN NEW.internal = 0 BEGIN
    INSERT OR IGNORE INTO msg_hourly (hour, source, author)
    VALUES (NEW.created_at / 3600000,
            COALESCE((SELECT source FROM conv_facts WHERE conversation_id = NEW.conversation_id), 'other'), NEW.author);
    UPDATE msg_hourly SET n = n + 1
    WHERE hour = NEW.created_at / 3600000 AND author = NEW.author
      AND source = COALESCE((SELECT source FROM conv_facts WHERE conversation_id = NEW.conversation_id), 'other');
    UPDATE conv_facts SET
        buyer_msgs = buyer_msgs + (NEW.author = 'buyer'),
        bot_msgs = bot_msgs + (NEW.author = 'bot'),
        operator_msgs = operator_msgs + (NEW.author = 'operator'),
        first_buyer_at = CASE WHEN NEW.author = 'buyer' THEN COALESCE(first_buyer_at, NEW.created_at) ELSE first_buyer_at END,
        last_buyer_id = CASE WHEN NEW.author = 'buyer' THEN NEW.id ELSE last_buyer_id END,
        first_reply_at = CASE WHEN NEW.author IN ('bot', 'operator') THEN COALESCE(first_reply_at, NEW.created_at)
                         ELSE first_reply_at END,
        last_reply_id = CASE WHEN NEW.author IN ('bot', 'operator') THEN NEW.id ELSE last_reply_id END,
        first_human_at = CASE WHEN NEW.author = 'operator' AND handed_at IS NOT NULL
                         THEN COALESCE(first_human_at, NEW.created_at) ELSE first_human_at END,
        first_operator_id = CASE WHEN NEW.author = 'operator' THEN COALESCE(first_operator_id, NEW.author_user_id)
                            ELSE first_operator_id END
    WHERE conversation_id = NEW.conversation_id;
    INSERT OR IGNORE INTO metric_totals (metric, l1, l2)
    VALUES ('messages', COALESCE((SELECT channel FROM conversations WHERE id = NEW.conversation_id), ''), NEW.direction);
    UPDATE metric_totals SET value = value + 1
    WHERE metric = 'messages' AND l2 = NEW.direction
      AND l1 = COALESCE((SELECT channel FROM conversations WHERE id = NEW.conversation_id), '');
END;

-- A bot reply with its provenance: answer time, intent, kind, knowledge used, knowledge gaps.
CREATE TRIGGER analytics_bot_reply AFTER INSERT ON messages
WHEN NEW.author = 'bot' AND NEW.internal = 0 AND json_valid(NEW.provenance) BEGIN
    UPDATE conv_facts SET
        first_answer_ms = CASE WHEN json_type(NEW.provenance, '$.latency_ms') IN ('integer', 'real')
            THEN COALESCE(first_answer_ms,
                 CAST(json_extract(NEW.provenance, '$.latency_ms') AS INTEGER) + COALESCE((
                     SELECT MAX(0, b.created_at - i.received_at) FROM messages b JOIN inbox i ON i.id = b.inbox_id
                     WHERE b.conversation_id = NEW.conversation_id AND b.author = 'buyer' AND b.id < NEW.id
                     ORDER BY b.id DESC LIMIT 1), 0))
            ELSE first_answer_ms END,
        answer_ms_sum = answer_ms_sum + CASE WHEN json_type(NEW.provenance, '$.latency_ms') IN ('integer', 'real')
            THEN CAST(json_extract(NEW.provenance, '$.latency_ms') AS INTEGER) + COALESCE((
                     SELECT MAX(0, b.created_at - i.received_at) FROM messages b JOIN inbox i ON i.id = b.inbox_id
                     WHERE b.conversation_id = NEW.conversation_id AND b.author = 'buyer' AND b.id < NEW.id
                     ORDER BY b.id DESC LIMIT 1), 0)
            ELSE 0 END,
        answers = answers + (COALESCE(json_type(NEW.provenance, '$.latency_ms'), '') IN ('integer', 'real')),
        intent = CASE WHEN intent IS NULL OR intent IN ('greeting', 'thanks')
            THEN COALESCE(json_extract(NEW.provenance, '$.intent'), intent) ELSE intent END
    WHERE conversation_id = NEW.conversation_id;
    INSERT OR IGNORE INTO conv_docs (started_at, conversation_id, doc, csat)
    SELECT f.started_at, f.conversation_id, json_extract(s.value, '$.doc'), f.csat
    FROM conv_facts f, json_each(NEW.provenance, '$.sources') s
    WHERE f.conversation_id = NEW.conversation_id AND json_type(s.value, '$.doc') = 'text';
    UPDATE conv_docs SET uses = uses + 1
    WHERE conversation_id = NEW.conversation_id
      AND doc IN (SELECT json_extract(s.value, '$.doc') FROM json_each(NEW.provenance, '$.sources') s
                  WHERE json_type(s.value, '$.doc') = 'text');
    INSERT OR IGNORE INTO kb_gaps (message_id, at, kind, conversation_id)
    SELECT b.id, b.created_at, k.kind, NEW.conversation_id
    FROM (SELECT CASE
            WHEN json_extract(NEW.provenance, '$.plan') = 'NotUnderstood' THEN 'low_confidence'
            WHEN json_extract(NEW.provenance, '$.plan') LIKE 'Knowledge(%'
                 AND COALESCE(json_array_length(NEW.provenance, '$.sources'), 0) = 0 THEN 'not_found'
          END AS kind) k
    JOIN messages b ON b.id = (SELECT MAX(id) FROM messages
                               WHERE conversation_id = NEW.conversation_id AND author = 'buyer' AND id < NEW.id)
    WHERE k.kind IS NOT NULL;
    INSERT OR IGNORE INTO metric_totals (metric, l1)
    SELECT 'bot_answers', json_extract(NEW.provenance, '$.action')
    WHERE json_type(NEW.provenance, '$.action') = 'text';
    UPDATE metric_totals SET value = value + 1
    WHERE metric = 'bot_answers' AND l1 = json_extract(NEW.provenance, '$.action') AND l2 = '';
END;

-- A buyer's text changed (anonymised): its gap must be keyed again from the new text.
CREATE TRIGGER analytics_message_text AFTER UPDATE OF body ON messages BEGIN
    UPDATE kb_gaps SET terms = NULL WHERE message_id = NEW.id;
END;

-- A person becomes involved (the bot handed over, an operator took over or replied, a draft
-- waits for approval, the bot is paused): recorded once, never undone by «Вернуть боту».
CREATE TRIGGER analytics_handed AFTER UPDATE OF handled_by ON conversations
WHEN OLD.handled_by = 'bot' AND NEW.handled_by = 'operator' BEGIN
    UPDATE conv_facts SET handed_at = COALESCE(handed_at, NEW.updated_at),
        handoff_reason = COALESCE(handoff_reason, NEW.handoff_reason, 'takeover')
    WHERE conversation_id = NEW.id;
    INSERT OR IGNORE INTO kb_gaps (message_id, at, kind, conversation_id)
    SELECT m.id, m.created_at, 'taken_over', NEW.id FROM messages m
    WHERE COALESCE(NEW.handoff_reason, 'takeover') = 'takeover'
      AND m.id = (SELECT MAX(id) FROM messages WHERE conversation_id = NEW.id AND author = 'buyer');
    INSERT OR IGNORE INTO metric_totals (metric, l1) VALUES ('handoffs', COALESCE(NEW.handoff_reason, 'takeover'));
    UPDATE metric_totals SET value = value + 1
    WHERE metric = 'handoffs' AND l1 = COALESCE(NEW.handoff_reason, 'takeover') AND l2 = '';
END;

CREATE TRIGGER analytics_closed AFTER UPDATE OF status ON conversations
WHEN NEW.status = 'closed' AND OLD.status <> 'closed' BEGIN
    UPDATE conv_facts SET resolved_at = COALESCE(resolved_at, NEW.updated_at) WHERE conversation_id = NEW.id;
END;

CREATE TRIGGER analytics_rated AFTER UPDATE OF csat ON conversations WHEN NEW.csat IS NOT NULL BEGIN
    UPDATE conv_facts SET csat = NEW.csat WHERE conversation_id = NEW.id;
    UPDATE conv_docs SET csat = NEW.csat WHERE conversation_id = NEW.id;
END;

-- «Решено»: a person resolved the question.
CREATE TRIGGER analytics_resolved AFTER INSERT ON events
WHEN NEW.kind = 'release' AND NEW.conversation_id IS NOT NULL AND json_valid(NEW.payload) BEGIN
    UPDATE conv_facts SET resolved_at = COALESCE(resolved_at, NEW.created_at)
    WHERE conversation_id = NEW.conversation_id AND json_extract(NEW.payload, '$.resolved') = 1;
END;

-- Model calls by provider and outcome, and their latency.
CREATE TRIGGER analytics_model_call AFTER INSERT ON llm_calls BEGIN
    INSERT OR IGNORE INTO metric_totals (metric, l1, l2) VALUES ('model_calls', NEW.provider, NEW.outcome);
    UPDATE metric_totals SET value = value + 1 WHERE metric = 'model_calls' AND l1 = NEW.provider AND l2 = NEW.outcome;
    INSERT OR IGNORE INTO metric_totals (metric, l1, l2) VALUES ('model_latency_sum', NEW.provider, '');
    UPDATE metric_totals SET value = value + NEW.latency_ms / 1000.0
    WHERE metric = 'model_latency_sum' AND l1 = NEW.provider AND l2 = '';
    INSERT OR IGNORE INTO metric_totals (metric, l1, l2)
    SELECT 'model_latency_le', NEW.provider, CAST(le AS TEXT) FROM metric_buckets;
    UPDATE metric_totals SET value = value + 1
    WHERE metric = 'model_latency_le' AND l1 = NEW.provider AND CAST(l2 AS REAL) >= NEW.latency_ms / 1000.0;
END;

-- A sync run ends: finished (idle) or failed.
CREATE TRIGGER analytics_sync_run AFTER UPDATE OF status ON sync_state
WHEN NEW.status IN ('idle', 'failed') AND OLD.status = 'running' BEGIN
    INSERT OR IGNORE INTO metric_totals (metric, l1, l2)
    VALUES ('sync_runs', NEW.marketplace || ':' || NEW.kind, CASE NEW.status WHEN 'idle' THEN 'ok' ELSE 'failed' END);
    UPDATE metric_totals SET value = value + 1
    WHERE metric = 'sync_runs' AND l1 = NEW.marketplace || ':' || NEW.kind
      AND l2 = CASE NEW.status WHEN 'idle' THEN 'ok' ELSE 'failed' END;
END;

-- What was there before this migration, summarised as the triggers would have.
INSERT INTO conv_facts (started_at, conversation_id, source, buyer_msgs, bot_msgs, operator_msgs, first_buyer_at,
                        first_reply_at, last_buyer_id, last_reply_id, handed_at, handoff_reason, resolved_at, csat)
SELECT c.created_at, c.id,
    CASE WHEN c.channel = 'wb_questions' THEN CASE WHEN cu.external_id LIKE 'feedback:%' THEN 'wb_review'
                                                WHEN cu.external_id LIKE 'chat:%' THEN 'wb_chat' ELSE 'wb_question' END
         WHEN c.channel = 'ozon_chat' THEN CASE WHEN cu.external_id LIKE 'review:%' THEN 'ozon_review'
                                             WHEN cu.external_id LIKE 'question:%' THEN 'ozon_question' ELSE 'ozon_chat' END
         WHEN c.channel IN ('telegram', 'widget', 'api') THEN c.channel
         WHEN c.channel IN ('cli', 'eval') THEN 'test' ELSE 'other' END,
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.internal = 0 AND m.author = 'buyer'),
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.internal = 0 AND m.author = 'bot'),
    (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id AND m.internal = 0 AND m.author = 'operator'),
    (SELECT MIN(created_at) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'buyer'),
    (SELECT MIN(created_at) FROM messages m WHERE m.conversation_id = c.id AND m.internal = 0
       AND m.author IN ('bot', 'operator')),
    (SELECT MAX(id) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'buyer'),
    (SELECT MAX(id) FROM messages m WHERE m.conversation_id = c.id AND m.internal = 0 AND m.author IN ('bot', 'operator')),
    COALESCE(c.handoff_at, (SELECT MIN(e.created_at) FROM events e WHERE e.conversation_id = c.id
                             AND e.kind IN ('handoff', 'takeover')),
             (SELECT MIN(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'operator'
                AND m.internal = 0)),
    COALESCE(c.handoff_reason, (SELECT json_extract(e.payload, '$.reason') FROM events e
                                 WHERE e.conversation_id = c.id AND e.kind = 'handoff' ORDER BY e.id LIMIT 1),
             CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.conversation_id = c.id AND e.kind = 'takeover')
                    OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author = 'operator'
                               AND m.internal = 0) THEN 'takeover' END),
    CASE WHEN c.status = 'closed' THEN COALESCE(c.csat_at, c.updated_at)
         ELSE (SELECT MIN(e.created_at) FROM events e WHERE e.conversation_id = c.id AND e.kind = 'release'
                 AND json_valid(e.payload) AND json_extract(e.payload, '$.resolved') = 1) END,
    c.csat
FROM conversations c JOIN customers cu ON cu.id = c.customer_id;

UPDATE conv_facts SET first_human_at = (
    SELECT MIN(m.created_at) FROM messages m WHERE m.conversation_id = conv_facts.conversation_id
      AND m.author = 'operator' AND m.internal = 0 AND m.created_at >= conv_facts.handed_at),
  first_operator_id = (
    SELECT m.author_user_id FROM messages m WHERE m.conversation_id = conv_facts.conversation_id
      AND m.author = 'operator' AND m.internal = 0 ORDER BY m.id LIMIT 1)
WHERE handed_at IS NOT NULL;

INSERT INTO msg_hourly (hour, source, author, n)
SELECT m.created_at / 3600000, COALESCE(f.source, 'other'), m.author, COUNT(*)
FROM messages m LEFT JOIN conv_facts f ON f.conversation_id = m.conversation_id
WHERE m.internal = 0 GROUP BY 1, 2, 3;

INSERT INTO metric_totals (metric, l1, l2, value)
SELECT 'messages', c.channel, m.direction, COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.internal = 0 GROUP BY c.channel, m.direction;

INSERT INTO metric_totals (metric, l1, l2, value)
SELECT 'model_calls', provider, outcome, COUNT(*) FROM llm_calls GROUP BY provider, outcome;

UPDATE conv_facts SET
  intent = COALESCE(
    (SELECT json_extract(m.provenance, '$.intent') FROM messages m
     WHERE m.conversation_id = conv_facts.conversation_id AND m.author = 'bot' AND json_valid(m.provenance)
       AND json_extract(m.provenance, '$.intent') NOT IN ('greeting', 'thanks') ORDER BY m.id LIMIT 1),
    (SELECT json_extract(m.provenance, '$.intent') FROM messages m
     WHERE m.conversation_id = conv_facts.conversation_id AND m.author = 'bot' AND json_valid(m.provenance)
       AND json_extract(m.provenance, '$.intent') IS NOT NULL ORDER BY m.id LIMIT 1)),
  first_answer_ms = (SELECT CAST(json_extract(m.provenance, '$.latency_ms') AS INTEGER) FROM messages m
     WHERE m.conversation_id = conv_facts.conversation_id AND m.author = 'bot' AND json_valid(m.provenance)
       AND json_type(m.provenance, '$.latency_ms') IN ('integer', 'real') ORDER BY m.id LIMIT 1),
  answers = (SELECT COUNT(*) FROM messages m
     WHERE m.conversation_id = conv_facts.conversation_id AND m.author = 'bot' AND json_valid(m.provenance)
       AND json_type(m.provenance, '$.latency_ms') IN ('integer', 'real')),
  answer_ms_sum = COALESCE((SELECT SUM(CAST(json_extract(m.provenance, '$.latency_ms') AS INTEGER)) FROM messages m
     WHERE m.conversation_id = conv_facts.conversation_id AND m.author = 'bot' AND json_valid(m.provenance)
       AND json_type(m.provenance, '$.latency_ms') IN ('integer', 'real')), 0);

INSERT OR IGNORE INTO conv_docs (started_at, conversation_id, doc, uses, csat)
SELECT f.started_at, f.conversation_id, json_extract(s.value, '$.doc'), COUNT(*), f.csat
FROM messages m JOIN conv_facts f ON f.conversation_id = m.conversation_id,
     json_each(CASE WHEN json_valid(m.provenance) THEN m.provenance END, '$.sources') s
WHERE m.author = 'bot' AND json_valid(m.provenance) AND json_type(s.value, '$.doc') = 'text'
GROUP BY f.started_at, f.conversation_id, json_extract(s.value, '$.doc');

INSERT OR IGNORE INTO kb_gaps (message_id, at, kind, conversation_id)
SELECT b.id, b.created_at,
       CASE WHEN json_extract(m.provenance, '$.plan') = 'NotUnderstood' THEN 'low_confidence' ELSE 'not_found' END,
       m.conversation_id
FROM messages m JOIN messages b ON b.id = (SELECT MAX(id) FROM messages x WHERE x.conversation_id = m.conversation_id
                                            AND x.author = 'buyer' AND x.id < m.id)
WHERE m.author = 'bot' AND json_valid(m.provenance)
  AND (json_extract(m.provenance, '$.plan') = 'NotUnderstood'
       OR (json_extract(m.provenance, '$.plan') LIKE 'Knowledge(%'
           AND COALESCE(json_array_length(m.provenance, '$.sources'), 0) = 0));
