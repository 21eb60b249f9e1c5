//! Fake cloud model APIs on loopback, following the official shapes:
//! - OpenAI `POST /v1/chat/completions` with `stream: true`: server-sent events of
//!   `chat.completion.chunk` objects, a usage chunk (`stream_options.include_usage`), `[DONE]`;
//!   errors as `{"error": {"message", "type", "code"}}`, 429 with `Retry-After`.
//! - YandexGPT `POST /foundationModels/v1/completion` with `completionOptions.stream`: one
//!   JSON object per line, `{"result": {"alternatives": [{"message": {"role", "text"}, "status"}],
//!   "usage": {"inputTextTokens", "completionTokens", "totalTokens"}, "modelVersion"}}` with
//!   the text so far; errors as `{"error": {"grpcCode", "httpCode", "message", "httpStatus"}}`.
//!
//! Each request takes the next scripted behaviour (the last one repeats).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub enum Behavior {
    /// Stream these pieces, `delay` apart, then finish ("stop" or "length").
    Stream { pieces: Vec<String>, delay: Duration, finish: &'static str },
    /// Answer with an error status.
    Status { code: u16, retry_after: Option<u64> },
    /// Accept and never answer.
    Hang,
    /// A 200 whose stream is not what the API sends.
    Garbage,
    /// Stream the first pieces, then cut the connection.
    CutAfter { pieces: Vec<String> },
}

impl Behavior {
    pub fn answer(text: &str) -> Self {
        let pieces = text.split_inclusive(' ').map(str::to_owned).collect();
        Behavior::Stream { pieces, delay: Duration::from_millis(5), finish: "stop" }
    }
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<VecDeque<Behavior>>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

pub struct FakeLlm {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start(script: Vec<Behavior>) -> Self {
        let shared = Shared { script: Arc::new(Mutex::new(script.into())), requests: Arc::new(Mutex::new(Vec::new())) };
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/foundationModels/v1/completion", post(yandex))
            .with_state(shared.clone());
        let (addr, task) = super::serve(app).await;
        Self { addr, shared, task }
    }

    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn yandex_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, behaviors: Vec<Behavior>) {
        *self.shared.script.lock().expect("lock") = behaviors.into();
    }

    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.shared.requests.lock().expect("lock").clone()
    }
}

fn next(shared: &Shared, headers: HeaderMap, body: Value) -> Behavior {
    shared.requests.lock().expect("lock").push((headers, body));
    let mut s = shared.script.lock().expect("lock");
    if s.len() > 1 { s.pop_front().expect("non-empty") } else { s.front().cloned().unwrap_or(Behavior::Hang) }
}

fn stream_body(events: Vec<String>, delay: Duration, cut: bool) -> Body {
    let stream = futures_util::stream::unfold(
        (events.into_iter(), delay, cut, true),
        |(mut it, delay, cut, first)| async move {
            if !first {
                tokio::time::sleep(delay).await;
            }
            match it.next() {
                Some(e) => Some((Ok::<_, std::io::Error>(e), (it, delay, cut, false))),
                None if cut => Some((Err(std::io::Error::other("cut")), (it, delay, false, false))),
                None => None,
            }
        },
    );
    Body::from_stream(stream)
}

fn error_status(code: u16, retry_after: Option<u64>, body: Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(s) = retry_after {
        resp.headers_mut().insert("retry-after", s.to_string().parse().expect("header"));
    }
    resp
}

async fn openai(State(shared): State<Shared>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
    let body = body.0;
    let prompt_tokens = body["messages"].as_array().map_or(0, |m| m.len() * 10) as u64;
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    match next(&shared, headers, body.clone()) {
        Behavior::Stream { pieces, delay, finish } => {
            let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
            events.extend(pieces.iter().map(|p| chunk(json!({"content": p}), Value::Null)));
            events.push(chunk(json!({}), json!(finish)));
            events.push(format!(
                "data: {}\n\n",
                json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": pieces.len(), "total_tokens": prompt_tokens + pieces.len() as u64}})
            ));
            events.push("data: [DONE]\n\n".into());
            ([("content-type", "text/event-stream")], stream_body(events, delay, false)).into_response()
        }
        Behavior::CutAfter { pieces } => {
            let events = pieces.iter().map(|p| chunk(json!({"content": p}), Value::Null)).collect();
            ([("content-type", "text/event-stream")], stream_body(events, Duration::from_millis(5), true))
                .into_response()
        }
        Behavior::Status { code, retry_after } => error_status(
            code,
            retry_after,
            json!({"error": {"message": format!("fake error {code}"), "type": "server_error", "code": null}}),
        ),
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Behavior::Garbage => ([("content-type", "text/event-stream")], "data: {not json\n\n").into_response(),
    }
}

async fn yandex(State(shared): State<Shared>, headers: HeaderMap, body: axum::Json<Value>) -> Response {
    let body = body.0;
    let input = body["messages"].as_array().map_or(0, |m| m.len() * 10);
    let result = |text: &str, status: &str, n: usize| {
        format!(
            "{}\n",
            json!({"result": {"alternatives": [{"message": {"role": "assistant", "text": text}, "status": status}],
                "usage": {"inputTextTokens": input.to_string(), "completionTokens": n.to_string(), "totalTokens": (input + n).to_string()},
                "modelVersion": "23.10.2024"}})
        )
    };
    match next(&shared, headers, body.clone()) {
        Behavior::Stream { pieces, delay, finish } => {
            let mut text = String::new();
            let mut events = Vec::new();
            for (i, p) in pieces.iter().enumerate() {
                text.push_str(p);
                let last = i + 1 == pieces.len();
                let status = match (last, finish) {
                    (false, _) => "ALTERNATIVE_STATUS_PARTIAL",
                    (true, "length") => "ALTERNATIVE_STATUS_TRUNCATED_FINAL",
                    (true, _) => "ALTERNATIVE_STATUS_FINAL",
                };
                events.push(result(&text, status, i + 1));
            }
            ([("content-type", "application/json")], stream_body(events, delay, false)).into_response()
        }
        Behavior::CutAfter { pieces } => {
            let mut text = String::new();
            let events = pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    text.push_str(p);
                    result(&text, "ALTERNATIVE_STATUS_PARTIAL", i + 1)
                })
                .collect();
            ([("content-type", "application/json")], stream_body(events, Duration::from_millis(5), true))
                .into_response()
        }
        Behavior::Status { code, retry_after } => error_status(
            code,
            retry_after,
            json!({"error": {"grpcCode": 8, "httpCode": code, "message": format!("fake error {code}"), "httpStatus": "Error"}}),
        ),
        Behavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Behavior::Garbage => ([("content-type", "application/json")], "{\"result\": 17}\n").into_response(),
    }
}
