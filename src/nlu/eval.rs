//! `supportd eval nlu`: scores the analyzer on a labelled JSONL set it was not trained on
//! (by default the held-out split): main-intent accuracy, per-intent precision / recall / F1,
//! macro-F1, the multi-intent exact-set rate, entity exact match, sentiment and urgency
//! accuracy, and the time per message.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::classifier::{LabelledEntity, parse_examples};
use super::{EntityKind, Intent, Nlu};

#[derive(Debug, Clone, Serialize)]
pub struct IntentScore {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub n: usize,
    /// Main intent right.
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_intent: BTreeMap<String, IntentScore>,
    /// The whole set of intents right (multi-intent messages included).
    pub intent_set_exact: f64,
    /// Messages whose entities (kind and value) are exactly the labelled ones.
    pub entity_exact_match: f64,
    pub entity_precision: f64,
    pub entity_recall: f64,
    pub sentiment_accuracy: Option<f64>,
    pub urgent_accuracy: Option<f64>,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Messages whose main intent was wrong: (text, expected, got).
    #[serde(skip)]
    pub misses: Vec<(String, String, String)>,
    /// Messages whose entities differ: (text, expected, got).
    #[serde(skip)]
    pub entity_misses: Vec<(String, String, String)>,
}

fn canonical(kind: &str, value: &str) -> String {
    let numeric = matches!(kind, "wb_order" | "ozon_posting" | "phone")
        || (kind == "article" && value.chars().all(|c| c.is_ascii_digit() || c.is_whitespace()));
    if numeric {
        let d: String = value.chars().filter(char::is_ascii_digit).collect();
        // 8 912… and +7 912… are one phone.
        if kind == "phone" && d.len() == 11 { d[1..].to_owned() } else { d }
    } else {
        let v = value.trim().trim_end_matches(['?', '!', '.', ',']).to_lowercase();
        match kind {
            "size" => super::entities::size_core(&v),
            "date" => super::entities::date_core(&v),
            _ => v,
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { (a as f64 / b as f64 * 1000.0).round() / 1000.0 }
}

pub fn evaluate(nlu: &Nlu, jsonl: &str) -> Result<Report, String> {
    evaluate_examples(nlu, &parse_examples(jsonl)?)
}

/// K-fold cross-validation on a training set (for tuning without touching the held-out
/// split): the mean main-intent accuracy and macro-F1 over the folds.
pub fn cross_validate(
    jsonl: &str,
    k: usize,
    embedder: Option<std::sync::Arc<crate::kb::Embedder>>,
) -> Result<(f64, f64), String> {
    let examples = parse_examples(jsonl)?;
    let k = k.clamp(2, examples.len().max(2));
    let vecs = match &embedder {
        Some(e) => Some(super::sentence::embed_all(e, &examples.iter().map(|x| x.text.as_str()).collect::<Vec<_>>())?),
        None => None,
    };
    let (mut acc, mut f1) = (0.0, 0.0);
    for fold in 0..k {
        let pick = |train: bool| examples.iter().enumerate().filter(move |(i, _)| (i % k != fold) == train);
        let train: Vec<_> = pick(true).map(|(_, e)| e.clone()).collect();
        let test: Vec<_> = pick(false).map(|(_, e)| e.clone()).collect();
        let train_vecs: Option<Vec<Vec<f32>>> = vecs.as_ref().map(|v| pick(true).map(|(i, _)| v[i].clone()).collect());
        let sentences = embedder.clone().zip(train_vecs.as_deref());
        let r = evaluate_examples(&Nlu::train_embedded(&train, sentences)?, &test)?;
        acc += r.accuracy;
        f1 += r.macro_f1;
    }
    Ok((acc / k as f64, f1 / k as f64))
}

pub fn evaluate_examples(nlu: &Nlu, examples: &[super::classifier::Example]) -> Result<Report, String> {
    if examples.is_empty() {
        return Err("no examples".into());
    }
    let mut confusion: BTreeMap<Intent, (usize, usize, usize)> = BTreeMap::new(); // (tp, fp, fn)
    let (mut right, mut set_right, mut ent_exact) = (0, 0, 0);
    let (mut ent_tp, mut ent_pred, mut ent_gold) = (0, 0, 0);
    let (mut sent_right, mut sent_n, mut urg_right, mut urg_n) = (0, 0, 0, 0);
    let mut times = Vec::with_capacity(examples.len());
    let mut misses = Vec::new();
    let mut entity_misses = Vec::new();
    for ex in examples {
        let labels = ex.labels();
        let Some(expected) = labels.first().and_then(|l| Intent::parse(l)) else {
            return Err(format!("{:?}: no known intent", ex.text));
        };
        let t = Instant::now();
        let a = nlu.analyze(&ex.text);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if a.intent == expected {
            right += 1;
            confusion.entry(expected).or_default().0 += 1;
        } else {
            confusion.entry(a.intent).or_default().1 += 1;
            confusion.entry(expected).or_default().2 += 1;
            misses.push((ex.text.clone(), expected.as_str().to_owned(), a.intent.as_str().to_owned()));
        }
        let mut want: Vec<&str> = labels.iter().map(String::as_str).collect();
        let mut got: Vec<&str> = a.intents.iter().map(|s| s.intent.as_str()).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want == got {
            set_right += 1;
        }
        let mut gold: Vec<String> = ex
            .entities
            .iter()
            .filter(|e| EntityKind::parse(&e.kind).is_some())
            .map(|LabelledEntity { kind, value }| format!("{kind}:{}", canonical(kind, value)))
            .collect();
        let mut pred: Vec<String> = a
            .entities
            .iter()
            .map(|e| format!("{}:{}", e.kind.as_str(), canonical(e.kind.as_str(), &e.value)))
            .collect();
        gold.sort();
        pred.sort();
        if gold == pred {
            ent_exact += 1;
        } else {
            entity_misses.push((ex.text.clone(), gold.join(", "), pred.join(", ")));
        }
        ent_gold += gold.len();
        ent_pred += pred.len();
        let mut rest = pred.clone();
        for g in &gold {
            if let Some(i) = rest.iter().position(|p| p == g) {
                rest.remove(i);
                ent_tp += 1;
            }
        }
        if let Some(s) = &ex.sentiment {
            sent_n += 1;
            if a.sentiment.as_str() == s {
                sent_right += 1;
            }
        }
        if let Some(u) = ex.urgent {
            urg_n += 1;
            if a.urgent == u {
                urg_right += 1;
            }
        }
    }
    let mut per_intent = BTreeMap::new();
    let mut f1_sum = 0.0;
    for (intent, (tp, fp, fn_)) in &confusion {
        let p = if tp + fp == 0 { 0.0 } else { *tp as f64 / (tp + fp) as f64 };
        let r = if tp + fn_ == 0 { 0.0 } else { *tp as f64 / (tp + fn_) as f64 };
        let f1 = if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
        f1_sum += f1;
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        per_intent.insert(
            intent.as_str().to_owned(),
            IntentScore { precision: round(p), recall: round(r), f1: round(f1), support: tp + fn_ },
        );
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| (times[((times.len() - 1) as f64 * q).round() as usize] * 1000.0).round() / 1000.0;
    let n = examples.len();
    Ok(Report {
        n,
        accuracy: ratio(right, n),
        macro_f1: ((f1_sum / confusion.len().max(1) as f64) * 1000.0).round() / 1000.0,
        per_intent,
        intent_set_exact: ratio(set_right, n),
        entity_exact_match: ratio(ent_exact, n),
        entity_precision: ratio(ent_tp, ent_pred),
        entity_recall: ratio(ent_tp, ent_gold),
        sentiment_accuracy: (sent_n > 0).then(|| ratio(sent_right, sent_n)),
        urgent_accuracy: (urg_n > 0).then(|| ratio(urg_right, urg_n)),
        p50_ms: pct(0.5),
        p95_ms: pct(0.95),
        misses,
        entity_misses,
    })
}
