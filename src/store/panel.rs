//! What the panel needs beyond the inbox's own queries: the triage facts of listed
//! conversations (last message, how long the buyer has waited, mood), the set-up checklist's
//! facts, and each operator's alerts (preferences, what is due, what was sent).
//!
//! "Waiting" has one definition here: a conversation that is not closed and has buyer
//! messages after the last reply the buyer actually got (a person's or the bot's, not a note
//! and not a draft held for approval, nor the bot's message handing it to a person); it waits
//! since the first of those messages.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize as _;

use super::Result;

/// The last message id of a conversation that the buyer received as an answer.
/// The bot's "I am passing you to a person" answers nothing either.
const LAST_ANSWER: &str = "COALESCE((SELECT MAX(o.id) FROM messages o WHERE o.conversation_id = c.id
    AND o.author <> 'buyer' AND o.internal = 0 AND COALESCE(json_extract(o.provenance, '$.draft'), 0) = 0
    AND COALESCE(json_extract(o.provenance, '$.action'), '') <> 'handoff'), 0)";

/// Triage facts of one conversation in the list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Triage {
    /// Who wrote the last message: "buyer", "bot", "operator" or "system" (notes excluded).
    pub last_author: Option<String>,
    /// The start of the last message, at most 140 characters.
    pub last_text: Option<String>,
    /// When the first unanswered buyer message arrived (Unix ms); none when nobody waits.
    pub waiting_since: Option<i64>,
    /// The buyer's mood in their last understood message: "positive", "neutral", "negative", "angry".
    pub sentiment: Option<String>,
    /// The buyer's last understood message was urgent.
    pub urgent: bool,
}

/// Triage facts of the given conversations.
pub fn triage(conn: &Connection, ids: &[i64]) -> Result<HashMap<i64, Triage>> {
    let mut out = HashMap::with_capacity(ids.len());
    let mut last = conn.prepare_cached(
        "SELECT author, substr(body, 1, 140) FROM messages WHERE conversation_id = ?1 AND internal = 0
         ORDER BY id DESC LIMIT 1",
    )?;
    let mut waiting = conn.prepare_cached(&format!(
        "SELECT (SELECT MIN(b.created_at) FROM messages b WHERE b.conversation_id = c.id AND b.author = 'buyer'
           AND b.id > {LAST_ANSWER}) FROM conversations c WHERE c.id = ?1 AND c.status <> 'closed'"
    ))?;
    let mut mood = conn.prepare_cached(
        "SELECT json_extract(provenance, '$.sentiment'), COALESCE(json_extract(provenance, '$.urgent'), 0)
         FROM messages WHERE conversation_id = ?1 AND author = 'bot' AND provenance IS NOT NULL
           AND json_extract(provenance, '$.sentiment') IS NOT NULL
         ORDER BY id DESC LIMIT 1",
    )?;
    for &id in ids {
        let (last_author, last_text) = last
            .query_row([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .optional()?
            .map_or((None, None), |(a, t)| (Some(a), Some(t)));
        let waiting_since: Option<i64> = waiting.query_row([id], |r| r.get(0)).optional()?.flatten();
        let (sentiment, urgent) = mood
            .query_row([id], |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)? != 0)))
            .optional()?
            .unwrap_or((None, false));
        out.insert(id, Triage { last_author, last_text, waiting_since, sentiment, urgent });
    }
    Ok(out)
}

/// What the set-up checklist reads from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupFacts {
    pub conversations: i64,
    /// Bot replies that went out (not drafts).
    pub bot_replies: i64,
    pub widget_conversations: i64,
}

pub fn setup_facts(conn: &Connection) -> Result<SetupFacts> {
    Ok(SetupFacts {
        conversations: conn.query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0))?,
        bot_replies: conn.query_row(
            "SELECT COUNT(*) FROM messages WHERE author = 'bot' AND COALESCE(json_extract(provenance, '$.draft'), 0) = 0",
            [],
            |r| r.get(0),
        )?,
        widget_conversations: conn.query_row(
            "SELECT COUNT(*) FROM conversations WHERE channel = 'widget'",
            [],
            |r| r.get(0),
        )?,
    })
}

