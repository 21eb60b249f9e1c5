//! `supportd bench kb`: index N generated articles, then time BM25 and hybrid queries.
//! Articles are built from the demo shop's Russian vocabulary, queries from the evaluation
//! set, so term statistics look like a real help centre's.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{Embedder, Kb, Mode, import};
use crate::clock::SystemClock;
use crate::store::{Db, kb as rows};

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub docs: usize,
    pub words_per_doc: usize,
    pub insert_s: f64,
    pub index_build_s: f64,
    /// Time to embed every passage (absent without the embedding model).
    pub embed_s: Option<f64>,
    pub queries: usize,
    pub bm25_p50_ms: f64,
    pub bm25_p95_ms: f64,
    pub hybrid_p50_ms: Option<f64>,
    pub hybrid_p95_ms: Option<f64>,
    /// Vector mode: the query embedding plus the scan of the stored vectors.
    pub vector_p50_ms: Option<f64>,
    pub vector_p95_ms: Option<f64>,
    /// The query embedding alone (the larger part of a hybrid query).
    pub query_embed_p50_ms: Option<f64>,
    pub query_embed_p95_ms: Option<f64>,
    pub index_mb: f64,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
    pub embedding_model: Option<String>,
    pub threads: usize,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> &'a str {
        let i = usize::try_from(self.next() % items.len() as u64).unwrap_or(0);
        &items[i]
    }
}

fn vocabulary() -> Vec<String> {
    let mut words = Vec::new();
    for located in import::demo().items {
        if let import::Item::Article(a) = located.item {
            for (_, w) in super::analyzer::words(&a.body) {
                if w.chars().count() > 2 && w.chars().all(char::is_alphabetic) {
                    words.push(w.to_lowercase());
                }
            }
        }
    }
    words
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[idx] * 1000.0).round() / 1000.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| e.metadata().map(|m| m.len()).unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Runs the benchmark in `dir` (a scratch directory).
pub fn run(
    dir: &std::path::Path,
    docs: usize,
    words: usize,
    queries: &[String],
    embedder: Option<Arc<Embedder>>,
) -> Result<BenchReport, String> {
    let clock: crate::clock::SharedClock = Arc::new(SystemClock);
    let vocab = vocabulary();
    if vocab.is_empty() {
        return Err("no vocabulary".into());
    }
    let db = Db::open(&dir.join("bench.db"), 2, clock.now_ms()).map_err(|e| e.to_string())?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    db.with_conn(|c| {
        for i in 0..docs {
            let title: Vec<&str> = (0..5).map(|_| rng.pick(&vocab)).collect();
            let body: Vec<&str> = (0..words).map(|_| rng.pick(&vocab)).collect();
            let input = rows::ArticleInput {
                slug: format!("doc-{i}"),
                kind: "article".into(),
                title: title.join(" "),
                body: body.join(" "),
                category: None,
                tags: vec![],
                status: "published".into(),
            };
            rows::create_article(c, &input, None, "bench", clock.now_ms())?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let insert_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let kb = Kb::open_with(db.clone(), &dir.join("index"), clock.clone(), None, dir.join("none"))
        .map_err(|e| e.to_string())?;
    let index_build_s = start.elapsed().as_secs_f64();
    drop(kb);
    let (kb, embed_s) = match &embedder {
        Some(e) => {
            let start = Instant::now();
            let kb = Kb::open_with(db, &dir.join("index"), clock, Some(e.clone()), dir.join("model"))
                .map_err(|e| e.to_string())?;
            (kb, Some(start.elapsed().as_secs_f64()))
        }
        None => {
            (Kb::open_with(db, &dir.join("index"), clock, None, dir.join("none")).map_err(|e| e.to_string())?, None)
        }
    };

    let time = |mode: Mode| -> Result<Vec<f64>, String> {
        // The first (cold) query is not counted.
        kb.search(&queries[0], mode, 10, false).map_err(|e| e.to_string())?;
        let mut ms = Vec::with_capacity(queries.len());
        for q in queries {
            let t = Instant::now();
            kb.search(q, mode, 10, false).map_err(|e| e.to_string())?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        Ok(ms)
    };
    let bm25 = time(Mode::Bm25)?;
    let hybrid = if embedder.is_some() { Some(time(Mode::Hybrid)?) } else { None };
    let vector = if embedder.is_some() { Some(time(Mode::Vector)?) } else { None };
    let embed_ms = match &embedder {
        Some(e) => {
            let mut ms = Vec::with_capacity(queries.len());
            for q in queries {
                let t = Instant::now();
                e.embed(q, super::embed::Role::Query).map_err(|e| e.to_string())?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(f64::total_cmp);
            Some(ms)
        }
        None => None,
    };
    let index_mb = dir_size(&dir.join("index")) as f64 / 1_048_576.0;
    Ok(BenchReport {
        docs,
        words_per_doc: words,
        insert_s: (insert_s * 100.0).round() / 100.0,
        index_build_s: (index_build_s * 100.0).round() / 100.0,
        embed_s: embed_s.map(|s| (s * 10.0).round() / 10.0),
        queries: queries.len(),
        bm25_p50_ms: percentile(&bm25, 0.5),
        bm25_p95_ms: percentile(&bm25, 0.95),
        hybrid_p50_ms: hybrid.as_ref().map(|h| percentile(h, 0.5)),
        hybrid_p95_ms: hybrid.as_ref().map(|h| percentile(h, 0.95)),
        vector_p50_ms: vector.as_ref().map(|h| percentile(h, 0.5)),
        vector_p95_ms: vector.as_ref().map(|h| percentile(h, 0.95)),
        query_embed_p50_ms: embed_ms.as_ref().map(|h| percentile(h, 0.5)),
        query_embed_p95_ms: embed_ms.as_ref().map(|h| percentile(h, 0.95)),
        index_mb: (index_mb * 10.0).round() / 10.0,
        rss_mb: (crate::telemetry::rss_mb("VmRSS:") * 10.0).round() / 10.0,
        peak_rss_mb: (crate::telemetry::rss_mb("VmHWM:") * 10.0).round() / 10.0,
        embedding_model: embedder.map(|e| e.id().to_owned()),
        threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    })
}
