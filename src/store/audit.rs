//! The append-only audit log of security-relevant actions.

use rusqlite::{Connection, params};

use super::Result;

/// Who did it: a signed-in user, or the command line / the system itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        Self { user_id: None, label: "cli".into(), ip: None }
    }
    pub fn system() -> Self {
        Self { user_id: None, label: "system".into(), ip: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// Writes one entry. `details` must never hold a secret.
pub fn record(
    conn: &Connection,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, actor_user_id, actor, action, target, ip, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now, actor.user_id, actor.label, action, target, actor.ip, details.to_string()],
    )?;
    Ok(())
}

/// Newest first; `before` is an id cursor for paging.
pub fn list(conn: &Connection, before: Option<i64>, limit: u32, action: Option<&str>) -> Result<Vec<Entry>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, actor_user_id, action, target, ip, details FROM audit_log
         WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR action = ?2) ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![before, action, limit], |r| {
            let details: String = r.get(7)?;
            Ok(Entry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                actor_user_id: r.get(3)?,
                action: r.get(4)?,
                target: r.get(5)?,
                ip: r.get(6)?,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
