//! Retrieval evaluation: recall@1, recall@5 and MRR of BM25, vector and hybrid search over a
//! JSONL set of `{"question": ..., "relevant": [slug or id, ...]}` against the loaded KB.

use std::collections::HashSet;

use serde::Serialize;

use super::{Kb, Mode};
use crate::store::{Db, kb as rows};

/// The held-out question set shipped with supportd (never used for tuning).
pub const HELDOUT: &str = include_str!("../../tests/data/retrieval_heldout.jsonl");
/// Questions the shop's knowledge cannot answer (retrieval must not call them grounded): the
/// first 20 far from the shop's topics, the second 20 (written blind) many near them.
pub const OFF_TOPIC: &str = concat!(
    include_str!("../../tests/data/retrieval_offtopic.txt"),
    include_str!("../../tests/data/retrieval_offtopic2.txt")
);
/// The development set (used for tuning; also the benchmark's queries).
pub const DEV: &str = include_str!("../../tests/data/retrieval_dev.jsonl");

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Scores {
    #[serde(rename = "recall@1")]
    pub recall_at_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_at_5: f64,
    pub mrr: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub questions: usize,
    pub bm25: Scores,
    /// `None` without the embedding model.
    pub vector: Option<Scores>,
    /// Equals bm25 without the embedding model.
    pub hybrid: Scores,
    /// Recall@1 after re-ranking by answer composition: the document whose unit
    /// [`Kb::compose`] picks from the best four of the final mode (what an answer cites).
    #[serde(rename = "composed_recall@1")]
    pub composed_recall_at_1: f64,
    pub embedding_model: Option<String>,
    /// Share of the questions that retrieval marks grounded (should be high).
    pub grounded_in_domain: f64,
    /// Share of the built-in off-topic questions that retrieval marks grounded (should be low).
    pub grounded_off_topic: f64,
    /// Questions whose relevant documents are all missing from the KB (not scored).
    pub skipped: Vec<String>,
    /// Final-mode misses, for inspection.
    #[serde(skip)]
    pub misses: Vec<Miss>,
    /// The off-topic questions marked grounded, with the title of their first hit.
    #[serde(skip)]
    pub off_topic_grounded: Vec<(String, String)>,
}

/// A question whose first hit is not relevant, or whose best five miss a relevant document.
#[derive(Debug, Clone)]
pub struct Miss {
    pub question: String,
    pub expected: Vec<String>,
    pub got: Vec<String>,
    /// A relevant document is missing from the best five (not only from the first place).
    pub at_5: bool,
}

#[derive(Debug, serde::Deserialize)]
struct Case {
    question: String,
    relevant: Vec<serde_json::Value>,
}

/// Resolves a slug, an article id, or a product offer/marketplace id to document keys.
fn resolve(db: &Db, r: &serde_json::Value) -> Vec<String> {
    let text = match r {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    db.with_conn(|c| {
        if let Some(a) = rows::article_by_slug(c, &text)? {
            return Ok(vec![rows::article_key(a.id)]);
        }
        if let Ok(id) = text.parse::<i64>()
            && rows::get_article(c, id).is_ok()
        {
            return Ok(vec![rows::article_key(id)]);
        }
        let code = text.strip_prefix("product:").unwrap_or(&text);
        Ok(rows::products_by_code(c, code)?.into_iter().map(|p| rows::product_key(p.id)).collect())
    })
    .unwrap_or_default()
}

fn cases(jsonl: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    for (i, line) in jsonl.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        cases.push(case);
    }
    Ok(cases)
}

