//! Choosing the next token from logits: repetition penalty, temperature, top-k, top-p, and a
//! seeded generator so a request with the same seed gives the same answer.

use super::Sampling;
use super::model::argmax;

/// SplitMix64: small, fast, and good enough for sampling.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

pub struct Sampler {
    cfg: Sampling,
    rng: Rng,
}

impl Sampler {
    pub fn new(cfg: Sampling) -> Self {
        Self { cfg, rng: Rng::new(cfg.seed) }
    }

    /// Picks the next token; `recent` is the generated history (for the repetition penalty).
    pub fn sample(&mut self, logits: &mut [f32], recent: &[u32]) -> u32 {
        let c = self.cfg;
        if c.repeat_penalty > 0.0 && (c.repeat_penalty - 1.0).abs() > f32::EPSILON {
            let start = recent.len().saturating_sub(c.repeat_last_n);
            let mut seen = recent[start..].to_vec();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l >= 0.0 { *l / c.repeat_penalty } else { *l * c.repeat_penalty };
                }
            }
        }
        if c.temperature <= 0.0 {
            return argmax(logits);
        }
        let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
        let k = if c.top_k == 0 { idx.len() } else { c.top_k.min(idx.len()) };
        if k < idx.len() {
            idx.select_nth_unstable_by(k - 1, |&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
            idx.truncate(k);
        }
        idx.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        let max = logits[idx[0] as usize];
        let mut probs: Vec<f32> = idx.iter().map(|&i| ((logits[i as usize] - max) / c.temperature).exp()).collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        if c.top_p > 0.0 && c.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = probs.len();
            for (n, p) in probs.iter().enumerate() {
                acc += p;
                if acc >= c.top_p {
                    keep = n + 1;
                    break;
                }
            }
            probs.truncate(keep);
            idx.truncate(keep);
            let sum: f32 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= sum);
        }
        let r = self.rng.next_f32();
        let mut acc = 0.0;
        for (n, p) in probs.iter().enumerate() {
            acc += p;
            if r < acc {
                return idx[n];
            }
        }
        idx[probs.len() - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest() {
        let mut s = Sampler::new(Sampling::greedy());
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]), 1);
    }

    #[test]
    fn repetition_penalty_moves_away_from_seen_tokens() {
        let mut s = Sampler::new(Sampling { repeat_penalty: 2.0, ..Sampling::greedy() });
        assert_eq!(s.sample(&mut [0.0, 3.0, 2.0], &[1]), 2);
    }

    #[test]
    fn top_k_one_is_greedy_and_seeds_repeat() {
        let mut s = Sampler::new(Sampling { top_k: 1, temperature: 1.0, ..Sampling::default() });
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]), 1);
        let draw = |seed| {
            let mut s = Sampler::new(Sampling { seed, temperature: 1.0, top_k: 0, top_p: 1.0, ..Sampling::default() });
            (0..20).map(|_| s.sample(&mut [1.0, 1.0, 1.0, 1.0], &[])).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().collect::<std::collections::HashSet<_>>().len() > 1);
    }
}
