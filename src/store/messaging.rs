//! Customers, conversations, messages, and the durable inbox/outbox of channel messages.
//!
//! Inbox: `accept` stores an inbound item keyed by (channel, external id) before the channel is
//! acknowledged; a redelivery returns the existing row. Outbox: `enqueue` is idempotent by key;
//! a sender `claim`s due rows, then marks each sent or failed (with exponential backoff).
//! `recover` (at start) puts rows a crashed sender left in `sending` back in the queue.

use rusqlite::{Connection, params};

use super::{Result, StoreError, optional};

pub fn upsert_customer(
    conn: &Connection,
    channel: &str,
    external_id: &str,
    display_name: &str,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO customers (channel, external_id, display_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (channel, external_id) DO UPDATE SET
           display_name = CASE WHEN excluded.display_name <> '' THEN excluded.display_name ELSE display_name END,
           updated_at = excluded.updated_at",
    )?
    .execute(params![channel, external_id, display_name, now])?;
    Ok(conn
        .prepare_cached("SELECT id FROM customers WHERE channel = ?1 AND external_id = ?2")?
        .query_row(params![channel, external_id], |r| r.get(0))?)
}

/// Records a phone number the channel verified for the customer.
pub fn set_phone(conn: &Connection, customer_id: i64, phone: &str, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE customers SET phone = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        customer_id,
        phone,
        now
    ])?;
    Ok(())
}

/// The customer's open (or pending) conversation on `channel`, or a new one.
pub fn open_conversation(conn: &Connection, customer_id: i64, channel: &str, now: i64) -> Result<i64> {
    if let Some(id) = optional(
        conn.prepare_cached(
            "SELECT id FROM conversations WHERE customer_id = ?1 AND channel = ?2 AND status <> 'closed'
         ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![customer_id, channel], |r| r.get(0)),
    )? {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO conversations (customer_id, channel, created_at, updated_at, last_message_at) VALUES (?1, ?2, ?3, ?3, ?3)")?.execute(params![customer_id, channel, now],
    )?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Buyer,
    Bot,
    Operator,
    System,
}

impl Author {
    fn as_str(self) -> &'static str {
        match self {
            Author::Buyer => "buyer",
            Author::Bot => "bot",
            Author::Operator => "operator",
            Author::System => "system",
        }
    }
}

pub struct NewMessage<'a> {
    pub conversation_id: i64,
    pub author: Author,
    pub author_user_id: Option<i64>,
    pub body: &'a str,
    /// JSON array of the files that came with it ("[]" for none).
    pub attachments: &'a str,
    pub provenance: Option<&'a serde_json::Value>,
    /// The inbox row this message came from: at most one message per inbox row.
    pub inbox_id: Option<i64>,
}

/// Appends a message; for an inbound one already appended (same inbox row), returns its id.
pub fn append_message(conn: &Connection, m: &NewMessage<'_>, now: i64) -> Result<i64> {
    let direction = if m.author == Author::Buyer { "in" } else { "out" };
    let inserted = conn.prepare_cached("INSERT INTO messages (conversation_id, direction, author, author_user_id, body, attachments, provenance, inbox_id,
           created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING")?.execute(params![
            m.conversation_id,
            direction,
            m.author.as_str(),
            m.author_user_id,
            m.body,
            m.attachments,
            m.provenance.map(ToString::to_string),
            m.inbox_id,
            now
        ],
    )?;
    let id = if inserted == 1 {
        conn.last_insert_rowid()
    } else {
        conn.prepare_cached("SELECT id FROM messages WHERE inbox_id = ?1")?.query_row([m.inbox_id], |r| r.get(0))?
    };
    conn.prepare_cached("UPDATE conversations SET last_message_at = ?2, updated_at = ?2 WHERE id = ?1")?
        .execute(params![m.conversation_id, now])?;
    Ok(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub id: i64,
    /// True when this (channel, external id) had been stored before.
    pub duplicate: bool,
}

