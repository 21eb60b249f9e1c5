//! Integration secrets (bot tokens, marketplace API keys). Write-only through the API: values
//! are encrypted at rest and never returned.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::domain::check_credential_name;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::{audit, credentials};

#[derive(Serialize, ToSchema)]
pub struct CredentialView {
    pub name: String,
    pub updated_at: String,
}

/// Names of the stored integration credentials (never the values).
#[utoipa::path(get, path = "/api/v1/settings/credentials", tag = "settings",
    responses((status = 200, body = Vec<CredentialView>), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<Vec<CredentialView>>, ApiError> {
    let all = state.db.call(|c| credentials::list(c)).await?;
    Ok(Json(all.into_iter().map(|c| CredentialView { name: c.name, updated_at: rfc3339(c.updated_at) }).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutCredential {
    pub value: String,
}

/// Store an integration credential (encrypted at rest).
#[utoipa::path(put, path = "/api/v1/settings/credentials/{name}", tag = "settings", params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "e.g. `openai.api_key`")),
    request_body = PutCredential, responses((status = 204, description = "Stored, encrypted"),
        (status = 402, description = "The plan does not include what the key connects (plan_limit)", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PutCredential>,
) -> Result<StatusCode, ApiError> {
    check_credential_name(&name).map_err(ApiError::invalid)?;
    if req.value.is_empty() || req.value.len() > 8192 {
        return Err(ApiError::invalid("value: 1 to 8192 bytes"));
    }
    state.licensing.admit_credential(&name).await?;
    let (actor, now, cipher) = (auth.actor(), state.now(), state.cipher.clone());
    state
        .db
        .call(move |c| {
            credentials::put(c, &cipher, &name, &req.value, actor.user_id, now)?;
            audit::record(c, &actor, "credential.set", Some(&name), json!({}), now)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an integration credential.
#[utoipa::path(delete, path = "/api/v1/settings/credentials/{name}", tag = "settings", params(("name" = String, Path, pattern = "^[a-z0-9._-]{1,64}$", description = "e.g. `openai.api_key`")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (actor, now) = (auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            credentials::delete(c, &name)?;
            audit::record(c, &actor, "credential.delete", Some(&name), json!({}), now)
        })
        .await
        .map_err(ApiError::store("credential"))?;
    Ok(StatusCode::NO_CONTENT)
}
