//! Personal API tokens: long-lived, named, revocable bearer tokens for scripts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::crypto;
use crate::http::AppState;
use crate::http::auth::{Auth, Viewer};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::{audit, sessions};

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
}

/// Your API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenView>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, auth: Auth<Viewer>) -> Result<Json<Vec<TokenView>>, ApiError> {
    let (uid, now) = (auth.user.id, state.now());
    let tokens = state.db.call(move |c| sessions::list_api_tokens(c, uid, now)).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                created_at: rfc3339(t.created_at),
                expires_at: rfc3339(t.expires_at),
                last_used_at: t.last_used_at.map(rfc3339),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    /// Lifetime in days (default from `auth.api_token_ttl_days`, at most 3650).
    pub expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    /// Shown this once: only its hash is stored.
    pub token: String,
    pub expires_at: String,
}

/// Create an API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth<Viewer>,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name: 1 to 100 characters"));
    }
    let days = req.expires_in_days.map_or(state.config.auth.api_token_ttl_days, u64::from);
    if days == 0 || days > 3650 {
        return Err(ApiError::invalid("expires_in_days: 1 to 3650"));
    }
    let token = crypto::random_token()?;
    let csrf = crypto::random_token()?;
    let now = state.now();
    let expires_at = now + i64::try_from(days).unwrap_or(365) * 86_400_000;
    let (t, n, actor, uid) = (token.clone(), name.clone(), auth.actor(), auth.user.id);
    let id = state
        .db
        .call(move |c| {
            let id = sessions::create(
                c,
                &sessions::NewSession {
                    user_id: uid,
                    token: &t,
                    kind: sessions::Kind::Api,
                    name: &n,
                    csrf_token: &csrf,
                    expires_at,
                    ip: actor.ip.as_deref(),
                    user_agent: None,
                },
                now,
            )?;
            audit::record(c, &actor, "token.create", Some(&n), json!({ "id": id }), now)?;
            Ok(id)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { id, name, token, expires_at: rfc3339(expires_at) })))
}

/// Revoke one of your API tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: Auth<Viewer>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let (uid, actor, now) = (auth.user.id, auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            sessions::revoke_api_token(c, uid, id, now)?;
            audit::record(c, &actor, "token.revoke", None, json!({ "id": id }), now)
        })
        .await
        .map_err(ApiError::store("token"))?;
    Ok(StatusCode::NO_CONTENT)
}
