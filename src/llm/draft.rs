//! Speculative decoding for the local model: cheap proposals of the next few tokens, verified
//! by the main model in one batched step.
//!
//! Decoding one token on a small CPU is bound by memory bandwidth: every weight is read once
//! per step whatever the number of rows, so a step over the last token plus a few proposed
//! ones costs little more than a step over one. Grounded answers copy phrases from their
//! passages, so the proposals come from the prompt itself ([`PromptLookup`]: the tokens that
//! followed the latest earlier occurrence of the last few tokens). The main model checks them
//! all at once ([`super::model::Weights::forward_all`]) and keeps the longest run it would
//! have produced itself, plus its own next token; the cache forgets the rest.
//!
//! Only greedy decoding is drafted, and the result is token-for-token the one plain greedy
//! decoding gives: the verification step computes each row exactly as a one-token step would
//! ([`super::model::EXACT_ROWS`]) and the same sampler (with its repetition penalty) decides
//! each position (`tests::drafting_never_changes_the_answer`).

use super::model::{EXACT_ROWS, KvCache, Weights};
use super::sampling::Sampler;
use super::{FinishReason, LlmError};

/// Proposes tokens that may follow `context`.
pub trait Proposer {
    /// Up to `max` tokens that may come after `context` (empty: no idea).
    fn propose(&mut self, context: &[u32], max: usize) -> Vec<u32>;
    /// How many of the last `proposed` tokens the model kept.
    fn feedback(&mut self, _proposed: usize, _accepted: usize) {}
}

/// Prompt lookup: find the last `n` tokens (longest `n` first) earlier in the context and
/// propose what followed them there. The proposal's length follows the measured acceptance:
/// a verified row is not free on a CPU ([`ROW_COST`]), so with `p` the chance that the model
/// keeps the next proposed token, `k` tokens are proposed where the expected tokens per step,
/// (1 − p^(k+1)) / (1 − p), divided by the step's cost, 1 + ROW_COST·k, is largest — none
/// when no `k` beats a plain step.
#[derive(Debug, Clone)]
pub struct PromptLookup {
    pub min_ngram: usize,
    pub max_ngram: usize,
    /// Longest proposal (at most [`EXACT_ROWS`] − 1, so a verification stays exact).
    pub max_draft: usize,
    /// Kept and refused proposed tokens so far (decayed), with a prior of 3 : 1.
    kept: f64,
    refused: f64,
}

/// What one more row costs in a verification step, as a share of a one-token step (measured
/// by `supportd bench llm`: `step_ms_by_rows`; about 0.3 for Qwen2.5 1.5B Q4_K_M on 2 cores).
pub const ROW_COST: f64 = 0.3;

impl Default for PromptLookup {
    fn default() -> Self {
        Self { min_ngram: 2, max_ngram: 4, max_draft: EXACT_ROWS - 1, kept: 3.0, refused: 1.0 }
    }
}

impl PromptLookup {
    /// The chance that the model keeps the next proposed token, as measured so far.
    pub fn acceptance(&self) -> f64 {
        self.kept / (self.kept + self.refused)
    }

    /// The proposal length that pays best at the measured acceptance (0: none pays).
    pub fn best_length(&self, max: usize) -> usize {
        let p = self.acceptance().min(0.999);
        let gain = |k: usize| (1.0 - p.powi(k as i32 + 1)) / (1.0 - p) / (1.0 + ROW_COST * k as f64);
        (0..=max).max_by(|&a, &b| gain(a).total_cmp(&gain(b))).unwrap_or(0)
    }
}

impl Proposer for PromptLookup {
    fn propose(&mut self, context: &[u32], max: usize) -> Vec<u32> {
        let max = self.best_length(max.min(self.max_draft).min(EXACT_ROWS - 1));
        let len = context.len();
        if max == 0 {
            return Vec::new();
        }
        for n in (self.min_ngram.max(1)..=self.max_ngram).rev() {
            if len <= n {
                continue;
            }
            let tail = &context[len - n..];
            // The most recent earlier occurrence whose continuation is known.
            for start in (0..len - n).rev() {
                if &context[start..start + n] == tail {
                    let from = start + n;
                    let to = (from + max).min(len);
                    if to > from {
                        return context[from..to].to_vec();
                    }
                }
            }
        }
        Vec::new()
    }

