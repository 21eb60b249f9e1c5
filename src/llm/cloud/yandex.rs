//! YandexGPT through the Foundation Models text generation API
//! (`POST {base}/foundationModels/v1/completion`). Authentication is an API key
//! (`Authorization: Api-Key …`) or an IAM token (`Authorization: Bearer …`) with the folder
//! in `x-folder-id`; the model is addressed as `gpt://{folder}/{model}`. With `stream: true`
//! the answer arrives as JSON objects, one per line, each carrying the whole text so far.

use std::time::Instant;

use serde_json::{Value, json};

use super::{KeyRef, Lines, Prices, Streamed, next_chunk};
use crate::llm::{BoxFuture, Completion, FinishReason, GenerateRequest, LlmError, Provider, StopScanner, TokenSink};
use crate::net::HttpClient;

pub use crate::config::YandexAuth;

pub struct YandexGpt {
    http: HttpClient,
    base_url: String,
    folder: String,
    model: String,
    auth: YandexAuth,
    key: KeyRef,
    prices: Prices,
}

impl YandexGpt {
    pub fn new(
        http: HttpClient,
        base_url: &str,
        folder: &str,
        model: &str,
        auth: YandexAuth,
        key: KeyRef,
        prices: Prices,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            folder: folder.to_owned(),
            model: model.to_owned(),
            auth,
            key,
            prices,
        }
    }

    fn model_uri(&self) -> String {
        if self.model.starts_with("gpt://") {
            self.model.clone()
        } else {
            format!("gpt://{}/{}", self.folder, self.model)
        }
    }

    async fn run(&self, req: &GenerateRequest, sink: &TokenSink) -> Result<Completion, LlmError> {
        let key = self.key.get().await;
        if key.is_empty() || self.folder.is_empty() {
            return Err(LlmError::NotConfigured("yandexgpt".into(), "the API key and folder id are required".into()));
        }
        let started = Instant::now();
        let url = format!("{}/foundationModels/v1/completion", self.base_url);
        let body = json!({
            "modelUri": self.model_uri(),
            "completionOptions": {
                "stream": true,
                "temperature": req.sampling.temperature.max(0.0),
                "maxTokens": req.max_tokens.to_string(),
            },
            "messages": req.messages.iter().map(|m| json!({"role": m.role.as_str(), "text": m.content})).collect::<Vec<_>>(),
        });
        let auth = match self.auth {
            YandexAuth::ApiKey => format!("Api-Key {}", key.expose()),
            YandexAuth::Iam => format!("Bearer {}", key.expose()),
        };
        let mut resp = self
            .http
            .send(
                |c| c.post(&url).header("Authorization", &auth).header("x-folder-id", &self.folder).json(&body),
                req.deadline,
            )
            .await?;
        let mut lines = Lines::default();
        let mut scanner = StopScanner::new(&req.stop);
        let mut ttft = None;
        let mut usage = None;
        let mut finish = None;
        let mut ended = false;
        'read: while !ended {
            if req.cancel.is_cancelled() {
                return Err(LlmError::Cancelled);
            }
            let new_lines = match next_chunk(&mut resp, req.deadline).await? {
                Some(c) => lines.push(&c),
                None => {
                    ended = true;
                    lines.finish().into_iter().collect()
                }
            };
            for line in new_lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| LlmError::Malformed(format!("a streamed result is not JSON: {e}")))?;
                if let Some(err) = v.get("error") {
                    let msg = err["message"].as_str().unwrap_or("error in the stream").to_owned();
                    return Err(LlmError::Unavailable(msg));
                }
                let result =
                    v.get("result").ok_or_else(|| LlmError::Malformed("a streamed object has no result".into()))?;
                let alt = &result["alternatives"][0];
                let text = alt["message"]["text"]
                    .as_str()
                    .ok_or_else(|| LlmError::Malformed("an alternative has no message text".into()))?;
                if !text.is_empty() {
                    ttft.get_or_insert_with(|| started.elapsed().as_millis() as u64);
                }
                let (out, stopped) = scanner.update(text);
                sink.text(&out);
                let num = |k: &str| {
                    let u = &result["usage"][k];
                    u.as_str().and_then(|s| s.parse::<u32>().ok()).or_else(|| u.as_u64().map(|x| x as u32))
                };
                if let (Some(p), Some(c)) = (num("inputTextTokens"), num("completionTokens")) {
                    usage = Some((p, c));
                }
                if stopped {
                    finish = Some(FinishReason::Stop);
                    break 'read;
                }
                match alt["status"].as_str() {
                    Some("ALTERNATIVE_STATUS_FINAL") => finish = Some(FinishReason::Stop),
                    Some("ALTERNATIVE_STATUS_TRUNCATED_FINAL") => finish = Some(FinishReason::Length),
                    Some("ALTERNATIVE_STATUS_CONTENT_FILTER") => {
                        return Err(LlmError::Rejected {
                            status: 200,
                            message: "blocked by the content filter".into(),
                        });
                    }
                    _ => {}
                }
                if finish.is_some() {
                    break 'read;
                }
            }
        }
        let streamed =
            Streamed { provider: "yandexgpt", model: &self.model, prices: self.prices, started, ttft_ms: ttft, usage };
        streamed.complete(req, &scanner, sink, finish)
    }
}

impl Provider for YandexGpt {
    fn name(&self) -> &str {
        "yandexgpt"
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
