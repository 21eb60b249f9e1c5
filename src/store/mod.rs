//! The only place that speaks SQL. A small pool of rusqlite connections used from async code
//! through [`Db::call`] (a blocking-thread hop), embedded versioned migrations, and one file per
//! aggregate with plain functions over `&Connection`.

pub mod analytics;
pub mod audit;
pub mod credentials;
pub mod kb;
pub mod licence;
pub mod llm;
pub mod marketplace;
pub mod messaging;
pub mod ops;
pub mod orders;
pub mod panel;
pub mod privacy;
pub mod sessions;
pub mod statement;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The plan does not include the change (the message names the plan that does).
    #[error("{0}")]
    PlanLimit(String),
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("{0}")]
    Migration(String),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("the database worker stopped: {0}")]
    Worker(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Turns a UNIQUE violation into [`StoreError::Conflict`] with `what` as the message.
pub(crate) fn conflict_on_unique(err: rusqlite::Error, what: &str) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            StoreError::Conflict(what.to_owned())
        }
        _ => StoreError::Sqlite(err),
    }
}

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("migrations/0001_init.sql") },
    Migration { version: 2, name: "kb", sql: include_str!("migrations/0002_kb.sql") },
    Migration { version: 3, name: "llm", sql: include_str!("migrations/0003_llm.sql") },
    Migration { version: 4, name: "engine", sql: include_str!("migrations/0004_engine.sql") },
    Migration { version: 5, name: "sync", sql: include_str!("migrations/0005_sync.sql") },
    Migration { version: 6, name: "panel", sql: include_str!("migrations/0006_panel.sql") },
    Migration { version: 7, name: "returns", sql: include_str!("migrations/0007_returns.sql") },
    Migration { version: 10, name: "licence", sql: include_str!("migrations/0010_licence.sql") },
    Migration { version: 11, name: "ops", sql: include_str!("migrations/0011_ops.sql") },
    Migration { version: 12, name: "analytics", sql: include_str!("migrations/0012_analytics.sql") },
    Migration { version: 13, name: "marketplace_rules", sql: include_str!("migrations/0013_marketplace_rules.sql") },
    Migration { version: 14, name: "channels", sql: include_str!("migrations/0014_channels.sql") },
    Migration { version: 15, name: "analytics_channels", sql: include_str!("migrations/0015_analytics_channels.sql") },
    Migration { version: 16, name: "panel_alerts", sql: include_str!("migrations/0016_panel_alerts.sql") },
    Migration { version: 17, name: "kb_unit_vectors", sql: include_str!("migrations/0017_kb_unit_vectors.sql") },
];

/// The schema version this build expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies the pending migrations, each in its own transaction. Refuses a database written by
/// a newer supportd, or one whose applied migrations differ from the embedded ones.
pub fn migrate(conn: &mut Connection, now_ms: i64) -> Result<usize> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let applied: Vec<(i64, String)> = {
        let mut stmt = conn.prepare("SELECT version, checksum FROM schema_migrations ORDER BY version")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
    };
    if let Some((v, _)) = applied.iter().find(|(v, _)| *v > latest_version()) {
        return Err(StoreError::Migration(format!(
            "the database has schema version {v}, newer than this supportd knows ({}): upgrade supportd",
            latest_version()
        )));
    }
    for (v, sum) in &applied {
        if let Some(m) = MIGRATIONS.iter().find(|m| m.version == *v)
            && checksum(m.sql) != *sum
        {
            return Err(StoreError::Migration(format!("migration {v} ({}) differs from the one applied", m.name)));
        }
    }
    let mut count = 0;
    for m in MIGRATIONS.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version)) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql).map_err(|e| StoreError::Migration(format!("migration {} failed: {e}", m.name)))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![m.version, m.name, checksum(m.sql), now_ms],
        )?;
        tx.commit()?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        count += 1;
    }
    Ok(count)
}

/// (applied version, expected version).
pub fn schema_version(conn: &Connection) -> Result<(i64, i64)> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    let applied = if exists {
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?
    } else {
        0
    };
    Ok((applied, latest_version()))
}

/// Opens one connection with the pragmas every connection gets.
pub fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Hot statements (inbox, messages, outbox) are prepared once per connection.
    conn.set_prepared_statement_cache_capacity(128);
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    Ok(conn)
}

/// Runs `PRAGMA integrity_check`; `Ok(())` when the file is sound.
pub fn integrity_check(conn: &Connection) -> Result<(), String> {
    let result: String =
        conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(|e| format!("cannot check: {e}"))?;
    if result == "ok" { Ok(()) } else { Err(result) }
}

#[derive(Debug, Default)]
pub struct PoolStats {
    pub size: usize,
    pub in_use: usize,
    pub waits: u64,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: usize,
    in_use: AtomicUsize,
    waits: AtomicU64,
    /// Bumped after every use of a connection that changed rows, so readers of the event feed
    /// wake on writes instead of polling.
    writes: tokio::sync::watch::Sender<u64>,
}

/// A bounded pool of SQLite connections.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.inner.path).field("size", &self.inner.size).finish()
    }
}

impl Db {
    /// Opens (creating if needed) the database file, applies migrations, and keeps up to
    /// `size` connections. The file is made private to its owner.
    pub fn open(path: &Path, size: usize, now_ms: i64) -> Result<Self> {
        let fresh = !path.exists();
        let mut first = open_connection(path)?;
        #[cfg(unix)]
        if fresh {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        migrate(&mut first, now_ms)?;
        let size = size.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                idle: Mutex::new(vec![first]),
                permits: Semaphore::new(size),
                size,
                in_use: AtomicUsize::new(0),
                waits: AtomicU64::new(0),
                writes: tokio::sync::watch::Sender::new(0),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            size: self.inner.size,
            in_use: self.inner.in_use.load(Ordering::Relaxed),
            waits: self.inner.waits.load(Ordering::Relaxed),
        }
    }

