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
    pub mode: Mode,
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
    Ok(TelegramStatus { mode: tg.mode().await, token_set, webhook_url: tg.webhook_url().to_owned(), username, error })
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
    pub mode: Option<Mode>,
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
    let mode = req.mode;
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

/// Every channel with what it can do (the capability registry).
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = Vec<crate::channels::registry::Capabilities>)))]
pub async fn list(_auth: Auth<crate::http::auth::Viewer>) -> Json<Vec<crate::channels::registry::Capabilities>> {
    Json(crate::channels::registry::all().into_iter().copied().collect())
}

#[derive(Serialize, ToSchema)]
pub struct WhatsAppStatus {
    pub token_set: bool,
    pub app_secret_set: bool,
    pub verify_token_set: bool,
    pub phone_number_id: String,
    pub business_account_id: String,
    /// The address to enter as the callback URL in Meta's app dashboard.
    pub webhook_url: String,
    /// The business number (and verified name) when Meta accepted the token just now.
    pub phone: Option<String>,
    /// Why the check failed.
    pub error: Option<String>,
    /// The template sent per order status outside the 24-hour window.
    pub templates: std::collections::BTreeMap<String, crate::channels::whatsapp::TemplateChoice>,
    /// The account's templates as last synced.
    pub synced_templates: Vec<crate::channels::whatsapp::SyncedTemplate>,
}

async fn whatsapp_status_of(state: &AppState) -> WhatsAppStatus {
    let wa = &state.whatsapp;
    let (token_set, app_secret_set, verify_token_set) = wa.secrets_set().await;
    let (phone, error) = match wa.check().await {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    let (templates, synced_templates) = wa.templates().await;
    WhatsAppStatus {
        token_set,
        app_secret_set,
        verify_token_set,
        phone_number_id: wa.phone_number_id().await,
        business_account_id: wa.business_account_id().await,
        webhook_url: format!(
            "{}{}",
            state.config.server.public_url.trim_end_matches('/'),
            crate::channels::whatsapp::WEBHOOK_PATH
        ),
        phone,
        error,
        templates,
        synced_templates,
    }
}

/// The WhatsApp channel: which secrets are set, the webhook address, a live check of the token
/// and phone number id, the templates.
#[utoipa::path(get, path = "/api/v1/channels/whatsapp", tag = "channels",
    responses((status = 200, body = WhatsAppStatus), (status = 403, body = ErrorBody)))]
pub async fn whatsapp_status(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<WhatsAppStatus> {
    Json(whatsapp_status_of(&state).await)
}

/// Set the WhatsApp token, ids, webhook secrets and templates (secrets stored encrypted; a new
/// token is checked with Meta first).
#[utoipa::path(put, path = "/api/v1/channels/whatsapp", tag = "channels", request_body = crate::channels::whatsapp::Update,
    responses((status = 200, body = WhatsAppStatus), (status = 402, description = "WhatsApp is not in the plan (plan_limit)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn whatsapp_update(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<crate::channels::whatsapp::Update>,
) -> Result<Json<WhatsAppStatus>, ApiError> {
    let wa = &state.whatsapp;
    if req.token.is_some() {
        state.licensing.current().admit_channel(crate::licence::plans::ChannelKind::WhatsApp)?;
    }
    for (field, v, max) in [
        ("token", &req.token, 1000),
        ("verify_token", &req.verify_token, 200),
        ("app_secret", &req.app_secret, 200),
        ("phone_number_id", &req.phone_number_id, 40),
        ("business_account_id", &req.business_account_id, 40),
    ] {
        if let Some(v) = v
            && (v.trim().is_empty() || v.len() > max)
        {
            return Err(ApiError::invalid(format!("{field}: 1 to {max} characters")));
        }
    }
    for (field, v) in [("phone_number_id", &req.phone_number_id), ("business_account_id", &req.business_account_id)] {
        if v.as_ref().is_some_and(|v| !v.trim().chars().all(|c| c.is_ascii_digit())) {
            return Err(ApiError::invalid(format!("{field}: digits (the id from Meta's dashboard, not the number)")));
        }
    }
    if let Some(t) = &req.templates {
        for (status, choice) in t {
            if !["in_transit", "ready_for_pickup", "cancelled"].contains(&status.as_str()) {
                return Err(ApiError::invalid(format!("templates: {status:?} is not a notified order status")));
            }
            if choice.name.trim().is_empty() || choice.language.trim().is_empty() {
                return Err(ApiError::invalid("templates: a name and a language for each"));
            }
        }
    }
    if let Some(token) = &req.token {
        let phone = match &req.phone_number_id {
            Some(p) => p.trim().to_owned(),
            None => wa.phone_number_id().await,
        };
        wa.check_with(token.trim(), &phone).await.map_err(|e| ApiError::invalid(format!("token: {e}")))?;
    }
    let changed = serde_json::json!({
        "token": req.token.is_some(), "app_secret": req.app_secret.is_some(), "verify_token": req.verify_token.is_some(),
        "phone_number_id": req.phone_number_id.is_some(), "business_account_id": req.business_account_id.is_some(),
        "templates": req.templates.is_some(),
    });
    wa.configure(req, Some(auth.user.id)).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store the whatsapp settings");
        ApiError::internal()
    })?;
    let (actor, now) = (auth.actor(), state.now());
    state.db.call(move |c| audit::record(c, &actor, "channel.whatsapp.update", None, changed, now)).await?;
    Ok(Json(whatsapp_status_of(&state).await))
}