/// The re-ranker's features of every question's best fused hits, as JSONL: `{"question",
/// "features": [names], "candidates": [{"doc", "relevant", "x": [...]}]}` per question.
pub fn features(kb: &Kb, db: &Db, jsonl: &str) -> Result<String, String> {
    let mut out = String::new();
    for case in cases(jsonl)? {
        let relevant: HashSet<String> = case.relevant.iter().flat_map(|r| resolve(db, r)).collect();
        if relevant.is_empty() {
            continue;
        }
        let candidates: Vec<serde_json::Value> = kb
            .rerank_candidates(&case.question)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(doc, x)| serde_json::json!({"relevant": relevant.contains(&doc), "doc": doc, "x": x}))
            .collect();
        let line = serde_json::json!({
            "question": case.question,
            "features": super::rerank::NAMES,
            "candidates": candidates,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}

pub fn run(kb: &Kb, db: &Db, jsonl: &str) -> Result<Report, String> {
    let cases = cases(jsonl)?;
    let with_vectors = kb.embedder().is_some();
    let mut sums = [Scores::default(); 3];
    let mut scored = 0usize;
    let mut skipped = Vec::new();
    let mut misses = Vec::new();
    let mut grounded = 0usize;
    let mut composed = 0f64;
    let final_mode = if with_vectors { Mode::Hybrid } else { Mode::Bm25 };
    let is_grounded = |hits: &[super::SearchHit]| {
        hits.first().is_some_and(|h| super::is_grounded(h.bm25, h.similarity, with_vectors))
    };
    for case in &cases {
        let relevant: HashSet<String> = case.relevant.iter().flat_map(|r| resolve(db, r)).collect();
        if relevant.is_empty() {
            skipped.push(case.question.clone());
            continue;
        }
        scored += 1;
        for (slot, mode) in [(0, Mode::Bm25), (1, Mode::Vector), (2, Mode::Hybrid)] {
            if mode != Mode::Bm25 && !with_vectors {
                continue;
            }
            let hits = kb.search(&case.question, mode, 10, false).map_err(|e| e.to_string())?;
            let docs: Vec<&str> = hits.iter().map(|h| h.doc.as_str()).collect();
            let recall = |k: usize| {
                docs.iter().take(k).filter(|d| relevant.contains(**d)).count() as f64 / relevant.len() as f64
            };
            sums[slot].recall_at_1 += recall(1);
            sums[slot].recall_at_5 += recall(5);
            if let Some(rank) = docs.iter().position(|d| relevant.contains(*d)) {
                sums[slot].mrr += 1.0 / (rank as f64 + 1.0);
            }
            if mode == final_mode && is_grounded(&hits) {
                grounded += 1;
            }
            if mode == final_mode {
                let hints =
                    super::compose::Hints { marketplace: super::compose::Marketplace::named_in(&case.question) };
                let top: Vec<super::SearchHit> = hits.iter().take(4).cloned().collect();
                if let Some(c) = kb.compose(&case.question, &top, &hints).map_err(|e| e.to_string())?
                    && relevant.contains(&c.doc)
                {
                    let share = 1.0 / relevant.len() as f64;
                    composed += share;
                }
            }
            if mode == final_mode && (recall(5) < 1.0 || recall(1) == 0.0) {
                misses.push(Miss {
                    question: case.question.clone(),
                    expected: relevant.iter().cloned().collect(),
                    got: hits.iter().take(5).map(|h| format!("{} {}", h.doc, h.title)).collect(),
                    at_5: recall(5) < 1.0,
                });
            }
        }
    }
    let off: Vec<&str> = OFF_TOPIC.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut off_topic_grounded = Vec::new();
    for q in &off {
        let hits = kb.search(q, final_mode, 10, false).map_err(|e| e.to_string())?;
        if is_grounded(&hits) {
            let first = hits.first().map(|h| h.title.clone()).unwrap_or_default();
            off_topic_grounded.push(((*q).to_owned(), first));
        }
    }
    let share = |n: usize, of: usize| (n as f64 / of.max(1) as f64 * 1000.0).round() / 1000.0;
    let avg = |s: Scores| {
        let n = scored.max(1) as f64;
        let r = |x: f64| (x / n * 1000.0).round() / 1000.0;
        Scores { recall_at_1: r(s.recall_at_1), recall_at_5: r(s.recall_at_5), mrr: r(s.mrr) }
    };
    Ok(Report {
        questions: scored,
        bm25: avg(sums[0]),
        vector: with_vectors.then(|| avg(sums[1])),
        hybrid: if with_vectors { avg(sums[2]) } else { avg(sums[0]) },
        composed_recall_at_1: avg(Scores { recall_at_1: composed, ..Scores::default() }).recall_at_1,
        embedding_model: kb.embedder().map(|e| e.id().to_owned()),
        grounded_in_domain: share(grounded, scored),
        grounded_off_topic: share(off_topic_grounded.len(), off.len()),
        skipped,
        misses,
        off_topic_grounded,
    })
}
