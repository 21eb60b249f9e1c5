//! The HTTP surface: the JSON API, health and metrics, the OpenAPI document, and the embedded UI.

pub mod api;
pub mod auth;
pub mod error;
pub mod metrics;
pub mod serve;
pub mod state;

pub use crate::assets::Assets;
pub use state::AppState;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;
use utoipa::OpenApi;

use crate::http::auth::{Auth, Viewer};
use error::ApiError;

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.server.max_body_bytes;
    Router::new()
        .nest("/api/v1", api::router())
        .route(crate::channels::telegram::WEBHOOK_PATH, axum::routing::post(crate::channels::telegram::webhook))
        .route(
            crate::channels::whatsapp::WEBHOOK_PATH,
            get(crate::channels::whatsapp::verify).post(crate::channels::whatsapp::webhook),
        )
        .route(crate::channels::vk::CALLBACK_PATH, axum::routing::post(crate::channels::vk::callback))
        .route("/widget/ws", get(crate::channels::widget::connect))
        .route("/widget.js", get(|| async { crate::assets::response("widget.js") }))
        .route("/widget/config", get(api::setup::widget_config))
        // The panel's service worker, from the root so that its scope is the whole panel.
        .route("/sw.js", get(|| async { crate::assets::response("sw.js") }))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(|| async { crate::assets::response("api-docs.html") }))
        .route("/", get(|| async { crate::assets::response("index.html") }))
        .route(
            "/assets/{*path}",
            get(|axum::extract::Path(p): axum::extract::Path<String>| async move { crate::assets::response(&p) }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .with_state(state)
}

/// The longest request URL (path and query) served; a longer one gets 414 in the error shape.
pub const MAX_URL_BYTES: usize = 16 * 1024;

/// Every error leaves in the one JSON shape: the rejections of axum's extractors (a path or
/// query value of the wrong type), body limits (413) and anything else below the handlers
/// that answers with a bare status and text are rewritten here; over-long URLs are refused
/// here (414) before any routing work.
async fn json_errors(req: Request, next: Next) -> Response {
    if req.uri().path_and_query().map_or(0, |p| p.as_str().len()) > MAX_URL_BYTES {
        let message = format!("the request URL is longer than {MAX_URL_BYTES} bytes; send long queries in a POST body");
        return ApiError::new(StatusCode::URI_TOO_LONG, "uri_too_long", message).into_response();
    }
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let detail = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut fixed = ApiError::for_status(status, &detail.unwrap_or_default()).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such endpoint: {}", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this endpoint does not accept that method")
}

/// One span per request named by the matched route (low cardinality), plus metrics.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = req.method().clone();
    let span = tracing::info_span!("request", method = %method, route = %route);
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics.observe(method.as_str(), &route, status, elapsed);
    let ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    span.in_scope(|| {
        if route == "/healthz" || route == "/readyz" || route == "/metrics" {
            tracing::debug!(status, latency_ms = ms, "served");
        } else if status >= 500 {
            tracing::warn!(status, latency_ms = ms, "served");
        } else {
            tracing::info!(status, latency_ms = ms, "served");
        }
    });
    resp
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.config.server.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took too long").into_response()
        }
    }
}

async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
    set(h, "permissions-policy", "camera=(), microphone=(), geolocation=()");
    if state.config.secure_cookies() || state.config.server.tls != crate::config::TlsMode::Off {
        set(h, "strict-transport-security", crate::tls::HSTS);
    }
    if is_api {
        set(h, "cache-control", "no-store");
    }
    resp
}

/// Liveness: the process answers.
async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers and its schema is current.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.call(|c| crate::store::schema_version(c)).await {
        Ok((applied, expected)) if applied == expected => {
            axum::Json(serde_json::json!({ "status": "ready", "schema_version": applied })).into_response()
        }
        Ok((applied, expected)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("database schema version {applied}, expected {expected}"),
        )
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database does not answer").into_response()
        }
    }
}

