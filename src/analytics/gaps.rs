//! Knowledge gaps: buyers' questions the assistant could not answer from the knowledge base
//! ("not found"), did not understand (low confidence), or that a person took over, grouped by
//! similar text. The grouping key is the knowledge base's own analyzer output (stems with its
//! synonyms, stop words and numbers left out), so "как вернуть куртку?" and "Вернуть куртку
//! как" meet; groups whose terms overlap enough (Jaccard ≥ 0.5) are merged.

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::Millis;
use crate::kb::analyzer::{self, Analyzer};
use crate::store::{self, analytics as rows};

/// Terms in a key at most (a long message is keyed by its first content words).
const KEY_TERMS: usize = 8;
/// Exact-key groups considered for merging.
const CANDIDATES: u32 = 400;

/// The grouping key of a message: its distinct content terms, sorted, space-separated.
pub fn key(analyzer: &Analyzer, text: &str) -> String {
    let mut terms: Vec<String> = analyzer
        .analyze(analyzer::prefix(text, 600))
        .into_iter()
        .map(|t| t.text)
        .filter(|t| t.chars().count() >= 2 && !t.chars().any(|c| c.is_ascii_digit()) && !t.contains('@'))
        .collect();
    terms.truncate(KEY_TERMS * 2);
    terms.sort();
    terms.dedup();
    terms.truncate(KEY_TERMS);
    terms.join(" ")
}

/// Computes the keys of gaps that have none yet (new ones, or whose text changed), at most
/// `max`; returns how many were keyed.
pub fn refresh(conn: &mut rusqlite::Connection, max: usize) -> store::Result<usize> {
    let analyzer = Analyzer::new();
    let mut done = 0;
    while done < max {
        let batch = rows::unkeyed_gaps(conn, 500.min((max - done) as u32))?;
        if batch.is_empty() {
            break;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (id, _, text) in &batch {
            rows::set_gap_terms(&tx, *id, &key(&analyzer, text))?;
        }
        tx.commit()?;
        done += batch.len();
    }
    Ok(done)
}

/// A group of similar unanswered questions.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Gap {
    /// The most recent question of the group, as the buyer wrote it.
    pub example: String,
    /// The key terms (stems).
    pub terms: Vec<String>,
    pub count: i64,
    pub not_found: i64,
    pub low_confidence: i64,
    pub taken_over: i64,
    pub last_at: String,
}

fn jaccard(a: &[&str], b: &[&str]) -> f64 {
    let common = a.iter().filter(|t| b.contains(t)).count();
    let union = a.len() + b.len() - common;
    if union == 0 { 0.0 } else { common as f64 / union as f64 }
}

/// The largest groups of gaps in `[from, to)`.
pub fn groups(conn: &rusqlite::Connection, from: Millis, to: Millis, limit: usize) -> store::Result<Vec<Gap>> {
    let exact = rows::gap_groups(conn, from, to, CANDIDATES)?;
    // Greedy merge: each exact group joins the first larger cluster it resembles.
    let mut clusters: Vec<(Vec<&str>, rows::GapGroup)> = Vec::new();
    for g in &exact {
        let terms: Vec<&str> = g.terms.split(' ').collect();
        match clusters.iter_mut().find(|(t, _)| jaccard(t, &terms) >= 0.5) {
            Some((_, c)) => {
                c.n += g.n;
                c.not_found += g.not_found;
                c.low_confidence += g.low_confidence;
                c.taken_over += g.taken_over;
                if g.last_at > c.last_at {
                    c.last_at = g.last_at;
                    c.example_id = g.example_id;
                }
            }
            None => clusters.push((terms, g.clone())),
        }
    }
    clusters.sort_by(|a, b| b.1.n.cmp(&a.1.n).then(b.1.last_at.cmp(&a.1.last_at)));
    let mut out = Vec::new();
    for (terms, c) in clusters.into_iter().take(limit) {
        let example = rows::message_text(conn, c.example_id)?.unwrap_or_default();
        out.push(Gap {
            example: analyzer::prefix(example.trim(), 300).to_owned(),
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            count: c.n,
            not_found: c.not_found,
            low_confidence: c.low_confidence,
            taken_over: c.taken_over,
            last_at: crate::clock::rfc3339(c.last_at),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_questions_share_a_key() {
        let a = Analyzer::new();
        assert_eq!(key(&a, "Как вернуть куртку?"), key(&a, "вернуть КУРТКУ как"));
        assert_eq!(key(&a, "как вернуть куртку"), key(&a, "Как мне вернуть куртки"), "stems and stop words");
        assert!(!key(&a, "заказ 123456789 где").contains("123456789"), "numbers are left out");
        assert_ne!(key(&a, "как вернуть куртку"), key(&a, "есть ли подарочная упаковка"));
        let x: Vec<&str> = vec!["вернут", "куртк"];
        assert!(jaccard(&x, &["вернут", "куртк", "сломан"]) >= 0.5);
        assert!(jaccard(&x, &["упаковк"]) < 0.5);
    }
}
