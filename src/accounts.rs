//! Account operations shared by the HTTP API and the CLI, each with its audit entry, so both
//! front ends behave the same. Password hashing happens before these are called (it is slow
//! and must not hold a database connection).

use rusqlite::{Connection, TransactionBehavior};
use serde_json::json;

use crate::crypto;
use crate::domain::{Email, Role};
use crate::licence::{Entitlement, takes_seat};
use crate::store::audit::{self, Actor};
use crate::store::{Result, StoreError, sessions, users};

/// Adds an account. With `plan`, an account that takes a seat (admin, operator) is refused
/// when the plan's seats are all taken (counted in the same transaction).
#[expect(clippy::too_many_arguments, reason = "an account's fields, shared by the API, the CLI and init")]
pub fn create_user(
    conn: &mut Connection,
    actor: &Actor,
    email: &Email,
    name: &str,
    role: Role,
    password_hash: &str,
    plan: Option<&Entitlement>,
    now: i64,
) -> Result<users::User> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(plan) = plan
        && takes_seat(role, false)
    {
        plan.admit_seats(users::seats(&tx)? + 1).map_err(|r| StoreError::PlanLimit(r.0))?;
    }
    let user = users::insert(&tx, email, name, role, password_hash, now)?;
    audit::record(&tx, actor, "user.create", Some(email.as_str()), json!({ "role": role }), now)?;
    tx.commit()?;
    Ok(user)
}

#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Changes an account. With `plan`, a change that makes it take a seat (enabling an operator,
/// making a viewer an operator) is refused when the plan's seats are all taken.
pub fn update_user(
    conn: &mut Connection,
    actor: &Actor,
    id: i64,
    changes: &Changes,
    plan: Option<&Entitlement>,
    now: i64,
) -> Result<users::User> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let conn = &*tx;
    let before = users::get(conn, id)?;
    let role = changes.role.unwrap_or(before.role);
    let disabled = changes.disabled.unwrap_or(before.disabled);
    if let Some(plan) = plan
        && takes_seat(role, disabled)
        && !takes_seat(before.role, before.disabled)
    {
        plan.admit_seats(users::seats(conn)? + 1).map_err(|r| StoreError::PlanLimit(r.0))?;
    }
    let after = users::update(conn, id, changes.role, changes.disabled, changes.name.as_deref(), now)?;
    if before.role != after.role {
        audit::record(
            conn,
            actor,
            "user.role",
            Some(&after.email),
            json!({ "from": before.role, "to": after.role }),
            now,
        )?;
    }
    if before.disabled != after.disabled {
        let action = if after.disabled { "user.disable" } else { "user.enable" };
        audit::record(conn, actor, action, Some(&after.email), json!({}), now)?;
        if after.disabled {
            sessions::revoke_all_for_user(conn, id, None, now)?;
        }
    }
    tx.commit()?;
    Ok(after)
}

/// Sets a new password and signs the user out everywhere except `keep_session`.
pub fn set_password(
    conn: &mut Connection,
    actor: &Actor,
    id: i64,
    password_hash: &str,
    keep_session: Option<i64>,
    now: i64,
) -> Result<()> {
    let tx = conn.transaction()?;
    let user = users::get(&tx, id)?;
    users::set_password(&tx, id, password_hash, now)?;
    sessions::revoke_all_for_user(&tx, id, keep_session, now)?;
    audit::record(&tx, actor, "user.password", Some(&user.email), json!({}), now)?;
    tx.commit()?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ResetLink {
    pub url: String,
    pub expires_at: i64,
}

/// Issues a one-time password-reset link for an enabled user.
pub fn issue_reset(
    conn: &Connection,
    actor: &Actor,
    user: &users::User,
    public_url: &str,
    ttl_ms: i64,
    now: i64,
) -> Result<ResetLink> {
    if user.disabled {
        return Err(StoreError::Conflict(format!("{} is disabled: enable the account first", user.email)));
    }
    let token = crypto::random_token()?;
    let expires_at = now + ttl_ms;
    sessions::create_reset(conn, user.id, &token, now, expires_at)?;
    audit::record(conn, actor, "user.reset_link", Some(&user.email), json!({}), now)?;
    let url = format!("{}/#reset={token}", public_url.trim_end_matches('/'));
    Ok(ResetLink { url, expires_at })
}
