//! Panel accounts.

use rusqlite::{Connection, Row, params};

use super::{Result, StoreError, conflict_on_unique, optional};
use crate::domain::{Email, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

/// A user with the stored password hash (only for login checks).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

const COLUMNS: &str = "id, email, name, role, disabled, created_at, last_login_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: role
            .parse()
            .map_err(|e: String| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into()))?,
        disabled: r.get(4)?,
        created_at: r.get(5)?,
        last_login_at: r.get(6)?,
    })
}

pub fn insert(conn: &Connection, email: &Email, name: &str, role: Role, password_hash: &str, now: i64) -> Result<User> {
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![email.as_str(), name, role.as_str(), password_hash, now],
    )
    .map_err(|e| conflict_on_unique(e, &format!("a user with e-mail {email} already exists")))?;
    get(conn, conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> Result<User> {
    optional(conn.query_row(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"), [id], from_row))?
        .ok_or(StoreError::NotFound)
}

pub fn find_by_email(conn: &Connection, email: &Email) -> Result<Option<User>> {
    optional(conn.query_row(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"), [email.as_str()], from_row))
}

pub fn credentials_by_email(conn: &Connection, email: &Email) -> Result<Option<Credentials>> {
    optional(conn.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE email = ?1"),
        [email.as_str()],
        |r| Ok(Credentials { user: from_row(r)?, password_hash: r.get(7)? }),
    ))
}

pub fn password_hash(conn: &Connection, id: i64) -> Result<String> {
    optional(conn.query_row("SELECT password_hash FROM users WHERE id = ?1", [id], |r| r.get(0)))?
        .ok_or(StoreError::NotFound)
}

pub fn list(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY id"))?;
    let rows = stmt.query_map([], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn active_admins(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0", [], |r| r.get(0))?)
}

pub fn set_password(conn: &Connection, id: i64, password_hash: &str, now: i64) -> Result<()> {
    let n = conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, password_hash, now],
    )?;
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Changes role / disabled / name. Refuses to leave the shop without an active admin. Run it
/// inside the caller's transaction (a refusal there rolls the change back).
pub fn update(
    conn: &Connection,
    id: i64,
    role: Option<Role>,
    disabled: Option<bool>,
    name: Option<&str>,
    now: i64,
) -> Result<User> {
    let before = get(conn, id)?;
    conn.execute(
        "UPDATE users SET role = COALESCE(?2, role), disabled = COALESCE(?3, disabled), name = COALESCE(?4, name),
         updated_at = ?5 WHERE id = ?1",
        params![id, role.map(Role::as_str), disabled, name, now],
    )?;
    if before.role == Role::Admin && !before.disabled && active_admins(conn)? == 0 {
        return Err(StoreError::Conflict("this is the last active admin: make another admin first".into()));
    }
    get(conn, id)
}

/// Seats in use: active admins and operators (viewers only read and take none).
pub fn seats(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users WHERE disabled = 0 AND role IN ('admin', 'operator')", [], |r| {
        r.get(0)
    })?)
}

pub fn touch_login(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.execute("UPDATE users SET last_login_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}
