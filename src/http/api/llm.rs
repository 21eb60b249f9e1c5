//! The language-model layer seen from the panel: provider status, the month's usage and
//! cost, and a playground that asks the configured chain one question (admin only).

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Admin, Auth};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::llm::chain::{self, CallOptions, ProviderState, UsageReport};
use crate::llm::{ChatMessage, Completion, GenerateRequest, LlmError, TokenSink};
use crate::store::llm::{month_of, valid_month};

#[derive(Serialize, ToSchema)]
pub struct LlmStatus {
    /// The local model: "loading", "ready: NAME" or "unavailable: WHY".
    pub local: String,
    /// Requests waiting for the local model.
    pub local_queue: usize,
    pub chain: Vec<ProviderState>,
}

/// Providers in chain order with their breaker state, and the local model's state.
#[utoipa::path(get, path = "/api/v1/llm/status", tag = "llm",
    responses((status = 200, body = LlmStatus), (status = 403, body = ErrorBody)))]
pub async fn status(State(state): State<AppState>, _auth: Auth<Admin>) -> Json<LlmStatus> {
    Json(LlmStatus {
        local: state.local_model.status(),
        local_queue: state.local_model.get().map_or(0, |p| p.waiting()),
        chain: state.llm.states(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// "YYYY-MM" (UTC); the current month by default.
    pub month: Option<String>,
}

/// Tokens and rubles by provider and model for one month, against the budgets.
#[utoipa::path(get, path = "/api/v1/llm/usage", tag = "llm", params(UsageQuery),
    responses((status = 200, body = UsageReport), (status = 422, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    Query(q): Query<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    let month = match q.month {
        Some(m) if valid_month(&m) => m,
        Some(_) => return Err(ApiError::invalid("month must look like 2026-11")),
        None => month_of(state.now()),
    };
    let budgets = chain::budgets(&state.config);
    let warn = state.config.llm.budget_warn_percent;
    Ok(Json(state.db.call(move |c| chain::usage_report(c, &month, &budgets, warn)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    pub question: String,
    /// System prompt; a short default for a shop assistant when absent.
    pub system: Option<String>,
    /// 1 to 1024 (default: llm.max_answer_tokens).
    pub max_tokens: Option<usize>,
    /// Use the answer cache (default true).
    pub cache: Option<bool>,
}

/// Ask the provider chain one question (the playground of the settings page).
#[utoipa::path(post, path = "/api/v1/llm/ask", tag = "llm", request_body = AskRequest,
    responses((status = 200, body = Object, description = "The completion: text, provider, model, tokens, timings, cost"),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ask(
    State(state): State<AppState>,
    _auth: Auth<Admin>,
    ApiJson(req): ApiJson<AskRequest>,
) -> Result<Json<Completion>, ApiError> {
    let question = req.question.trim();
    if question.is_empty() || question.chars().count() > 4000 {
        return Err(ApiError::invalid("question: 1 to 4000 characters"));
    }
    let max_tokens = req.max_tokens.unwrap_or(state.config.llm.max_answer_tokens);
    if !(1..=1024).contains(&max_tokens) {
        return Err(ApiError::invalid("max_tokens: 1 to 1024"));
    }
    let system = req.system.unwrap_or_else(|| crate::texts::ASSISTANT_SYSTEM_PROMPT.to_owned());
    let mut request = GenerateRequest::new(vec![ChatMessage::system(system), ChatMessage::user(question)]);
    request.max_tokens = max_tokens;
    // Leave the HTTP layer time to answer with an error of its own.
    let limit = Duration::from_secs(state.config.server.request_timeout_secs).saturating_sub(Duration::from_secs(1));
    request.deadline = Some(Instant::now() + limit.max(Duration::from_secs(1)));
    let opts = CallOptions { cache: req.cache.unwrap_or(true), conversation_id: None };
    state.llm.generate(&request, &TokenSink::none(), &opts).await.map(Json).map_err(llm_error)
}

pub fn llm_error(e: LlmError) -> ApiError {
    match e {
        LlmError::TooLong(m) => ApiError::invalid(m),
        other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "llm_unavailable", other.to_string()),
    }
}
