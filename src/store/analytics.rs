//! The SQL of analytics: reads of the summaries that the triggers of migration 0012 maintain
//! (`conv_facts`, `msg_hourly`, `conv_docs`, `kb_gaps`, `metric_totals`), the gauges of the
//! queues, and the scheduled report runs. The figures themselves are defined in
//! `analytics::figures`.

use rusqlite::{Connection, params};

use super::Result;
use crate::analytics::{GapKind, Reason, Source};
use crate::nlu::Intent;

const HOUR: i64 = 3_600_000;

/// One conversation, as the figures see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub conversation_id: i64,
    pub started_at: i64,
    pub source: Source,
    pub buyer_msgs: i64,
    pub bot_msgs: i64,
    pub operator_msgs: i64,
    pub first_buyer_at: Option<i64>,
    pub first_reply_at: Option<i64>,
    /// The buyer's last message has no reply yet.
    pub waiting: bool,
    pub first_answer_ms: Option<i64>,
    pub answer_ms_sum: i64,
    pub answers: i64,
    pub intent: Option<Intent>,
    pub handed_at: Option<i64>,
    pub handoff_reason: Option<Reason>,
    pub first_human_at: Option<i64>,
    pub first_operator_id: Option<i64>,
    pub resolved_at: Option<i64>,
    pub csat: Option<i64>,
}

const FACT: &str = "SELECT conversation_id, started_at, source, buyer_msgs, bot_msgs, operator_msgs, first_buyer_at,
    first_reply_at, COALESCE(last_buyer_id, 0) > COALESCE(last_reply_id, 0), first_answer_ms, answer_ms_sum, answers,
    intent, handed_at, handoff_reason, first_human_at, first_operator_id, resolved_at, csat FROM conv_facts";

fn fact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Fact> {
    let text = |i: usize| -> rusqlite::Result<Option<&str>> { Ok(r.get_ref(i)?.as_str_or_null()?) };
    Ok(Fact {
        conversation_id: r.get(0)?,
        started_at: r.get(1)?,
        source: Source::parse(text(2)?.unwrap_or("other")),
        buyer_msgs: r.get(3)?,
        bot_msgs: r.get(4)?,
        operator_msgs: r.get(5)?,
        first_buyer_at: r.get(6)?,
        first_reply_at: r.get(7)?,
        waiting: r.get(8)?,
        first_answer_ms: r.get(9)?,
        answer_ms_sum: r.get(10)?,
        answers: r.get(11)?,
        intent: text(12)?.and_then(Intent::parse),
        handed_at: r.get(13)?,
        handoff_reason: text(14)?.map(Reason::parse),
        first_human_at: r.get(15)?,
        first_operator_id: r.get(16)?,
        resolved_at: r.get(17)?,
        csat: r.get(18)?,
    })
}

/// Calls `each` for every conversation started in `[from, to)`, in start order (a range scan
/// of the clustered table).
pub fn facts(conn: &Connection, from: i64, to: i64, each: &mut dyn FnMut(Fact)) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!("{FACT} WHERE started_at >= ?1 AND started_at < ?2"))?;
    let mut rows = stmt.query(params![from, to])?;
    while let Some(r) = rows.next()? {
        each(fact_row(r)?);
    }
    Ok(())
}

/// The facts of one conversation.
pub fn fact(conn: &Connection, conversation_id: i64) -> Result<Option<Fact>> {
    super::optional(
        conn.prepare_cached(&format!("{FACT} WHERE conversation_id = ?1"))?.query_row([conversation_id], fact_row),
    )
}

/// Messages of one hour (UTC), source and author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCount {
    /// The hour's first millisecond.
    pub hour: i64,
    pub source: Source,
    /// "buyer", "bot", "operator" or "system".
    pub author: String,
    pub n: i64,
}

