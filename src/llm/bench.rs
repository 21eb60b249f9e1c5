//! `supportd bench llm`: the local model's speed on a fixed workload, and, when a llama.cpp
//! reference measured by `benches/llm_reference.sh` is given, the ratios against it.
//!
//! Workload (identical in `benches/llm_reference.py`): a system prefix of 400 tokens is
//! processed into the KV cache (prompt speed), then a new 300-token prompt is processed after
//! it and the first token sampled (time to first token), then 59 more tokens are decoded
//! greedily (decode speed); end-to-end is the new prompt plus 60 answer tokens.
//!
//! Drafting is measured on grounded answers: the demo shop's articles as facts and a buyer's
//! question each ([`GROUNDED`]), answered greedily as the engine asks, once plainly and once
//! with prompt-lookup drafting; the two answers must be the same tokens, and the report gives
//! both decode speeds, the speed-up and the share of proposed tokens the model kept.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::draft::{DraftStats, PromptLookup, Proposer};
use super::local::LocalModel;
use super::model::argmax;
use super::sampling::Sampler;
use super::{ChatMessage, FinishReason, Sampling};

/// Questions of the drafting workload, each with the demo article that answers it.
pub const GROUNDED: &[(&str, &str)] = &[
    ("returns-policy-14-days", "Можно ли вернуть куртку, если не подошёл размер?"),
    ("delivery-times", "Сколько идёт доставка в Новосибирск?"),
    ("returns-refund-time", "Когда вернут деньги за возврат?"),
    ("payment-methods", "Какими способами можно оплатить заказ?"),
    ("care-down-jackets", "Как стирать пуховик?"),
    ("exchange-size", "Можно обменять джинсы на другой размер?"),
];

/// Tokens each grounded answer may take (the engine's budget for such passages is similar).
const GROUNDED_ANSWER: usize = 96;

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
    /// Which llama.cpp build measured it (instruction sets; older files lack it).
    #[serde(default)]
    pub build: Option<String>,
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
    pub reference_build: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_peak_rss_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_ratio: Option<f64>,
    /// Grounded answers (the demo shop's articles): plain greedy decoding, tokens/s.
    pub grounded_decode_tokens_per_s: f64,
    /// The same answers with prompt-lookup drafting (identical tokens), tokens/s.
    pub speculative_decode_tokens_per_s: f64,
    /// speculative ÷ plain on the grounded answers.
    pub speculative_speedup: f64,
    /// Share of proposed draft tokens the model kept.
    pub draft_acceptance: f64,
    /// Answer tokens per forward step with drafting (1.0 without).
    pub tokens_per_step: f64,
    pub grounded_answers: usize,
    pub grounded_tokens: usize,
    /// One forward step after a ~500-token context, by the number of rows it verifies
    /// (1 = a plain decode step), ms (median of 5): what a draft costs.
    pub step_ms_by_rows: std::collections::BTreeMap<usize, f64>,
    /// Whether caching each article's KV right after the system prefix would pay.
    pub article_prefix: ArticlePrefix,
}

/// Time to the first token of a grounded answer three ways (medians over [`ARTICLES`]
/// questions): as the engine asks today (the shop's instructions reused from a snapshot, the
/// chosen facts and the question processed), with the whole article's KV cached after the
/// system prefix (only the question processed), and the same article when it is not cached.
#[derive(Debug, Clone, Serialize)]
pub struct ArticlePrefix {
    pub facts_tokens: usize,
    pub article_tokens: usize,
    pub composed_ttft_ms: f64,
    pub article_hit_ttft_ms: f64,
    pub article_miss_ttft_ms: f64,
    /// The KV cache one article's prefix holds.
    pub article_kv_mb: f64,
}

