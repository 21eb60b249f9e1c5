//! `supportd bench answers`: the demo shop's knowledge questions end to end through the
//! engine with the configured local model (release build; a benchmark, not a test).
//!
//! Each question is the first turn of a dialog whose script expects a knowledge answer with
//! its sources (the development set, or `--data FILE` in the dialog schema), asked by a new
//! buyer. Measured from the moment the message is handed to the engine:
//! - first text: when the buyer's channel could show the first checked sentence (the first
//!   preview of the answer; for an answer with a single sentence or a quote, the final one);
//! - complete: when the reply is stored and queued;
//! - the same questions four at a time (four buyers at the same moment), complete times.
//!
//! `naive_ms` is what a plain pipeline would take for the same answers: the whole prompt read
//! at the llama.cpp reference's prompt speed plus the same number of answer tokens at its
//! decode speed (no cache, no streaming, no drafting). Without a stored reference
//! (`benches/llm_reference.sh`) supportd's own plain speeds stand in, and `naive_source`
//! says so.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use crate::app::{self, Paths};
use crate::clock::{SharedClock, SystemClock};
use crate::crypto::Cipher;
use crate::engine::{self, Engine, Inbound};

#[derive(Debug, Args)]
pub struct AnswersArgs {
    /// Dialogs in the dialog schema [default: tests/data/dialogs_dev.jsonl when present,
    /// else the built-in dialogs].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// At most this many questions.
    #[arg(long)]
    pub limit: Option<usize>,
    /// A report of benches/llm_reference.sh for the configured model and thread count
    /// [default: the one it stored].
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Skip the four-at-once round.
    #[arg(long)]
    pub no_concurrent: bool,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub threads: usize,
    pub questions: usize,
    /// Answers the model wrote (the rest quoted the knowledge base).
    pub model_answers: usize,
    pub first_text_ms_p50: u64,
    pub first_text_ms_p95: u64,
    pub complete_ms_p50: u64,
    pub complete_ms_p95: u64,
    pub concurrent4_complete_ms_p95: Option<u64>,
    /// Four-at-once requests the local model did not take (past `llm.local.max_wait_ms`):
    /// answered by the next provider, or quoted.
    pub concurrent4_overflow: Option<usize>,
    pub answer_tokens_p50: u64,
    pub prompt_tokens_p50: u64,
    pub naive_ms_p95: u64,
    pub naive_source: String,
    pub reference_prompt_tokens_per_s: f64,
    pub reference_decode_tokens_per_s: f64,
    /// first_text_ms_p95 ÷ naive_ms_p95 (target ≤ 0.15).
    pub first_text_ratio: f64,
    /// complete_ms_p95 ÷ naive_ms_p95 (target ≤ 0.4).
    pub complete_ratio: f64,
    pub draft_acceptance: f64,
    pub peak_rss_mb: f64,
}

fn pct(v: &[u64], p: usize) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    s[((s.len() * p).div_ceil(100)).clamp(1, s.len()) - 1]
}

/// The first turns that the script answers from the knowledge base.
fn questions(args: &AnswersArgs) -> anyhow::Result<Vec<String>> {
    let default = PathBuf::from("tests/data/dialogs_dev.jsonl");
    let text = match &args.data {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None if default.exists() => std::fs::read_to_string(&default)?,
        None => engine::eval::DIALOGS.to_owned(),
    };
    let dialogs = engine::eval::parse(&text).map_err(anyhow::Error::msg)?;
    let mut out: Vec<String> = dialogs
        .iter()
        .filter(|d| d.linked_orders.is_empty())
        .filter_map(|d| d.turns.first())
        .filter(|t| !t.expect.sources.is_empty() && t.expect.action.allows("answer"))
        .map(|t| t.buyer.clone())
        .collect();
    if let Some(n) = args.limit {
        out.truncate(n);
    }
    anyhow::ensure!(!out.is_empty(), "no knowledge questions in the dialogs");
    Ok(out)
}

/// One question's figures.
#[derive(Debug, Clone, Default)]
struct Asked {
    first_ms: u64,
    complete_ms: u64,
    model: bool,
    answer_tokens: u64,
    prompt_tokens: u64,
    cached_tokens: u64,
    /// The model call's own time (queue, prompt, answer).
    model_ms: u64,
    drafted: u64,
    accepted: u64,
    overflow: bool,
}

