//! The assistant's language models: one [`Provider`] trait, the local Candle model
//! ([`local`]), OpenAI-compatible and YandexGPT cloud providers ([`cloud`]), and the
//! [`chain::Llm`] that tries them in order with circuit breakers, monthly budgets, a response
//! cache and per-call cost records.
//!
//! A request carries chat messages, a token budget, sampling settings, stop sequences, a
//! deadline and a cancellation handle; tokens stream through a [`TokenSink`] while the call
//! runs, and the call returns a [`Completion`] with token counts, timings and who answered.

pub mod bench;
pub mod budget;
pub mod catalog;
pub mod chain;
pub mod cloud;
pub mod context;
pub mod draft;
pub mod local;
pub mod mapped;
pub mod model;
pub mod sampling;
pub mod template;
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use crate::BoxFuture;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// How the next token is chosen. `temperature <= 0` means greedy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: usize,
    /// Logits of tokens seen in the last `repeat_last_n` are divided by this (1.0: off).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Self { temperature: 0.3, top_p: 0.9, top_k: 40, repeat_penalty: 1.1, repeat_last_n: 64, seed: 42 }
    }
}

impl Sampling {
    pub fn greedy() -> Self {
        Self { temperature: 0.0, ..Self::default() }
    }
}

/// Cancels a request from another task; the provider stops at the next token.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Cancels when dropped before [`CancelOnDrop::disarm`]: a caller whose future is dropped
    /// (a request that timed out, a client that went away) stops the work it started.
    pub fn on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// See [`Cancel::on_drop`].
#[derive(Debug)]
pub struct CancelOnDrop(Option<Cancel>);

impl CancelOnDrop {
    /// The work finished: nothing to cancel.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.cancel();
        }
    }
}

#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// System message first (its tokens are the cached prefix for the local model).
    pub messages: Vec<ChatMessage>,
    pub max_tokens: usize,
    pub sampling: Sampling,
    pub stop: Vec<String>,
    /// Stop at the end of this many sentences ([`budget::sentence_ends`]; local model).
    pub max_sentences: Option<usize>,
    pub deadline: Option<Instant>,
    pub cancel: Cancel,
}

impl GenerateRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            max_tokens: 256,
            sampling: Sampling::default(),
            stop: Vec::new(),
            max_sentences: None,
            deadline: None,
            cancel: Cancel::default(),
        }
    }

    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// What streams out of a call while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// Text to append to the answer.
    Text(String),
    /// The provider that was streaming failed and another one takes over: drop what came so far.
    Reset,
}

/// Where a provider streams its text; a sink without a receiver drops everything.
#[derive(Debug, Clone, Default)]
pub struct TokenSink(Option<mpsc::UnboundedSender<StreamEvent>>);

impl TokenSink {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<StreamEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(Some(tx)), rx)
    }
    pub fn none() -> Self {
        Self(None)
    }
    pub fn text(&self, s: &str) {
        if let (Some(tx), false) = (&self.0, s.is_empty()) {
            let _ = tx.send(StreamEvent::Text(s.to_owned()));
        }
    }
    pub fn reset(&self) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(StreamEvent::Reset);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End of turn or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// The outcome of one successful call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u32,
    /// Prompt tokens served from the KV cache of the system prefix (local model).
    pub cached_prompt_tokens: u32,
    pub completion_tokens: u32,
    pub ttft_ms: u64,
    pub latency_ms: u64,
    pub finish: FinishReason,
    /// Cost of this call in rubles (0 for the local model unless priced).
    pub cost_rub: f64,
    /// Served from the response cache: nobody was called or paid.
    pub from_cache: bool,
    /// Tokens proposed by drafting and checked by the model (local model).
    #[serde(default)]
    pub drafted_tokens: u32,
    /// Proposed tokens the model kept.
    #[serde(default)]
    pub accepted_tokens: u32,
}

