//! The shop profile, working hours and the bot's rules, changed from the settings page without
//! a restart (stored in the database, laid over the config file).

use axum::Json;
use axum::extract::State;

use crate::config::{ASSISTANT_SETTINGS, AssistantSettings};
use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::store::{audit, credentials};

/// The settings in force: the stored ones, or the config file's.
pub fn current(state: &AppState) -> AssistantSettings {
    let stored = state.db.with_conn(|c| credentials::setting(c, ASSISTANT_SETTINGS)).ok().flatten();
    stored
        .and_then(|v| serde_json::from_value::<AssistantSettings>(v).ok())
        .unwrap_or_else(|| AssistantSettings { shop: state.config.shop.clone(), engine: state.config.engine.clone() })
}

/// Shop name, time zone, working hours; handoff rules, answer mode, rating question.
#[utoipa::path(get, path = "/api/v1/settings/assistant", tag = "settings",
    responses((status = 200, body = AssistantSettings), (status = 403, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<AssistantSettings>, ApiError> {
    let s = state.clone();
    Ok(Json(tokio::task::spawn_blocking(move || current(&s)).await?))
}

/// Change them; they apply to the next buyer message.
#[utoipa::path(put, path = "/api/v1/settings/assistant", tag = "settings", request_body = AssistantSettings,
    responses((status = 200, body = AssistantSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<AssistantSettings>,
) -> Result<Json<AssistantSettings>, ApiError> {
    let config = state.config.with_assistant(&req);
    config.validate().map_err(|(key, message)| ApiError::invalid(format!("{key}: {message}")))?;
    let (value, actor, now) =
        (serde_json::to_value(&req).map_err(|_| ApiError::internal())?, auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            credentials::set_setting(c, ASSISTANT_SETTINGS, &value, now)?;
            audit::record(c, &actor, "settings.assistant", None, serde_json::json!({}), now)
        })
        .await?;
    state.engine.reconfigure(crate::engine::Settings::from_config(&config));
    Ok(Json(req))
}
