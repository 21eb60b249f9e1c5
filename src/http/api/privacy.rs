//! Personal data on request (admin): everything stored about a buyer as a zip, and erasing
//! it; the retention settings; the scheduled backups' status and "back up now".

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::clock::rfc3339;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ErrorBody};

/// Everything stored about the buyer: a zip with `customer.json` (the customer, conversations
/// with every message, linked orders and returns, raw inbound messages, model-call records) and
/// `files/` (their photos and documents). Recorded in the audit log.
#[utoipa::path(get, path = "/api/v1/customers/{id}/export", tag = "privacy", params(("id" = i64, Path, description = "The customer id")),
    responses((status = 200, description = "application/zip"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (db, dir, actor, now) = (state.db.clone(), state.paths.data_dir.clone(), auth.actor(), state.now());
    let zip = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let data = crate::privacy::export_data(&db, id, &actor, now).map_err(ApiError::store("customer"))?;
        if crate::privacy::files_size(&data, &dir) > crate::privacy::MAX_API_EXPORT_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "this buyer's files are too large for the panel: run `supportd privacy export {id}` on the server"
                ),
            ));
        }
        let mut out = std::io::Cursor::new(Vec::new());
        crate::privacy::write_export(&data, &dir, now, &mut out).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "cannot build an export");
            ApiError::internal()
        })?;
        Ok(out.into_inner())
    })
    .await??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"customer-{id}.zip\"")),
        ],
        zip,
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindQuery {
    /// The customer's id, "channel:id", a phone (any spacing), an e-mail or part of the name.
    pub q: String,
}

/// Find buyers for a personal-data request (full phones and e-mails: admins only).
#[utoipa::path(get, path = "/api/v1/customers", tag = "privacy", params(FindQuery),
    responses((status = 200, body = Vec<crate::store::privacy::CustomerRecord>), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn find(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<FindQuery>,
) -> Result<Json<Vec<crate::store::privacy::CustomerRecord>>, ApiError> {
    let n = q.q.trim().chars().count();
    if !(2..=200).contains(&n) {
        return Err(ApiError::invalid("q: 2 to 200 characters"));
    }
    Ok(Json(state.db.call(move |c| crate::store::privacy::find_customers(c, &q.q, 50)).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EraseQuery {
    /// Must repeat the customer's id: the erase cannot be undone.
    pub confirm: Option<String>,
}

/// Erase a buyer: their conversations and messages, files, name, phone, order links, raw
/// inbound messages and replies; model-call records lose the link; the answer cache is
/// emptied; the database file is compacted so the text is gone from the disk. An audit entry
/// keeps the counts, never the data. Needs `?confirm=<id>`.
#[utoipa::path(delete, path = "/api/v1/customers/{id}", tag = "privacy",
    params(("id" = i64, Path, description = "The customer id"), EraseQuery),
    responses((status = 200, body = crate::privacy::Erased), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<i64>,
    Query(q): Query<EraseQuery>,
) -> Result<Json<crate::privacy::Erased>, ApiError> {
    if q.confirm.as_deref().map(str::trim) != Some(id.to_string().as_str()) {
        return Err(ApiError::invalid(format!(
            "confirm: repeat the customer's id (?confirm={id}): this cannot be undone"
        )));
    }
    let (db, dir, actor, now) = (state.db.clone(), state.paths.data_dir.clone(), auth.actor(), state.now());
    let erased = tokio::task::spawn_blocking(move || crate::privacy::erase(&db, &dir, id, &actor, now))
        .await?
        .map_err(ApiError::store("customer"))?;
    Ok(Json(erased))
}

#[derive(Serialize, ToSchema)]
pub struct PrivacySettings {
    /// `privacy.keep_conversations_days` (0: kept).
    pub keep_conversations_days: u32,
    /// `privacy.keep_files_days` (0: kept).
    pub keep_files_days: u32,
    /// When the retention job last ran, and what it removed.
    pub last_run_at: Option<String>,
    #[schema(value_type = Object)]
    pub last_result: Option<serde_json::Value>,
    pub last_error: Option<String>,
}

/// The retention limits (set in the config) and the daily job's last run.
#[utoipa::path(get, path = "/api/v1/settings/privacy", tag = "privacy",
    responses((status = 200, body = PrivacySettings), (status = 403, body = ErrorBody)))]
pub async fn settings(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<PrivacySettings>, ApiError> {
    let job = state.db.call(|c| crate::store::ops::job(c, crate::privacy::JOB)).await?;
    let p = &state.config.privacy;
    Ok(Json(PrivacySettings {
        keep_conversations_days: p.keep_conversations_days,
        keep_files_days: p.keep_files_days,
        last_run_at: job.as_ref().and_then(|j| j.last_started_at).map(rfc3339),
        last_result: job.as_ref().and_then(|j| j.last_result.as_deref()).and_then(|r| serde_json::from_str(r).ok()),
        last_error: job.and_then(|j| j.last_error),
    }))
}

/// The scheduled backups: the last good copy, whether it is older than two periods, the copies
/// in the backup directory, the last error.
#[utoipa::path(get, path = "/api/v1/settings/backups", tag = "privacy",
    responses((status = 200, body = crate::backup::Status), (status = 403, body = ErrorBody)))]
pub async fn backups(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<crate::backup::Status>, ApiError> {
    Ok(Json(state.backups.status().await?))
}

#[derive(Serialize, ToSchema)]
pub struct Started {
    pub started: bool,
}

/// Back up now (in the background; the status shows the result). 409 while one is running.
#[utoipa::path(post, path = "/api/v1/settings/backups", tag = "privacy",
    responses((status = 202, body = Started), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn backup_now(
    State(state): State<AppState>,
    auth: Auth<Admin>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    if !state.backups.start() {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "a backup is running; wait for it to end"));
    }
    let (actor, now) = (auth.actor(), state.now());
    state
        .db
        .call(move |c| crate::store::audit::record(c, &actor, "backup.create", None, serde_json::json!({}), now))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Started { started: true })))
}