/// Hours without alerts, "HH:MM" in the shop's time; `to` may be past midnight (22:00–08:00).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub to: String,
}

/// One operator's alert preferences.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPrefs {
    /// Their own Telegram chat with the shop's bot (a numeric id); none: no Telegram alerts.
    #[schema(pattern = "^-?[0-9]{1,18}$")]
    pub telegram_chat_id: Option<String>,
    /// Where e-mail alerts go; none: no e-mail alerts.
    #[schema(
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?\s*$",
        max_length = 256
    )]
    pub email: Option<String>,
    /// A conversation was handed to people.
    pub on_handoff: bool,
    /// A marketplace question has waited longer than `overdue_minutes`.
    pub on_overdue: bool,
    /// A reply could not be delivered.
    pub on_failed: bool,
    /// 5 to 10080.
    #[schema(minimum = 5, maximum = 10080)]
    #[serde(deserialize_with = "whole_number")]
    pub overdue_minutes: i64,
    /// No alerts in these hours; none: alerts at any time.
    pub quiet: Option<QuietHours>,
}

/// An integer, also when written as a whole float (`5.0`), as JSON Schema allows.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    let v = serde_json::Number::deserialize(d)?;
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(serde::de::Error::custom("overdue_minutes: a whole number of minutes")),
    }
}

impl Default for AlertPrefs {
    fn default() -> Self {
        Self {
            telegram_chat_id: None,
            email: None,
            on_handoff: true,
            on_overdue: true,
            on_failed: true,
            overdue_minutes: 60,
            quiet: None,
        }
    }
}

const PREFS: &str = "SELECT telegram_chat_id, email, on_handoff, on_overdue, on_failed, overdue_minutes, quiet_from,
    quiet_to FROM alert_prefs";

fn prefs_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<AlertPrefs> {
    Ok(AlertPrefs {
        telegram_chat_id: r.get(at)?,
        email: r.get(at + 1)?,
        on_handoff: r.get::<_, i64>(at + 2)? != 0,
        on_overdue: r.get::<_, i64>(at + 3)? != 0,
        on_failed: r.get::<_, i64>(at + 4)? != 0,
        overdue_minutes: r.get(at + 5)?,
        quiet: match (r.get::<_, Option<String>>(at + 6)?, r.get::<_, Option<String>>(at + 7)?) {
            (Some(from), Some(to)) => Some(QuietHours { from, to }),
            _ => None,
        },
    })
}

/// The user's preferences (the defaults, with no route set, when never saved).
pub fn alert_prefs(conn: &Connection, user_id: i64) -> Result<AlertPrefs> {
    Ok(conn
        .prepare_cached(&format!("{PREFS} WHERE user_id = ?1"))?
        .query_row([user_id], |r| prefs_row(r, 0))
        .optional()?
        .unwrap_or_default())
}

pub fn put_alert_prefs(conn: &Connection, user_id: i64, p: &AlertPrefs, now: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO alert_prefs (user_id, telegram_chat_id, email, on_handoff, on_overdue, on_failed, overdue_minutes,
           quiet_from, quiet_to, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (user_id) DO UPDATE SET telegram_chat_id = excluded.telegram_chat_id, email = excluded.email,
           on_handoff = excluded.on_handoff, on_overdue = excluded.on_overdue, on_failed = excluded.on_failed,
           overdue_minutes = excluded.overdue_minutes, quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to,
           updated_at = excluded.updated_at",
        params![
            user_id,
            p.telegram_chat_id,
            p.email,
            p.on_handoff,
            p.on_overdue,
            p.on_failed,
            p.overdue_minutes,
            p.quiet.as_ref().map(|q| q.from.as_str()),
            p.quiet.as_ref().map(|q| q.to.as_str()),
            now
        ],
    )?;
    Ok(())
}