    fn take(&self) -> Result<Connection> {
        let pooled = self.inner.idle.lock().map_err(|_| StoreError::Worker("pool lock poisoned".into()))?.pop();
        match pooled {
            Some(c) => Ok(c),
            None => open_connection(&self.inner.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.inner.idle.lock() {
            idle.push(conn);
        }
    }

    /// Runs `f` with a pooled connection on a blocking thread, never on the async runtime.
    /// A panic inside `f` is re-raised in the caller.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let permit = match self.inner.permits.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                self.inner.waits.fetch_add(1, Ordering::Relaxed);
                self.inner.permits.acquire().await.map_err(|e| StoreError::Worker(e.to_string()))?
            }
        };
        let db = self.clone();
        let joined = tokio::task::spawn_blocking(move || db.with_conn(f)).await;
        drop(permit);
        match joined {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::Worker(e.to_string())),
        }
    }

    /// Runs `f` with a pooled connection on the current thread (CLI and blocking workers).
    pub fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        self.inner.in_use.fetch_add(1, Ordering::Relaxed);
        let before = conn.total_changes();
        let out = f(&mut conn);
        let wrote = conn.total_changes() != before;
        self.inner.in_use.fetch_sub(1, Ordering::Relaxed);
        self.give_back(conn);
        if wrote {
            self.inner.writes.send_modify(|n| *n = n.wrapping_add(1));
        }
        out
    }

    /// Changes whenever rows were written (after the writer's transaction has ended).
    pub fn writes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.writes.subscribe()
    }

    /// Copies the live database into `dest` with SQLite's online backup API (safe while
    /// serving: writers are not blocked for long and the copy is consistent).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        self.with_conn(|conn| {
            let mut out =
                Connection::open(dest).map_err(|source| StoreError::Open { path: dest.to_owned(), source })?;
            {
                let backup = rusqlite::backup::Backup::new(conn, &mut out)?;
                backup.run_to_completion(256, Duration::from_millis(5), None)?;
            }
            // One self-contained file: no -wal or -shm beside the copy when it is opened.
            let _: String = out.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
            integrity_check(&out).map_err(|e| StoreError::Migration(format!("the backup failed its check: {e}")))?;
            Ok(())
        })
    }

    /// Replaces the whole content of the live database with `src` (a file made by
    /// [`Db::backup_to`]), in one step that other connections see atomically, then migrates.
    pub fn restore_from(&self, src: &Path, now_ms: i64) -> Result<()> {
        let source = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| StoreError::Open { path: src.to_owned(), source })?;
        integrity_check(&source).map_err(|e| StoreError::Migration(format!("{} is damaged: {e}", src.display())))?;
        let (version, latest) = schema_version(&source)?;
        if version == 0 {
            return Err(StoreError::Migration(format!("{} is not a supportd backup", src.display())));
        }
        if version > latest {
            return Err(StoreError::Migration(format!(
                "{} has schema version {version}, newer than this supportd ({latest})",
                src.display()
            )));
        }
        self.with_conn(|conn| {
            {
                let backup = rusqlite::backup::Backup::new(&source, conn)?;
                backup.run_to_completion(256, Duration::from_millis(5), None)?;
            }
            migrate(conn, now_ms)?;
            Ok(())
        })
    }

    /// Writes the WAL back into the main file (on shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.with_conn(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }
}

/// `SELECT ... LIMIT 1` that returns `None` on no rows.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> Result<Option<T>> {
    Ok(r.optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_signalled_and_reads_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 2, 1).expect("open");
        let mut writes = db.writes();
        writes.borrow_and_update();
        db.with_conn(|c| Ok(c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))?)).expect("read");
        assert!(!writes.has_changed().expect("open"), "a read wakes nobody");
        db.with_conn(|c| messaging::add_event(c, "test", None, &serde_json::json!({}), 1)).expect("write");
        assert!(writes.has_changed().expect("open"), "a write wakes the readers");
    }

    #[test]
    fn migrates_an_empty_file_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        std::fs::write(&path, b"").expect("empty file");
        let db = Db::open(&path, 2, 1).expect("open");
        db.with_conn(|c| {
            assert_eq!(schema_version(c)?, (latest_version(), latest_version()));
            assert_eq!(migrate(c, 2)?, 0, "second run applies nothing");
            let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            assert_eq!(mode, "wal");
            let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
            assert_eq!(fk, 1);
            Ok(())
        })
        .expect("checks");
    }

    #[test]
    fn refuses_newer_and_edited_schemas() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        drop(Db::open(&path, 1, 1).expect("open"));
        let conn = open_connection(&path).expect("conn");
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1", []).expect("edit");
        assert!(matches!(Db::open(&path, 1, 1), Err(StoreError::Migration(m)) if m.contains("differs")));
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'y', 0)", []).expect("future");
        assert!(matches!(Db::open(&path, 1, 1), Err(StoreError::Migration(m)) if m.contains("newer")));
    }

    #[tokio::test]
    async fn call_runs_on_a_blocking_thread_and_reports_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 2, 1).expect("open");
        let n: i64 = db.call(|c| Ok(c.query_row("SELECT 40 + 2", [], |r| r.get(0))?)).await.expect("query");
        assert_eq!(n, 42);
        let err = db.call(|c| Ok(c.execute("SELECT * FROM nope", [])?)).await;
        assert!(err.is_err());
        assert_eq!(db.stats().in_use, 0);
    }
}
