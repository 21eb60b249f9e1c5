//! Account management (admins only).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, Changes};
use crate::clock::rfc3339;
use crate::crypto;
use crate::domain::{Email, Role, check_password_policy};
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::users::{self, User};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            last_login_at: u.last_login_at.map(rfc3339),
        }
    }
}

/// List accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, body = Vec<UserView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<Vec<UserView>>, ApiError> {
    let all = state.db.call(|c| users::list(c)).await?;
    Ok(Json(all.iter().map(UserView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub role: Role,
    /// Omit to have a password generated (returned once in the answer).
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateUserResponse {
    pub user: UserView,
    /// Only when the password was generated: shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreateUserResponse), (status = 402, description = "The plan's seats are taken (plan_limit)", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<CreateUserResponse>), ApiError> {
    let email = Email::parse(&req.email).map_err(ApiError::invalid)?;
    let name = req.name.trim().to_owned();
    if name.chars().count() > 100 {
        return Err(ApiError::invalid("name: at most 100 characters"));
    }
    let (password, generated) = match req.password {
        Some(p) => {
            check_password_policy(&p).map_err(|m| ApiError::invalid(format!("password: {m}")))?;
            (p, false)
        }
        None => (crypto::generate_password()?, true),
    };
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&p)).await??;
    let (actor, now, role, plan) = (auth.actor(), state.now(), req.role, state.licensing.current());
    let user =
        state.db.call(move |c| accounts::create_user(c, &actor, &email, &name, role, &hash, Some(&plan), now)).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateUserResponse { user: UserView::from(&user), generated_password: generated.then_some(password) }),
    ))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.db.call(move |c| users::get(c, id)).await.map_err(ApiError::store("user"))?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Change an account's name, role or disabled flag.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 402, description = "The plan's seats are taken (plan_limit)", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "Would leave no active admin", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserView>, ApiError> {
    let changes = Changes { name: req.name.map(|n| n.trim().to_owned()), role: req.role, disabled: req.disabled };
    let (actor, now, plan) = (auth.actor(), state.now(), state.licensing.current());
    let user = state
        .db
        .call(move |c| accounts::update_user(c, &actor, id, &changes, Some(&plan), now))
        .await
        .map_err(ApiError::store("user"))?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Serialize, ToSchema)]
pub struct ResetLinkResponse {
    pub url: String,
    pub expires_at: String,
}

/// Issue a one-time password-reset link for an account.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-link", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = ResetLinkResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reset_link(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<i64>,
) -> Result<Json<ResetLinkResponse>, ApiError> {
    let (actor, now) = (auth.actor(), state.now());
    let ttl_ms = i64::try_from(state.config.auth.reset_token_ttl_minutes).unwrap_or(60) * 60_000;
    let public_url = state.config.server.public_url.clone();
    let link = state
        .db
        .call(move |c| {
            let user = users::get(c, id)?;
            accounts::issue_reset(c, &actor, &user, &public_url, ttl_ms, now)
        })
        .await
        .map_err(ApiError::store("user"))?;
    Ok(Json(ResetLinkResponse { url: link.url, expires_at: rfc3339(link.expires_at) }))
}

#[derive(Serialize, ToSchema)]
pub struct Assignee {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// Active operators and admins a conversation can be assigned to (for operators).
#[utoipa::path(get, path = "/api/v1/assignees", tag = "users",
    responses((status = 200, body = Vec<Assignee>), (status = 403, body = ErrorBody)))]
pub async fn assignees(
    State(state): State<AppState>,
    _auth: Auth<crate::http::auth::Operator>,
) -> Result<Json<Vec<Assignee>>, ApiError> {
    let all = state.db.call(|c| users::list(c)).await?;
    Ok(Json(
        all.into_iter()
            .filter(|u| !u.disabled && u.role >= Role::Operator)
            .map(|u| Assignee { id: u.id, name: u.name, email: u.email })
            .collect(),
    ))
}
