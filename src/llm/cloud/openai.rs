//! OpenAI-compatible chat completions (`POST {base}/chat/completions`, streamed as
//! server-sent events). Works with OpenAI and with self-hosted servers that speak the same
//! API (vLLM, llama.cpp server, Ollama): point the base URL at them; the key may be empty.

use std::time::Instant;

use serde_json::{Value, json};

use super::{KeyRef, Lines, Prices, Streamed, next_chunk};
use crate::llm::{BoxFuture, Completion, FinishReason, GenerateRequest, LlmError, Provider, StopScanner, TokenSink};
use crate::net::HttpClient;

pub struct OpenAi {
    http: HttpClient,
    base_url: String,
    model: String,
    key: KeyRef,
    prices: Prices,
}

impl OpenAi {
    pub fn new(http: HttpClient, base_url: &str, model: &str, key: KeyRef, prices: Prices) -> Self {
        Self { http, base_url: base_url.trim_end_matches('/').to_owned(), model: model.to_owned(), key, prices }
    }

    fn body(&self, req: &GenerateRequest) -> Value {
        let messages: Vec<Value> =
            req.messages.iter().map(|m| json!({"role": m.role.as_str(), "content": m.content})).collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "temperature": req.sampling.temperature.max(0.0),
            "top_p": req.sampling.top_p,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !req.stop.is_empty() {
            body["stop"] = json!(req.stop.iter().take(4).collect::<Vec<_>>());
        }
        if req.sampling.temperature > 0.0 {
            body["seed"] = json!(req.sampling.seed);
        }
        body
    }

    async fn run(&self, req: &GenerateRequest, sink: &TokenSink) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let url = format!("{}/chat/completions", self.base_url);
        let body = self.body(req);
        let key = self.key.get().await;
        let mut resp = self
            .http
            .send(
                |c| {
                    let r = c.post(&url).json(&body);
                    if key.is_empty() { r } else { r.bearer_auth(key.expose()) }
                },
                req.deadline,
            )
            .await?;
        let mut lines = Lines::default();
        let mut scanner = StopScanner::new(&req.stop);
        let mut text = String::new();
        let mut ttft = None;
        let mut usage: Option<(u32, u32)> = None;
        let mut finish = None;
        let mut done = false;
        'read: while !done {
            if req.cancel.is_cancelled() {
                return Err(LlmError::Cancelled);
            }
            let chunk = next_chunk(&mut resp, req.deadline).await?;
            let new_lines = match chunk {
                Some(c) => lines.push(&c),
                None => {
                    done = true;
                    lines.finish().into_iter().collect()
                }
            };
            for line in new_lines {
                let Some(data) = line.strip_prefix("data:").map(str::trim) else { continue };
                if data == "[DONE]" {
                    break 'read;
                }
                let v: Value = serde_json::from_str(data)
                    .map_err(|e| LlmError::Malformed(format!("a stream event is not JSON: {e}")))?;
                if let Some(err) = v.get("error") {
                    let msg = err["message"].as_str().unwrap_or("error in the stream").to_owned();
                    return Err(LlmError::Unavailable(msg));
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    let n = |k: &str| u[k].as_u64().map(|x| x as u32);
                    if let (Some(p), Some(c)) = (n("prompt_tokens"), n("completion_tokens")) {
                        usage = Some((p, c));
                    }
                }
                let Some(choice) = v["choices"].get(0) else {
                    if v.get("choices").is_none() && v.get("usage").is_none() {
                        return Err(LlmError::Malformed("a stream event has no choices".into()));
                    }
                    continue;
                };
                if let Some(delta) = choice["delta"]["content"].as_str()
                    && !delta.is_empty()
                {
                    ttft.get_or_insert_with(|| started.elapsed().as_millis() as u64);
                    text.push_str(delta);
                    let (out, stopped) = scanner.update(&text);
                    sink.text(&out);
                    if stopped {
                        finish = Some(FinishReason::Stop);
                        break 'read;
                    }
                }
                match choice["finish_reason"].as_str() {
                    Some("length") => finish = Some(FinishReason::Length),
                    Some(_) => finish = finish.or(Some(FinishReason::Stop)),
                    None => {}
                }
            }
        }
        let streamed =
            Streamed { provider: "openai", model: &self.model, prices: self.prices, started, ttft_ms: ttft, usage };
        streamed.complete(req, &scanner, sink, finish)
    }
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }
    fn model(&self) -> String {
        self.model.clone()
    }
    fn generate<'a>(
        &'a self,
        req: &'a GenerateRequest,
        sink: &'a TokenSink,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(self.run(req, sink))
    }
}
