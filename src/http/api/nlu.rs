//! Message understanding over HTTP: the same analyzer the conversation engine runs on every
//! buyer message.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Auth, Operator};
use crate::http::error::{ApiError, ApiJson, ErrorBody};
use crate::nlu::Analysis;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// The buyer's message, 1 to 4000 characters.
    pub text: String,
}

/// Intent (with confidence), entities, sentiment and urgency of one message.
#[utoipa::path(post, path = "/api/v1/nlu/analyze", tag = "nlu", request_body = AnalyzeRequest,
    responses((status = 200, body = Analysis), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn analyze(
    State(state): State<AppState>,
    _auth: Auth<Operator>,
    ApiJson(req): ApiJson<AnalyzeRequest>,
) -> Result<Json<Analysis>, ApiError> {
    let n = req.text.chars().count();
    if req.text.trim().is_empty() || n > 4000 {
        return Err(ApiError::invalid("text: 1 to 4000 characters"));
    }
    // The classifier the engine reads buyers' messages with.
    let nlu = state.engine.nlu().get();
    let analysis =
        tokio::task::spawn_blocking(move || nlu.analyze(&req.text)).await.map_err(|_| ApiError::internal())?;
    Ok(Json(analysis))
}
