//! The licence and plan in the settings page, and the monthly usage statement.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Admin, Auth, Viewer};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::licence::statement::{self, Statement};
use crate::licence::{InstallError, LicenceView};
use crate::store::llm::month_of;

async fn view(state: &AppState) -> Result<LicenceView, ApiError> {
    let usage = state.licensing.usage().await?;
    Ok(state.licensing.view(Some(usage)))
}

/// The plan in force: status (trial, active, grace, expired, free), limits, what they are
/// measured against, and the banner to show (any signed-in role; never the token).
#[utoipa::path(get, path = "/api/v1/licence", tag = "licence",
    responses((status = 200, body = LicenceView), (status = 401, body = ErrorBody)))]
pub async fn get(State(state): State<AppState>, _auth: Auth<Viewer>) -> Result<Json<LicenceView>, ApiError> {
    Ok(Json(view(&state).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// The licence: the `SUPPORTD-LIC.…` token, or a licence file's whole text.
    pub token: String,
}

/// Install a licence (admin). It is verified offline against the vendor's key and applies at
/// once, without a restart. Refusals: 422 with `licence_malformed`, `licence_bad_signature`,
/// `licence_wrong_key`, `licence_expired`, `licence_issued_in_future`, `licence_unsupported`
/// or `licence_older`.
#[utoipa::path(put, path = "/api/v1/licence", tag = "licence", request_body = InstallRequest,
    responses((status = 200, body = LicenceView), (status = 403, body = ErrorBody),
              (status = 422, description = "The licence was refused; the code names the reason", body = ErrorBody)))]
pub async fn put(
    State(state): State<AppState>,
    auth: Auth<Admin>,
    ApiJson(req): ApiJson<InstallRequest>,
) -> Result<Json<LicenceView>, ApiError> {
    if req.token.len() > 64 * 1024 {
        return Err(ApiError::invalid("token: at most 64 KiB"));
    }
    match state.licensing.install(req.token, auth.actor()).await {
        Ok(_) => Ok(Json(view(&state).await?)),
        Err(InstallError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.message())),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// "YYYY-MM" (UTC); this month by default.
    pub month: Option<String>,
}

async fn statement_of(state: &AppState, month: Option<String>) -> Result<Statement, ApiError> {
    let month = match month {
        Some(m) if statement::month_range(&m).is_some() => m,
        Some(_) => return Err(ApiError::invalid("month must look like 2026-11")),
        None => month_of(state.now()),
    };
    let (plan, now) = (state.licensing.current(), state.now());
    Ok(state.db.call(move |c| statement::build(c, &month, &plan, now)).await?)
}

/// The month's usage statement (admin): conversations, messages by buyers, the bot and people,
/// model calls and rubles by provider, active operators, channels used.
#[utoipa::path(get, path = "/api/v1/usage/statement", tag = "licence", params(StatementQuery),
    responses((status = 200, body = Statement), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn usage_statement(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<StatementQuery>,
) -> Result<Json<Statement>, ApiError> {
    Ok(Json(statement_of(&state, q.month).await?))
}

/// The same statement as CSV (UTF-8 with a byte-order mark, for spreadsheets; admin). An
/// analytics export: plans without exports answer 402 `plan_limit`.
#[utoipa::path(get, path = "/api/v1/usage/statement.csv", tag = "licence", params(StatementQuery),
    responses((status = 200, content_type = "text/csv", body = String,
               description = "month,metric,dimension,value,description"),
              (status = 402, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn usage_statement_csv(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    state.licensing.current().allows_exports()?;
    let s = statement_of(&state, q.month).await?;
    let body = statement::csv(&s).map_err(|e| {
        tracing::error!(error = %e, "cannot write the statement CSV");
        ApiError::internal()
    })?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"supportd-usage-{}.csv\"", s.month)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
