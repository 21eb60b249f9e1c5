//! `supportd bench llm`: the local model's speed on a fixed workload, and, when a llama.cpp
//! reference measured by `benches/llm_reference.sh` is given, the ratios against it.
//!
//! Workload (identical in `benches/llm_reference.py`): a system prefix of 400 tokens is
//! processed into the KV cache (prompt speed), then a new 300-token prompt is processed after
//! it and the first token sampled (time to first token), then 59 more tokens are decoded
//! greedily (decode speed); end-to-end is the new prompt plus 60 answer tokens.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::local::LocalModel;
use super::model::argmax;

/// The same text as `benches/llm_reference.py`.
pub const BENCH_TEXT: &str = "Здравствуйте! Я заказал куртку на Wildberries неделю назад, номер заказа 123456789, \
а статус до сих пор «в пути». Подскажите, пожалуйста, когда её доставят в пункт выдачи \
и можно ли будет вернуть её, если размер не подойдёт? Спасибо за помощь. ";

#[derive(Debug, Clone, Copy)]
pub struct Workload {
    pub prefix: usize,
    pub prompt: usize,
    pub answer: usize,
}

impl Default for Workload {
    fn default() -> Self {
        Self { prefix: 400, prompt: 300, answer: 60 }
    }
}

/// What the reference script prints.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Reference {
    pub prompt_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub ttft_ms: f64,
    pub e2e_ms_60_tokens: f64,
    pub peak_rss_mb: f64,
    #[serde(default)]
    pub threads: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub model_file: String,
    pub quantization: String,
    pub threads: usize,
    pub prefix_tokens: usize,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub load_s: f64,
    pub prompt_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub ttft_ms: f64,
    pub e2e_ms_60_tokens: f64,
    pub peak_rss_mb: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_prompt_tokens_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_decode_tokens_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_ttft_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_peak_rss_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_ratio: Option<f64>,
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

fn tokens(model: &LocalModel, n: usize, salt: &str) -> anyhow::Result<Vec<u32>> {
    let mut text = format!("{salt} {BENCH_TEXT}");
    let mut ids = Vec::new();
    while ids.len() < n {
        ids = model.format.encode(&text)?;
        text.push_str(BENCH_TEXT);
    }
    ids.truncate(n);
    Ok(ids)
}

pub fn run(path: &Path, w: Workload, reference: Option<Reference>) -> anyhow::Result<Report> {
    let t = Instant::now();
    let model = LocalModel::load(path)?;
    let load_s = t.elapsed().as_secs_f64();
    let prefix = tokens(&model, w.prefix, "Система:")?;
    let prompt = tokens(&model, w.prompt, "Покупатель:")?;
    anyhow::ensure!(w.answer >= 2, "generate at least 2 tokens");
    let m = &model.weights;
    let (prompt_tps, ttft_ms, decode_tps, e2e_ms) = candle_core::utils::with_threadpool(|| -> anyhow::Result<_> {
        // Warm-up, so the first figure does not pay for cold caches.
        m.forward(&prefix[..16.min(prefix.len())], &mut m.new_cache())?;
        let mut cache = m.new_cache();
        cache.reserve(w.prefix + w.prompt + w.answer)?;
        let t0 = Instant::now();
        m.forward(&prefix, &mut cache)?;
        let prompt_tps = w.prefix as f64 / t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut tok = argmax(&m.forward(&prompt, &mut cache)?);
        let ttft = t1.elapsed();
        let t2 = Instant::now();
        for _ in 1..w.answer {
            tok = argmax(&m.forward(&[tok], &mut cache)?);
        }
        let decode = t2.elapsed();
        Ok((
            prompt_tps,
            ttft.as_secs_f64() * 1000.0,
            (w.answer - 1) as f64 / decode.as_secs_f64(),
            (ttft + decode).as_secs_f64() * 1000.0,
        ))
    })?;
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| round(a / b, 2));
    Ok(Report {
        model: model.name.clone(),
        model_file: path.display().to_string(),
        quantization: model.quantization.clone(),
        threads: candle_core::utils::get_num_threads(),
        prefix_tokens: w.prefix,
        prompt_tokens: w.prompt,
        gen_tokens: w.answer,
        load_s: round(load_s, 2),
        prompt_tokens_per_s: round(prompt_tps, 2),
        decode_tokens_per_s: round(decode_tps, 2),
        ttft_ms: round(ttft_ms, 1),
        e2e_ms_60_tokens: round(e2e_ms, 1),
        peak_rss_mb: round(crate::telemetry::rss_mb("VmHWM:"), 1),
        reference_prompt_tokens_per_s: reference.as_ref().map(|r| r.prompt_tokens_per_s),
        reference_decode_tokens_per_s: reference.as_ref().map(|r| r.decode_tokens_per_s),
        reference_ttft_ms: reference.as_ref().map(|r| r.ttft_ms),
        reference_peak_rss_mb: reference.as_ref().map(|r| r.peak_rss_mb),
        prompt_ratio: reference.as_ref().and_then(|r| ratio(prompt_tps, r.prompt_tokens_per_s)),
        decode_ratio: reference.as_ref().and_then(|r| ratio(decode_tps, r.decode_tokens_per_s)),
    })
}

/// Where `benches/llm_reference.sh` keeps its figures for `model` at `threads`.
pub fn stored_reference(model: &Path, threads: usize) -> Option<std::path::PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))?;
    let name = model.file_name()?.to_str()?;
    let size = std::fs::metadata(model).ok()?.len();
    let path = cache.join("supportd/llm-reference").join(format!("{name}-{size}-t{threads}.json"));
    path.exists().then_some(path)
}

/// Reads the last JSON line of a reference file.
pub fn read_reference(path: &Path) -> anyhow::Result<Reference> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).context("no JSON object in the file")?;
    serde_json::from_str(line).with_context(|| format!("{} is not a reference report", path.display()))
}
