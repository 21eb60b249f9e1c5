//! The «Профиль» page: the signed-in operator's own alerts (Telegram, e-mail, what for, quiet
//! hours), a test alert, and the last alerts sent. (The password is changed through
//! `POST /api/v1/auth/password`.)

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::alerts::{self, Route};
use crate::http::AppState;
use crate::http::auth::{Auth, Operator};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::audit;
use crate::store::panel::{self as rows, AlertPrefs, AlertRecord};

#[derive(Serialize, ToSchema)]
pub struct AlertsView {
    pub prefs: AlertPrefs,
    /// The shop's Telegram bot is connected (it sends the Telegram alerts).
    pub telegram_ready: bool,
    /// An SMTP relay is configured (it sends the e-mail alerts).
    pub email_ready: bool,
    /// The last 20 alerts to this user, newest first.
    pub recent: Vec<AlertRecord>,
}

async fn view(state: &AppState, user: i64) -> Result<AlertsView, ApiError> {
    let (prefs, recent) =
        state.db.call(move |c| Ok((rows::alert_prefs(c, user)?, rows::recent_alerts(c, user, 20)?))).await?;
    let telegram_ready = match &state.telegram {
        Some(t) => t.has_token().await,
        None => false,
    };
    Ok(AlertsView { prefs, telegram_ready, email_ready: state.mailer.is_some(), recent })
}

/// The caller's alert settings and their last alerts.
#[utoipa::path(get, path = "/api/v1/profile/alerts", tag = "profile",
    responses((status = 200, body = AlertsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, auth: Auth<Operator>) -> Result<Json<AlertsView>, ApiError> {
    Ok(Json(view(&state, auth.user.id).await?))
}

fn validated(mut p: AlertPrefs) -> Result<AlertPrefs, ApiError> {
    p.email = p.email.map(|e| e.trim().to_owned());
    if let Some(chat) = &p.telegram_chat_id
        && (chat.len() > 19 || chat.parse::<i64>().is_err())
    {
        return Err(ApiError::invalid(crate::texts::panel::BAD_CHAT_ID));
    }
    if let Some(email) = &p.email
        && crate::domain::Email::parse(email).is_err()
    {
        return Err(ApiError::invalid(crate::texts::panel::BAD_EMAIL));
    }
    if !(5..=10_080).contains(&p.overdue_minutes) {
        return Err(ApiError::invalid(crate::texts::panel::BAD_OVERDUE_MINUTES));
    }
    if let Some(q) = &p.quiet
        && (alerts::minutes_of(&q.from).is_none() || alerts::minutes_of(&q.to).is_none())
    {
        return Err(ApiError::invalid(crate::texts::panel::BAD_QUIET));
    }
    Ok(p)
}

/// Sets the caller's alerts.
#[utoipa::path(put, path = "/api/v1/profile/alerts", tag = "profile", request_body = AlertPrefs,
    responses((status = 200, body = AlertsView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    auth: Auth<Operator>,
    ApiJson(req): ApiJson<AlertPrefs>,
) -> Result<Json<AlertsView>, ApiError> {
    let p = validated(req)?;
    let (user, actor, now) = (auth.user.id, auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            rows::put_alert_prefs(c, user, &p, now)?;
            audit::record(c, &actor, "profile.alerts", None, serde_json::json!({}), now)
        })
        .await?;
    Ok(Json(view(&state, user).await?))
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    pub via: Route,
    pub ok: bool,
    /// Why it was not delivered (Russian).
    pub error: Option<String>,
}

/// Sends a test alert by each route the caller has set.
#[utoipa::path(post, path = "/api/v1/profile/alerts/test", tag = "profile",
    responses((status = 200, body = Vec<TestResult>), (status = 403, body = ErrorBody)))]
pub async fn test(State(state): State<AppState>, auth: Auth<Operator>) -> Result<Json<Vec<TestResult>>, ApiError> {
    let user = auth.user.id;
    let prefs = state.db.call(move |c| rows::alert_prefs(c, user)).await?;
    let shop = state.engine.settings().shop_name.clone();
    let body = crate::texts::panel::alert_test(&shop);
    let mut out = Vec::new();
    for (via, set) in [(Route::Telegram, prefs.telegram_chat_id.is_some()), (Route::Email, prefs.email.is_some())] {
        if !set {
            continue;
        }
        let r = alerts::deliver(&state, via, &prefs, crate::texts::panel::ALERT_TEST_SUBJECT, &body).await;
        out.push(TestResult { via, ok: r.is_ok(), error: r.err() });
    }
    Ok(Json(out))
}
