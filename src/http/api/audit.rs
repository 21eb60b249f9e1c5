//! Reading the audit log (admins only).

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::clock::rfc3339;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ErrorBody};
use crate::store::audit;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries with an id below this (paging cursor: the last id of the previous page).
    pub before: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
}

/// Read the audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let entries = state.db.call(move |c| audit::list(c, q.before, limit, q.action.as_deref())).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditEntry {
                id: e.id,
                at: rfc3339(e.at),
                actor: e.actor,
                actor_user_id: e.actor_user_id,
                action: e.action,
                target: e.target,
                ip: e.ip,
                details: e.details,
            })
            .collect(),
    ))
}