/// Messages (internal notes left out) in `[from, to)`: whole hours from the hourly summary,
/// the partial hours at either end counted from the messages themselves.
pub fn message_counts(conn: &Connection, from: i64, to: i64) -> Result<Vec<HourCount>> {
    let mut out = Vec::new();
    let first_whole = from.div_euclid(HOUR) + i64::from(from.rem_euclid(HOUR) != 0);
    let last_whole = to.div_euclid(HOUR);
    let raw = |a: i64, b: i64, out: &mut Vec<HourCount>| -> Result<()> {
        if a >= b {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(
            "SELECT m.created_at / 3600000, COALESCE(f.source, 'other'), m.author, COUNT(*)
             FROM messages m LEFT JOIN conv_facts f ON f.conversation_id = m.conversation_id
             WHERE m.created_at >= ?1 AND m.created_at < ?2 AND m.internal = 0 GROUP BY 1, 2, 3",
        )?;
        let rows = stmt.query_map(params![a, b], |r| {
            Ok(HourCount {
                hour: r.get::<_, i64>(0)? * HOUR,
                source: Source::parse(r.get_ref(1)?.as_str()?),
                author: r.get(2)?,
                n: r.get(3)?,
            })
        })?;
        for r in rows {
            out.push(r?);
        }
        Ok(())
    };
    if first_whole >= last_whole {
        raw(from, to, &mut out)?;
        return Ok(out);
    }
    raw(from, first_whole * HOUR, &mut out)?;
    {
        let mut stmt =
            conn.prepare_cached("SELECT hour, source, author, n FROM msg_hourly WHERE hour >= ?1 AND hour < ?2")?;
        let rows = stmt.query_map(params![first_whole, last_whole], |r| {
            Ok(HourCount {
                hour: r.get::<_, i64>(0)? * HOUR,
                source: Source::parse(r.get_ref(1)?.as_str()?),
                author: r.get(2)?,
                n: r.get(3)?,
            })
        })?;
        for r in rows {
            out.push(r?);
        }
    }
    raw(last_whole * HOUR, to, &mut out)?;
    Ok(out)
}

/// An operator's replies in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorReplies {
    /// None for an account that no longer exists.
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub replies: i64,
    pub conversations: i64,
}

/// Replies to buyers by each person in `[from, to)`, most first.
pub fn operator_replies(conn: &Connection, from: i64, to: i64) -> Result<Vec<OperatorReplies>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.author_user_id, COALESCE(u.name, ''), COALESCE(u.email, ''), COUNT(*), COUNT(DISTINCT m.conversation_id)
         FROM messages m LEFT JOIN users u ON u.id = m.author_user_id
         WHERE m.author = 'operator' AND m.internal = 0 AND m.created_at >= ?1 AND m.created_at < ?2
         GROUP BY m.author_user_id ORDER BY COUNT(*) DESC, m.author_user_id",
    )?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(OperatorReplies {
                user_id: r.get(0)?,
                name: r.get(1)?,
                email: r.get(2)?,
                replies: r.get(3)?,
                conversations: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// (id, name, e-mail) of accounts.
pub fn user_names(conn: &Connection, ids: &[i64]) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT id, name, email FROM users WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(row) = super::optional(stmt.query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))))? {
            out.push(row);
        }
    }
    Ok(out)
}

/// A knowledge document's use in the period's conversations.
#[derive(Debug, Clone, PartialEq)]
pub struct DocUse {
    pub doc: String,
    pub title: String,
    /// Conversations whose bot answers used it.
    pub conversations: i64,
    /// Bot answers that used it.
    pub uses: i64,
    pub ratings: i64,
    /// Ratings of 4 or 5.
    pub good: i64,
    /// Ratings of 1 or 2.
    pub bad: i64,
    pub csat_sum: i64,
}

