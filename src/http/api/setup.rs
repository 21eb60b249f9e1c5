//! The set-up page (admin): the checklist, installing and checking models, the model settings,
//! the widget's settings with its embed code and a check of a site; and the widget's public
//! configuration (`GET /widget/config`), which tells a page whether it may show the chat.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::llm::catalog;
use crate::setup::{self, Install, ModelInfo, ModelSettings, SetupStep, WidgetSettings};
use crate::store::{audit, credentials};

/// What a new shop still has to set up: `[{"step", "done", "detail"}]` for the local model,
/// the embedding model, Telegram, the marketplaces, the widget and a first answered message.
#[utoipa::path(get, path = "/api/v1/setup", tag = "setup",
    responses((status = 200, body = Vec<SetupStep>), (status = 403, body = ErrorBody)))]
pub async fn checklist(State(state): State<AppState>, _auth: Auth<Admin>) -> Result<Json<Vec<SetupStep>>, ApiError> {
    setup::checklist(&state).await.map(Json).map_err(|e| {
        tracing::error!(error = %e, "set-up checklist");
        ApiError::internal()
    })
}

#[derive(Serialize, ToSchema)]
pub struct ModelsView {
    pub models: Vec<ModelInfo>,
    /// The installation running now or the last one (with its progress).
    pub install: Option<Install>,
    /// The local model now: "loading", "ready: NAME" or "unavailable: WHY".
    pub local: String,
}

/// The models `supportd model pull` knows, which are installed, and an installation's progress.
#[utoipa::path(get, path = "/api/v1/setup/models", tag = "setup",
    responses((status = 200, body = ModelsView), (status = 403, body = ErrorBody)))]
pub async fn models(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<ModelsView> {
    let data_dir = state.paths.data_dir.clone();
    let config = state.config.clone();
    let models = tokio::task::spawn_blocking(move || setup::models(&config, &data_dir)).await.unwrap_or_default();
    Json(ModelsView { models, install: setup::install_state(&state.paths.data_dir), local: state.local_model.status() })
}

fn model_of(id: &str) -> Result<&'static catalog::CatalogModel, ApiError> {
    catalog::find(id).ok_or_else(|| ApiError::not_found("model"))
}

/// Installs a model of the catalogue in the background, like `supportd model pull ID`: from
/// each source in turn, accepted only with the right size and SHA-256. Follow it on
/// `GET /api/v1/setup/models`; it is used after the next start.
#[utoipa::path(post, path = "/api/v1/setup/models/{id}/install", tag = "setup",
    params(("id" = String, Path, description = "A catalogue id: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, smollm2-135m, e5-small")),
    responses((status = 202, body = Install), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Another installation is running (busy)", body = ErrorBody)))]
pub async fn install(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Install>), ApiError> {
    let model = model_of(&id)?;
    let started = setup::start_install(&state.paths.data_dir, model)
        .map_err(|m| ApiError::new(StatusCode::CONFLICT, "busy", m))?;
    let (actor, now) = (auth.actor(), state.now());
    state
        .db
        .call(move |c| audit::record(c, &actor, "model.install", Some(model.id), serde_json::json!({}), now))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(started)))
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResult {
    pub ok: bool,
    /// For people (Russian).
    pub message: String,
}

