//! The trial's start, installed licences and their expiry warnings.

use rusqlite::{Connection, params};

use super::Result;

/// When the trial began; the first call (the installation's first start) sets it to `now`.
pub fn trial_started_at(conn: &Connection, now: i64) -> Result<i64> {
    conn.execute("INSERT OR IGNORE INTO licence_state (id, trial_started_at) VALUES (1, ?1)", [now])?;
    Ok(conn.query_row("SELECT trial_started_at FROM licence_state WHERE id = 1", [], |r| r.get(0))?)
}

pub struct NewLicence<'a> {
    pub licence_id: &'a str,
    pub plan: &'a str,
    pub customer: &'a str,
    pub issued_at: i64,
    pub valid_until: i64,
    pub token: &'a str,
    pub installed_by: Option<i64>,
}

pub fn insert(conn: &Connection, l: &NewLicence<'_>, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO licences (licence_id, plan, customer, issued_at, valid_until, token, installed_at, installed_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![l.licence_id, l.plan, l.customer, l.issued_at, l.valid_until, l.token, now, l.installed_by],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The newest row's id (changes when anyone installs a licence).
pub fn latest_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row("SELECT MAX(id) FROM licences", [], |r| r.get(0))?)
}

#[derive(Debug, Clone)]
pub struct StoredLicence {
    pub row_id: i64,
    pub token: String,
    pub installed_at: i64,
}

/// Installed licences, newest first.
pub fn installed(conn: &Connection, limit: i64) -> Result<Vec<StoredLicence>> {
    let mut stmt = conn.prepare("SELECT id, token, installed_at FROM licences ORDER BY id DESC LIMIT ?1")?;
    let rows = stmt
        .query_map([limit], |r| Ok(StoredLicence { row_id: r.get(0)?, token: r.get(1)?, installed_at: r.get(2)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Where a warning stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// To be e-mailed.
    Pending,
    Sent,
    /// A later warning came due at the same time; only that one was sent.
    Superseded,
    /// No mail relay is configured: the panel banner is the warning.
    Unsent,
    /// Could not be e-mailed after several attempts.
    Failed,
}

impl NoticeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "pending",
            NoticeState::Sent => "sent",
            NoticeState::Superseded => "superseded",
            NoticeState::Unsent => "unsent",
            NoticeState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub key: String,
    pub kind: String,
    pub due_at: i64,
    pub state: String,
    pub attempts: i64,
    pub sent_at: Option<i64>,
}

/// Of `keys`, those already recorded.
pub fn notice_keys(conn: &Connection, keys: &[String]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM licence_notices WHERE key = ?1")?;
    let mut out = Vec::new();
    for k in keys {
        if stmt.exists([k])? {
            out.push(k.clone());
        }
    }
    Ok(out)
}

/// Records a warning once (a second call with the same key changes nothing).
pub fn insert_notice(
    conn: &Connection,
    key: &str,
    kind: &str,
    due_at: i64,
    state: NoticeState,
    now: i64,
) -> Result<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO licence_notices (key, kind, due_at, state, next_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![key, kind, due_at, state.as_str(), now],
    )?;
    Ok(n == 1)
}

/// Warnings waiting to be e-mailed whose next attempt is due.
pub fn pending_notices(conn: &Connection, now: i64) -> Result<Vec<NoticeRow>> {
    let mut stmt = conn.prepare(
        "SELECT key, kind, due_at, state, attempts, sent_at FROM licence_notices
         WHERE state = 'pending' AND next_at <= ?1 ORDER BY due_at",
    )?;
    let rows = stmt.query_map([now], notice_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn notice_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoticeRow> {
    Ok(NoticeRow {
        key: r.get(0)?,
        kind: r.get(1)?,
        due_at: r.get(2)?,
        state: r.get(3)?,
        attempts: r.get(4)?,
        sent_at: r.get(5)?,
    })
}

/// Every warning recorded, oldest first (for the panel and tests).
pub fn notices(conn: &Connection) -> Result<Vec<NoticeRow>> {
    let mut stmt =
        conn.prepare("SELECT key, kind, due_at, state, attempts, sent_at FROM licence_notices ORDER BY due_at, key")?;
    let rows = stmt.query_map([], notice_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The outcome of an e-mail attempt.
pub fn mark_notice(
    conn: &Connection,
    key: &str,
    state: NoticeState,
    error: Option<&str>,
    attempts: i64,
    next_at: i64,
    now: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE licence_notices SET state = ?2, last_error = ?3, attempts = ?4, next_at = ?5,
           sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END
         WHERE key = ?1",
        params![key, state.as_str(), error, attempts, next_at, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[test]
    fn the_trial_starts_once_and_warnings_are_recorded_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            assert_eq!(trial_started_at(c, 1_000)?, 1_000);
            assert_eq!(trial_started_at(c, 9_000)?, 1_000, "a later start does not restart the trial");
            assert!(insert_notice(c, "k", "ahead", 5, NoticeState::Pending, 10)?);
            assert!(!insert_notice(c, "k", "ahead", 5, NoticeState::Sent, 11)?);
            assert_eq!(notice_keys(c, &["k".into(), "x".into()])?, vec!["k".to_owned()]);
            assert_eq!(pending_notices(c, 10)?.len(), 1);
            mark_notice(c, "k", NoticeState::Pending, Some("relay down"), 1, 500, 20)?;
            assert!(pending_notices(c, 499)?.is_empty(), "retried later");
            mark_notice(c, "k", NoticeState::Sent, None, 2, 500, 600)?;
            let all = notices(c)?;
            assert_eq!((all[0].state.as_str(), all[0].sent_at, all[0].attempts), ("sent", Some(600), 2));
            assert!(pending_notices(c, 10_000)?.is_empty());
            Ok(())
        })
        .expect("checks");
    }
}