/// Prometheus metrics (any signed-in role; use an API token in the scraper).
async fn metrics_text(State(state): State<AppState>, _auth: Auth<Viewer>) -> Response {
    let pool = state.db.stats();
    let gauges = [
        ("supportd_db_pool_size", "SQLite connections the pool may hold.", pool.size as f64),
        ("supportd_db_pool_in_use", "SQLite connections in use now.", pool.in_use as f64),
        ("supportd_db_pool_waits_total", "Times a caller waited for a connection.", pool.waits as f64),
        ("supportd_uptime_seconds", "Seconds since the server started.", state.started.elapsed().as_secs_f64()),
    ];
    let mut text = state.metrics.render(&gauges);
    let now = state.now();
    match state.db.call(move |c| crate::analytics::metrics::render(c, now)).await {
        Ok(business) => text.push_str(&business),
        Err(e) => tracing::warn!(error = %e, "business metrics are not available"),
    }
    let mut resp = text.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    resp
}

async fn openapi_json() -> Response {
    let mut resp = ApiDoc::openapi().to_pretty_json().unwrap_or_default().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::http::auth::SESSION_COOKIE))),
        );
        document_common_errors(openapi);
    }
}

/// The routes anyone may call (the rest need a role).
pub const PUBLIC_ROUTES: [&str; 3] =
    ["/api/v1/auth/login", "/api/v1/auth/password-reset", "/api/v1/auth/password-reset/confirm"];