/// Checks an installed model's size and SHA-256.
#[utoipa::path(post, path = "/api/v1/setup/models/{id}/verify", tag = "setup",
    params(("id" = String, Path, description = "A catalogue id")),
    responses((status = 200, body = VerifyResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Path(id): Path<String>,
) -> Result<Json<VerifyResult>, ApiError> {
    let model = model_of(&id)?;
    let dir = state.paths.data_dir.clone();
    let (ok, message) =
        tokio::task::spawn_blocking(move || setup::verify(&dir, model)).await.map_err(|_| ApiError::internal())?;
    Ok(Json(VerifyResult { ok, message }))
}

#[derive(Serialize, ToSchema)]
pub struct ModelSettingsView {
    /// What the next start will use.
    pub settings: ModelSettings,
    /// What runs now (from the config file, or the settings at the last start).
    pub running: ModelSettings,
    /// Whether a stored cloud key exists for each provider (never the key itself).
    pub openai_key_set: bool,
    pub yandexgpt_key_set: bool,
}

async fn model_settings_view(state: &AppState) -> Result<ModelSettingsView, ApiError> {
    let cipher = state.cipher.clone();
    let (stored, openai, yandex) = state
        .db
        .call(move |c| {
            Ok((
                credentials::setting(c, setup::MODEL_SETTINGS)?,
                credentials::get(c, &cipher, "openai.api_key")?.is_some(),
                credentials::get(c, &cipher, "yandexgpt.api_key")?.is_some(),
            ))
        })
        .await?;
    let running = ModelSettings::of(&state.config);
    let settings = stored.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_else(|| running.clone());
    Ok(ModelSettingsView {
        settings,
        running,
        openai_key_set: openai || !state.config.llm.openai.api_key.expose().is_empty(),
        yandexgpt_key_set: yandex || !state.config.llm.yandexgpt.api_key.expose().is_empty(),
    })
}

/// The model settings: the chain's order, the local chat model, and every cloud setting
/// (base URL, model, folder, auth, prices, monthly budget); keys are set on their own
/// (`PUT /api/v1/settings/credentials/{name}`).
#[utoipa::path(get, path = "/api/v1/settings/models", tag = "setup",
    responses((status = 200, body = ModelSettingsView), (status = 403, body = ErrorBody)))]
pub async fn get_model_settings(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
) -> Result<Json<ModelSettingsView>, ApiError> {
    Ok(Json(model_settings_view(&state).await?))
}

/// Stores the model settings, laid over the config file from the next start.
#[utoipa::path(put, path = "/api/v1/settings/models", tag = "setup", request_body = ModelSettings,
    responses((status = 200, body = ModelSettingsView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_model_settings(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<ModelSettings>,
) -> Result<Json<ModelSettingsView>, ApiError> {
    req.apply(&state.config).map_err(|(key, message)| ApiError::invalid(format!("{key}: {message}")))?;
    let (value, actor, now) =
        (serde_json::to_value(&req).map_err(|_| ApiError::internal())?, auth.actor(), state.now());
    state
        .db
        .call(move |c| {
            credentials::set_setting(c, setup::MODEL_SETTINGS, &value, now)?;
            audit::record(c, &actor, "settings.models", None, serde_json::json!({}), now)
        })
        .await?;
    Ok(Json(model_settings_view(&state).await?))
}

#[derive(Serialize, ToSchema)]
pub struct WidgetView {
    pub settings: WidgetSettings,
    /// Sites allowed by the config file (`widget.allowed_origins`), shown beside the panel's.
    pub config_origins: Vec<String>,
    /// The line to put on the site's pages.
    pub embed_code: String,
}

async fn widget_view(state: &AppState) -> WidgetView {
    let base = state.config.server.public_url.trim_end_matches('/');
    WidgetView {
        settings: setup::widget_settings(&state.db).await,
        config_origins: state.config.widget.allowed_origins.clone(),
        embed_code: format!("<script src=\"{base}/widget.js\" defer></script>"),
    }
}

/// The chat widget: allowed sites, colour, greeting, title, and the embed code.
#[utoipa::path(get, path = "/api/v1/settings/widget", tag = "setup",
    responses((status = 200, body = WidgetView), (status = 403, body = ErrorBody)))]
