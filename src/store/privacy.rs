//! A buyer's personal data: everything stored about one customer (for an export), erasing it
//! on request, and the retention limits (old conversations, old files).
//!
//! Where a buyer's data lives: `customers` (name, phone, e-mail, their id on the channel),
//! `conversations` (dialog state with the order discussed), `messages` (text, files,
//! provenance), `inbox` (each raw inbound message), `outbox` (replies to them), `events`,
//! `customer_orders` (orders they showed to be theirs) and `orders.phone` (the marketplace's
//! copy), `llm_calls.conversation_id`, and `llm_cache` (answers to questions as asked). The
//! search index and the vectors hold only articles and products, never buyers' text.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Result, StoreError, optional};

/// The customer row with every column that holds personal data.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerRecord {
    pub id: i64,
    pub channel: String,
    /// Their id on the channel (Telegram user id, widget visitor id, …).
    pub external_id: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub notify_opt_out: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn customer_record(conn: &Connection, id: i64) -> Result<CustomerRecord> {
    optional(
        conn.prepare_cached(
            "SELECT id, channel, external_id, display_name, phone, email, notify_opt_out, created_at, updated_at
             FROM customers WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(CustomerRecord {
                id: r.get(0)?,
                channel: r.get(1)?,
                external_id: r.get(2)?,
                display_name: r.get(3)?,
                phone: r.get(4)?,
                email: r.get(5)?,
                notify_opt_out: r.get::<_, i64>(6)? != 0,
                created_at: r.get(7)?,
                updated_at: r.get(8)?,
            })
        }),
    )?
    .ok_or(StoreError::NotFound)
}