pub fn inbox_accept(conn: &Connection, channel: &str, external_id: &str, payload: &str, now: i64) -> Result<Accepted> {
    let n = conn
        .prepare_cached(
            "INSERT INTO inbox (channel, external_id, payload, received_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, external_id) DO NOTHING",
        )?
        .execute(params![channel, external_id, payload, now])?;
    let id = conn
        .prepare_cached("SELECT id FROM inbox WHERE channel = ?1 AND external_id = ?2")?
        .query_row(params![channel, external_id], |r| r.get(0))?;
    Ok(Accepted { id, duplicate: n == 0 })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// Pending inbound items in arrival order.
pub fn inbox_pending(conn: &Connection, limit: u32) -> Result<Vec<InboxItem>> {
    let mut stmt = conn.prepare(
        "SELECT id, channel, external_id, payload, attempts FROM inbox WHERE status = 'pending' ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(InboxItem {
                id: r.get(0)?,
                channel: r.get(1)?,
                external_id: r.get(2)?,
                payload: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn inbox_done(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE inbox SET status = 'done', processed_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Counts one start of processing of inbox item `id`, committed before the work begins, so a
/// start that crashes or hangs the process still counts. Returns the starts so far.
pub fn inbox_start(conn: &Connection, id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("UPDATE inbox SET attempts = attempts + 1 WHERE id = ?1 RETURNING attempts")?
        .query_row([id], |r| r.get(0))?)
}

/// Records a processing failure (its start was counted by [`inbox_start`]); after
/// `max_attempts` starts the item is parked as `failed`, otherwise it is tried again.
pub fn inbox_failed(conn: &Connection, id: i64, error: &str, max_attempts: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE inbox SET last_error = ?2,
         status = CASE WHEN attempts >= ?3 THEN 'failed' ELSE 'pending' END WHERE id = ?1",
    )?
    .execute(params![id, error, max_attempts])?;
    Ok(())
}

/// Parks an item that will not be processed automatically any more.
pub fn inbox_park(conn: &Connection, id: i64, error: &str, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE inbox SET status = 'failed', last_error = ?2, processed_at = ?3 WHERE id = ?1")?
        .execute(params![id, error, now])?;
    Ok(())
}

pub struct NewOutbound<'a> {
    pub channel: &'a str,
    pub recipient: &'a str,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub payload: &'a str,
    /// Stable per logical message (e.g. "msg:<id>"): enqueuing twice queues once.
    pub idempotency_key: &'a str,
}

pub fn outbox_enqueue(conn: &Connection, o: &NewOutbound<'_>, now: i64) -> Result<i64> {
    conn.prepare_cached("INSERT INTO outbox (channel, recipient, conversation_id, message_id, payload, idempotency_key, next_attempt_at,
           created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7) ON CONFLICT (idempotency_key) DO NOTHING")?.execute(params![o.channel, o.recipient, o.conversation_id, o.message_id, o.payload, o.idempotency_key, now],
    )?;
    Ok(conn
        .prepare_cached("SELECT id FROM outbox WHERE idempotency_key = ?1")?
        .query_row([o.idempotency_key], |r| r.get(0))?)
}

/// Where a posted message goes: the channel's recipient, the payload, and the key that makes
/// enqueuing it twice queue it once.
pub struct Delivery<'a> {
    pub channel: &'a str,
    pub recipient: &'a str,
    pub payload: &'a str,
    pub key: OutboxKey<'a>,
}

/// The outbox row's idempotency key.
pub enum OutboxKey<'a> {
    /// Stable per logical message and known before it is written ("reply:<inbox id>").
    Named(&'a str),
    /// "msg:<the posted message's id>": a message nothing else identifies (an operator's reply).
    Message,
}

