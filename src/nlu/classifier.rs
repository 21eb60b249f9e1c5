//! A multi-label linear classifier over hashed text features, trained at start-up from the
//! labelled examples in `tests/data/nlu_train.jsonl` (compiled in): one logistic regression
//! per label (13 intents, 3 sentiment classes, urgency) plus a softmax that picks the main
//! intent. Features are word stems with the knowledge base's synonyms and transliteration,
//! the words as typed, stem bigrams, character 3- and 4-grams (typos, slang), entity kinds and
//! message shape. Training takes tens of milliseconds; a prediction,
//! microseconds.

use serde::Deserialize;

use super::entities::{Entity, EntityKind};
use crate::kb::analyzer::{Analyzer, words};
use crate::llm::sampling::Rng;

pub const DIMS: usize = 1 << 18;
/// Dense inputs (a sentence embedding) follow the hashed buckets: input `DIMS + i` is the
/// embedding's component i.
pub const MAX_DENSE: usize = 1024;

/// A sparse feature vector: (bucket, value), L2-normalized.
pub type Features = Vec<(u32, f32)>;

fn bucket(s: &str) -> u32 {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % DIMS as u32
}

pub fn features(analyzer: &Analyzer, text: &str, entities: &[Entity]) -> Features {
    let mut names: Vec<(String, f32)> = Vec::new();
    let terms = analyzer.query_terms(text);
    let mut prev: Option<&str> = None;
    let mut last_pos = usize::MAX;
    for t in &terms {
        if t.text.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        names.push((format!("w:{}", t.text), 1.0));
        if t.position != last_pos {
            if let Some(p) = prev {
                names.push((format!("b:{p}_{}", t.text), 0.7));
            }
            prev = Some(&t.text);
            last_pos = t.position;
        }
    }
    let lower = text.to_lowercase().replace('ё', "е");
    let mut word_count = 0;
    for (_, w) in words(&lower) {
        word_count += 1;
        if matches!(w, "не" | "нет" | "ни" | "без") {
            names.push((format!("w:{w}"), 1.0));
        }
        names.push((format!("r:{w}"), 0.5));
        let chars: Vec<char> = format!("^{w}$").chars().collect();
        if chars.len() >= 5 && !w.chars().any(|c| c.is_ascii_digit()) {
            for g in chars.windows(4) {
                names.push((format!("c:{}", g.iter().collect::<String>()), 0.35));
            }
            for g in chars.windows(3) {
                names.push((format!("t:{}", g.iter().collect::<String>()), 0.35));
            }
        }
    }
    for e in entities {
        names.push((format!("e:{}", e.kind.as_str()), 1.0));
        if matches!(e.kind, EntityKind::WbOrder | EntityKind::OzonPosting) {
            names.push(("e:order".into(), 1.0));
        }
    }
    if word_count <= 3 {
        names.push(("s:short".into(), 1.0));
    }
    if text.contains('?') {
        names.push(("s:question".into(), 0.5));
    }
    if text.contains("!!") {
        names.push(("s:bang".into(), 1.0));
    }
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 8 && letters.iter().filter(|c| c.is_uppercase()).count() * 10 >= letters.len() * 6 {
        names.push(("s:caps".into(), 1.0));
    }
    names.push(("bias".into(), 0.3));
    let mut v: Vec<(u32, f32)> = names.iter().map(|(n, w)| (bucket(n), *w)).collect();
    v.sort_unstable_by_key(|x| x.0);
    let mut merged: Vec<(u32, f32)> = Vec::with_capacity(v.len());
    for (b, w) in v {
        match merged.last_mut() {
            Some(last) if last.0 == b => last.1 += w,
            _ => merged.push((b, w)),
        }
    }
    let norm = merged.iter().map(|(_, w)| w * w).sum::<f32>().sqrt().max(1e-6);
    merged.iter_mut().for_each(|(_, w)| *w /= norm);
    merged
}

/// `x` with a dense vector appended after the hashed buckets, scaled by `weight` (the hashed
/// part has norm 1).
pub fn with_dense(mut x: Features, dense: &[f32], weight: f32) -> Features {
    x.extend(dense.iter().take(MAX_DENSE).enumerate().map(|(i, v)| ((DIMS + i) as u32, v * weight)));
    x
}