/// Documents used in the answers of conversations started in `[from, to)`, most used first.
pub fn documents(conn: &Connection, from: i64, to: i64, limit: u32) -> Result<Vec<DocUse>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.doc, COUNT(*), SUM(d.uses), COUNT(d.csat), SUM(d.csat >= 4), SUM(d.csat <= 2), COALESCE(SUM(d.csat), 0)
         FROM conv_docs d WHERE d.started_at >= ?1 AND d.started_at < ?2
         GROUP BY d.doc ORDER BY COUNT(*) DESC, d.doc LIMIT ?3",
    )?;
    let mut rows: Vec<DocUse> = stmt
        .query_map(params![from, to, limit], |r| {
            Ok(DocUse {
                doc: r.get(0)?,
                title: String::new(),
                conversations: r.get(1)?,
                uses: r.get(2)?,
                ratings: r.get(3)?,
                good: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                bad: r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                csat_sum: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut article = conn.prepare_cached("SELECT title FROM kb_articles WHERE id = ?1")?;
    let mut product = conn.prepare_cached("SELECT name FROM products WHERE id = ?1")?;
    for d in &mut rows {
        let title = match d.doc.split_once(':') {
            Some(("a", id)) => super::optional(article.query_row([id], |r| r.get::<_, String>(0)))?,
            Some(("p", id)) => super::optional(product.query_row([id], |r| r.get::<_, String>(0)))?,
            _ => None,
        };
        d.title = title.unwrap_or_default();
    }
    Ok(rows)
}

/// A group of knowledge gaps with the same key terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapGroup {
    /// The analyzer's stems, space-separated (the grouping key).
    pub terms: String,
    pub n: i64,
    pub not_found: i64,
    pub low_confidence: i64,
    pub taken_over: i64,
    pub last_at: i64,
    /// The most recent message of the group.
    pub example_id: i64,
}

/// Gaps in `[from, to)` grouped by their key terms, largest groups first.
pub fn gap_groups(conn: &Connection, from: i64, to: i64, limit: u32) -> Result<Vec<GapGroup>> {
    let mut stmt = conn.prepare_cached(
        "SELECT terms, COUNT(*), SUM(kind = 'not_found'), SUM(kind = 'low_confidence'), SUM(kind = 'taken_over'),
                MAX(at), MAX(message_id)
         FROM kb_gaps WHERE at >= ?1 AND at < ?2 AND terms IS NOT NULL AND terms <> ''
         GROUP BY terms ORDER BY COUNT(*) DESC, MAX(at) DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![from, to, limit], |r| {
            Ok(GapGroup {
                terms: r.get(0)?,
                n: r.get(1)?,
                not_found: r.get(2)?,
                low_confidence: r.get(3)?,
                taken_over: r.get(4)?,
                last_at: r.get(5)?,
                example_id: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Gaps whose key terms are not computed yet: (message id, kind, text), oldest first.
pub fn unkeyed_gaps(conn: &Connection, limit: u32) -> Result<Vec<(i64, Option<GapKind>, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.message_id, g.kind, m.body FROM kb_gaps g JOIN messages m ON m.id = g.message_id
         WHERE g.terms IS NULL ORDER BY g.message_id LIMIT ?1",
    )?;
    let rows = stmt
        .query_map([limit], |r| Ok((r.get(0)?, GapKind::parse(r.get_ref(1)?.as_str()?), r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn set_gap_terms(conn: &Connection, message_id: i64, terms: &str) -> Result<()> {
    conn.prepare_cached("UPDATE kb_gaps SET terms = ?2 WHERE message_id = ?1")?.execute(params![message_id, terms])?;
    Ok(())
}

/// A message's text (the example of a gap group).
pub fn message_text(conn: &Connection, id: i64) -> Result<Option<String>> {
    super::optional(conn.prepare_cached("SELECT body FROM messages WHERE id = ?1")?.query_row([id], |r| r.get(0)))
}

/// One line of the per-conversation export.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationLine {
    pub fact: Fact,
    pub channel: String,
    pub customer: String,
    pub operator: Option<String>,
}

/// Up to `limit` conversations started in `[from, to)` after `after` (start, id), in start
/// order: the per-conversation export, page by page.
pub fn conversation_lines(
    conn: &Connection,
    from: i64,
    to: i64,
    after: Option<(i64, i64)>,
    limit: u32,
) -> Result<Vec<ConversationLine>> {
    let (after_at, after_id) = after.unwrap_or((i64::MIN, i64::MIN));
    let mut stmt = conn.prepare_cached(
        "SELECT f.conversation_id, f.started_at, f.source, f.buyer_msgs, f.bot_msgs, f.operator_msgs, f.first_buyer_at,
            f.first_reply_at, COALESCE(f.last_buyer_id, 0) > COALESCE(f.last_reply_id, 0), f.first_answer_ms,
            f.answer_ms_sum, f.answers, f.intent, f.handed_at, f.handoff_reason, f.first_human_at, f.first_operator_id,
            f.resolved_at, f.csat, c.channel,
            CASE WHEN cu.display_name <> '' THEN cu.display_name ELSE cu.external_id END,
            CASE WHEN u.id IS NULL THEN NULL WHEN u.name <> '' THEN u.name ELSE u.email END
         FROM conv_facts f JOIN conversations c ON c.id = f.conversation_id JOIN customers cu ON cu.id = c.customer_id
         LEFT JOIN users u ON u.id = f.first_operator_id
         WHERE f.started_at >= ?1 AND f.started_at < ?2 AND (f.started_at, f.conversation_id) > (?3, ?4)
           AND f.source <> 'test'
         ORDER BY f.started_at, f.conversation_id LIMIT ?5",
    )?;
    let rows = stmt
        .query_map(params![from, to, after_at, after_id, limit], |r| {
            Ok(ConversationLine { fact: fact_row(r)?, channel: r.get(19)?, customer: r.get(20)?, operator: r.get(21)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Conversations waiting for a person now.
pub fn waiting_now(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM conversations WHERE handled_by = 'operator' AND status = 'pending'")?
        .query_row([], |r| r.get(0))?)
}

/// A Prometheus total: (metric, first label, second label, value).
pub fn metric_totals(conn: &Connection) -> Result<Vec<(String, String, String, f64)>> {
    let mut stmt = conn.prepare_cached("SELECT metric, l1, l2, value FROM metric_totals ORDER BY metric, l1, l2")?;
    let rows =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The queues now: what the gauges of `/metrics` show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Queues {
    /// Per channel: (queued or sending, failed, the oldest queued row's creation).
    pub outbox: Vec<(String, i64, i64, Option<i64>)>,
    pub inbox_pending: i64,
    pub inbox_oldest: Option<i64>,
    pub inbox_failed: i64,
    pub waiting_for_person: i64,
    /// (marketplace, kind, status, last finish, has an error).
    pub sync: Vec<(String, String, String, Option<i64>, bool)>,
}

pub fn queues(conn: &Connection) -> Result<Queues> {
    let mut q = Queues::default();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT channel, SUM(status IN ('queued', 'sending')), SUM(status = 'failed'),
                    MIN(CASE WHEN status IN ('queued', 'sending') THEN created_at END)
             FROM outbox WHERE status IN ('queued', 'sending', 'failed') GROUP BY channel ORDER BY channel",
        )?;
        q.outbox = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
    }
    (q.inbox_pending, q.inbox_oldest) = conn
        .prepare_cached("SELECT COUNT(*), MIN(received_at) FROM inbox WHERE status = 'pending'")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    q.inbox_failed =
        conn.prepare_cached("SELECT COUNT(*) FROM inbox WHERE status = 'failed'")?.query_row([], |r| r.get(0))?;
    q.waiting_for_person = waiting_now(conn)?;
    let mut stmt = conn.prepare_cached(
        "SELECT marketplace, kind, status, finished_at, error IS NOT NULL FROM sync_state ORDER BY marketplace, kind",
    )?;
    q.sync = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(q)
}

/// A scheduled report's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRun {
    pub key: String,
    pub schedule: String,
    pub period_from: i64,
    pub period_to: i64,
    pub due_at: i64,
    /// "pending", "sent" or "failed".
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRun> {
    Ok(ReportRun {
        key: r.get(0)?,
        schedule: r.get(1)?,
        period_from: r.get(2)?,
        period_to: r.get(3)?,
        due_at: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        last_error: r.get(7)?,
        sent_at: r.get(8)?,
    })
}

const RUN: &str =
    "SELECT key, schedule, period_from, period_to, due_at, state, attempts, last_error, sent_at FROM report_runs";

/// Records a due report once; false when it was recorded before.
pub fn insert_report_run(
    conn: &Connection,
    key: &str,
    schedule: &str,
    period: (i64, i64),
    due_at: i64,
    now: i64,
) -> Result<bool> {
    let n = conn.prepare_cached(
        "INSERT OR IGNORE INTO report_runs (key, schedule, period_from, period_to, due_at, state, next_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )?
    .execute(params![key, schedule, period.0, period.1, due_at, now])?;
    Ok(n == 1)
}

/// Reports waiting to be mailed whose next attempt is due.
pub fn pending_report_runs(conn: &Connection, now: i64) -> Result<Vec<ReportRun>> {
    let mut stmt =
        conn.prepare_cached(&format!("{RUN} WHERE state = 'pending' AND next_at <= ?1 ORDER BY due_at, key"))?;
    let rows = stmt.query_map([now], run_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Every report run, newest first (the settings page shows the last ones).
pub fn report_runs(conn: &Connection, limit: u32) -> Result<Vec<ReportRun>> {
    let mut stmt = conn.prepare_cached(&format!("{RUN} ORDER BY due_at DESC, key DESC LIMIT ?1"))?;
    let rows = stmt.query_map([limit], run_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The outcome of a mailing attempt.
pub fn mark_report_run(
    conn: &Connection,
    key: &str,
    state: &str,
    error: Option<&str>,
    attempts: i64,
    next_at: i64,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE report_runs SET state = ?2, last_error = ?3, attempts = ?4, next_at = ?5,
           sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END WHERE key = ?1",
    )?
    .execute(params![key, state, error, attempts, next_at, now])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;
    use crate::store::messaging::{self as msgs, Author, NewMessage};

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        (dir, db)
    }

    fn message(c: &Connection, conv: i64, author: Author, prov: Option<serde_json::Value>, now: i64) -> i64 {
        let m = NewMessage {
            conversation_id: conv,
            author,
            author_user_id: None,
            body: "текст",
            attachments: "[]",
            provenance: prov.as_ref(),
            inbox_id: None,
        };
        msgs::append_message(c, &m, now).expect("append")
    }

    #[test]
    fn the_triggers_keep_the_facts_of_each_conversation() {
        let (_d, db) = db();
        db.with_conn(|c| {
            let t0 = 10 * HOUR + 5;
            let wb = msgs::upsert_customer(c, "wb_questions", "feedback:77", "", t0)?;
            let conv = msgs::open_conversation(c, wb, "wb_questions", t0)?;
            message(c, conv, Author::Buyer, None, t0);
            let prov = serde_json::json!({"action": "clarify", "plan": "Knowledge(ReturnRequest)", "intent": "return_request",
                "sources": [], "latency_ms": 40});
            message(c, conv, Author::Bot, Some(prov), t0 + 10);
            // Replies without a measured time (a parked message, a verified phone) count, untimed.
            let parked = serde_json::json!({"action": "handoff", "handoff_reason": "processing_failed"});
            let other = msgs::open_conversation(c, msgs::upsert_customer(c, "telegram", "7", "", t0)?, "telegram", t0)?;
            message(c, other, Author::Buyer, None, t0);
            message(c, other, Author::Bot, Some(parked), t0);
            let o = fact(c, other)?.expect("facts");
            assert_eq!((o.bot_msgs, o.answers, o.first_answer_ms), (1, 0, None));
            let f = fact(c, conv)?.expect("facts");
            assert_eq!(f.source, Source::WbReview);
            assert_eq!((f.buyer_msgs, f.bot_msgs, f.first_answer_ms, f.answers), (1, 1, Some(40), 1));
            assert_eq!(f.intent, Some(Intent::ReturnRequest));
            assert!(!f.waiting);
            let gaps = unkeyed_gaps(c, 10)?;
            assert_eq!(gaps.len(), 1, "an answer with no sources is a knowledge gap");
            assert_eq!(gaps[0].1, Some(GapKind::NotFound));
            // A person steps in; «Вернуть боту» clears the conversation's handoff, not the facts.
            msgs::set_handler(c, conv, "operator", Some("takeover"), None, t0 + 20)?;
            msgs::set_handler(c, conv, "bot", None, None, t0 + 30)?;
            let f = fact(c, conv)?.expect("facts");
            assert_eq!((f.handed_at, f.handoff_reason), (Some(t0 + 20), Some(Reason::Takeover)));
            msgs::set_rating(c, conv, 5, t0 + 40)?;
            let f = fact(c, conv)?.expect("facts");
            assert_eq!((f.csat, f.resolved_at), (Some(5), Some(t0 + 40)));
            // Hourly counts: whole hours from the summary, the edges from the messages.
            let all = message_counts(c, t0 - 1, t0 + 11)?;
            assert_eq!(all.iter().map(|h| h.n).sum::<i64>(), 4);
            let whole = message_counts(c, 10 * HOUR, 12 * HOUR)?;
            assert_eq!(whole.iter().map(|h| h.n).sum::<i64>(), 4);
            assert_eq!(message_counts(c, t0 + 1, 12 * HOUR)?.iter().map(|h| h.n).sum::<i64>(), 1);
            let totals = metric_totals(c)?;
            assert!(totals.contains(&("handoffs".into(), "takeover".into(), String::new(), 1.0)), "{totals:?}");
            assert!(totals.contains(&("messages".into(), "wb_questions".into(), "in".into(), 1.0)), "{totals:?}");
            assert!(totals.contains(&("bot_answers".into(), "handoff".into(), String::new(), 1.0)), "{totals:?}");
            assert!(totals.contains(&("bot_answers".into(), "clarify".into(), String::new(), 1.0)), "{totals:?}");
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn every_messenger_is_a_source_of_its_own() {
        let (_d, db) = db();
        db.with_conn(|c| {
            for (channel, source) in [
                ("whatsapp", Source::WhatsApp),
                ("vk", Source::Vk),
                ("telegram_business", Source::TelegramBusiness),
                ("telegram", Source::Telegram),
                ("widget", Source::Widget),
            ] {
                let who = msgs::upsert_customer(c, channel, "1", "", 5)?;
                let conv = msgs::open_conversation(c, who, channel, 5)?;
                assert_eq!(fact(c, conv)?.expect("facts").source, source, "{channel}");
                assert_eq!(Source::parse(channel), source, "the same spelling as the channel");
            }
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn the_migration_summarises_what_was_there_before() {
        let (_d, db) = db();
        db.with_conn(|c| {
            let t0 = 20 * HOUR;
            let cu = msgs::upsert_customer(c, "telegram", "42", "Анна", t0)?;
            let conv = msgs::open_conversation(c, cu, "telegram", t0)?;
            message(c, conv, Author::Buyer, None, t0);
            let prov = serde_json::json!({"action": "answer", "plan": "Knowledge(ReturnRequest)", "intent": "return_request",
                "sources": [{"doc": "a:1"}], "latency_ms": 25});
            message(c, conv, Author::Bot, Some(prov), t0 + 5);
            message(c, conv, Author::Buyer, None, t0 + 10);
            let miss = serde_json::json!({"action": "clarify", "plan": "NotUnderstood", "intent": "other", "sources": [],
                "latency_ms": 5});
            message(c, conv, Author::Bot, Some(miss), t0 + 15);
            msgs::set_handler(c, conv, "operator", Some("requested"), None, t0 + 20)?;
            message(c, conv, Author::Operator, None, t0 + 80);
            msgs::set_rating(c, conv, 4, t0 + 90)?;
            let by_triggers = fact(c, conv)?.expect("facts");
            let counts = message_counts(c, 0, 40 * HOUR)?;
            // An installation upgraded from before 0012: the same data, summarised by the migration.
            c.execute_batch("DELETE FROM conv_facts; DELETE FROM msg_hourly; DELETE FROM conv_docs; DELETE FROM kb_gaps;
                             DELETE FROM metric_totals;")?;
            let sql = include_str!("migrations/0012_analytics.sql");
            let backfill = &sql[sql.find("-- What was there before this migration").expect("the backfill")..];
            c.execute_batch(backfill)?;
            let by_migration = fact(c, conv)?.expect("facts");
            assert_eq!(
                Fact { first_answer_ms: by_triggers.first_answer_ms, ..by_migration.clone() },
                by_triggers,
                "the same facts, except that the queue wait before the first answer is not known"
            );
            assert_eq!(by_migration.first_answer_ms, Some(25));
            assert_eq!(message_counts(c, 0, 40 * HOUR)?, counts);
            assert_eq!(documents(c, 0, 40 * HOUR, 10)?.len(), 1);
            assert_eq!(unkeyed_gaps(c, 10)?.len(), 1);
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn report_runs_are_recorded_once() {
        let (_d, db) = db();
        db.with_conn(|c| {
            assert!(insert_report_run(c, "weekly:1", "weekly", (0, 10), 20, 30)?);
            assert!(!insert_report_run(c, "weekly:1", "weekly", (0, 10), 20, 31)?);
            assert_eq!(pending_report_runs(c, 30)?.len(), 1);
            mark_report_run(c, "weekly:1", "pending", Some("relay down"), 1, 500, 40)?;
            assert!(pending_report_runs(c, 499)?.is_empty());
            mark_report_run(c, "weekly:1", "sent", None, 2, 500, 600)?;
            let runs = report_runs(c, 10)?;
            assert_eq!((runs[0].state.as_str(), runs[0].sent_at), ("sent", Some(600)));
            Ok(())
        })
        .expect("checks");
    }
}