/// One message posted in a conversation, in the caller's transaction: the message row, its
/// outbox row when it is to be delivered (`None`: a held draft), and the event the panel's
/// live updates read (`None`: the caller records its own). Returns the message's id.
pub fn post_message(
    conn: &Connection,
    m: &NewMessage<'_>,
    delivery: Option<&Delivery<'_>>,
    event: Option<(&str, &serde_json::Value)>,
    now: i64,
) -> Result<i64> {
    let id = append_message(conn, m, now)?;
    if let Some(d) = delivery {
        let by_message;
        let idempotency_key = match d.key {
            OutboxKey::Named(k) => k,
            OutboxKey::Message => {
                by_message = format!("msg:{id}");
                &by_message
            }
        };
        let o = NewOutbound {
            channel: d.channel,
            recipient: d.recipient,
            conversation_id: Some(m.conversation_id),
            message_id: Some(id),
            payload: d.payload,
            idempotency_key,
        };
        outbox_enqueue(conn, &o, now)?;
    }
    if let Some((kind, payload)) = event {
        add_event(conn, kind, Some(m.conversation_id), payload, now)?;
    }
    Ok(id)
}

/// Whether an outbox row with this idempotency key exists (sent or not).
pub fn outbox_has_key(conn: &Connection, idempotency_key: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE idempotency_key = ?1)")?
        .query_row([idempotency_key], |r| r.get(0))?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub payload: String,
    pub attempts: i64,
}

/// Marks up to `limit` due rows of `channel` as `sending` and returns them, oldest first: at
/// most one per recipient, and only when nothing older to that recipient is still pending, so
/// each buyer gets replies in order even across retries.
pub fn outbox_claim(conn: &mut Connection, channel: &str, limit: u32, now: i64) -> Result<Vec<OutboxItem>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let items = {
        let mut stmt = tx.prepare(
            "SELECT id, channel, recipient, payload, attempts FROM outbox o
             WHERE channel = ?1 AND status = 'queued' AND next_attempt_at <= ?2
               AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.channel = o.channel AND e.recipient = o.recipient
                               AND e.id < o.id AND e.status IN ('queued', 'sending')
                               AND NOT (e.status = 'queued' AND e.delivery IS 'parked'))
             ORDER BY id LIMIT ?3",
        )?;
        stmt.query_map(params![channel, now, limit], |r| {
            Ok(OutboxItem {
                id: r.get(0)?,
                channel: r.get(1)?,
                recipient: r.get(2)?,
                payload: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?
    };
    for item in &items {
        tx.prepare_cached(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![item.id, now])?;
    }
    tx.commit()?;
    Ok(items)
}

pub fn outbox_sent(conn: &Connection, id: i64, external_id: Option<&str>, now: i64) -> Result<()> {
    let n = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'sent', external_id = ?2, sent_at = ?3, updated_at = ?3, last_error = NULL
         WHERE id = ?1",
        )?
        .execute(params![id, external_id, now])?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// A message queued for a channel that its caller fetches (the `api` channel): id, recipient,
/// conversation, payload, queued at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub id: i64,
    pub recipient: String,
    pub conversation_id: Option<i64>,
    pub payload: String,
    pub created_at: i64,
}

/// Marks the queued rows of `channel` up to `up_to` (an id the caller has processed) as
/// delivered, then returns up to `limit` still queued after it, oldest first.
pub fn outbox_pull(conn: &Connection, channel: &str, up_to: i64, limit: u32, now: i64) -> Result<Vec<Pulled>> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'sent', sent_at = ?3, updated_at = ?3
         WHERE channel = ?1 AND status = 'queued' AND id <= ?2",
    )?
    .execute(params![channel, up_to, now])?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, recipient, conversation_id, payload, created_at FROM outbox
         WHERE channel = ?1 AND status = 'queued' AND id > ?2 ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![channel, up_to, limit], |r| {
            Ok(Pulled {
                id: r.get(0)?,
                recipient: r.get(1)?,
                conversation_id: r.get(2)?,
                payload: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A claimed row whose send never began (the dispatcher is stopping) goes back to the queue
/// as it was.
pub fn outbox_release(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'queued', attempts = MAX(attempts - 1, 0) WHERE id = ?1 AND status = 'sending'",
    )?
    .execute([id])?;
    Ok(())
}

/// A failed send: retried after `retry_after_ms` (or exponential backoff from 1 s, capped at
/// 10 min), or parked as `failed` after `max_attempts`.
pub fn outbox_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    retry_after_ms: Option<i64>,
    max_attempts: i64,
    now: i64,
) -> Result<()> {
    let attempts: i64 =
        conn.prepare_cached("SELECT attempts FROM outbox WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
    let backoff = retry_after_ms.unwrap_or_else(|| (1_000i64 << attempts.clamp(0, 20)).min(600_000));
    let status = if attempts >= max_attempts { "failed" } else { "queued" };
    conn.prepare_cached(
        "UPDATE outbox SET status = ?2, last_error = ?3, next_attempt_at = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![id, status, error, now + backoff, now])?;
    Ok(())
}

/// How long a parked send waits at most before it is tried again anyway.
const PARKED_MS: i64 = 30 * 24 * 3600 * 1000;

/// A send that cannot go now and must not be retried on a timer (WhatsApp outside the 24-hour
/// window): it stays queued, marked `parked` with the reason, and is due again when
/// [`outbox_unpark`] runs (the buyer wrote) or after 30 days. Later rows to the same recipient
/// do not wait behind it (a template notification may still go); once unparked it is older
/// than anything queued after it, so the buyer gets them in order.
pub fn outbox_park(conn: &Connection, id: i64, reason: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET status = 'queued', delivery = 'parked', last_error = ?2, next_attempt_at = ?3,
         attempts = MAX(attempts - 1, 0), updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, reason, now + PARKED_MS, now])?;
    Ok(())
}

/// The buyer wrote again: their parked sends are due now; returns how many.
pub fn outbox_unpark(conn: &Connection, channel: &str, recipient: &str, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET delivery = NULL, next_attempt_at = ?3, updated_at = ?3
             WHERE channel = ?1 AND recipient = ?2 AND status = 'queued' AND delivery = 'parked'",
        )?
        .execute(params![channel, recipient, now])?)
}

