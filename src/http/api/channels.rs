//! Messenger channels in the settings page: status (with a live check), token and mode.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channels::telegram::Mode;
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::audit;

#[derive(Serialize, ToSchema)]
pub struct TelegramStatus {
    /// "polling" or "webhook".
    pub mode: String,
    pub token_set: bool,
    /// Where Telegram posts updates in webhook mode.
    pub webhook_url: String,
    /// The bot's @username when Telegram accepted the token just now.
    pub username: Option<String>,
    /// Why the check failed.
    pub error: Option<String>,
}

fn channel(state: &AppState) -> Result<std::sync::Arc<crate::channels::telegram::Telegram>, ApiError> {
    state.telegram.clone().ok_or_else(|| ApiError::not_found("telegram channel"))
}

async fn status_of(state: &AppState) -> Result<TelegramStatus, ApiError> {
    let tg = channel(state)?;
    let token_set = tg.has_token().await;
    let (username, error) = if token_set {
        match tg.check().await {
            Ok(u) => (Some(u), None),
            Err(e) => (None, Some(e)),
        }
    } else {
        (None, Some("no bot token is set".into()))
    };
    Ok(TelegramStatus {
        mode: tg.mode().await.as_str().into(),
        token_set,
        webhook_url: tg.webhook_url().to_owned(),
        username,
        error,
    })
}

/// The Telegram channel: mode, whether a token is set, and a live check of it (`getMe`).
#[utoipa::path(get, path = "/api/v1/channels/telegram", tag = "channels",
    responses((status = 200, body = TelegramStatus), (status = 403, body = ErrorBody)))]
pub async fn telegram_status(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<TelegramStatus>, ApiError> {
    Ok(Json(status_of(&state).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// A bot token from @BotFather; checked with Telegram before it is stored (encrypted).
    pub token: Option<String>,
    /// "polling" or "webhook"; takes effect within seconds, without a restart.
    pub mode: Option<String>,
}

/// Set the bot token and/or the mode.
#[utoipa::path(put, path = "/api/v1/channels/telegram", tag = "channels", request_body = TelegramSettings,
    responses((status = 200, body = TelegramStatus), (status = 402, description = "Telegram is not in the plan (plan_limit)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn telegram_update(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<TelegramSettings>,
) -> Result<Json<TelegramStatus>, ApiError> {
    let tg = channel(&state)?;
    let mode = match req.mode.as_deref() {
        Some(m) => Some(Mode::parse(m).ok_or_else(|| ApiError::invalid("mode: \"polling\" or \"webhook\""))?),
        None => None,
    };
    let token = req.token.map(|t| t.trim().to_owned());
    if token.is_some() {
        state.licensing.current().admit_channel(crate::licence::plans::ChannelKind::Telegram)?;
    }
    if let Some(t) = &token {
        if t.is_empty() || t.len() > 200 || !t.contains(':') {
            return Err(ApiError::invalid("token: the form is 123456:ABC-DEF… (from @BotFather)"));
        }
        tg.check_token(t).await.map_err(|e| ApiError::invalid(format!("token: {e}")))?;
    }
    let changed = (token.is_some(), mode.map(Mode::as_str));
    tg.configure(token, mode, Some(auth.user.id)).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store the telegram settings");
        ApiError::internal()
    })?;
    let (actor, now) = (auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            audit::record(
                c,
                &actor,
                "channel.telegram.update",
                None,
                serde_json::json!({"token": changed.0, "mode": changed.1}),
                now,
            )
        })
        .await?;
    Ok(Json(status_of(&state).await?))
}