/// One error type for every provider; the chain decides from it whether to try the next one.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LlmError {
    #[error("the model is busy: {0} requests already queued")]
    Busy(usize),
    #[error("the deadline passed before the answer was ready")]
    Timeout,
    #[error("the request was cancelled")]
    Cancelled,
    #[error("rate limited by the provider{}", .retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    #[error("the provider refused the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the provider answered with something unreadable: {0}")]
    Malformed(String),
    #[error("{0} is not configured: {1}")]
    NotConfigured(String, String),
    #[error("the monthly budget of {0} is spent")]
    BudgetExhausted(String),
    #[error("{0} is paused after repeated failures")]
    CircuitOpen(String),
    #[error("the prompt does not fit: {0}")]
    TooLong(String),
    #[error("the local model failed: {0}")]
    Model(String),
    #[error("no provider could answer: {}", .0.iter().map(|(p, e)| format!("{p}: {e}")).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<(String, String)>),
}

impl LlmError {
    /// Errors that count against the provider's circuit breaker.
    pub fn trips_breaker(&self) -> bool {
        matches!(
            self,
            LlmError::Timeout
                | LlmError::RateLimited { .. }
                | LlmError::Unavailable(_)
                | LlmError::Malformed(_)
                | LlmError::Rejected { .. }
                | LlmError::Model(_)
        )
    }
}

/// Something that can answer a chat: the local model or a cloud API.
pub trait Provider: Send + Sync {
    /// Stable name used in settings, usage records and prices ("local", "openai", "yandexgpt").
    fn name(&self) -> &str;
    /// The model this provider runs.
    fn model(&self) -> String;
    /// Counts tokens of `text` the way this provider bills them (by default an estimate).
    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text)
    }
    /// Runs one request, streaming text into `sink`.
    fn generate<'a>(
        &'a self,
        req: &'a GenerateRequest,
        sink: &'a TokenSink,
    ) -> BoxFuture<'a, Result<Completion, LlmError>>;
}

/// Builds the chain the config names. The local model (when in the chain) loads in the
/// background; until then, and when its file is missing, the chain skips it.
pub fn setup(
    config: &crate::config::Config,
    data_dir: &std::path::Path,
    db: crate::store::Db,
    cipher: crate::crypto::Cipher,
    clock: crate::clock::SharedClock,
) -> (Arc<chain::Llm>, Arc<local::LocalSlot>) {
    use crate::config::Secret;
    let c = &config.llm;
    let local = Arc::new(local::LocalSlot::default());
    let key = |fixed: &Secret, name: &'static str| {
        if fixed.is_empty() {
            cloud::KeyRef::Stored { db: db.clone(), cipher: cipher.clone(), name }
        } else {
            cloud::KeyRef::Fixed(fixed.clone())
        }
    };
    let http = || {
        crate::net::HttpClient::new(
            Duration::from_secs(c.timeout_secs),
            crate::net::RetryPolicy { attempts: 2, ..Default::default() },
            None,
        )
    };
    let mut providers: Vec<(Arc<dyn Provider>, chain::Budget)> = Vec::new();
    use crate::config::LlmProvider;
    for name in &c.chain {
        match name {
            LlmProvider::Local => {
                let path = config.model_path(data_dir);
                let slot = local.clone();
                let options = local::LocalOptions {
                    queue: c.local.queue,
                    max_wait: (c.local.max_wait_ms > 0).then(|| Duration::from_millis(c.local.max_wait_ms)),
                    speculative: c.local.speculative,
                };
                if path.exists() {
                    std::thread::spawn(move || {
                        let started = Instant::now();
                        let r = local::LocalModel::load(&path)
                            .and_then(|m| local::LocalProvider::start(m, options))
                            .map_err(|e| format!("{e:#}"));
                        match &r {
                            Ok(p) => {
                                tracing::info!(model = %p.model(), secs = started.elapsed().as_secs_f32(), "local model ready");
                            }
                            Err(e) => tracing::error!(error = %e, "the local model cannot be loaded"),
                        }
                        slot.set(r);
                    });
                } else {
                    local.set(Err(format!(
                        "no model file at {} (install it with `supportd model pull`)",
                        path.display()
                    )));
                }
                providers.push((local.clone(), chain::Budget::default()));
            }
            LlmProvider::OpenAi => {
                let o = &c.openai;
                let prices = cloud::Prices {
                    input_rub_per_m: o.price_input_rub_per_m,
                    output_rub_per_m: o.price_output_rub_per_m,
                };
                let p = cloud::OpenAi::new(http(), &o.base_url, &o.model, key(&o.api_key, "openai.api_key"), prices);
                providers.push((Arc::new(p), chain::Budget { monthly_rub: o.monthly_budget_rub }));
            }
            LlmProvider::YandexGpt => {
                let y = &c.yandexgpt;
                let prices = cloud::Prices {
                    input_rub_per_m: y.price_input_rub_per_m,
                    output_rub_per_m: y.price_output_rub_per_m,
                };
                let auth = y.auth;
                let p = cloud::YandexGpt::new(
                    http(),
                    &y.base_url,
                    &y.folder_id,
                    &y.model,
                    auth,
                    key(&y.api_key, "yandexgpt.api_key"),
                    prices,
                );
                providers.push((Arc::new(p), chain::Budget { monthly_rub: y.monthly_budget_rub }));
            }
        }
    }
    let settings = chain::ChainSettings {
        timeout: Duration::from_secs(c.timeout_secs),
        cache_ttl: Duration::from_secs(c.cache_ttl_secs),
        breaker_failures: c.breaker_failures,
        breaker_cooldown: Duration::from_secs(c.breaker_cooldown_secs),
        warn_percent: c.budget_warn_percent,
    };
    (Arc::new(chain::Llm::new(providers, settings, db, clock)), local)
}