/// What the channel reported about a message it accepted (`external_id`): `sent`,
/// `delivered`, `read` or `failed` (with the reason). A report never moves a row back (a late
/// `delivered` after `read` is ignored); returns the row's conversation when it changed.
pub fn outbox_delivery(
    conn: &Connection,
    channel: &str,
    external_id: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<Option<Option<i64>>> {
    let rank = "CASE ?4 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE 0 END";
    let old = "CASE COALESCE(delivery, '') WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
               WHEN 'failed' THEN 4 ELSE 0 END";
    let sql = format!(
        "UPDATE outbox SET delivery = ?4, delivery_error = ?5, delivery_at = ?3, updated_at = ?3
         WHERE channel = ?1 AND external_id = ?2 AND {rank} > {old} RETURNING conversation_id"
    );
    optional(conn.prepare_cached(&sql)?.query_row(params![channel, external_id, now, status, error], |r| r.get(0)))
}

/// When `recipient` on `channel` last wrote (their latest stored message), ms.
pub fn last_buyer_message_at(conn: &Connection, channel: &str, recipient: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT MAX(m.created_at) FROM messages m JOIN conversations c ON c.id = m.conversation_id
             JOIN customers cu ON cu.id = c.customer_id
             WHERE cu.channel = ?1 AND cu.external_id = ?2 AND m.author = 'buyer'",
        )?
        .query_row(params![channel, recipient], |r| r.get(0))?)
}