/// Active operators and admins with at least one alert route: (user id, preferences).
pub fn alert_subscribers(conn: &Connection) -> Result<Vec<(i64, AlertPrefs)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.user_id, p.telegram_chat_id, p.email, p.on_handoff, p.on_overdue, p.on_failed, p.overdue_minutes,
           p.quiet_from, p.quiet_to FROM alert_prefs p JOIN users u ON u.id = p.user_id
         WHERE u.disabled = 0 AND u.role IN ('operator', 'admin')
           AND (p.telegram_chat_id IS NOT NULL OR p.email IS NOT NULL) ORDER BY p.user_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, prefs_row(r, 1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn cursor(conn: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT value FROM alert_cursor WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

pub fn set_cursor(conn: &Connection, name: &str, value: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alert_cursor (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![name, value])?;
    Ok(())
}

/// The newest handoff event id and the newest failed outbox row id (where alerts start
/// reading on their first run: nothing from before is announced).
pub fn alert_heads(conn: &Connection) -> Result<(i64, i64)> {
    Ok((
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?,
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM outbox WHERE status = 'failed'", [], |r| r.get(0))?,
    ))
}

/// Something an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSubject {
    /// The cursor position it was read at (event or outbox id; 0 for overdue questions).
    pub position: i64,
    /// Unique per kind: the alert record's key.
    pub subject: String,
    pub conversation_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub customer_name: String,
    pub channel: String,
    /// A reason code (handoff), or the delivery error.
    pub detail: String,
    /// The buyer's last message, at most 200 characters.
    pub preview: String,
    /// When it happened (the oldest unanswered message for overdue questions).
    pub at: i64,
}

const SUBJECT_COLS: &str = "c.id, c.customer_id, COALESCE(cu.display_name, ''), c.channel,
    COALESCE((SELECT substr(m.body, 1, 200) FROM messages m WHERE m.conversation_id = c.id AND m.author = 'buyer'
              ORDER BY m.id DESC LIMIT 1), '')";

/// Handoff events after `after`, oldest first.
pub fn handoffs_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<AlertSubject>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT e.id, COALESCE(json_extract(e.payload, '$.reason'), ''), e.created_at, {SUBJECT_COLS}
         FROM events e JOIN conversations c ON c.id = e.conversation_id JOIN customers cu ON cu.id = c.customer_id
         WHERE e.id > ?1 AND e.kind = 'handoff' ORDER BY e.id LIMIT ?2"
    ))?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            let id: i64 = r.get(0)?;
            Ok(AlertSubject {
                position: id,
                subject: format!("event:{id}"),
                detail: r.get(1)?,
                at: r.get(2)?,
                conversation_id: Some(r.get(3)?),
                customer_id: Some(r.get(4)?),
                customer_name: r.get(5)?,
                channel: r.get(6)?,
                preview: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Outbox rows that failed for good after `after`, oldest first.
pub fn failed_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<AlertSubject>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, COALESCE(substr(o.last_error, 1, 200), ''), o.updated_at, o.channel, o.conversation_id,
           c.customer_id, COALESCE(cu.display_name, ''),
           COALESCE((SELECT substr(m.body, 1, 200) FROM messages m WHERE m.id = o.message_id), '')
         FROM outbox o LEFT JOIN conversations c ON c.id = o.conversation_id LEFT JOIN customers cu ON cu.id = c.customer_id
         WHERE o.id > ?1 AND o.status = 'failed' ORDER BY o.id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            let id: i64 = r.get(0)?;
            Ok(AlertSubject {
                position: id,
                subject: format!("outbox:{id}"),
                detail: r.get(1)?,
                at: r.get(2)?,
                channel: r.get(3)?,
                conversation_id: r.get(4)?,
                customer_id: r.get(5)?,
                customer_name: r.get(6)?,
                preview: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Marketplace conversations whose buyer has waited since before `since` (Unix ms).
pub fn overdue_marketplace(conn: &Connection, channels: &[&str], since: i64, limit: u32) -> Result<Vec<AlertSubject>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT w.first_id, m.created_at, {SUBJECT_COLS} FROM
           (SELECT c.id AS conv, (SELECT MIN(b.id) FROM messages b WHERE b.conversation_id = c.id AND b.author = 'buyer'
               AND b.id > {LAST_ANSWER}) AS first_id
            FROM conversations c WHERE c.status <> 'closed' AND c.channel = ?1) w
         JOIN messages m ON m.id = w.first_id JOIN conversations c ON c.id = w.conv JOIN customers cu ON cu.id = c.customer_id
         WHERE m.created_at <= ?2 ORDER BY m.created_at LIMIT ?3"
    ))?;
    for channel in channels {
        let rows = stmt
            .query_map(params![channel, since, limit], |r| {
                let first: i64 = r.get(0)?;
                let conv: i64 = r.get(2)?;
                Ok(AlertSubject {
                    position: 0,
                    subject: format!("conv:{conv}:{first}"),
                    detail: String::new(),
                    at: r.get(1)?,
                    conversation_id: Some(conv),
                    customer_id: Some(r.get(3)?),
                    customer_name: r.get(4)?,
                    channel: r.get(5)?,
                    preview: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.extend(rows);
    }
    Ok(out)
}

/// Records an alert before it goes out; false when it was recorded already (sent, failed or
/// held back by quiet hours before).
pub fn record_alert(
    conn: &Connection,
    user_id: i64,
    kind: &str,
    subject: &str,
    via: &str,
    status: &str,
    now: i64,
) -> Result<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO alerts_sent (user_id, kind, subject, via, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![user_id, kind, subject, via, status, now])?;
    Ok(n == 1)
}

pub fn finish_alert(
    conn: &Connection,
    user_id: i64,
    kind: &str,
    subject: &str,
    via: &str,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE alerts_sent SET status = ?5, error = ?6, sent_at = ?7
         WHERE user_id = ?1 AND kind = ?2 AND subject = ?3 AND via = ?4",
    )?
    .execute(params![user_id, kind, subject, via, if error.is_some() { "failed" } else { "sent" }, error, now])?;
    Ok(())
}

/// One alert as the profile page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AlertRecord {
    /// "handoff", "overdue" or "failed".
    pub kind: String,
    /// "telegram" or "email".
    pub via: String,
    /// "pending", "sent", "failed" or "quiet" (held back by quiet hours).
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
}

pub fn recent_alerts(conn: &Connection, user_id: i64, limit: u32) -> Result<Vec<AlertRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, via, status, error, created_at FROM alerts_sent WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![user_id, limit], |r| {
            Ok(AlertRecord {
                kind: r.get(0)?,
                via: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Who wrote the message an outbox row carries: (author, the operator's name when a person did).
pub fn sender_of_outbox(conn: &Connection, outbox_id: i64) -> Result<Option<(String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT m.author, u.name FROM outbox o JOIN messages m ON m.id = o.message_id
             LEFT JOIN users u ON u.id = m.author_user_id WHERE o.id = ?1",
        )?
        .query_row([outbox_id], |r| {
            let author: String = r.get(0)?;
            let name: Option<String> = r.get(1)?;
            let name = (author == "operator").then(|| name.unwrap_or_default());
            Ok((author, name))
        })
        .optional()?)
}

/// The names of these users (empty when they have none).
pub fn user_names(conn: &Connection, ids: &[i64]) -> Result<HashMap<i64, String>> {
    let mut out = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT name FROM users WHERE id = ?1")?;
    for &id in ids {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(name) = stmt.query_row([id], |r| r.get::<_, String>(0)).optional()? {
            out.insert(id, name);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;
    use crate::store::messaging::{self as msgs, Author, NewMessage};

    fn message(c: &Connection, conv: i64, author: Author, body: &str, provenance: Option<&str>, now: i64) -> i64 {
        let provenance: Option<serde_json::Value> = provenance.map(|p| serde_json::from_str(p).expect("json"));
        let m = NewMessage {
            conversation_id: conv,
            author,
            author_user_id: None,
            body,
            attachments: "[]",
            provenance: provenance.as_ref(),
            inbox_id: None,
        };
        msgs::append_message(c, &m, now).expect("message")
    }

    #[test]
    fn waiting_counts_from_the_first_unanswered_message_and_drafts_are_no_answer() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(&dir.path().join("t.db"), 1, 0).expect("db");
        db.with_conn(|c| {
            let cu = msgs::upsert_customer(c, "wb_questions", "q-1", "", 0)?;
            let conv = msgs::open_conversation(c, cu, "wb_questions", 0)?;
            message(c, conv, Author::Buyer, "есть ли размер M?", None, 1_000);
            let t = triage(c, &[conv])?;
            assert_eq!(t[&conv].waiting_since, Some(1_000));
            assert_eq!(t[&conv].last_author.as_deref(), Some("buyer"));
            // A draft held for approval answers nobody.
            message(
                c,
                conv,
                Author::Bot,
                "Да, есть.",
                Some(r#"{"draft": true, "sentiment": "angry", "urgent": true}"#),
                2_000,
            );
            let t = triage(c, &[conv])?;
            assert_eq!(t[&conv].waiting_since, Some(1_000));
            assert_eq!(t[&conv].sentiment.as_deref(), Some("angry"));
            assert!(t[&conv].urgent);
            let late = overdue_marketplace(c, &["wb_questions"], 1_500, 10)?;
            assert_eq!(late.len(), 1, "{late:?}");
            assert!(overdue_marketplace(c, &["wb_questions"], 500, 10)?.is_empty());
            // A reply that went out ends the wait; a new question starts another.
            message(c, conv, Author::Operator, "Да, есть M.", None, 3_000);
            assert_eq!(triage(c, &[conv])?[&conv].waiting_since, None);
            message(c, conv, Author::Buyer, "а L?", None, 4_000);
            assert_eq!(triage(c, &[conv])?[&conv].waiting_since, Some(4_000));
            // The bot's handoff message is no answer: the buyer still waits for a person.
            message(c, conv, Author::Bot, "Передаю оператору.", Some(r#"{"action": "handoff"}"#), 5_000);
            assert_eq!(triage(c, &[conv])?[&conv].waiting_since, Some(4_000));
            let facts = setup_facts(c)?;
            assert_eq!((facts.conversations, facts.bot_replies), (1, 1));
            Ok(())
        })
        .expect("store");
    }

    #[test]
    fn an_alert_is_recorded_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = Db::open(&dir.path().join("t.db"), 1, 0).expect("db");
        db.with_conn(|c| {
            c.execute(
                "INSERT INTO users (email, name, role, password_hash, created_at, updated_at) VALUES ('a@b.ru', '', 'admin', 'x', 0, 0)",
                [],
            )?;
            let user = c.last_insert_rowid();
            assert!(record_alert(c, user, "handoff", "event:1", "email", "pending", 1)?);
            assert!(!record_alert(c, user, "handoff", "event:1", "email", "pending", 2)?);
            finish_alert(c, user, "handoff", "event:1", "email", None, 3)?;
            let list = recent_alerts(c, user, 10)?;
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].status, "sent");
            let p = AlertPrefs { email: Some("a@b.ru".into()), ..AlertPrefs::default() };
            put_alert_prefs(c, user, &p, 5)?;
            assert_eq!(alert_prefs(c, user)?, p);
            assert_eq!(alert_subscribers(c)?.len(), 1);
            Ok(())
        })
        .expect("store");
    }
}