/// First previews per conversation, as the operators' stream sees them.
type Firsts = Arc<Mutex<HashMap<i64, Instant>>>;

fn watch(engine: &Engine) -> Firsts {
    let firsts: Firsts = Arc::default();
    let mut rx = engine.streams().subscribe();
    let f = firsts.clone();
    tokio::spawn(async move {
        while let Ok(p) = rx.recv().await {
            if !p.done && !p.text.is_empty() {
                f.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(p.conversation_id)
                    .or_insert_with(Instant::now);
            }
        }
    });
    firsts
}

async fn ask(engine: &Engine, firsts: &Firsts, customer: String, text: &str) -> anyhow::Result<Asked> {
    let started = Instant::now();
    let turn = engine
        .handle(&Inbound {
            channel: crate::channels::ChannelName::Widget,
            message_id: format!("{customer}:1"),
            customer,
            name: String::new(),
            text: text.to_owned(),
            attachments: Vec::new(),
            verified_phone: None,
            from_seller: false,
        })
        .await?;
    let complete = started.elapsed();
    let m = turn.provenance.model.as_ref();
    let call = m.and_then(|m| m.call.as_ref());
    let first = firsts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&turn.conversation_id)
        .map(|t| t.duration_since(started))
        .unwrap_or(complete)
        .min(complete);
    let error = m.and_then(|m| m.error.as_deref()).unwrap_or("");
    Ok(Asked {
        first_ms: first.as_millis() as u64,
        complete_ms: complete.as_millis() as u64,
        // Written by the model: it answered and the guard let the text through.
        model: call.is_some() && turn.provenance.guard.is_empty(),
        answer_tokens: call.map_or(0, |c| u64::from(c.completion_tokens)),
        prompt_tokens: call.map_or(0, |c| u64::from(c.prompt_tokens)),
        cached_tokens: call.map_or(0, |c| u64::from(c.cached_prompt_tokens)),
        model_ms: call.map_or(0, |c| c.latency_ms),
        drafted: call.map_or(0, |c| u64::from(c.drafted_tokens)),
        accepted: call.map_or(0, |c| u64::from(c.accepted_tokens)),
        overflow: error.contains("busy"),
    })
}

