//! The one error shape of the API: `{"error": {"code": "snake_case", "message": "..."}}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::store::StoreError;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first: send a bearer token or the session cookie",
        )
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
    /// The error shape for a bare status that some layer below the handlers produced (an
    /// extractor's rejection, a body or URL limit): its code by status, with `detail` (that
    /// layer's short text) as the message, except for server errors, whose text stays in the log.
    pub fn for_status(status: StatusCode, detail: &str) -> Self {
        let (code, fallback) = match status.as_u16() {
            400 => ("bad_request", "the request is malformed"),
            401 => ("unauthenticated", "sign in first"),
            403 => ("forbidden", "not allowed"),
            404 => ("not_found", "not found"),
            405 => ("method_not_allowed", "this endpoint does not accept that method"),
            408 => ("timeout", "the request took too long"),
            413 => ("payload_too_large", "the request body is too large"),
            414 => ("uri_too_long", "the request URL is too long"),
            415 => ("unsupported_media_type", "unsupported content type"),
            422 => ("invalid_body", "the request is not valid"),
            429 => ("too_many_requests", "too many requests; try again later"),
            503 => ("unavailable", "the service is not available right now"),
            s if s >= 500 => ("internal", "internal error; see the server log"),
            _ => ("bad_request", "the request cannot be served"),
        };
        let detail = detail.trim();
        let message =
            if status.is_server_error() || detail.is_empty() { fallback.to_owned() } else { detail.to_owned() };
        Self::new(status, code, message)
    }
    /// 402: the plan does not include it (the message names the plan that does).
    pub fn plan_limit(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "plan_limit", message)
    }
    pub fn too_many(retry_after: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl ApiError {
    /// Like `From<StoreError>`, but a missing row is reported as "`what` not found".
    pub fn store(what: &str) -> impl FnOnce(StoreError) -> ApiError + '_ {
        move |e| match e {
            StoreError::NotFound => ApiError::not_found(what),
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("the resource"),
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::PlanLimit(m) => Self::plan_limit(m),
            other => {
                // Internal details go to the log only, never to the client.
                tracing::error!(error = %other, "store error");
                Self::internal()
            }
        }
    }
}

impl From<crate::channels::InboxError> for ApiError {
    fn from(e: crate::channels::InboxError) -> Self {
        match e {
            crate::channels::InboxError::Rejected(m) => Self::invalid(m),
            crate::channels::InboxError::Unavailable(m) => {
                tracing::error!(error = %m, "cannot store an inbound message");
                Self::internal()
            }
        }
    }
}

impl From<crate::licence::Refusal> for ApiError {
    fn from(r: crate::licence::Refusal) -> Self {
        Self::plan_limit(r.0)
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        tracing::error!(error = %e, "crypto error");
        Self::internal()
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!(error = %e, "worker task failed");
        Self::internal()
    }
}

/// `Json` whose rejections use the API error shape: 400 malformed JSON, 415 wrong content
/// type, 413 too large, 422 well-formed but wrong (missing/unknown fields, wrong types).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(r: &JsonRejection) -> ApiError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => ApiError::invalid(text),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", text),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", text),
    }
}
