//! `[llm]`: the model chain, the local model and the cloud providers.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

closed_set! {
    /// How YandexGPT requests authenticate (`llm.yandexgpt.auth`).
    pub enum YandexAuth {
        /// `Authorization: Api-Key …`.
        #[default]
        ApiKey = "api-key",
        /// `Authorization: Bearer <IAM token>`.
        Iam = "iam",
    }
}

closed_set! {
    /// A provider of the model chain (`llm.chain`).
    pub enum LlmProvider {
        /// The local GGUF model.
        #[default]
        Local = "local",
        YandexGpt = "yandexgpt",
        /// Any OpenAI-compatible API.
        OpenAi = "openai",
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Providers tried in order: "local", "yandexgpt", "openai".
    pub chain: Vec<LlmProvider>,
    /// Tokens of prompt + answer given to the model.
    pub context_tokens: usize,
    /// Longest answer, in tokens.
    pub max_answer_tokens: usize,
    /// Longest time one provider may take for one answer, seconds.
    pub timeout_secs: u64,
    /// How long an answer to the same question with the same facts is reused; 0: never.
    pub cache_ttl_secs: u64,
    /// Consecutive failures after which a provider is paused, and for how long (seconds).
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Share of a monthly budget after which a warning is shown, percent.
    pub budget_warn_percent: u32,
    pub local: LocalLlmConfig,
    pub openai: OpenAiConfig,
    pub yandexgpt: YandexGptConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            chain: vec![LlmProvider::Local],
            context_tokens: 4000,
            max_answer_tokens: 300,
            timeout_secs: 30,
            cache_ttl_secs: 86_400,
            breaker_failures: 3,
            breaker_cooldown_secs: 60,
            budget_warn_percent: 80,
            local: LocalLlmConfig::default(),
            openai: OpenAiConfig::default(),
            yandexgpt: YandexGptConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalLlmConfig {
    /// The chat model (GGUF); relative paths are inside the data directory.
    pub model: PathBuf,
    /// Requests that may wait while the model answers another one.
    pub queue: usize,
    /// Longest expected or actual wait for the local model, ms, before the request goes to the
    /// next provider in the chain (0: wait within the queue bound).
    pub max_wait_ms: u64,
    /// Draft greedy answers by prompt lookup, verified in batched steps (the same tokens).
    pub speculative: bool,
}

impl Default for LocalLlmConfig {
    fn default() -> Self {
        Self { model: PathBuf::from(DEFAULT_MODEL_PATH), queue: 4, max_wait_ms: 4000, speculative: true }
    }
}

/// Where `supportd model pull` puts the default model.
pub const DEFAULT_MODEL_PATH: &str = "models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// Any OpenAI-compatible API: OpenAI, vLLM, llama.cpp server, Ollama (…/v1).
    pub base_url: String,
    pub model: String,
    /// Prefer the encrypted store: `supportd llm set-key openai`.
    pub api_key: Secret,
    pub price_input_rub_per_m: f64,
    pub price_output_rub_per_m: f64,
    /// 0: no cap.
    pub monthly_budget_rub: f64,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key: Secret::default(),
            price_input_rub_per_m: 15.0,
            price_output_rub_per_m: 60.0,
            monthly_budget_rub: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct YandexGptConfig {
    pub base_url: String,
    pub folder_id: String,
    /// "yandexgpt-lite/latest", "yandexgpt/latest", or a full gpt:// URI.
    pub model: String,
    /// "api-key" or "iam".
    pub auth: YandexAuth,
    /// Prefer the encrypted store: `supportd llm set-key yandexgpt`.
    pub api_key: Secret,
    pub price_input_rub_per_m: f64,
    pub price_output_rub_per_m: f64,
    pub monthly_budget_rub: f64,
}

impl Default for YandexGptConfig {
    fn default() -> Self {
        Self {
            base_url: "https://llm.api.cloud.yandex.net".into(),
            folder_id: String::new(),
            model: "yandexgpt-lite/latest".into(),
            auth: YandexAuth::ApiKey,
            api_key: Secret::default(),
            price_input_rub_per_m: 200.0,
            price_output_rub_per_m: 200.0,
            monthly_budget_rub: 0.0,
        }
    }
}