/// Every operation documents the errors the layers around the handlers can return, in the
/// error shape: 400 (a malformed path or query value), 401/403 (the role check, unless the
/// route is public — which is marked with an empty `security`), 404 (a path naming nothing),
/// 413/415/422 (a body too large, of the wrong type, or invalid), 414 (the URL limit), 500,
/// and 503 (the request time limit). What a handler documents itself is kept.
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in &mut openapi.paths.paths {
        let public = PUBLIC_ROUTES.contains(&path.as_str());
        let has_path_params = path.contains('{');
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            if public {
                op.security = Some(Vec::new());
            }
            let has_body = op.request_body.is_some();
            let has_query = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let mut add = |code: &str, description: &str| {
                op.responses.responses.entry(code.to_owned()).or_insert_with(|| error(description));
            };
            add("400", "Malformed request: a path or query value of the wrong type (bad_request)");
            if !public {
                add("401", "Not signed in, or the token is invalid or expired (unauthenticated, invalid_token)");
                add("403", "The caller's role is not enough, or the CSRF token is missing (forbidden, csrf_failed)");
            }
            if has_path_params {
                add("404", "Nothing has that id (not_found)");
            }
            if has_body {
                add("413", "The body is larger than server.max_body_bytes (payload_too_large)");
                add("415", "The body is not of the documented content type (unsupported_media_type)");
            }
            if has_body || has_query || has_path_params {
                add("422", "Well-formed but invalid: missing or unknown fields, values out of range (invalid_body)");
            }
            add("414", "The URL is longer than 16 KB (uri_too_long)");
            add("500", "Internal error; details are in the server log only (internal)");
            add(
                "503",
                "The request took longer than server.request_timeout_secs, or a dependency is not ready (timeout)",
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "supportd API", description = "Self-hosted customer support for marketplace sellers. \
        Authenticate with `POST /api/v1/auth/login`, then send `Authorization: Bearer <token>`. \
        Browser sessions use the cookie plus the `X-CSRF-Token` header on state-changing requests. \
        Errors: `{\"error\": {\"code\", \"message\"}}`."),
    paths(
        api::auth::login, api::auth::logout, api::auth::me, api::auth::change_password,
        api::auth::request_reset, api::auth::confirm_reset,
        api::users::list, api::users::create, api::users::get, api::users::update, api::users::reset_link, api::users::assignees,
        api::tokens::list, api::tokens::create, api::tokens::revoke,
        api::audit::list,
        api::credentials::list, api::credentials::put, api::credentials::delete,
        api::assistant::get, api::assistant::put,
        api::kb::list_articles, api::kb::create_article, api::kb::get_article, api::kb::update_article,
        api::kb::delete_article, api::kb::versions, api::kb::restore_version, api::kb::categories,
        api::kb::list_products, api::kb::upsert_product, api::kb::get_product, api::kb::delete_product,
        api::kb::search, api::kb::search_post, api::kb::retrieve, api::kb::import_kb, api::kb::export,
        api::llm::status, api::llm::usage, api::llm::ask,
        api::nlu::analyze,
        api::conversations::list, api::conversations::get, api::conversations::take_over,
        api::conversations::release, api::conversations::reply, api::conversations::events, api::conversations::stream,
        api::conversations::customer, api::conversations::dashboard, api::conversations::note,
        api::conversations::assign, api::conversations::draft, api::conversations::snippets,
        api::conversations::create_snippet, api::conversations::delete_snippet, api::conversations::file,
        api::conversations::inbound, api::conversations::inbound_replies,
        api::channels::telegram_status, api::channels::telegram_update, api::channels::list,
        api::channels::whatsapp_status, api::channels::whatsapp_update, api::channels::whatsapp_sync,
        api::channels::vk_status, api::channels::vk_update,
        api::marketplaces::list, api::marketplaces::test, api::marketplaces::sync_now, api::marketplaces::settings,
        api::licence::get, api::licence::put, api::licence::usage_statement, api::licence::usage_statement_csv,
        api::privacy::find, api::privacy::export, api::privacy::erase, api::privacy::settings, api::privacy::backups, api::privacy::backup_now,
        api::stats::summary, api::stats::report, api::stats::trend, api::stats::handoffs, api::stats::intents,
        api::stats::gaps, api::stats::articles, api::stats::operators, api::stats::channels, api::stats::funnel,
        api::stats::heatmap, api::stats::csat, api::stats::export_csv, api::stats::report_pdf,
        api::stats::get_report_settings, api::stats::put_report_settings, api::stats::send_report_now,
        api::setup::checklist, api::setup::models, api::setup::install, api::setup::verify,
        api::setup::get_model_settings, api::setup::put_model_settings, api::setup::get_widget, api::setup::put_widget,
        api::setup::check_site, api::profile::get, api::profile::put, api::profile::test,
    ),
    modifiers(&SecurityAddon),
    security(("bearer" = []), ("session_cookie" = [])),
    tags(
        (name = "auth", description = "Sign-in, sessions, passwords"),
        (name = "users", description = "Accounts and roles (admin)"),
        (name = "tokens", description = "Personal API tokens"),
        (name = "audit", description = "Security audit log (admin)"),
        (name = "settings", description = "Integration credentials (admin)"),
        (name = "kb", description = "Knowledge base: articles, FAQ, products, search, grounding"),
        (name = "llm", description = "Language models: provider status, usage and cost, playground (admin)"),
        (name = "nlu", description = "Message understanding: intents, entities, sentiment (operator)"),
        (name = "marketplaces", description = "Wildberries and Ozon: connection test, sync status, sync now (admin)"),
        (name = "channels", description = "Messenger channels: capabilities; Telegram, WhatsApp and VK settings with live checks (admin)"),
        (name = "conversations", description = "Inbox: conversations, the bot's reasons, takeover, replies, live events"),
        (name = "stats", description = "Analytics (any role): figures of a period against the previous one, exports (CSV, PDF; plan's exports limit)"),
        (name = "licence", description = "Licence and plan (read: any role; install: admin), monthly usage statement (admin)"),
        (name = "privacy", description = "Personal data on request, retention, scheduled backups (admin)"),
        (name = "setup", description = "First-run set-up (admin): the checklist, models, the chat widget"),
        (name = "profile", description = "The signed-in operator's own alerts"),
    )
)]
pub struct ApiDoc;