/// Queued rows to `recipient` count as delivered (a channel that showed the whole conversation,
/// like the widget on reconnect); returns how many.
pub fn outbox_delivered_all(conn: &Connection, channel: &str, recipient: &str, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET status = 'sent', sent_at = ?3, updated_at = ?3, last_error = NULL
         WHERE channel = ?1 AND recipient = ?2 AND status = 'queued'",
        )?
        .execute(params![channel, recipient, now])?)
}

/// At start: rows left `sending` by a crash go back to the queue, and inbox rows stay pending.
pub fn recover(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("UPDATE outbox SET status = 'queued', updated_at = ?1 WHERE status = 'sending'")?
        .execute([now])?)
}

/// A conversation as the engine and the operator panel see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub customer_id: i64,
    pub channel: String,
    /// The customer's id on that channel (the outbox recipient).
    pub recipient: String,
    pub customer_name: String,
    /// "open", "pending" (waiting for a person) or "closed".
    pub status: String,
    /// "bot" or "operator".
    pub handled_by: String,
    pub assigned_user_id: Option<i64>,
    #[serde(skip)]
    pub state: String,
    pub handoff_reason: Option<String>,
    pub csat: Option<i64>,
    pub created_at: i64,
    pub last_message_at: i64,
    /// Buyer messages since the last reply (bot or person).
    pub unanswered: i64,
}

const CONVERSATION: &str =
    "SELECT c.id, c.customer_id, c.channel, cu.external_id, cu.display_name, c.status, c.handled_by,
    c.assigned_user_id, c.state, c.handoff_reason, c.csat, c.created_at, c.last_message_at,
    (SELECT COUNT(*) FROM messages b WHERE b.conversation_id = c.id AND b.author = 'buyer'
       AND b.id > COALESCE((SELECT MAX(o.id) FROM messages o WHERE o.conversation_id = c.id AND o.author <> 'buyer'
                            AND o.internal = 0), 0))
    FROM conversations c JOIN customers cu ON cu.id = c.customer_id";

fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        customer_id: r.get(1)?,
        channel: r.get(2)?,
        recipient: r.get(3)?,
        customer_name: r.get(4)?,
        status: r.get(5)?,
        handled_by: r.get(6)?,
        assigned_user_id: r.get(7)?,
        state: r.get(8)?,
        handoff_reason: r.get(9)?,
        csat: r.get(10)?,
        created_at: r.get(11)?,
        last_message_at: r.get(12)?,
        unanswered: r.get(13)?,
    })
}

pub fn conversation(conn: &Connection, id: i64) -> Result<Conversation> {
    optional(conn.prepare_cached(&format!("{CONVERSATION} WHERE c.id = ?1"))?.query_row([id], conversation_row))?
        .ok_or(StoreError::NotFound)
}