/// Fetch the account's message templates from Meta now.
#[utoipa::path(post, path = "/api/v1/channels/whatsapp/templates", tag = "channels",
    responses((status = 200, body = Vec<crate::channels::whatsapp::SyncedTemplate>), (status = 403, body = ErrorBody),
        (status = 409, description = "Meta refused or is unreachable, or ids are missing (conflict)", body = ErrorBody)))]
pub async fn whatsapp_sync(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<Vec<crate::channels::whatsapp::SyncedTemplate>>, ApiError> {
    state
        .whatsapp
        .sync_templates()
        .await
        .map(Json)
        .map_err(|e| ApiError::new(axum::http::StatusCode::CONFLICT, "conflict", format!("templates: {e}")))
}

#[derive(Serialize, ToSchema)]
pub struct VkStatus {
    /// "callback" or "longpoll".
    pub mode: crate::channels::vk::Mode,
    pub token_set: bool,
    pub secret_set: bool,
    pub group_id: u64,
    pub confirmation_set: bool,
    /// The address to enter in the community's Callback API settings.
    pub callback_url: String,
    /// The community's name when VK accepted the token just now.
    pub group_name: Option<String>,
    pub error: Option<String>,
}

async fn vk_status_of(state: &AppState) -> VkStatus {
    let vk = &state.vk;
    let (token_set, secret_set) = vk.secrets_set().await;
    let (group_name, error) = match vk.check().await {
        Ok(n) => (Some(n), None),
        Err(e) => (None, Some(e)),
    };
    VkStatus {
        mode: vk.mode().await,
        token_set,
        secret_set,
        group_id: vk.group_id().await,
        confirmation_set: !vk.confirmation().await.is_empty(),
        callback_url: format!(
            "{}{}",
            state.config.server.public_url.trim_end_matches('/'),
            crate::channels::vk::CALLBACK_PATH
        ),
        group_name,
        error,
    }
}

/// The VK channel: mode, what is set, the Callback API address, a live check of the token.
#[utoipa::path(get, path = "/api/v1/channels/vk", tag = "channels",
    responses((status = 200, body = VkStatus), (status = 403, body = ErrorBody)))]
pub async fn vk_status(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<VkStatus> {
    Json(vk_status_of(&state).await)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VkSettings {
    /// The community's access token (checked with VK before it is stored, encrypted).
    pub token: Option<String>,
    pub group_id: Option<u64>,
    /// The Callback API's confirmation string.
    pub confirmation: Option<String>,
    /// The Callback API's secret key (stored encrypted).
    pub secret: Option<String>,
    /// "callback" or "longpoll"; takes effect within seconds.
    pub mode: Option<crate::channels::vk::Mode>,
}

/// Set the VK token, community, Callback API strings and mode.
#[utoipa::path(put, path = "/api/v1/channels/vk", tag = "channels", request_body = VkSettings,
    responses((status = 200, body = VkStatus), (status = 402, description = "VK is not in the plan (plan_limit)", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn vk_update(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<VkSettings>,
) -> Result<Json<VkStatus>, ApiError> {
    let vk = &state.vk;
    let mode = req.mode;
    for (field, v) in [("token", &req.token), ("confirmation", &req.confirmation), ("secret", &req.secret)] {
        if let Some(v) = v
            && (v.trim().is_empty() || v.len() > 500)
        {
            return Err(ApiError::invalid(format!("{field}: 1 to 500 characters")));
        }
    }
    if req.group_id == Some(0) {
        return Err(ApiError::invalid("group_id: the community's id (digits)"));
    }
    if let Some(token) = &req.token {
        state.licensing.current().admit_channel(crate::licence::plans::ChannelKind::Vk)?;
        let group = match req.group_id {
            Some(g) => g,
            None => vk.group_id().await,
        };
        vk.check_with(token.trim(), group).await.map_err(|e| ApiError::invalid(format!("token: {e}")))?;
    }
    let changed = serde_json::json!({
        "token": req.token.is_some(), "secret": req.secret.is_some(), "group_id": req.group_id,
        "confirmation": req.confirmation.is_some(), "mode": mode.map(crate::channels::vk::Mode::as_str),
    });
    vk.configure(req.token, req.secret, req.group_id, req.confirmation, mode, Some(auth.user.id)).await.map_err(
        |e| {
            tracing::error!(error = %e, "cannot store the vk settings");
            ApiError::internal()
        },
    )?;
    let (actor, now) = (auth.actor(), state.now());
    state.db.call(move |c| audit::record(c, &actor, "channel.vk.update", None, changed, now)).await?;
    Ok(Json(vk_status_of(&state).await))
}