pub async fn get_widget(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<WidgetView> {
    Json(widget_view(&state).await)
}

/// Sets the widget's allowed sites (effective for the next connection), colour, greeting and title.
#[utoipa::path(put, path = "/api/v1/settings/widget", tag = "setup", request_body = WidgetSettings,
    responses((status = 200, body = WidgetView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_widget(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<WidgetSettings>,
) -> Result<Json<WidgetView>, ApiError> {
    let s = req.validated().map_err(ApiError::invalid)?;
    setup::save_widget_settings(&state, &s).await.map_err(|e| {
        tracing::error!(error = %e, "widget settings");
        ApiError::internal()
    })?;
    let (actor, now, sites) = (auth.actor(), state.now(), s.allowed_origins.clone());
    state
        .db
        .call(move |c| audit::record(c, &actor, "settings.widget", None, serde_json::json!({ "sites": sites }), now))
        .await?;
    Ok(Json(widget_view(&state).await))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteCheckRequest {
    /// A page of the site, "https://shop.ru/".
    #[schema(schema_with = crate::setup::site_schema)]
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct SiteCheck {
    /// The site's origin, "https://shop.ru".
    pub origin: String,
    /// The site may show the chat.
    pub allowed: bool,
    /// The page could be fetched.
    pub reachable: bool,
    /// The page has this server's widget script on it.
    pub script_found: bool,
    pub ok: bool,
    /// What is right or what to do (Russian).
    pub message: String,
}

/// Checks a site: is it allowed, does its page load, and does it carry the widget's script.
#[utoipa::path(post, path = "/api/v1/settings/widget/check", tag = "setup", request_body = SiteCheckRequest,
    responses((status = 200, body = SiteCheck), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn check_site(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    ApiJson(req): ApiJson<SiteCheckRequest>,
) -> Result<Json<SiteCheck>, ApiError> {
    let url = req.url.clone();
    if url.len() > 2000 {
        return Err(ApiError::invalid("url: at most 2000 characters"));
    }
    let origin = setup::origin_of(&url).ok_or_else(|| ApiError::invalid(crate::texts::panel::BAD_PAGE_URL))?;
    let allowed = state.widget.origin_allowed(&origin);
    let script = format!("{}/widget.js", state.config.server.public_url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|_| ApiError::internal())?;
    let page = match client.get(&url).send().await {
        Ok(mut resp) if resp.status().is_success() => {
            // The first 2 MB of the page are enough to find a script tag.
            let mut body = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() > 2 << 20 {
                    break;
                }
            }
            Some(String::from_utf8_lossy(&body).into_owned())
        }
        _ => None,
    };
    let reachable = page.is_some();
    let script_found = page.as_deref().is_some_and(|p| p.contains(&script));
    let message = match (allowed, reachable, script_found) {
        (true, true, true) => crate::texts::panel::SITE_OK.to_owned(),
        (false, _, _) => crate::texts::panel::site_not_allowed(&origin),
        (true, false, _) => crate::texts::panel::SITE_UNREACHABLE.to_owned(),
        (true, true, false) => crate::texts::panel::site_without_script(&script),
    };
    Ok(Json(SiteCheck { origin, allowed, reachable, script_found, ok: allowed && reachable && script_found, message }))
}

#[derive(Serialize)]
struct WidgetPublic<'a> {
    allowed: bool,
    title: &'a str,
    colour: &'a str,
    greeting: &'a str,
    /// Why the chat is not shown (Russian), when it is not allowed.
    message: Option<&'static str>,
}

/// `GET /widget/config` (public): the widget asks before connecting whether the page's site
/// may show the chat, and how it looks. Anyone may read it (nothing in it is private).
pub async fn widget_config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("");
    let allowed = state.widget.origin_allowed_for(origin, &headers);
    if !allowed {
        tracing::warn!(
            origin,
            "the chat widget was refused: this site is not among the allowed ones (add it on the panel's «Подключение» page or to widget.allowed_origins)"
        );
    }
    let s = setup::widget_settings(&state.db).await;
    let body = WidgetPublic {
        allowed,
        title: &s.title,
        colour: &s.colour,
        greeting: &s.greeting,
        message: (!allowed).then_some(crate::texts::panel::WIDGET_REFUSED),
    };
    let mut resp = Json(&body).into_response();
    resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