/// A rough token estimate for providers whose tokenizer we do not have: Russian text runs at
/// about 3 characters per token in modern BPE vocabularies, English at about 4.
pub fn estimate_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    chars.div_ceil(3) + 1
}

/// Text streamed so far, held back while it could still become a stop sequence.
#[derive(Debug, Default)]
pub struct StopScanner {
    stops: Vec<String>,
    text: String,
    emitted: usize,
}

impl StopScanner {
    pub fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), ..Default::default() }
    }

    /// Replaces the whole text so far (decoders give the full text); returns what may be
    /// streamed now and whether a stop sequence was found (the text is cut before it).
    pub fn update(&mut self, full: &str) -> (String, bool) {
        self.text.clear();
        self.text.push_str(full);
        if let Some(cut) = self.stops.iter().filter_map(|s| self.text.find(s.as_str())).min() {
            self.text.truncate(cut);
            let out = self.text.get(self.emitted.min(cut)..).unwrap_or_default().to_owned();
            self.emitted = cut;
            return (out, true);
        }
        // Hold back a partial UTF-8 character (decoders show it as U+FFFD) and any tail that
        // is the start of a stop sequence.
        let mut safe = self.text.trim_end_matches('\u{FFFD}').len();
        for s in &self.stops {
            for k in (1..s.len()).rev() {
                if s.is_char_boundary(k) && self.text[..safe].ends_with(&s[..k]) {
                    safe = safe.min(safe - k);
                    break;
                }
            }
        }
        if safe <= self.emitted {
            return (String::new(), false);
        }
        let out = self.text[self.emitted..safe].to_owned();
        self.emitted = safe;
        (out, false)
    }

    /// The final text (without stop sequence or trailing partial character).
    pub fn finish(&self) -> String {
        self.text.trim_end_matches('\u{FFFD}').to_owned()
    }

    /// The text not yet streamed at the end.
    pub fn rest(&self) -> String {
        let done = self.finish();
        done.get(self.emitted.min(done.len())..).unwrap_or_default().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_scanner_holds_back_partial_stops() {
        let mut s = StopScanner::new(&["\nПокупатель:".to_owned()]);
        assert_eq!(s.update("Здравствуйте"), ("Здравствуйте".to_owned(), false));
        assert_eq!(s.update("Здравствуйте!\nПок"), ("!".to_owned(), false));
        assert_eq!(s.update("Здравствуйте!\nПокупатель: а"), (String::new(), true));
        assert_eq!(s.finish(), "Здравствуйте!");
    }

    #[test]
    fn stop_scanner_waits_for_whole_characters() {
        let mut s = StopScanner::new(&[]);
        assert_eq!(s.update("при\u{FFFD}").0, "при");
        assert_eq!(s.update("привет").0, "вет");
        assert_eq!(s.rest(), "");
    }

    #[test]
    fn held_back_prefix_is_released_when_the_stop_does_not_come() {
        let mut s = StopScanner::new(&["END".to_owned()]);
        assert_eq!(s.update("ok EN").0, "ok ");
        assert_eq!(s.update("ok ENOUGH").0, "ENOUGH");
    }
}