/// Customers matching `query`: their id, "channel:id", a phone (any spacing), or part of a name.
pub fn find_customers(conn: &Connection, query: &str, limit: u32) -> Result<Vec<CustomerRecord>> {
    let q = query.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone = (digits.len() == 11 && (digits.starts_with('7') || digits.starts_with('8')))
        .then(|| format!("+7{}", &digits[1..]));
    let (channel, external) = q.split_once(':').unwrap_or(("", ""));
    let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let mut stmt = conn.prepare(
        "SELECT id FROM customers WHERE CAST(id AS TEXT) = ?1 OR (channel = ?2 AND external_id = ?3)
           OR (?4 IS NOT NULL AND phone = ?4) OR email = ?1 COLLATE NOCASE
           OR (length(?1) >= 2 AND display_name LIKE ?5 ESCAPE '\\')
         ORDER BY id LIMIT ?6",
    )?;
    let ids: Vec<i64> = stmt
        .query_map(params![q, channel, external, phone, like, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.into_iter().map(|id| customer_record(conn, id)).collect()
}

/// A message as exported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRecord {
    pub id: i64,
    pub author: String,
    pub body: String,
    /// A staff note about the conversation, never sent to the buyer.
    pub internal: bool,
    pub attachments: serde_json::Value,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConversationRecord {
    pub id: i64,
    pub channel: String,
    pub status: String,
    pub handled_by: String,
    pub handoff_reason: Option<String>,
    pub csat: Option<i64>,
    /// What the assistant remembered (awaited answer, the order discussed).
    pub state: serde_json::Value,
    pub created_at: i64,
    pub last_message_at: i64,
    pub messages: Vec<MessageRecord>,
}

/// One raw inbound message as the channel delivered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedRecord {
    pub received_at: i64,
    pub payload: serde_json::Value,
}

/// A model call made while answering the buyer (no text is stored with it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCallRecord {
    pub at: i64,
    pub provider: String,
    pub model: String,
    pub outcome: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Everything stored about one buyer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerData {
    pub customer: CustomerRecord,
    pub conversations: Vec<ConversationRecord>,
    /// Orders the buyer showed to be theirs (the marketplace's data as cached).
    pub orders: Vec<crate::marketplace::Order>,
    pub returns: Vec<crate::marketplace::Return>,
    pub received: Vec<ReceivedRecord>,
    pub model_calls: Vec<ModelCallRecord>,
}

impl CustomerData {
    /// Files of the buyer's conversations, as paths relative to the data directory.
    pub fn files(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .conversations
            .iter()
            .flat_map(|c| &c.messages)
            .flat_map(|m| attachment_paths(&m.attachments))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn attachment_paths(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .map(|a| a.iter().filter_map(|f| f.get("path").and_then(|p| p.as_str()).map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.to_owned()))
}

/// Customer `id` and everything linked to them.
pub fn customer_data(conn: &Connection, id: i64) -> Result<CustomerData> {
    let customer = customer_record(conn, id)?;
    let mut conversations: Vec<ConversationRecord> = {
        let mut stmt = conn.prepare(
            "SELECT id, channel, status, handled_by, handoff_reason, csat, state, created_at, last_message_at
             FROM conversations WHERE customer_id = ?1 ORDER BY id",
        )?;
        stmt.query_map([id], |r| {
            Ok(ConversationRecord {
                id: r.get(0)?,
                channel: r.get(1)?,
                status: r.get(2)?,
                handled_by: r.get(3)?,
                handoff_reason: r.get(4)?,
                csat: r.get(5)?,
                state: json(&r.get::<_, String>(6)?),
                created_at: r.get(7)?,
                last_message_at: r.get(8)?,
                messages: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    let mut stmt = conn.prepare(
        "SELECT id, author, body, internal, attachments, created_at FROM messages WHERE conversation_id = ?1 ORDER BY id",
    )?;
    for c in &mut conversations {
        c.messages = stmt
            .query_map([c.id], |r| {
                Ok(MessageRecord {
                    id: r.get(0)?,
                    author: r.get(1)?,
                    body: r.get(2)?,
                    internal: r.get::<_, i64>(3)? != 0,
                    attachments: json(&r.get::<_, String>(4)?),
                    created_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    let orders = super::orders::of_customer(conn, id)?;
    let mut returns = Vec::new();
    for o in &orders {
        returns.extend(super::orders::returns_of(conn, o)?);
    }
    let received = {
        let mut stmt = conn.prepare(&format!("SELECT received_at, payload FROM inbox WHERE {INBOX_OF} ORDER BY id"))?;
        stmt.query_map(params![id, customer.channel, customer.external_id], |r| {
            Ok(ReceivedRecord { received_at: r.get(0)?, payload: json(&r.get::<_, String>(1)?) })
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    let model_calls = {
        let mut stmt = conn.prepare(
            "SELECT at, provider, model, outcome, prompt_tokens, completion_tokens FROM llm_calls
             WHERE conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?1) ORDER BY id",
        )?;
        stmt.query_map([id], |r| {
            Ok(ModelCallRecord {
                at: r.get(0)?,
                provider: r.get(1)?,
                model: r.get(2)?,
                outcome: r.get(3)?,
                prompt_tokens: r.get(4)?,
                completion_tokens: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    Ok(CustomerData { customer, conversations, orders, returns, received, model_calls })
}

/// Inbox rows of customer ?1 (channel ?2, id on it ?3): those their messages came from, and
/// any other the channel delivered from them (a message that failed processing).
const INBOX_OF: &str = "id IN (SELECT inbox_id FROM messages WHERE inbox_id IS NOT NULL
       AND conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?1))
    OR (channel = ?2 AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.customer') END = ?3)";

/// What an erase or an expiry removed (counts only: no personal data).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Removed {
    pub customers: usize,
    pub conversations: usize,
    pub messages: usize,
    /// Raw inbound messages.
    pub received: usize,
    /// Replies queued or sent to them.
    pub replies: usize,
    /// Orders whose buyer phone was cleared (and stays cleared).
    pub orders_cleared: usize,
    /// Model-call records no longer linked to a conversation.
    pub model_calls_unlinked: usize,
    /// Files to delete from the data directory (relative paths), listed here by the store.
    pub files: Vec<String>,
}

/// Deletes the conversations `ids` with everything that hangs off them.
fn remove_conversations(conn: &Connection, ids: &[i64], out: &mut Removed) -> Result<()> {
    let mut attachments = conn.prepare_cached("SELECT attachments FROM messages WHERE conversation_id = ?1")?;
    for &id in ids {
        for list in attachments.query_map([id], |r| r.get::<_, String>(0))? {
            out.files.extend(attachment_paths(&json(&list?)));
        }
        out.received += conn
            .prepare_cached(
                "DELETE FROM inbox WHERE id IN (SELECT inbox_id FROM messages WHERE conversation_id = ?1 AND inbox_id IS NOT NULL)",
            )?
            .execute([id])?;
        out.replies += conn.prepare_cached("DELETE FROM outbox WHERE conversation_id = ?1")?.execute([id])?;
        conn.prepare_cached("DELETE FROM events WHERE conversation_id = ?1")?.execute([id])?;
        out.model_calls_unlinked += conn
            .prepare_cached("UPDATE llm_calls SET conversation_id = NULL WHERE conversation_id = ?1")?
            .execute([id])?;
        out.messages += conn.prepare_cached("DELETE FROM messages WHERE conversation_id = ?1")?.execute([id])?;
        out.conversations += conn.prepare_cached("DELETE FROM conversations WHERE id = ?1")?.execute([id])?;
    }
    Ok(())
}

/// Erases customer `id`: their conversations with messages, raw inbound messages, replies,
/// events, order links, their phone on cached orders (marked, so a sync does not bring it
/// back), the link of model-call records, and the answer cache (it may quote questions);
/// then the customer row. One transaction; the caller deletes the files listed and compacts
/// the database file.
pub fn erase_customer(conn: &mut Connection, id: i64) -> Result<Removed> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let customer = customer_record(&tx, id)?;
    let mut out = Removed::default();
    out.received += tx
        .prepare(
            "DELETE FROM inbox WHERE channel = ?1
               AND CASE WHEN json_valid(payload) THEN json_extract(payload, '$.customer') END = ?2",
        )?
        .execute(params![customer.channel, customer.external_id])?;
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM conversations WHERE customer_id = ?1")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    remove_conversations(&tx, &ids, &mut out)?;
    out.replies += tx
        .prepare("DELETE FROM outbox WHERE channel = ?1 AND recipient = ?2")?
        .execute(params![customer.channel, customer.external_id])?;
    out.orders_cleared += tx
        .prepare(
            "UPDATE orders SET phone = NULL, phone_erased = 1
             WHERE id IN (SELECT order_id FROM customer_orders WHERE customer_id = ?1) OR (?2 IS NOT NULL AND phone = ?2)",
        )?
        .execute(params![id, customer.phone])?;
    tx.execute("DELETE FROM llm_cache", [])?;
    tx.execute("DELETE FROM customer_orders WHERE customer_id = ?1", [id])?;
    out.customers += tx.execute("DELETE FROM customers WHERE id = ?1", [id])?;
    tx.commit()?;
    out.files.sort();
    out.files.dedup();
    Ok(out)
}

/// Conversations whose last message is before `cutoff` go, with what hangs off them, and then
/// buyers with nothing left who were last seen before it; raw inbound messages, sent replies
/// and events older than it, and phones on orders placed before it. At most `batch`
/// conversations per call (the caller repeats while the count is `batch`).
pub fn expire_conversations(conn: &mut Connection, cutoff: i64, batch: u32) -> Result<Removed> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Removed::default();
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM conversations WHERE last_message_at < ?1 ORDER BY id LIMIT ?2")?
        .query_map(params![cutoff, batch], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    remove_conversations(&tx, &ids, &mut out)?;
    if (ids.len() as u64) < u64::from(batch) {
        out.received +=
            tx.prepare("DELETE FROM inbox WHERE received_at < ?1 AND status <> 'pending'")?.execute([cutoff])?;
        out.replies += tx
            .prepare("DELETE FROM outbox WHERE created_at < ?1 AND status NOT IN ('queued', 'sending')")?
            .execute([cutoff])?;
        tx.execute("DELETE FROM events WHERE created_at < ?1", [cutoff])?;
        out.orders_cleared += tx.execute(
            "UPDATE orders SET phone = NULL, phone_erased = 1 WHERE created_at < ?1 AND phone IS NOT NULL",
            [cutoff],
        )?;
        out.customers += tx.execute(
            "DELETE FROM customers WHERE updated_at < ?1
               AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.customer_id = customers.id)",
            [cutoff],
        )?;
    }
    tx.commit()?;
    Ok(out)
}

/// Files of messages sent before `cutoff`: each attachment loses its path and says `note`
/// instead. Returns the paths to delete (at most `batch` messages per call).
pub fn expire_files(conn: &mut Connection, cutoff: i64, note: &str, batch: u32) -> Result<Vec<String>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let rows: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, attachments FROM messages WHERE created_at < ?1 AND attachments LIKE '%\"path\"%'
             ORDER BY id LIMIT ?2",
        )?
        .query_map(params![cutoff, batch], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut files = Vec::new();
    for (id, text) in rows {
        let mut list = json(&text);
        if let Some(items) = list.as_array_mut() {
            for item in items.iter_mut().filter_map(|i| i.as_object_mut()) {
                if let Some(serde_json::Value::String(p)) = item.remove("path") {
                    files.push(p);
                    item.entry("error").or_insert_with(|| note.into());
                }
            }
        }
        tx.prepare_cached("UPDATE messages SET attachments = ?2 WHERE id = ?1")?
            .execute(params![id, list.to_string()])?;
    }
    tx.commit()?;
    Ok(files)
}

/// Rewrites the database file without free pages (so deleted text is gone from the file) and
/// folds the write-ahead log back into it. Returns false when a reader kept the log from being
/// emptied (it is emptied at the next checkpoint).
pub fn compact(conn: &Connection) -> Result<bool> {
    conn.execute_batch("VACUUM")?;
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;
    use crate::store::messaging::{self as msgs, Author, NewMessage};

    #[test]
    fn erase_removes_the_buyer_everywhere_and_keeps_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            let conv_of = |ext: &str, text: &str| -> Result<(i64, i64)> {
                let payload = serde_json::json!({"channel": "api", "customer": ext, "text": text}).to_string();
                let inbox = msgs::inbox_accept(c, "api", &format!("m-{ext}"), &payload, 10)?;
                let cust = msgs::upsert_customer(c, "api", ext, "Анна", 10)?;
                let conv = msgs::open_conversation(c, cust, "api", 10)?;
                let m = NewMessage {
                    conversation_id: conv,
                    author: Author::Buyer,
                    author_user_id: None,
                    body: text,
                    attachments: r#"[{"kind":"photo","size":3,"path":"files/telegram/a.jpg"}]"#,
                    provenance: None,
                    inbox_id: Some(inbox.id),
                };
                msgs::append_message(c, &m, 11)?;
                Ok((cust, conv))
            };
            let (anna, conv) = conv_of("a-1", "мой телефон +79160001122")?;
            let (other, _) = conv_of("b-2", "другой покупатель")?;
            msgs::set_phone(c, anna, "+79160001122", 12)?;
            c.execute(
                "INSERT INTO llm_calls (at, month, provider, model, outcome, conversation_id) VALUES (1, '2025-01', 'local', 'm', 'ok', ?1)",
                [conv],
            )?;
            c.execute("INSERT INTO llm_cache (key, completion, created_at, expires_at) VALUES ('k', 'x', 1, 2)", [])?;

            let data = customer_data(c, anna)?;
            assert_eq!(data.customer.phone.as_deref(), Some("+79160001122"));
            assert_eq!(data.conversations[0].messages[0].body, "мой телефон +79160001122");
            assert_eq!(data.received.len(), 1);
            assert_eq!(data.model_calls.len(), 1);
            assert_eq!(data.files(), ["files/telegram/a.jpg"]);
            assert_eq!(find_customers(c, "8 (916) 000-11-22", 10)?[0].id, anna);
            assert_eq!(find_customers(c, "api:a-1", 10)?[0].id, anna);

            let removed = erase_customer(c, anna)?;
            assert_eq!((removed.customers, removed.conversations, removed.messages, removed.received), (1, 1, 1, 1));
            assert_eq!(removed.model_calls_unlinked, 1);
            assert_eq!(removed.files, ["files/telegram/a.jpg"]);
            assert!(matches!(customer_record(c, anna), Err(StoreError::NotFound)));
            let left: i64 = c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
            assert_eq!(left, 1, "the other buyer's message stays");
            assert_eq!(customer_data(c, other)?.conversations.len(), 1);
            let calls: i64 = c.query_row("SELECT COUNT(*) FROM llm_calls WHERE conversation_id IS NULL", [], |r| r.get(0))?;
            assert_eq!(calls, 1, "the cost record stays, unlinked");
            let cache: i64 = c.query_row("SELECT COUNT(*) FROM llm_cache", [], |r| r.get(0))?;
            assert_eq!(cache, 0);
            assert!(compact(c)?);
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn old_files_and_conversations_expire() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            let cust = msgs::upsert_customer(c, "api", "x", "Иван", 100)?;
            let conv = msgs::open_conversation(c, cust, "api", 100)?;
            let m = NewMessage {
                conversation_id: conv,
                author: Author::Buyer,
                author_user_id: None,
                body: "фото",
                attachments: r#"[{"kind":"photo","size":3,"path":"files/telegram/b.jpg"}]"#,
                provenance: None,
                inbox_id: None,
            };
            msgs::append_message(c, &m, 100)?;
            assert!(expire_files(c, 100, "удалён", 10)?.is_empty(), "not older than the cutoff");
            assert_eq!(expire_files(c, 101, "удалён", 10)?, ["files/telegram/b.jpg"]);
            let list: String = c.query_row("SELECT attachments FROM messages", [], |r| r.get(0))?;
            assert!(!list.contains("path") && list.contains("удалён"), "{list}");
            assert!(expire_files(c, 101, "удалён", 10)?.is_empty(), "once");
            assert_eq!(expire_conversations(c, 100, 10)?.conversations, 0);
            let gone = expire_conversations(c, 101, 10)?;
            assert_eq!((gone.conversations, gone.messages, gone.customers), (1, 1, 1));
            Ok(())
        })
        .expect("checks");
    }
}
