//! Sign-in, sign-out, the current user, password change and password reset.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::users::UserView;
use crate::accounts;
use crate::clock::rfc3339;
use crate::crypto;
use crate::domain::{Email, check_password_policy};
use crate::http::AppState;
use crate::http::auth::{CSRF_COOKIE, ClientIp, CurrentUser, SESSION_COOKIE, Via};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::audit::{self, Actor};
use crate::store::{sessions, users};
use crate::texts;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?\s*$",
        max_length = 254
    )]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token (also set as the HttpOnly session cookie).
    pub token: String,
    /// Send it as `X-CSRF-Token` on state-changing requests that use the cookie.
    pub csrf_token: String,
    pub expires_at: String,
    pub user: UserView,
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: i64, http_only: bool) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies() { "; Secure" } else { "" };
    let http_only = if http_only { "; HttpOnly" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict{http_only}{secure}"))
        .ok()
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&req.email).map_err(ApiError::invalid)?;
    if req.password.chars().count() > crate::domain::PASSWORD_MAX_CHARS {
        return Err(ApiError::invalid(format!("password: at most {} characters", crate::domain::PASSWORD_MAX_CHARS)));
    }
    let now = state.now();
    let actor = Actor { user_id: None, label: email.to_string(), ip: Some(ip.clone()) };
    if let Err(wait) = state.throttle.check(email.as_str(), &ip, now) {
        let (a, e) = (actor.clone(), email.clone());
        state.db.call(move |c| audit::record(c, &a, "auth.login_throttled", Some(e.as_str()), json!({}), now)).await?;
        return Err(ApiError::too_many(wait, format!("too many failed sign-in attempts; try again in {wait} s")));
    }
    let e = email.clone();
    let found = state.db.call(move |c| users::credentials_by_email(c, &e)).await?;
    let hash = found.as_ref().map_or_else(|| crypto::dummy_password_hash().to_owned(), |f| f.password_hash.clone());
    let password = req.password;
    let matches = tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash)).await?;
    let Some(found) = found.filter(|_| matches) else {
        state.throttle.record_failure(email.as_str(), &ip, now);
        state
            .db
            .call(move |c| audit::record(c, &actor, "auth.login_failed", Some(email.as_str()), json!({}), now))
            .await?;
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong e-mail or password"));
    };
    if found.user.disabled {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "account_disabled", "this account is disabled"));
    }
    state.throttle.record_success(email.as_str(), &ip);
    let token = crypto::random_token()?;
    let csrf = crypto::random_token()?;
    let ttl_ms = i64::try_from(state.config.auth.session_ttl_hours).unwrap_or(24) * 3_600_000;
    let expires_at = now + ttl_ms;
    let user = found.user;
    let agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(200).collect::<String>());
    {
        let (token, csrf, user_id, ip) = (token.clone(), csrf.clone(), user.id, ip.clone());
        let actor = Actor { user_id: Some(user.id), ..actor };
        state
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                sessions::create(
                    &tx,
                    &sessions::NewSession {
                        user_id,
                        token: &token,
                        kind: sessions::Kind::Session,
                        name: "browser",
                        csrf_token: &csrf,
                        expires_at,
                        ip: Some(&ip),
                        user_agent: agent.as_deref(),
                    },
                    now,
                )?;
                users::touch_login(&tx, user_id, now)?;
                audit::record(&tx, &actor, "auth.login", None, json!({}), now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
    }
    let max_age = ttl_ms / 1000;
    let mut resp = Json(LoginResponse {
        token: token.clone(),
        csrf_token: csrf.clone(),
        expires_at: rfc3339(expires_at),
        user: UserView::from(&user),
    })
    .into_response();
    for c in [
        cookie_header(&state, SESSION_COOKIE, &token, max_age, true),
        cookie_header(&state, CSRF_COOKIE, &csrf, max_age, false),
    ]
    .into_iter()
    .flatten()
    {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// Sign out: revoke the current session or token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out; the session or token is revoked"), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    let now = state.now();
    let (id, actor) = (user.session_id, user.actor());
    state
        .db
        .call(move |c| {
            sessions::revoke(c, id, now)?;
            audit::record(c, &actor, "auth.logout", None, json!({}), now)
        })
        .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if user.via == Via::Cookie {
        for c in [cookie_header(&state, SESSION_COOKIE, "", 0, true), cookie_header(&state, CSRF_COOKIE, "", 0, false)]
            .into_iter()
            .flatten()
        {
            resp.headers_mut().append(header::SET_COOKIE, c);
        }
    }
    Ok(resp)
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    /// "session" (signed in) or "api" (an API token).
    pub via: String,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
pub async fn me(user: CurrentUser) -> Json<MeResponse> {
    let via = match user.session_kind {
        sessions::Kind::Session => "session",
        sessions::Kind::Api => "api",
    };
    Json(MeResponse { user: UserView::from(&user.user), via: via.into() })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(max_length = 256)]
    pub current_password: String,
    /// 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// Change your own password.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; other sessions are signed out"), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    check_password_policy(&req.new_password).map_err(ApiError::invalid)?;
    let id = user.user.id;
    let hash = state.db.call(move |c| users::password_hash(c, id)).await?;
    let current = req.current_password;
    if !tokio::task::spawn_blocking(move || crypto::verify_password(&current, &hash)).await? {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_password", "the current password is wrong"));
    }
    let new = req.new_password;
    let new_hash = tokio::task::spawn_blocking(move || crypto::hash_password(&new)).await??;
    let (now, actor, keep) = (state.now(), user.actor(), user.session_id);
    state.db.call(move |c| accounts::set_password(c, &actor, id, &new_hash, Some(keep), now)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(
        pattern = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?\s*$",
        max_length = 254
    )]
    pub email: String,
}

/// Ask for a password-reset link by e-mail.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, description = "If the account exists, a link is on its way by e-mail"),
              (status = 409, description = "E-mail is not configured on this server (email_not_configured)", body = ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let email = Email::parse(&req.email).map_err(ApiError::invalid)?;
    let Some(mailer) = state.mailer.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "email_not_configured",
            "password reset by e-mail is not set up on this server; ask an administrator for a reset link",
        ));
    };
    let now = state.now();
    // The same answer whether or not the account exists, so nobody can probe for accounts.
    let accepted = (StatusCode::ACCEPTED, Json(json!({ "status": "if the account exists, a reset link was sent" })));
    if let Err(wait) = state.throttle.check(email.as_str(), &ip, now) {
        return Err(ApiError::too_many(wait, format!("too many attempts; try again in {wait} s")));
    }
    // Reset requests count against the throttle, so they cannot be used to flood a mailbox.
    state.throttle.record_failure(email.as_str(), &ip, now);
    let e = email.clone();
    let Some(user) = state.db.call(move |c| users::find_by_email(c, &e)).await?.filter(|u| !u.disabled) else {
        return Ok(accepted);
    };
    let ttl_min = state.config.auth.reset_token_ttl_minutes;
    let ttl_ms = i64::try_from(ttl_min).unwrap_or(60) * 60_000;
    let public_url = state.config.server.public_url.clone();
    let actor = Actor { user_id: None, label: email.to_string(), ip: Some(ip) };
    let u = user.clone();
    let link = state.db.call(move |c| accounts::issue_reset(c, &actor, &u, &public_url, ttl_ms, now)).await?;
    // Sent in the background: the answer takes the same time whether or not the user exists.
    tokio::spawn(async move {
        let body = texts::reset_email_body(&link.url, ttl_min);
        if let Err(e) = mailer.send(&user.email, texts::RESET_EMAIL_SUBJECT, body).await {
            tracing::warn!(error = %e, "the password-reset e-mail could not be sent");
        }
    });
    Ok(accepted)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmResetRequest {
    #[schema(max_length = 256)]
    pub token: String,
    /// 10 to 256 characters.
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// Set a new password with a reset link.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ConfirmResetRequest,
    responses((status = 204, description = "Password set; all sessions are signed out"),
              (status = 404, description = "No such reset link (invalid_reset_token)", body = ErrorBody),
              (status = 410, description = "Used or expired", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<ConfirmResetRequest>,
) -> Result<StatusCode, ApiError> {
    // Check the password first, so a rejected password does not use the link up.
    check_password_policy(&req.new_password).map_err(ApiError::invalid)?;
    let new = req.new_password;
    let hash = tokio::task::spawn_blocking(move || crypto::hash_password(&new)).await??;
    let now = state.now();
    let token = req.token;
    let outcome = state
        .db
        .call(move |c| {
            let check = sessions::consume_reset(c, &token, now)?;
            if let sessions::ResetCheck::Valid { user_id } = check {
                let user = users::get(c, user_id)?;
                let actor = Actor { user_id: Some(user_id), label: user.email, ip: Some(ip) };
                accounts::set_password(c, &actor, user_id, &hash, None, now)?;
            }
            Ok(check)
        })
        .await?;
    match outcome {
        sessions::ResetCheck::Valid { .. } => Ok(StatusCode::NO_CONTENT),
        sessions::ResetCheck::Used => {
            Err(ApiError::new(StatusCode::GONE, "reset_token_used", "this reset link was already used"))
        }
        sessions::ResetCheck::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "reset_token_expired",
            "this reset link has expired; ask for a new one",
        )),
        sessions::ResetCheck::Unknown => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "invalid_reset_token", "this reset link is not valid"))
        }
    }
}
