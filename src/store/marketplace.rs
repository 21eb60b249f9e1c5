//! What each marketplace key reaches (per part), each part's sync progress, and the answer
//! deadlines of marketplace threads.

use std::collections::HashMap;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Result, optional};
use crate::marketplace::deadlines::DueRule;
use crate::marketplace::{Access, KeyInfo, Market, Part, PartAccess};

/// A part's access as last recorded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredAccess {
    pub part: Part,
    pub access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who said so: "token", "test", "sync" or "poll".
    pub source: String,
    pub checked_at: i64,
}

/// Records what a source found about parts. Unknown findings (a limit, an outage) do not
/// overwrite what is known.
pub fn set_access(conn: &Connection, market: Market, parts: &[PartAccess], source: &str, now: i64) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO marketplace_access (market, part, access, reason, source, checked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (market, part) DO UPDATE SET access = excluded.access, reason = excluded.reason,
             source = excluded.source, checked_at = excluded.checked_at",
    )?;
    for p in parts.iter().filter(|p| p.access != Access::Unknown) {
        stmt.execute(params![market.as_str(), p.part.as_str(), p.access.as_str(), p.reason, source, now])?;
    }
    Ok(())
}

/// Records a key's kind and what each part of it reaches (a connection test, a token read).
pub fn set_key(conn: &Connection, market: Market, info: &KeyInfo, source: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO marketplace_keys (market, kind, expires_at, read_only, checked_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (market) DO UPDATE SET kind = excluded.kind, expires_at = excluded.expires_at,
             read_only = excluded.read_only, checked_at = excluded.checked_at",
    )?
    .execute(params![market.as_str(), info.kind, info.expires_at, info.read_only, now])?;
    set_access(conn, market, &info.parts, source, now)
}

/// Every part's recorded access, in [`Part::ALL`] order (parts never checked are missing).
pub fn access(conn: &Connection, market: Market) -> Result<Vec<StoredAccess>> {
    let mut stmt = conn
        .prepare_cached("SELECT part, access, reason, source, checked_at FROM marketplace_access WHERE market = ?1")?;
    let mut out: Vec<StoredAccess> = stmt
        .query_map([market.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .filter_map(|row| {
            let (part, access, reason, source, checked_at) = row.ok()?;
            Some(StoredAccess {
                part: Part::parse(&part)?,
                access: Access::parse(&access)?,
                reason,
                source,
                checked_at,
            })
        })
        .collect();
    out.sort_by_key(|a| a.part);
    Ok(out)
}

/// A part's last sync.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PartSync {
    pub part: Part,
    /// "done", "skipped" (no access), "deferred" (a limit: next run) or "failed".
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    pub updated_at: i64,
}

/// Records how a part's sync went; `finished` when it finished (the next incremental run of
/// that part starts from there).
pub fn set_part_sync(
    conn: &Connection,
    market: Market,
    part: Part,
    status: &str,
    message: Option<&str>,
    finished: bool,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_parts (market, part, status, message, finished_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 THEN ?6 END, ?6)
         ON CONFLICT (market, part) DO UPDATE SET status = excluded.status, message = excluded.message,
             finished_at = COALESCE(excluded.finished_at, sync_parts.finished_at), updated_at = excluded.updated_at",
    )?
    .execute(params![market.as_str(), part.as_str(), status, message, finished, now])?;
    Ok(())
}

/// Every part's last sync.
pub fn part_syncs(conn: &Connection, market: Market) -> Result<Vec<PartSync>> {
    let mut stmt =
        conn.prepare_cached("SELECT part, status, message, finished_at, updated_at FROM sync_parts WHERE market = ?1")?;
    let mut out: Vec<PartSync> = stmt
        .query_map([market.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .filter_map(|row| {
            let (part, status, message, finished_at, updated_at) = row.ok()?;
            Some(PartSync { part: Part::parse(&part)?, status, message, finished_at, updated_at })
        })
        .collect();
    out.sort_by_key(|p| p.part);
    Ok(out)
}

/// When `part` last finished.
pub fn part_finished(conn: &Connection, market: Market, part: Part) -> Result<Option<i64>> {
    Ok(optional(
        conn.prepare_cached("SELECT finished_at FROM sync_parts WHERE market = ?1 AND part = ?2")?
            .query_row(params![market.as_str(), part.as_str()], |r| r.get::<_, Option<i64>>(0)),
    )?
    .flatten())
}

/// A thread's answer deadline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Deadline {
    pub due_at: i64,
    pub rule: DueRule,
    /// A reply to the thread is queued or sent since the buyer's message.
    pub answered: bool,
    /// When the "overdue" event was raised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_at: Option<i64>,
}

/// Notes a buyer's message in a marketplace thread and when its answer is due; a newer message
/// sets a new deadline (and may be overdue again), the same one changes nothing.
pub fn note_deadline(
    conn: &Connection,
    channel: &str,
    recipient: &str,
    message_at: i64,
    due_at: i64,
    rule: DueRule,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO reply_deadlines (channel, recipient, message_at, seen_at, due_at, rule) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (channel, recipient) DO UPDATE SET message_at = excluded.message_at, seen_at = excluded.seen_at,
             due_at = excluded.due_at, rule = excluded.rule, overdue_at = NULL
         WHERE excluded.message_at > reply_deadlines.message_at",
    )?
    .execute(params![channel, recipient, message_at, now, due_at, rule.as_str()])?;
    Ok(())
}