/// One-vs-rest logistic regression over `labels` outputs.
pub struct Model {
    labels: usize,
    weights: Vec<f32>, // [inputs × labels], feature-major so one feature's weights are adjacent
    bias: Vec<f32>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// Trains on `(features, targets)`; `targets[i][l]` is 1.0 when example i has label l.
    pub fn train(data: &[(Features, Vec<f32>)], labels: usize, epochs: usize, seed: u64) -> Self {
        Self::sgd(data, labels, epochs, seed, |m, x, y| m.predict(x).iter().zip(y).map(|(p, t)| p - t).collect())
    }

    /// Trains a softmax (one label per example: `classes[i]`) over `labels` classes.
    pub fn train_softmax(data: &[(Features, usize)], labels: usize, epochs: usize, seed: u64) -> Self {
        Self::sgd(data, labels, epochs, seed, |m, x, y| {
            m.softmax(x).iter().enumerate().map(|(l, p)| p - if l == *y { 1.0 } else { 0.0 }).collect()
        })
    }

    /// Stochastic gradient descent with a decaying rate and L2; `grad` gives d(loss)/d(score)
    /// for each label.
    fn sgd<T>(
        data: &[(Features, T)],
        labels: usize,
        epochs: usize,
        seed: u64,
        grad: impl Fn(&Model, &Features, &T) -> Vec<f32>,
    ) -> Self {
        let inputs = data.iter().flat_map(|(x, _)| x.iter().map(|(f, _)| *f as usize + 1)).max().unwrap_or(0).max(DIMS);
        let mut m = Self { labels, weights: vec![0.0; inputs * labels], bias: vec![0.0; labels] };
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = Rng::new(seed);
        let l2 = 1e-4;
        for epoch in 0..epochs {
            for i in (1..order.len()).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                order.swap(i, j);
            }
            let lr = 1.2 / (1.0 + epoch as f32 * 0.15);
            for &i in &order {
                let (x, y) = &data[i];
                for (l, g) in grad(&m, x, y).into_iter().enumerate() {
                    if g.abs() < 1e-4 {
                        continue;
                    }
                    m.bias[l] -= lr * g * 0.1;
                    for &(f, v) in x {
                        let w = &mut m.weights[f as usize * labels + l];
                        *w -= lr * (g * v + l2 * *w);
                    }
                }
            }
        }
        m
    }

    /// Class probabilities of a softmax model.
    pub fn softmax(&self, x: &Features) -> Vec<f32> {
        let s = self.raw(x);
        let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = s.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = e.iter().sum();
        e.into_iter().map(|v| v / sum).collect()
    }

    fn raw(&self, x: &Features) -> Vec<f32> {
        let mut s = self.bias.clone();
        for &(f, v) in x {
            let Some(row) = self.weights.get(f as usize * self.labels..(f as usize + 1) * self.labels) else {
                continue;
            };
            for (o, w) in s.iter_mut().zip(row) {
                *o += w * v;
            }
        }
        s
    }

    /// Probability of each label.
    pub fn predict(&self, x: &Features) -> Vec<f32> {
        self.raw(x).into_iter().map(sigmoid).collect()
    }
}

/// One labelled example as the data files write it: `intent` (one) or `intents` (several,
/// main first); entities with `kind` or `type`.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    pub text: String,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub intents: Vec<String>,
    #[serde(default)]
    pub entities: Vec<LabelledEntity>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub urgent: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LabelledEntity {
    #[serde(alias = "type")]
    pub kind: String,
    pub value: String,
}

impl Example {
    /// Intents, main first.
    pub fn labels(&self) -> Vec<String> {
        let mut v = self.intents.clone();
        if let Some(i) = &self.intent
            && !v.contains(i)
        {
            v.insert(0, i.clone());
        }
        v
    }
}

/// Parses JSONL, reporting the line of the first bad record.
pub fn parse_examples(text: &str) -> Result<Vec<Example>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<Example>(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}
