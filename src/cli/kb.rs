//! `supportd kb …` and `supportd eval retrieval`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::app::Paths;
use crate::clock::{Clock, SystemClock};
use crate::kb::{self, Mode, import};
use crate::store::Db;

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Import articles and products from a Markdown folder, a CSV, JSON or JSONL file.
    Import {
        /// A file or a folder (searched recursively).
        path: PathBuf,
    },
    /// Write the whole knowledge base as JSON (to FILE, or standard output).
    Export { file: Option<PathBuf> },
    /// Search the knowledge base.
    Search {
        query: String,
        /// bm25, vector or hybrid.
        #[arg(long, value_enum, default_value = "hybrid")]
        mode: CliMode,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        /// Include drafts.
        #[arg(long)]
        drafts: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the search index and the embeddings from the database.
    Reindex,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CliMode {
    Bm25,
    Vector,
    Hybrid,
}

impl From<CliMode> for Mode {
    fn from(m: CliMode) -> Self {
        match m {
            CliMode::Bm25 => Mode::Bm25,
            CliMode::Vector => Mode::Vector,
            CliMode::Hybrid => Mode::Hybrid,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Retrieval quality: recall@1, recall@5 and MRR of BM25, vector and hybrid search.
    Retrieval {
        #[command(flatten)]
        set: EvalSet,
        /// Also write the re-ranker's features of each question's best hits to FILE (JSONL:
        /// question, then per candidate its document, whether it is relevant, the features),
        /// the data `benches/rerank_fit.py` fits the weights on
        #[arg(long, value_name = "FILE")]
        features: Option<PathBuf>,
    },
    /// Message understanding: main-intent accuracy, per-intent precision/recall, macro-F1,
    /// entity exact match, sentiment and urgency, time per message.
    Nlu {
        #[command(flatten)]
        set: EvalSet,
        /// Instead: K-fold cross-validation on the built-in training set (for tuning without
        /// looking at the held-out split).
        #[arg(long, value_name = "K")]
        cross_validate: Option<usize>,
        /// Add the installed embedding model's sentence embedding to the classifier's features.
        #[arg(long)]
        sentence: bool,
    },
    /// Whole conversations with the demo shop (knowledge base + demo orders): automation
    /// rate, handoffs as scripted, facts and sources per turn, policy violations.
    Dialogs(super::chat::DialogArgs),
}

/// The labelled set an evaluation reads and how it reports.
#[derive(Debug, clap::Args)]
pub struct EvalSet {
    /// Labelled JSONL (retrieval: {"question", "relevant": [slug or id]}; nlu: {"text", "intent"
    /// or "intents", "entities": [{"kind", "value"}]}; dialogs: {"id", "linked_orders",
    /// "turns": [{"buyer", "expect"}], "outcome"}) [default: the built-in set].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Also list what was missed.
    #[arg(long)]
    pub misses: bool,
}

/// `supportd eval nlu`.
pub fn eval_nlu(paths: &Paths, set: EvalSet, folds: Option<usize>, sentence: bool) -> anyhow::Result<ExitCode> {
    let EvalSet { data, json, misses } = set;
    let embedder = if sentence {
        let path = paths.embedding_model();
        anyhow::ensure!(path.exists(), "no embedding model at {}: run `supportd model pull e5-small`", path.display());
        Some(Arc::new(kb::Embedder::load(&path)?))
    } else {
        None
    };
    if let Some(k) = folds {
        let (acc, f1) = crate::nlu::eval::cross_validate(crate::nlu::TRAIN, k, embedder).map_err(anyhow::Error::msg)?;
        println!("{k}-fold cross-validation on the training set: accuracy {acc:.3}, macro-F1 {f1:.3}");
        return Ok(ExitCode::SUCCESS);
    }
    let text = match &data {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        None => crate::nlu::HELDOUT.to_owned(),
    };
    let t = std::time::Instant::now();
    let nlu = match embedder {
        Some(e) => {
            let train = crate::nlu::classifier::parse_examples(crate::nlu::TRAIN).map_err(anyhow::Error::msg)?;
            let cache = crate::paths::nlu_cache(&paths.data_dir);
            Arc::new(crate::nlu::sentence::train_cached(&train, e, &cache).map_err(anyhow::Error::msg)?)
        }
        None => crate::nlu::Nlu::shared(),
    };
    let train_ms = t.elapsed().as_millis();
    let r = crate::nlu::eval::evaluate(&nlu, &text).map_err(anyhow::Error::msg)?;
    if misses {
        for (text, expected, got) in &r.misses {
            println!("miss: {text:?}: expected {expected}, got {got}");
        }
        for (text, expected, got) in &r.entity_misses {
            println!("entities: {text:?}: expected [{expected}], got [{got}]");
        }
    }
    if !json {
        println!("{} messages (model trained in {train_ms} ms)", r.n);
        println!(
            "main intent accuracy {:.3}, macro-F1 {:.3}, whole intent set {:.3}",
            r.accuracy, r.macro_f1, r.intent_set_exact
        );
        for (name, s) in &r.per_intent {
            println!(
                "  {name:<15} precision {:.2}  recall {:.2}  F1 {:.2}  ({} messages)",
                s.precision, s.recall, s.f1, s.support
            );
        }
        println!(
            "entities: exact match {:.3} of messages, precision {:.3}, recall {:.3}",
            r.entity_exact_match, r.entity_precision, r.entity_recall
        );
        if let (Some(s), Some(u)) = (r.sentiment_accuracy, r.urgent_accuracy) {
            println!("sentiment accuracy {s:.3}, urgency accuracy {u:.3}");
        }
        println!("time per message: p50 {:.3} ms, p95 {:.3} ms", r.p50_ms, r.p95_ms);
    }
    println!("{}", serde_json::to_string(&r)?);
    Ok(ExitCode::SUCCESS)
}

pub fn open(paths: &Paths, db: &Db) -> anyhow::Result<kb::Kb> {
    Ok(kb::Kb::open(db.clone(), &paths.data_dir, Arc::new(SystemClock))?)
}

pub fn print_report(report: &import::Report) {
    println!(
        "articles: {} created, {} updated, {} unchanged; products: {} created, {} updated, {} unchanged",
        report.articles_created,
        report.articles_updated,
        report.articles_unchanged,
        report.products_created,
        report.products_updated,
        report.products_unchanged
    );
    for e in &report.errors {
        eprintln!("skipped {}:{}: {}", e.source, e.line, e.message);
    }
}

pub fn run(paths: &Paths, db: &Db, cmd: KbCommand) -> anyhow::Result<ExitCode> {
    let now = SystemClock.now_ms();
    match cmd {
        KbCommand::Import { path } => {
            if !path.exists() {
                bail!("{} does not exist", path.display());
            }
            let parsed = import::parse_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let report = import::apply(db, parsed, None, "cli", now);
            let kb = open(paths, db)?;
            print_report(&report);
            if kb.read_only() {
                println!("the running server makes the changes searchable within seconds");
            }
            Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        KbCommand::Export { file } => {
            let text = serde_json::to_string_pretty(&import::export(db)?)?;
            match file {
                Some(f) => std::fs::write(&f, text).with_context(|| format!("cannot write {}", f.display()))?,
                None => println!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Search { query, mode, limit, drafts, json } => {
            let kb = open(paths, db)?;
            let mode = Mode::from(mode);
            if mode != Mode::Bm25 && kb.embedder().is_none() {
                eprintln!("note: no embedding model at {}: using BM25 only", kb.embedder_path().display());
            }
            let mode = if kb.embedder().is_none() { Mode::Bm25 } else { mode };
            let hits = kb.search(&query, mode, limit.clamp(1, 100), drafts)?;
            if json {
                println!("{}", serde_json::to_string(&hits)?);
            } else if hits.is_empty() {
                println!("nothing found");
            } else {
                for (i, h) in hits.iter().enumerate() {
                    println!("{:>2}. [{}] {} (score {:.4})", i + 1, h.doc, h.title, h.score);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Reindex => {
            let kb = open(paths, db)?;
            let n = kb.reindex()?;
            if kb.read_only() {
                println!("queued {n} documents: the running server reindexes them within seconds");
            } else {
                println!("reindexed {n} documents");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn eval(paths: &Paths, db: &Db, cmd: EvalCommand) -> anyhow::Result<ExitCode> {
    let EvalCommand::Retrieval { set: EvalSet { data, json, misses }, features } = cmd else {
        bail!("not a retrieval evaluation");
    };
    let kb = open(paths, db)?;
    let text = match &data {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?,
        None => kb::eval::HELDOUT.to_owned(),
    };
    if let Some(file) = &features {
        let dump = kb::eval::features(&kb, db, &text).map_err(anyhow::Error::msg)?;
        std::fs::write(file, dump).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let report = kb::eval::run(&kb, db, &text).map_err(anyhow::Error::msg)?;
    if report.questions == 0 {
        bail!("no question matched a document of this knowledge base (load it first, e.g. `supportd init --demo`)");
    }
    if misses {
        for m in &report.misses {
            let tag = if m.at_5 { "MISS@5" } else { "MISS@1" };
            println!("{tag} {}\n     expected {:?}\n     got {:?}", m.question, m.expected, m.got);
        }
        for (q, first) in &report.off_topic_grounded {
            println!("OFF-TOPIC GROUNDED {q}\n     first {first:?}");
        }
    }
    if !json {
        let line = |name: &str, s: &kb::eval::Scores| {
            println!("{name:<7} recall@1 {:.3}  recall@5 {:.3}  MRR {:.3}", s.recall_at_1, s.recall_at_5, s.mrr);
        };
        println!("{} questions ({} skipped)", report.questions, report.skipped.len());
        line("bm25", &report.bm25);
        match &report.vector {
            Some(v) => line("vector", v),
            None => println!("vector  (no embedding model installed)"),
        }
        line("hybrid", &report.hybrid);
        println!(
            "composed recall@1 {:.3}  (the document an answer cites, re-ranked by its units)",
            report.composed_recall_at_1
        );
        println!(
            "grounded: {:.0}% of these questions, {:.0}% of off-topic questions",
            report.grounded_in_domain * 100.0,
            report.grounded_off_topic * 100.0
        );
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Knowledge-base search: index generated articles, time BM25 and hybrid queries.
    Kb {
        /// How many articles to generate.
        #[arg(long, default_value_t = 10_000)]
        docs: usize,
        /// Words per generated article.
        #[arg(long, default_value_t = 60)]
        words: usize,
        /// The embedding model [default: DATA_DIR/models/e5-small-q4.bin when installed].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// The demo shop's knowledge questions end to end through the engine with the configured
    /// local model: time to the first shown sentence, to the complete answer, four buyers at
    /// once, against a plain pipeline at llama.cpp's speeds (use a release build).
    Answers(super::bench_answers::AnswersArgs),
    /// The local chat model: prompt and decode speed, time to first token after a cached
    /// system prefix, memory; ratios against a llama.cpp reference when given.
    Llm {
        /// The GGUF model [default: the configured llm.local.model].
        #[arg(long)]
        model: Option<PathBuf>,
        /// A report written by benches/llm_reference.sh for the same model and threads
        /// [default: the one that script stored for this model file and thread count].
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Tokens of the cached system prefix.
        #[arg(long, default_value_t = 400)]
        prefix: usize,
        /// Tokens of the new prompt.
        #[arg(long, default_value_t = 300)]
        prompt: usize,
        /// Tokens to generate (the answer).
        #[arg(long, default_value_t = 60)]
        answer: usize,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
}

pub fn bench(paths: &Paths, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    let (docs, words, model, json) = match cmd {
        BenchCommand::Kb { docs, words, model, json } => (docs, words, model, json),
        BenchCommand::Answers(args) => return super::bench_answers::run(paths, args),
        BenchCommand::Llm { model, reference, prefix, prompt, answer, json } => {
            return bench_llm(paths, model, reference, crate::llm::bench::Workload { prefix, prompt, answer }, json);
        }
    };
    if docs == 0 || words == 0 {
        bail!("--docs and --words must be greater than 0");
    }
    let model = model.or_else(|| Some(paths.embedding_model()).filter(|p| p.exists()));
    let embedder = match &model {
        Some(p) => Some(Arc::new(kb::Embedder::load(p)?)),
        None => {
            eprintln!(
                "note: no embedding model: only BM25 is measured (install it with `supportd model pull e5-small`)"
            );
            None
        }
    };
    let queries: Vec<String> = kb::eval::HELDOUT
        .lines()
        .chain(kb::eval::DEV.lines())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(str::to_owned))
        .collect();
    let scratch = tempfile_dir()?;
    eprintln!("indexing {docs} generated articles of {words} words in {} …", scratch.display());
    let result = kb::bench::run(&scratch, docs, words, &queries, embedder);
    let _ = std::fs::remove_dir_all(&scratch);
    let report = result.map_err(anyhow::Error::msg)?;
    if !json {
        println!(
            "{docs} docs: insert {:.1} s, index build {:.2} s, embeddings {}",
            report.insert_s,
            report.index_build_s,
            report.embed_s.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"))
        );
        println!("bm25   p50 {:.2} ms  p95 {:.2} ms", report.bm25_p50_ms, report.bm25_p95_ms);
        if let (Some(p50), Some(p95)) = (report.hybrid_p50_ms, report.hybrid_p95_ms) {
            println!("hybrid p50 {p50:.2} ms  p95 {p95:.2} ms");
        }
        println!("index {:.1} MB, RSS {:.0} MB (peak {:.0} MB)", report.index_mb, report.rss_mb, report.peak_rss_mb);
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("supportd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn bench_llm(
    paths: &Paths,
    model: Option<PathBuf>,
    reference: Option<PathBuf>,
    workload: crate::llm::bench::Workload,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let model = match model {
        Some(m) => m,
        None => crate::app::load_config(paths)?.model_path(&paths.data_dir),
    };
    if !model.exists() {
        bail!("no model at {}: install one with `supportd model pull` or pass --model", model.display());
    }
    let reference =
        reference.or_else(|| crate::llm::bench::stored_reference(&model, candle_core::utils::get_num_threads()));
    if let Some(r) = &reference {
        eprintln!("llama.cpp reference: {}", r.display());
    }
    let reference = reference.map(|r| crate::llm::bench::read_reference(&r)).transpose()?;
    eprintln!("measuring {} …", model.display());
    let r = crate::llm::bench::run(&model, workload, reference)?;
    if !json {
        println!(
            "{} ({}), {} threads: prompt {:.1} tok/s, decode {:.2} tok/s, first token after a cached {}-token prefix {:.0} ms, {} tokens end to end {:.0} ms, peak RSS {:.0} MB",
            r.model,
            r.quantization,
            r.threads,
            r.prompt_tokens_per_s,
            r.decode_tokens_per_s,
            r.prefix_tokens,
            r.ttft_ms,
            r.gen_tokens,
            r.e2e_ms_60_tokens,
            r.peak_rss_mb
        );
        if let (Some(p), Some(d)) = (r.prompt_ratio, r.decode_ratio) {
            println!("against llama.cpp: prompt {p:.2}x, decode {d:.2}x");
        }
        println!(
            "grounded answers ({} of the demo shop, {} tokens): plain {:.2} tok/s, drafted {:.2} tok/s ({:.2}x), {:.0}% of drafts kept, {:.2} tokens per step",
            r.grounded_answers,
            r.grounded_tokens,
            r.grounded_decode_tokens_per_s,
            r.speculative_decode_tokens_per_s,
            r.speculative_speedup,
            r.draft_acceptance * 100.0,
            r.tokens_per_step
        );
        let a = &r.article_prefix;
        println!(
            "first token of a grounded answer: composed facts ({} tokens) {:.0} ms; a whole article ({} tokens, {:.0} MB of KV) cached {:.0} ms, not cached {:.0} ms",
            a.facts_tokens,
            a.composed_ttft_ms,
            a.article_tokens,
            a.article_kv_mb,
            a.article_hit_ttft_ms,
            a.article_miss_ttft_ms
        );
    }
    println!("{}", serde_json::to_string(&r)?);
    Ok(ExitCode::SUCCESS)
}