const ANSWERED: &str = "EXISTS (SELECT 1 FROM outbox o WHERE o.channel = d.channel AND o.recipient = d.recipient
     AND o.status != 'failed' AND o.created_at >= d.seen_at)";

/// The deadlines of these threads (channel, recipient).
pub fn deadlines(conn: &Connection, threads: &[(String, String)]) -> Result<HashMap<(String, String), Deadline>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.due_at, d.rule, {ANSWERED}, d.overdue_at FROM reply_deadlines d WHERE d.channel = ?1 AND d.recipient = ?2"
    ))?;
    let mut out = HashMap::new();
    for (channel, recipient) in threads {
        let row = optional(stmt.query_row(params![channel, recipient], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, Option<i64>>(3)?))
        }))?;
        if let Some((due_at, rule, answered, overdue_at)) = row
            && let Some(rule) = DueRule::parse(&rule)
        {
            out.insert((channel.clone(), recipient.clone()), Deadline { due_at, rule, answered, overdue_at });
        }
    }
    Ok(out)
}

/// An unanswered thread past its deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue {
    pub channel: String,
    pub recipient: String,
    pub conversation_id: i64,
    pub due_at: i64,
    pub rule: DueRule,
}

/// Threads whose deadline passed without an answer and that were not reported yet; they are
/// marked reported in the same call. A thread whose conversation the worker has not created
/// yet waits for a later call, so its note and event are not lost.
pub fn take_overdue(conn: &Connection, now: i64) -> Result<Vec<Overdue>> {
    // Immediate: the read and the marks are one write transaction, so a writer in between
    // cannot turn it into a "database is locked" failure.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let found: Vec<Overdue> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT channel, recipient, due_at, rule, conv FROM (
               SELECT d.channel, d.recipient, d.due_at, d.rule,
                      (SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id
                        WHERE cu.channel = d.channel AND cu.external_id = d.recipient ORDER BY c.id DESC LIMIT 1) AS conv
                 FROM reply_deadlines d
                WHERE d.overdue_at IS NULL AND d.due_at <= ?1 AND NOT {ANSWERED})
              WHERE conv IS NOT NULL
              ORDER BY due_at LIMIT 500"
        ))?;
        stmt.query_map([now], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?, r.get(4)?))
        })?
        .filter_map(|row| {
            let (channel, recipient, due_at, rule, conversation_id) = row.ok()?;
            Some(Overdue { channel, recipient, conversation_id, due_at, rule: DueRule::parse(&rule)? })
        })
        .collect()
    };
    {
        let mut mark =
            tx.prepare_cached("UPDATE reply_deadlines SET overdue_at = ?3 WHERE channel = ?1 AND recipient = ?2")?;
        for o in &found {
            mark.execute(params![o.channel, o.recipient, now])?;
            let conv = o.conversation_id;
            super::messaging::add_system_note(&tx, conv, &crate::texts::marketplace::overdue(o.rule), now)?;
            let what = serde_json::json!({"due_at": o.due_at, "rule": o.rule});
            super::messaging::add_event(&tx, "overdue", Some(conv), &what, now)?;
        }
    }
    tx.commit()?;
    Ok(found)
}

/// The latest conversation of each marketplace thread whose answer is due and not given yet,
/// soonest due first (the inbox's "by time left" order).
pub fn due_conversations(conn: &Connection, limit: u32) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT (SELECT c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id
                  WHERE cu.channel = d.channel AND cu.external_id = d.recipient ORDER BY c.id DESC LIMIT 1) AS conv
           FROM reply_deadlines d
          WHERE NOT {ANSWERED}
          ORDER BY d.due_at, d.channel, d.recipient LIMIT ?1"
    ))?;
    let ids = stmt.query_map([limit], |r| r.get::<_, Option<i64>>(0))?.filter_map(|r| r.ok().flatten()).collect();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;
    use crate::store::messaging as msgs;

    fn events(c: &Connection) -> i64 {
        c.query_row("SELECT COUNT(*) FROM events WHERE kind = 'overdue'", [], |r| r.get(0)).expect("count")
    }

    #[test]
    fn an_overdue_thread_is_reported_once_its_conversation_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            note_deadline(c, "wb_questions", "q-1", 1_000, 2_000, DueRule::ShopTarget, 1_500)?;
            // Past due while the worker has not stored the question yet: nothing is taken, so
            // nothing is lost.
            assert!(take_overdue(c, 3_000)?.is_empty());
            assert_eq!(events(c), 0);
            let customer = msgs::upsert_customer(c, "wb_questions", "q-1", "", 3_100)?;
            let conv = msgs::open_conversation(c, customer, "wb_questions", 3_100)?;
            let taken = take_overdue(c, 3_200)?;
            assert_eq!(taken.len(), 1);
            assert_eq!(taken[0].conversation_id, conv);
            assert_eq!(events(c), 1);
            // Reported once.
            assert!(take_overdue(c, 3_300)?.is_empty());
            assert_eq!(events(c), 1);
            Ok(())
        })
        .expect("store");
    }
}