/// Conversations, most recent first, optionally only those in `status` / handled by
/// `handled_by` / matching `search` (the customer's name or id, an order number they gave, or
/// words of a message).
pub fn conversations(
    conn: &Connection,
    status: Option<&str>,
    handled_by: Option<&str>,
    search: Option<&str>,
    assigned: Option<i64>,
    limit: u32,
) -> Result<Vec<Conversation>> {
    let like = search.map(|q| format!("%{}%", q.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let mut stmt = conn.prepare_cached(&format!(
        "{CONVERSATION} WHERE (?1 IS NULL OR c.status = ?1) AND (?2 IS NULL OR c.handled_by = ?2)
           AND (?3 IS NULL OR cu.display_name LIKE ?3 ESCAPE '\\' OR cu.external_id LIKE ?3 ESCAPE '\\'
                OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.body LIKE ?3 ESCAPE '\\')
                OR EXISTS (SELECT 1 FROM customer_orders co JOIN orders o ON o.id = co.order_id
                           WHERE co.customer_id = c.customer_id AND o.number LIKE ?3 ESCAPE '\\'))
           AND (?5 IS NULL OR c.assigned_user_id = ?5)
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT ?4"
    ))?;
    let rows = stmt
        .query_map(params![status, handled_by, like, limit, assigned], conversation_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The newest conversation of the customer `external_id` on `channel`.
pub fn latest_conversation(conn: &Connection, channel: &str, external_id: &str) -> Result<Option<i64>> {
    optional(
        conn.prepare_cached(
            "SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id
         WHERE cu.channel = ?1 AND cu.external_id = ?2 ORDER BY c.id DESC LIMIT 1",
        )?
        .query_row(params![channel, external_id], |r| r.get(0)),
    )
}

/// A customer of some channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub display_name: String,
    /// Verified by the channel; shown to operators only.
    pub phone: Option<String>,
    pub notify_opt_out: bool,
    pub created_at: i64,
}

pub fn customer(conn: &Connection, id: i64) -> Result<Customer> {
    optional(
        conn.prepare_cached(
            "SELECT id, channel, external_id, display_name, phone, notify_opt_out, created_at FROM customers WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(Customer {
                id: r.get(0)?,
                channel: r.get(1)?,
                external_id: r.get(2)?,
                display_name: r.get(3)?,
                phone: r.get(4)?,
                notify_opt_out: r.get::<_, i64>(5)? != 0,
                created_at: r.get(6)?,
            })
        }),
    )?
    .ok_or(StoreError::NotFound)
}

/// A customer's conversations, newest first.
pub fn conversations_of(conn: &Connection, customer_id: i64) -> Result<Vec<Conversation>> {
    let mut stmt =
        conn.prepare_cached(&format!("{CONVERSATION} WHERE c.customer_id = ?1 ORDER BY c.id DESC LIMIT 50"))?;
    let rows = stmt.query_map([customer_id], conversation_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A saved reply; `{name}` and `{order}` are filled in by the panel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Snippet {
    pub id: i64,
    pub title: String,
    pub body: String,
}

pub fn snippets(conn: &Connection) -> Result<Vec<Snippet>> {
    let mut stmt = conn.prepare_cached("SELECT id, title, body FROM snippets ORDER BY title, id")?;
    let rows = stmt
        .query_map([], |r| Ok(Snippet { id: r.get(0)?, title: r.get(1)?, body: r.get(2)? }))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn put_snippet(conn: &Connection, id: Option<i64>, title: &str, body: &str, now: i64) -> Result<i64> {
    match id {
        Some(id) => {
            let n = conn
                .prepare_cached("UPDATE snippets SET title = ?2, body = ?3, updated_at = ?4 WHERE id = ?1")?
                .execute(params![id, title, body, now])?;
            if n == 0 { Err(StoreError::NotFound) } else { Ok(id) }
        }
        None => {
            conn.prepare_cached("INSERT INTO snippets (title, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)")?
                .execute(params![title, body, now])?;
            Ok(conn.last_insert_rowid())
        }
    }
}

pub fn delete_snippet(conn: &Connection, id: i64) -> Result<()> {
    let n = conn.prepare_cached("DELETE FROM snippets WHERE id = ?1")?.execute([id])?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// A note from the system in a conversation (never sent): what the panel must tell the
/// operators about it.
pub fn add_system_note(conn: &Connection, conversation_id: i64, body: &str, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, direction, author, body, internal, created_at)
         VALUES (?1, 'out', 'system', ?2, 1, ?3)",
    )?
    .execute(params![conversation_id, body, now])?;
    Ok(conn.last_insert_rowid())
}

/// An internal note in a conversation (never sent).
pub fn add_note(conn: &Connection, conversation_id: i64, user_id: i64, body: &str, now: i64) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, direction, author, author_user_id, body, internal, created_at)
         VALUES (?1, 'out', 'operator', ?2, ?3, 1, ?4)",
    )?
    .execute(params![conversation_id, user_id, body, now])?;
    Ok(conn.last_insert_rowid())
}