pub fn run(paths: &Paths, args: AnswersArgs) -> anyhow::Result<ExitCode> {
    let mut config = app::load_config(paths)?;
    config.llm.chain.retain(|p| *p == crate::config::LlmProvider::Local);
    anyhow::ensure!(!config.llm.chain.is_empty(), "llm.chain has no local model to measure");
    config.engine.answers = crate::config::AnswerMode::Auto;
    // Every answer is written: the response cache would serve the repeated questions.
    config.llm.cache_ttl_secs = 0;
    let model_path = config.model_path(&paths.data_dir);
    anyhow::ensure!(
        model_path.exists(),
        "no model at {} (install it with `supportd model pull`)",
        model_path.display()
    );
    let questions = questions(&args)?;
    let threads = candle_core::utils::get_num_threads();
    let reference = args
        .reference
        .clone()
        .or_else(|| crate::llm::bench::stored_reference(&model_path, threads))
        .map(|r| crate::llm::bench::read_reference(&r))
        .transpose()?;
    let (ref_prompt, ref_decode, source) = match &reference {
        Some(r) => (
            r.prompt_tokens_per_s,
            r.decode_tokens_per_s,
            format!("llama.cpp reference ({})", r.build.as_deref().unwrap_or("build not recorded")),
        ),
        None => {
            eprintln!("no llama.cpp reference stored (benches/llm_reference.sh): measuring supportd's plain speeds …");
            let w = crate::llm::bench::Workload { prefix: 200, prompt: 200, answer: 24 };
            let r = crate::llm::bench::run(&model_path, w, None)?;
            (r.prompt_tokens_per_s, r.decode_tokens_per_s, "supportd plain (no reference stored)".to_owned())
        }
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let tmp = tempfile::tempdir()?;
        let (db, kb) = super::chat::demo_store(paths, &tmp, &clock)?;
        let cipher = Cipher::load_or_create(&crate::paths::secret_key(tmp.path()))?;
        let engine = super::chat::build(&config, paths, db.clone(), kb, super::chat::Reading { model: true, sentence_nlu: true }, clock.clone(), cipher).await?;
        let firsts = watch(&engine);
        // Warm-up: the system prompt's cache and the pages of the model.
        ask(&engine, &firsts, "bench-warmup".into(), &questions[0]).await?;
        let mut asked = Vec::new();
        for (i, q) in questions.iter().enumerate() {
            let a = ask(&engine, &firsts, format!("bench-{i}"), q).await?;
            eprintln!(
                "  {:>5} ms first, {:>5} ms complete (model {:>5} ms), prompt {:>4} ({:>4} cached), {:>3} tokens: {q}",
                a.first_ms, a.complete_ms, a.model_ms, a.prompt_tokens, a.cached_tokens, a.answer_tokens
            );
            asked.push(a);
        }
        let mut concurrent = Vec::new();
        if !args.no_concurrent {
            for (round, group) in questions.chunks(4).enumerate() {
                let engine = &engine;
                let firsts = &firsts;
                let jobs = group
                    .iter()
                    .enumerate()
                    .map(|(j, q)| async move { ask(engine, firsts, format!("bench-c{round}-{j}"), q).await });
                for a in futures_join(jobs.collect()).await {
                    concurrent.push(a?);
                }
            }
        }
        let col = |f: fn(&Asked) -> u64, v: &[Asked]| v.iter().map(f).collect::<Vec<u64>>();
        let naive: Vec<u64> = asked
            .iter()
            .map(|a| {
                let ms = a.prompt_tokens as f64 / ref_prompt.max(1e-9) + a.answer_tokens as f64 / ref_decode.max(1e-9);
                (ms * 1000.0) as u64
            })
            .collect();
        let (drafted, accepted) = asked.iter().fold((0, 0), |(d, a), x| (d + x.drafted, a + x.accepted));
        let naive_p95 = pct(&naive, 95);
        let first_p95 = pct(&col(|a| a.first_ms, &asked), 95);
        let complete_p95 = pct(&col(|a| a.complete_ms, &asked), 95);
        let report = Report {
            model: model_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            threads,
            questions: asked.len(),
            model_answers: asked.iter().filter(|a| a.model).count(),
            first_text_ms_p50: pct(&col(|a| a.first_ms, &asked), 50),
            first_text_ms_p95: first_p95,
            complete_ms_p50: pct(&col(|a| a.complete_ms, &asked), 50),
            complete_ms_p95: complete_p95,
            concurrent4_complete_ms_p95: (!concurrent.is_empty()).then(|| pct(&col(|a| a.complete_ms, &concurrent), 95)),
            concurrent4_overflow: (!concurrent.is_empty()).then(|| concurrent.iter().filter(|a| a.overflow).count()),
            answer_tokens_p50: pct(&col(|a| a.answer_tokens, &asked), 50),
            prompt_tokens_p50: pct(&col(|a| a.prompt_tokens, &asked), 50),
            naive_ms_p95: naive_p95,
            naive_source: source,
            reference_prompt_tokens_per_s: ref_prompt,
            reference_decode_tokens_per_s: ref_decode,
            first_text_ratio: ratio(first_p95, naive_p95),
            complete_ratio: ratio(complete_p95, naive_p95),
            draft_acceptance: if drafted == 0 { 0.0 } else { (accepted as f64 / drafted as f64 * 1000.0).round() / 1000.0 },
            peak_rss_mb: (crate::telemetry::rss_mb("VmHWM:") * 10.0).round() / 10.0,
        };
        if !args.json {
            println!(
                "{} questions ({} written by the model), {} threads: first text p50 {} ms / p95 {} ms, complete p50 {} ms / p95 {} ms, naive p95 {} ms",
                report.questions,
                report.model_answers,
                report.threads,
                report.first_text_ms_p50,
                report.first_text_ms_p95,
                report.complete_ms_p50,
                report.complete_ms_p95,
                report.naive_ms_p95
            );
        }
        println!("{}", serde_json::to_string(&report)?);
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { (a as f64 / b as f64 * 1000.0).round() / 1000.0 }
}

/// Runs the futures at the same time and returns their results in order.
async fn futures_join<F: std::future::Future>(jobs: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = jobs.into_iter().map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    out.extend(results.into_iter().flatten());
    out
}
