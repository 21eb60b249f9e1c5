//! Browser sessions, API tokens and password-reset tokens. Only SHA-256 hashes of tokens are
//! stored, so a copy of the database does not let anyone sign in.

use rusqlite::{Connection, params};

use super::{Result, StoreError, optional, users};
use crate::crypto::token_hash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Created by a login; also sent as the browser cookie.
    Session,
    /// A named, long-lived token for scripts and integrations.
    Api,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Api => "api",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user: users::User,
    pub kind: Kind,
    pub csrf_token: String,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewSession<'a> {
    pub user_id: i64,
    pub token: &'a str,
    pub kind: Kind,
    pub name: &'a str,
    pub csrf_token: &'a str,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub fn create(conn: &Connection, s: &NewSession<'_>, now: i64) -> Result<i64> {
    conn.execute(
        "INSERT INTO sessions (user_id, token_hash, kind, name, csrf_token, created_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            s.user_id,
            token_hash(s.token),
            s.kind.as_str(),
            s.name,
            s.csrf_token,
            now,
            s.expires_at,
            s.ip,
            s.user_agent
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The live (not revoked, not expired, user not disabled) session for a presented token.
pub fn lookup(conn: &Connection, token: &str, now: i64) -> Result<Option<Session>> {
    let row = optional(conn.query_row(
        "SELECT s.id, s.user_id, s.kind, s.csrf_token, s.last_used_at FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND u.disabled = 0",
        params![token_hash(token), now],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        },
    ))?;
    let Some((id, user_id, kind, csrf_token, last_used_at)) = row else { return Ok(None) };
    let kind = if kind == "api" { Kind::Api } else { Kind::Session };
    Ok(Some(Session { id, user: users::get(conn, user_id)?, kind, csrf_token, last_used_at }))
}

pub fn touch(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.execute("UPDATE sessions SET last_used_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

pub fn revoke(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.execute("UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, now])?;
    Ok(())
}

/// Revokes one API token of `user_id`; NotFound when it is not theirs.
pub fn revoke_api_token(conn: &Connection, user_id: i64, id: i64, now: i64) -> Result<()> {
    let n = conn.execute(
        "UPDATE sessions SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND kind = 'api' AND revoked_at IS NULL",
        params![id, user_id, now],
    )?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Signs a user out everywhere (password change, disable, reset), except `keep` if given.
pub fn revoke_all_for_user(conn: &Connection, user_id: i64, keep: Option<i64>, now: i64) -> Result<usize> {
    Ok(conn.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?3",
        params![user_id, now, keep],
    )?)
}

pub fn list_api_tokens(conn: &Connection, user_id: i64, now: i64) -> Result<Vec<TokenInfo>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, created_at, expires_at, last_used_at FROM sessions
         WHERE user_id = ?1 AND kind = 'api' AND revoked_at IS NULL AND expires_at > ?2 ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![user_id, now], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
                expires_at: r.get(3)?,
                last_used_at: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Deletes sessions that ended more than `keep_ms` ago.
pub fn prune(conn: &Connection, now: i64, keep_ms: i64) -> Result<usize> {
    let cutoff = now - keep_ms;
    let n = conn.execute(
        "DELETE FROM sessions WHERE expires_at < ?1 OR (revoked_at IS NOT NULL AND revoked_at < ?1)",
        [cutoff],
    )?;
    let m = conn.execute("DELETE FROM password_resets WHERE expires_at < ?1", [cutoff])?;
    Ok(n + m)
}

pub fn create_reset(conn: &Connection, user_id: i64, token: &str, now: i64, expires_at: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id, token_hash(token), now, expires_at],
    )?;
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
pub enum ResetCheck {
    Valid { user_id: i64 },
    Unknown,
    Used,
    Expired,
}

/// Consumes a reset token: valid once, before it expires, for an enabled user.
pub fn consume_reset(conn: &Connection, token: &str, now: i64) -> Result<ResetCheck> {
    let row = optional(conn.query_row(
        "SELECT r.id, r.user_id, r.expires_at, r.used_at, u.disabled FROM password_resets r
         JOIN users u ON u.id = r.user_id WHERE r.token_hash = ?1",
        [token_hash(token)],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, bool>(4)?,
            ))
        },
    ))?;
    let Some((id, user_id, expires_at, used_at, disabled)) = row else { return Ok(ResetCheck::Unknown) };
    if used_at.is_some() {
        return Ok(ResetCheck::Used);
    }
    if expires_at <= now {
        return Ok(ResetCheck::Expired);
    }
    if disabled {
        return Ok(ResetCheck::Unknown);
    }
    // The guard on used_at makes two concurrent uses impossible: only one UPDATE matches.
    let n =
        conn.execute("UPDATE password_resets SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL", params![id, now])?;
    Ok(if n == 1 { ResetCheck::Valid { user_id } } else { ResetCheck::Used })
}