pub fn assign(conn: &Connection, conversation_id: i64, user_id: Option<i64>, now: i64) -> Result<()> {
    let n = conn
        .prepare_cached("UPDATE conversations SET assigned_user_id = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![conversation_id, user_id, now])?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn set_state(conn: &Connection, id: i64, state: &str, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE conversations SET state = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, state, now])?;
    Ok(())
}

/// Who answers next: the bot, or a person (`reason` says why; kept for the panel).
pub fn set_handler(
    conn: &Connection,
    id: i64,
    handled_by: &str,
    reason: Option<&str>,
    user_id: Option<i64>,
    now: i64,
) -> Result<()> {
    let n = if handled_by == "operator" {
        conn.prepare_cached(
            "UPDATE conversations SET handled_by = 'operator', status = 'pending',
               handoff_reason = COALESCE(?2, handoff_reason), handoff_at = COALESCE(handoff_at, ?4),
               assigned_user_id = COALESCE(?3, assigned_user_id), updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![id, reason, user_id, now])?
    } else {
        conn.prepare_cached(
            "UPDATE conversations SET handled_by = 'bot', status = 'open', handoff_reason = NULL, handoff_at = NULL,
               updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![id, now])?
    };
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

pub fn set_rating(conn: &Connection, id: i64, score: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE conversations SET csat = ?2, csat_at = ?3, status = 'closed', updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, score, now])?;
    Ok(())
}

