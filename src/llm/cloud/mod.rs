//! Cloud chat providers over the shared HTTP layer ([`crate::net`]): an OpenAI-compatible
//! API (OpenAI itself, or a self-hosted vLLM / llama.cpp server / Ollama) and YandexGPT.
//! Both stream, both map every failure to [`LlmError`].

pub mod openai;
pub mod yandex;

use std::time::Instant;

use super::{Completion, FinishReason, GenerateRequest, LlmError, StopScanner, TokenSink, estimate_tokens};
use crate::net::HttpError;

pub use crate::net::KeyRef;

pub use openai::OpenAi;
pub use yandex::YandexGpt;

/// Prices of one provider, rubles per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub input_rub_per_m: f64,
    pub output_rub_per_m: f64,
}

impl Prices {
    pub fn cost(&self, prompt_tokens: u32, completion_tokens: u32) -> f64 {
        (f64::from(prompt_tokens) * self.input_rub_per_m + f64::from(completion_tokens) * self.output_rub_per_m)
            / 1_000_000.0
    }
}

impl From<HttpError> for LlmError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Timeout => LlmError::Timeout,
            HttpError::Transport(m) => LlmError::Unavailable(m),
            HttpError::Status { status: 429, retry_after, .. } => LlmError::RateLimited { retry_after },
            HttpError::Status { status, message, .. } if status >= 500 => {
                LlmError::Unavailable(format!("HTTP {status}: {message}"))
            }
            HttpError::Status { status, message, .. } => LlmError::Rejected { status, message },
        }
    }
}

/// What a streamed cloud answer came to; [`Streamed::complete`] turns it into a `Completion`.
pub(crate) struct Streamed<'a> {
    pub provider: &'static str,
    pub model: &'a str,
    pub prices: Prices,
    pub started: Instant,
    pub ttft_ms: Option<u64>,
    /// (prompt, completion) tokens as the provider reported them.
    pub usage: Option<(u32, u32)>,
}

impl Streamed<'_> {
    /// Streams the held-back tail and builds the completion; token counts are estimated when
    /// the provider did not report them.
    pub(crate) fn complete(
        self,
        req: &GenerateRequest,
        scanner: &StopScanner,
        sink: &TokenSink,
        finish: Option<FinishReason>,
    ) -> Result<Completion, LlmError> {
        let Some(finish) = finish else {
            return Err(LlmError::Malformed(format!("the {} stream ended before the answer was final", self.provider)));
        };
        sink.text(&scanner.rest());
        let answer = scanner.finish();
        let (prompt_tokens, completion_tokens) = self.usage.unwrap_or_else(|| {
            let prompt: usize = req.messages.iter().map(|m| estimate_tokens(&m.content) + 4).sum();
            (prompt as u32, estimate_tokens(&answer) as u32)
        });
        let elapsed = self.started.elapsed().as_millis() as u64;
        Ok(Completion {
            text: answer.trim().to_owned(),
            provider: self.provider.into(),
            model: self.model.to_owned(),
            prompt_tokens,
            cached_prompt_tokens: 0,
            completion_tokens,
            ttft_ms: self.ttft_ms.unwrap_or(elapsed),
            latency_ms: elapsed,
            finish,
            cost_rub: self.prices.cost(prompt_tokens, completion_tokens),
            from_cache: false,
            drafted_tokens: 0,
            accepted_tokens: 0,
        })
    }
}

/// Splits a byte stream into lines (SSE and JSON-lines both), across chunk borders.
#[derive(Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            let s = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned();
            out.push(s);
        }
        out
    }
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let s = String::from_utf8_lossy(&rest).trim().to_owned();
        (!s.is_empty()).then_some(s)
    }
}

/// Next chunk of a streaming body, bounded by the deadline.
pub(crate) async fn next_chunk(
    resp: &mut reqwest::Response,
    deadline: Option<Instant>,
) -> Result<Option<bytes::Bytes>, LlmError> {
    let read = resp.chunk();
    let r = match deadline {
        Some(d) => match tokio::time::timeout(d.saturating_duration_since(Instant::now()), read).await {
            Ok(r) => r,
            Err(_) => return Err(LlmError::Timeout),
        },
        None => read.await,
    };
    r.map_err(
        |e| if e.is_timeout() { LlmError::Timeout } else { LlmError::Unavailable(format!("the stream broke: {e}")) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_survive_chunk_borders() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"data: {\"a\""), Vec::<String>::new());
        assert_eq!(l.push(b":1}\r\n\ndata: [DO"), vec!["data: {\"a\":1}".to_owned(), String::new()]);
        assert_eq!(l.push(b"NE]\n"), vec!["data: [DONE]".to_owned()]);
        assert_eq!(l.finish(), None);
        // A multi-byte character split between chunks.
        let word = "привет\n".as_bytes();
        assert_eq!(l.push(&word[..3]), Vec::<String>::new());
        assert_eq!(l.push(&word[3..]), vec!["привет".to_owned()]);
    }

    #[test]
    fn prices_are_per_million() {
        let p = Prices { input_rub_per_m: 100.0, output_rub_per_m: 400.0 };
        assert!((p.cost(1000, 500) - 0.3).abs() < 1e-9);
    }
}
