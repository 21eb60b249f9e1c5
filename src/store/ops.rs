//! Operations: the state of scheduled jobs (when each last ran, how it ended) and the record of
//! scheduled backups.

use rusqlite::{Connection, Row, params};

use super::{Result, optional};

/// One scheduled job's timing and outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub name: String,
    pub created_at: i64,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
    pub last_ok_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_result: Option<String>,
}

impl JobState {
    /// The last run began and never ended (a crash or a stop in between).
    pub fn interrupted(&self) -> bool {
        match (self.last_started_at, self.last_finished_at) {
            (Some(s), Some(f)) => f < s,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

fn job_row(r: &Row<'_>) -> rusqlite::Result<JobState> {
    Ok(JobState {
        name: r.get(0)?,
        created_at: r.get(1)?,
        last_started_at: r.get(2)?,
        last_finished_at: r.get(3)?,
        last_ok_at: r.get(4)?,
        last_error: r.get(5)?,
        last_result: r.get(6)?,
    })
}

const JOB: &str =
    "SELECT name, created_at, last_started_at, last_finished_at, last_ok_at, last_error, last_result FROM jobs";

pub fn job(conn: &Connection, name: &str) -> Result<Option<JobState>> {
    optional(conn.prepare_cached(&format!("{JOB} WHERE name = ?1"))?.query_row([name], job_row))
}

/// The job's state, created (never run) at `now` when it did not exist.
pub fn job_ensure(conn: &Connection, name: &str, now: i64) -> Result<JobState> {
    conn.prepare_cached("INSERT INTO jobs (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")?
        .execute(params![name, now])?;
    Ok(conn.prepare_cached(&format!("{JOB} WHERE name = ?1"))?.query_row([name], job_row)?)
}

pub fn job_started(conn: &Connection, name: &str, now: i64) -> Result<()> {
    job_ensure(conn, name, now)?;
    conn.prepare_cached("UPDATE jobs SET last_started_at = ?2 WHERE name = ?1")?.execute(params![name, now])?;
    Ok(())
}

/// Records how the run that began at `started` ended: `Ok(summary JSON)` or `Err(reason)`.
pub fn job_finished(
    conn: &Connection,
    name: &str,
    started: i64,
    now: i64,
    outcome: std::result::Result<&str, &str>,
) -> Result<()> {
    match outcome {
        Ok(summary) => conn.prepare_cached(
            "UPDATE jobs SET last_finished_at = ?2, last_ok_at = ?3, last_error = NULL, last_result = ?4 WHERE name = ?1",
        )?
        .execute(params![name, now, started, summary])?,
        Err(e) => conn
            .prepare_cached("UPDATE jobs SET last_finished_at = ?2, last_error = ?3 WHERE name = ?1")?
            .execute(params![name, now, e])?,
    };
    Ok(())
}

/// One scheduled backup copy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackupRow {
    pub id: i64,
    pub file: String,
    pub created_at: i64,
    pub bytes: i64,
    pub encrypted: bool,
    /// "ok", "failed" or "rotated" (deleted by rotation).
    pub status: String,
    pub error: Option<String>,
    pub seconds: f64,
}

fn backup_row(r: &Row<'_>) -> rusqlite::Result<BackupRow> {
    Ok(BackupRow {
        id: r.get(0)?,
        file: r.get(1)?,
        created_at: r.get(2)?,
        bytes: r.get(3)?,
        encrypted: r.get::<_, i64>(4)? != 0,
        status: r.get(5)?,
        error: r.get(6)?,
        seconds: r.get(7)?,
    })
}

const BACKUP: &str = "SELECT id, file, created_at, bytes, encrypted, status, error, seconds FROM backups";

/// Records a copy (or a failed attempt); keeps the newest 500 records.
pub fn backup_record(conn: &Connection, b: &BackupRow) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO backups (file, created_at, bytes, encrypted, status, error, seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![b.file, b.created_at, b.bytes, i64::from(b.encrypted), b.status, b.error, b.seconds])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM backups WHERE id <= ?1 - 500")?.execute([id])?;
    Ok(id)
}

/// A copy deleted by rotation.
pub fn backup_rotated(conn: &Connection, file: &str) -> Result<()> {
    conn.prepare_cached("UPDATE backups SET status = 'rotated' WHERE file = ?1 AND status = 'ok'")?.execute([file])?;
    Ok(())
}

/// The newest checked copy.
pub fn backup_last_ok(conn: &Connection) -> Result<Option<BackupRow>> {
    optional(
        conn.prepare_cached(&format!("{BACKUP} WHERE status = 'ok' ORDER BY created_at DESC, id DESC LIMIT 1"))?
            .query_row([], backup_row),
    )
}

/// The newest records first.
pub fn backups(conn: &Connection, limit: u32) -> Result<Vec<BackupRow>> {
    let mut stmt = conn.prepare_cached(&format!("{BACKUP} ORDER BY id DESC LIMIT ?1"))?;
    let rows = stmt.query_map([limit], backup_row)?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[test]
    fn jobs_remember_runs_and_interruptions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            let j = job_ensure(c, "backup", 10)?;
            assert_eq!((j.created_at, j.last_started_at), (10, None));
            assert_eq!(job_ensure(c, "backup", 99)?.created_at, 10, "created once");
            job_started(c, "backup", 20)?;
            assert!(job(c, "backup")?.expect("job").interrupted());
            job_finished(c, "backup", 20, 25, Ok("{}"))?;
            let j = job(c, "backup")?.expect("job");
            assert!(!j.interrupted());
            assert_eq!(j.last_ok_at, Some(20));
            job_started(c, "backup", 30)?;
            job_finished(c, "backup", 30, 31, Err("disk full"))?;
            let j = job(c, "backup")?.expect("job");
            assert_eq!((j.last_ok_at, j.last_error.as_deref()), (Some(20), Some("disk full")));
            Ok(())
        })
        .expect("checks");
    }
}