pub fn close_conversation(conn: &Connection, id: i64, now: i64) -> Result<()> {
    let n = conn
        .prepare_cached("UPDATE conversations SET status = 'closed', updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Message {
    pub id: i64,
    /// "buyer", "bot", "operator" or "system".
    pub author: String,
    pub author_user_id: Option<i64>,
    pub body: String,
    /// An operators' note, never sent to the buyer.
    pub internal: bool,
    /// Files that came with it: [{kind, name, mime, size, path, error}].
    #[schema(value_type = Vec<Object>)]
    pub attachments: serde_json::Value,
    /// Why the bot said it: intent, confidence, sources, provider, tokens, latency.
    #[schema(value_type = Option<Object>)]
    pub provenance: Option<serde_json::Value>,
    pub created_at: i64,
    /// For a message sent to the buyer: what the channel reported (`sent`, `delivered`,
    /// `read`, `failed`) or `parked` (waiting for the buyer to write again); none when unknown.
    pub delivery: Option<String>,
}

/// The last `limit` messages of a conversation, oldest first.
/// A conversation and its last `limit` messages from one snapshot of the database: read apart,
/// a turn committed between the two reads showed its reply without what the same transaction
/// changed on the conversation (a rating, a handoff).
pub fn thread(conn: &mut Connection, id: i64, limit: u32) -> Result<(Conversation, Vec<Message>)> {
    let tx = conn.transaction()?;
    let read = (conversation(&tx, id)?, recent_messages(&tx, id, limit)?);
    tx.commit()?;
    Ok(read)
}

pub fn recent_messages(conn: &Connection, conversation_id: i64, limit: u32) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare(
        "SELECT id, author, author_user_id, body, provenance, created_at, attachments, internal,
           (SELECT CASE WHEN o.status = 'failed' THEN 'failed' ELSE o.delivery END FROM outbox o
             WHERE o.message_id = m.id ORDER BY o.id DESC LIMIT 1) FROM
           (SELECT * FROM messages WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2) m ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![conversation_id, limit], |r| {
            let prov: Option<String> = r.get(4)?;
            Ok(Message {
                id: r.get(0)?,
                author: r.get(1)?,
                author_user_id: r.get(2)?,
                body: r.get(3)?,
                attachments: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                internal: r.get::<_, i64>(7)? != 0,
                provenance: prov.and_then(|p| serde_json::from_str(&p).ok()),
                created_at: r.get(5)?,
                delivery: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Whether the inbox row was processed already (its reply, if any, is stored).
pub fn inbox_is_done(conn: &Connection, id: i64) -> Result<bool> {
    let status: String =
        conn.prepare_cached("SELECT status FROM inbox WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
    Ok(status == "done")
}

/// Appends an event for the operator panel's live view.
pub fn add_event(
    conn: &Connection,
    kind: &str,
    conversation_id: Option<i64>,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached("INSERT INTO events (kind, conversation_id, payload, created_at) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![kind, conversation_id, payload.to_string(), now])?;
    Ok(conn.last_insert_rowid())
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub conversation_id: Option<i64>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: i64,
}

/// Events after `after` (the catch-up of a reconnecting panel), oldest first.
pub fn events_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, conversation_id, payload, created_at FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            let p: String = r.get(3)?;
            Ok(Event {
                id: r.get(0)?,
                kind: r.get(1)?,
                conversation_id: r.get(2)?,
                payload: serde_json::from_str(&p).unwrap_or_default(),
                created_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        (dir, db)
    }

    #[test]
    fn inbox_is_idempotent_and_messages_are_not_duplicated() {
        let (_d, db) = db();
        db.with_conn(|c| {
            let a = inbox_accept(c, "telegram", "update:1", "{}", 10)?;
            let b = inbox_accept(c, "telegram", "update:1", "{}", 11)?;
            assert!(!a.duplicate && b.duplicate && a.id == b.id);
            assert_eq!(inbox_pending(c, 10)?.len(), 1);
            let cust = upsert_customer(c, "telegram", "42", "Анна", 10)?;
            assert_eq!(upsert_customer(c, "telegram", "42", "", 11)?, cust);
            let conv = open_conversation(c, cust, "telegram", 10)?;
            assert_eq!(open_conversation(c, cust, "telegram", 11)?, conv);
            let m = NewMessage {
                conversation_id: conv,
                author: Author::Buyer,
                author_user_id: None,
                body: "Где мой заказ?",
                attachments: "[]",
                provenance: None,
                inbox_id: Some(a.id),
            };
            let first = append_message(c, &m, 12)?;
            assert_eq!(append_message(c, &m, 13)?, first, "replay must not duplicate");
            let n: i64 = c.prepare_cached("SELECT COUNT(*) FROM messages")?.query_row([], |r| r.get(0))?;
            assert_eq!(n, 1);
            inbox_done(c, a.id, 14)?;
            assert!(inbox_pending(c, 10)?.is_empty());
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn outbox_retries_with_backoff_and_recovers_after_crash() {
        let (_d, db) = db();
        db.with_conn(|c| {
            let o = NewOutbound {
                channel: "telegram",
                recipient: "42",
                conversation_id: None,
                message_id: None,
                payload: "{\"text\":\"Здравствуйте\"}",
                idempotency_key: "msg:1",
            };
            let id = outbox_enqueue(c, &o, 100)?;
            assert_eq!(outbox_enqueue(c, &o, 101)?, id);
            let claimed = outbox_claim(c, "telegram", 10, 100)?;
            assert_eq!(claimed.len(), 1);
            assert!(outbox_claim(c, "telegram", 10, 100)?.is_empty(), "claimed rows are not claimed twice");
            outbox_failed(c, id, "429", Some(5_000), 5, 100)?;
            assert!(outbox_claim(c, "telegram", 10, 5_099)?.is_empty());
            assert_eq!(outbox_claim(c, "telegram", 10, 5_100)?.len(), 1);
            // Crash while sending: recover puts it back.
            assert_eq!(recover(c, 106_000)?, 1);
            let again = outbox_claim(c, "telegram", 10, 106_000)?;
            assert_eq!(again[0].attempts, 2);
            outbox_sent(c, id, Some("tg:77"), 106_001)?;
            assert!(outbox_claim(c, "telegram", 10, 999_999)?.is_empty());
            Ok(())
        })
        .expect("checks");
    }
}