    fn feedback(&mut self, proposed: usize, accepted: usize) {
        // Every kept token is a success; the first refused one (if any) a failure.
        const DECAY: f64 = 0.9;
        self.kept = self.kept * DECAY + accepted as f64;
        self.refused = self.refused * DECAY + if accepted < proposed { 1.0 } else { 0.0 };
    }
}

/// What drafting did in one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DraftStats {
    /// Tokens proposed and checked.
    pub proposed: u32,
    /// Proposed tokens the model kept.
    pub accepted: u32,
    /// Forward steps of the main model after the prompt.
    pub steps: u32,
}

impl DraftStats {
    /// Share of proposed tokens kept (0 when nothing was proposed).
    pub fn acceptance(&self) -> f64 {
        if self.proposed == 0 { 0.0 } else { f64::from(self.accepted) / f64::from(self.proposed) }
    }
}

/// Generates after `logits` (the prompt's last position, already in `cache`). Every token
/// goes to `emit`, which says when to stop; `history` (the prompt's tokens) grows with the
/// answer. With a `proposer` (greedy decoding only) the steps verify drafts; the tokens are
/// the same either way.
#[expect(
    clippy::too_many_arguments,
    reason = "the decoding loop's state: weights, cache, logits, history, sampler, proposer and sink"
)]
pub fn decode(
    weights: &Weights,
    cache: &mut KvCache,
    mut logits: Vec<f32>,
    history: &mut Vec<u32>,
    sampler: &mut Sampler,
    mut proposer: Option<&mut dyn Proposer>,
    abort: &dyn Fn() -> Option<LlmError>,
    emit: &mut dyn FnMut(u32) -> Option<FinishReason>,
) -> Result<(FinishReason, DraftStats), LlmError> {
    let err = |e: candle_core::Error| LlmError::Model(e.to_string());
    let context = weights.hp.context;
    let mut stats = DraftStats::default();
    if let Some(e) = abort() {
        return Err(e);
    }
    let mut tok = sampler.sample(&mut logits, history);
    loop {
        if let Some(f) = emit(tok) {
            return Ok((f, stats));
        }
        history.push(tok);
        if let Some(e) = abort() {
            return Err(e);
        }
        let base = cache.len();
        // Room in the context after `tok` itself.
        let room = context.saturating_sub(base + 1);
        let drafts = match proposer.as_deref_mut() {
            Some(p) if room > 0 => p.propose(history, room.min(EXACT_ROWS - 1)),
            _ => Vec::new(),
        };
        stats.steps += 1;
        if drafts.is_empty() {
            logits = weights.forward(&[tok], cache).map_err(err)?;
            tok = sampler.sample(&mut logits, history);
            continue;
        }
        let mut input = Vec::with_capacity(drafts.len() + 1);
        input.push(tok);
        input.extend_from_slice(&drafts);
        let mut rows = weights.forward_all(&input, cache).map_err(err)?;
        stats.proposed += drafts.len() as u32;
        let mut kept = 0;
        let next = loop {
            let t = sampler.sample(&mut rows[kept], history);
            if kept < drafts.len() && t == drafts[kept] {
                stats.accepted += 1;
                if let Some(f) = emit(t) {
                    cache.truncate(base + 1 + kept);
                    return Ok((f, stats));
                }
                history.push(t);
                kept += 1;
            } else {
                break t;
            }
        };
        cache.truncate(base + 1 + kept);
        if let Some(p) = proposer.as_deref_mut() {
            p.feedback(drafts.len(), kept);
        }
        tok = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Sampling;
    use crate::llm::local::LocalModel;
    use crate::llm::testing::{TinySpec, write_tiny_qwen2};

    #[test]
    fn lookup_proposes_what_followed_the_last_tokens() {
        let mut p = PromptLookup::default();
        // "… 5 6 7 8 9 …" earlier; the context ends in "5 6": propose "7 8 9 …".
        let ctx = [1, 5, 6, 7, 8, 9, 10, 11, 12, 2, 3, 5, 6];
        // At the prior's acceptance (3 in 4) two tokens pay best.
        assert_eq!(p.best_length(6), 2);
        assert_eq!(p.propose(&ctx, 3), vec![7, 8]);
        // Refused proposals shorten the next ones, down to none; kept ones lengthen them.
        let long = p.best_length(6);
        for _ in 0..20 {
            p.feedback(4, 0);
        }
        assert_eq!(p.best_length(6), 0);
        assert!(p.propose(&ctx, 3).is_empty());
        for _ in 0..20 {
            p.feedback(6, 6);
        }
        assert!(p.best_length(6) >= long, "{} < {long}", p.best_length(6));
        p = PromptLookup::default();
        // Never more than the verification can check exactly.
        assert!(p.propose(&ctx, 100).len() < EXACT_ROWS);
        assert!(p.propose(&[1, 2, 3, 4], 4).is_empty());
        assert!(p.propose(&ctx, 0).is_empty());
    }

    /// Proposes a fixed script: the answer plain decoding gave (all kept), or junk.
    struct Scripted {
        tokens: Vec<u32>,
        prompt: usize,
        junk: bool,
    }

    impl Proposer for Scripted {
        fn propose(&mut self, context: &[u32], max: usize) -> Vec<u32> {
            let done = context.len() - self.prompt;
            if self.junk {
                return (0..max.min(4) as u32).map(|i| (context.len() as u32 * 31 + i * 7) % 200 + 3).collect();
            }
            self.tokens.iter().skip(done).take(max.min(4)).copied().collect()
        }
    }

    fn generate(
        model: &LocalModel,
        prompt: &[u32],
        n: usize,
        proposer: Option<&mut dyn Proposer>,
    ) -> (Vec<u32>, DraftStats) {
        let w = &model.weights;
        let mut cache = w.new_cache();
        cache.reserve(prompt.len() + n + 8).expect("reserve");
        let logits = w.forward(prompt, &mut cache).expect("prompt");
        let mut history = prompt.to_vec();
        // The repetition penalty is on, as in the engine's requests.
        let mut sampler = Sampler::new(Sampling::greedy());
        let mut out = Vec::new();
        let mut emit = |t: u32| {
            out.push(t);
            (out.len() >= n).then_some(FinishReason::Length)
        };
        let (_, stats) =
            decode(w, &mut cache, logits, &mut history, &mut sampler, proposer, &|| None, &mut emit).expect("decode");
        (out, stats)
    }

    fn check_identical(model: &LocalModel, prompt: &[u32], n: usize) {
        let (plain, _) = generate(model, prompt, n, None);
        assert_eq!(plain.len(), n);
        let mut lookup = PromptLookup { min_ngram: 1, ..PromptLookup::default() };
        let (drafted, _) = generate(model, prompt, n, Some(&mut lookup));
        assert_eq!(drafted, plain, "prompt lookup changed the answer");
        let mut oracle = Scripted { tokens: plain.clone(), prompt: prompt.len(), junk: false };
        let (o, stats) = generate(model, prompt, n, Some(&mut oracle));
        assert_eq!(o, plain, "verifying right drafts changed the answer");
        assert!(stats.accepted > 0 && stats.steps < n as u32, "{stats:?}");
        let mut junk = Scripted { tokens: Vec::new(), prompt: prompt.len(), junk: true };
        let (j, stats) = generate(model, prompt, n, Some(&mut junk));
        assert_eq!(j, plain, "rejecting wrong drafts changed the answer");
        assert!(stats.proposed > 0);
    }

    #[test]
    fn drafting_never_changes_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tiny.gguf");
        write_tiny_qwen2(&path, &TinySpec::default()).expect("write");
        let model = LocalModel::load(&path).expect("load");
        let prompt: Vec<u32> = (0..40).map(|i| (i * 7 + 3) % 250).chain([5, 6, 7, 5, 6]).collect();
        check_identical(&model, &prompt, 48);
    }

    /// With real weights (SmolLM2-135M, when `models/fetch-test-model.sh` installed it).
    #[test]
    fn drafting_never_changes_the_answer_of_a_real_model() {
        let Some(path) = crate::llm::testing::smollm2_path() else {
            eprintln!("skipped: SmolLM2-135M is not installed");
            return;
        };
        let model = LocalModel::load(&path).expect("load");
        let text = "<|im_start|>system\nAnswer from the facts.\nFacts: Returns are accepted within 14 days \
            of delivery if the item was not worn and the tags are intact. Refunds arrive within 10 days \
            to the card used for payment.<|im_end|>\n<|im_start|>user\nCan I return a jacket I did not wear?\
            <|im_end|>\n<|im_start|>assistant\n";
        let prompt = model.format.encode(text).expect("encode");
        check_identical(&model, &prompt, 64);
    }
}