/// Questions of the article-prefix measurement (the first of [`GROUNDED`]).
const ARTICLES: usize = 3;
/// Characters of an article standing for the units a composition chooses (a composed answer's
/// facts are one to three units, 300–600 characters), taken from its middle.
const FACTS_CHARS: usize = 450;

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
    let g = candle_core::utils::with_threadpool(|| grounded(&model))?;
    let steps = candle_core::utils::with_threadpool(|| step_costs(&model))?;
    let article_prefix = candle_core::utils::with_threadpool(|| article_prefix(&model))?;
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
        reference_build: reference.as_ref().and_then(|r| r.build.clone()),
        reference_peak_rss_mb: reference.as_ref().map(|r| r.peak_rss_mb),
        prompt_ratio: reference.as_ref().and_then(|r| ratio(prompt_tps, r.prompt_tokens_per_s)),
        decode_ratio: reference.as_ref().and_then(|r| ratio(decode_tps, r.decode_tokens_per_s)),
        grounded_decode_tokens_per_s: round(g.plain_tps, 2),
        speculative_decode_tokens_per_s: round(g.drafted_tps, 2),
        speculative_speedup: round(g.drafted_tps / g.plain_tps.max(1e-9), 2),
        draft_acceptance: round(g.stats.acceptance(), 3),
        tokens_per_step: round(g.tokens as f64 / f64::from(g.stats.steps.max(1)), 2),
        grounded_answers: g.answers,
        grounded_tokens: g.tokens,
        step_ms_by_rows: steps,
        article_prefix,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn article_prefix(model: &LocalModel) -> anyhow::Result<ArticlePrefix> {
    let w = &model.weights;
    let hp = &w.hp;
    let kv_bytes_per_token = (hp.n_layer * 2 * hp.n_kv_head * hp.head_dim * 4) as f64;
    let timed = |cache: &mut super::model::KvCache, rest: &[u32]| -> anyhow::Result<f64> {
        let t = Instant::now();
        argmax(&w.forward(rest, cache)?);
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    let (mut composed, mut hit, mut miss) = (Vec::new(), Vec::new(), Vec::new());
    let (mut facts_tokens, mut article_tokens) = (Vec::new(), Vec::new());
    for (slug, question) in GROUNDED.iter().take(ARTICLES) {
        // A shorter article when it does not fit the model's context (small test models).
        let mut body = article_body(slug)?;
        let whole = loop {
            let p = prompt_with(model, &body, question)?;
            if p.tokens.len() + 8 <= hp.context {
                break p;
            }
            let n = body.chars().count();
            anyhow::ensure!(n > 50, "the model's context of {} tokens is too small", hp.context);
            body = body.chars().take(n / 2).collect();
        };
        // The chosen units: a stretch from the article's middle (never its start, which the
        // whole article's prompt would share).
        let n = body.chars().count();
        let facts: String = body.chars().skip(n / 3).take(FACTS_CHARS.min(n / 3)).collect();
        let part = prompt_with(model, &facts, question)?;
        // What every prompt shares: the shop's instructions before the facts.
        let other = prompt_with(model, "-", question)?;
        let shared_len = super::local::shared_len;
        let shared = shared_len(&whole.tokens, &other.tokens).min(shared_len(&part.tokens, &other.tokens));
        let capacity = whole.tokens.len() + 8;
        // Today: the shop's instructions from a snapshot, the facts and question processed.
        let mut snapshot = w.new_cache();
        snapshot.reserve(capacity)?;
        w.forward(&part.tokens[..shared], &mut snapshot)?;
        composed.push(timed(&mut snapshot.fork(capacity)?, &part.tokens[shared..])?);
        // The article cached after the system prefix: only the question processed.
        let mut article = w.new_cache();
        article.reserve(capacity)?;
        w.forward(&whole.tokens[..whole.prefix_len], &mut article)?;
        hit.push(timed(&mut article.fork(capacity)?, &whole.tokens[whole.prefix_len..])?);
        // Not cached yet: the article after the shop's instructions.
        miss.push(timed(&mut snapshot.prefix(shared, capacity)?, &whole.tokens[shared..])?);
        facts_tokens.push((part.prefix_len - shared) as f64);
        article_tokens.push((whole.prefix_len - shared) as f64);
    }
    let article_tokens = median(article_tokens);
    Ok(ArticlePrefix {
        facts_tokens: median(facts_tokens) as usize,
        article_tokens: article_tokens as usize,
        composed_ttft_ms: round(median(composed), 1),
        article_hit_ttft_ms: round(median(hit), 1),
        article_miss_ttft_ms: round(median(miss), 1),
        article_kv_mb: round(article_tokens * kv_bytes_per_token / 1e6, 1),
    })
}

/// A demo article as the facts give it: "title: body".
fn article_body(slug: &str) -> anyhow::Result<String> {
    crate::kb::import::demo()
        .items
        .into_iter()
        .find_map(|l| match l.item {
            crate::kb::import::Item::Article(a) if a.slug == slug => Some(format!("{}: {}", a.title, a.body)),
            _ => None,
        })
        .with_context(|| format!("no demo article {slug}"))
}

/// The engine's prompt for `question` with `facts`.
fn prompt_with(model: &LocalModel, facts: &str, question: &str) -> anyhow::Result<super::template::Prompt> {
    let system = crate::texts::bot::system_prompt("Ладья", false);
    let fitted = super::context::fit(&system, &[facts.to_owned()], &[ChatMessage::user(question)], 8000, 100, &|t| {
        model.format.count(t)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(model.format.prompt(&fitted.messages)?)
}

/// Median time of one step over 1, 2, 4 and the most exact rows after a grounded prompt.
fn step_costs(model: &LocalModel) -> anyhow::Result<std::collections::BTreeMap<usize, f64>> {
    let (slug, question) = GROUNDED[0];
    let prompt = grounded_prompt(model, slug, question)?;
    let w = &model.weights;
    let mut base = w.new_cache();
    base.reserve(prompt.len() + 16)?;
    w.forward(&prompt, &mut base)?;
    let mut out = std::collections::BTreeMap::new();
    for rows in [1, 2, 4, super::model::EXACT_ROWS] {
        let input: Vec<u32> = prompt[prompt.len() - rows..].to_vec();
        let mut times = Vec::new();
        for _ in 0..5 {
            let mut cache = base.fork(prompt.len() + 16)?;
            let t = Instant::now();
            if rows == 1 {
                w.forward(&input, &mut cache)?;
            } else {
                w.forward_all(&input, &mut cache)?;
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        out.insert(rows, round(times[times.len() / 2], 1));
    }
    Ok(out)
}

/// The grounded workload's outcome.
pub struct Grounded {
    pub plain_tps: f64,
    pub drafted_tps: f64,
    pub stats: DraftStats,
    pub answers: usize,
    pub tokens: usize,
}

/// The prompt of a grounded answer: the engine's system prompt with the article as facts.
pub fn grounded_prompt(model: &LocalModel, slug: &str, question: &str) -> anyhow::Result<Vec<u32>> {
    let body = article_body(slug)?;
    let system = crate::texts::bot::system_prompt("Ладья", false);
    let history = vec![ChatMessage::user(question)];
    // Room for the answer and a verification step within the model's context (small test
    // models have little): a shorter article when it does not fit.
    let room = model.weights.hp.context.saturating_sub(GROUNDED_ANSWER + super::model::EXACT_ROWS + 8);
    let mut chars = 900;
    loop {
        let facts = vec![body.chars().take(chars).collect::<String>()];
        let fitted = super::context::fit(&system, &facts, &history, 4000, 300, &|t| model.format.count(t))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let tokens = model.format.prompt(&fitted.messages)?.tokens;
        if tokens.len() <= room {
            return Ok(tokens);
        }
        anyhow::ensure!(chars > 50, "the model's context of {} tokens is too small", model.weights.hp.context);
        chars /= 2;
    }
}

/// Decodes one greedy answer after `prompt`: its tokens, decode time (after the first
/// token) and drafting figures.
pub fn answer(
    model: &LocalModel,
    prompt: &[u32],
    max: usize,
    proposer: Option<&mut dyn Proposer>,
) -> anyhow::Result<(Vec<u32>, f64, DraftStats)> {
    let w = &model.weights;
    let mut cache = w.new_cache();
    cache.reserve(prompt.len() + max + super::model::EXACT_ROWS)?;
    let logits = w.forward(prompt, &mut cache)?;
    let mut history = prompt.to_vec();
    let mut sampler = Sampler::new(Sampling::greedy());
    let mut out = Vec::new();
    let mut first: Option<Instant> = None;
    let mut emit = |t: u32| {
        first.get_or_insert_with(Instant::now);
        if model.format.stop_ids.contains(&t) {
            return Some(FinishReason::Stop);
        }
        out.push(t);
        (out.len() >= max).then_some(FinishReason::Length)
    };
    let (_, stats) =
        super::draft::decode(w, &mut cache, logits, &mut history, &mut sampler, proposer, &|| None, &mut emit)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = first.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok((out, secs, stats))
}

fn grounded(model: &LocalModel) -> anyhow::Result<Grounded> {
    let (mut plain_s, mut drafted_s, mut tokens) = (0.0, 0.0, 0usize);
    let mut stats = DraftStats::default();
    for (slug, question) in GROUNDED {
        let prompt = grounded_prompt(model, slug, question)?;
        let (plain, ps, _) = answer(model, &prompt, GROUNDED_ANSWER, None)?;
        let mut lookup = PromptLookup::default();
        let (drafted, ds, st) = answer(model, &prompt, GROUNDED_ANSWER, Some(&mut lookup))?;
        anyhow::ensure!(plain == drafted, "drafting changed the answer to {question:?}");
        // The first token comes from the prompt step in both: decode speed counts the rest.
        tokens += plain.len().saturating_sub(1);
        plain_s += ps;
        drafted_s += ds;
        stats.proposed += st.proposed;
        stats.accepted += st.accepted;
        stats.steps += st.steps;
    }
    Ok(Grounded {
        plain_tps: tokens as f64 / plain_s.max(1e-9),
        drafted_tps: tokens as f64 / drafted_s.max(1e-9),
        stats,
        answers: GROUNDED.len(),
        tokens,
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
