//! The classifier's sentence part: with the knowledge base's embedding model installed, each
//! message's sentence embedding (e5, mean-centred) is read beside the hashed word features,
//! so a phrasing whose words the training set never used is still understood by its meaning.
//!
//! The training messages' embeddings cost a few seconds to compute; they are kept in the data
//! directory ([`crate::paths::nlu_cache`]), keyed by the embedding model and the training data,
//! so a restart trains in milliseconds. Until the sentence model is ready the engine reads
//! messages with the hashed model ([`Live`]).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::classifier::{Example, Features, MAX_DENSE, Model, with_dense};
use super::{MAX_TEXT_CHARS, Nlu};
use crate::kb::embed::{Embedder, Role};

/// The sentence embedding's weight beside the hashed features (which have norm 1). Chosen on
/// the development split (0.5, 1.0, 1.5, 2.0 gave main-intent accuracy 0.911, 0.923, 0.934,
/// 0.926; README), never on the held-out or blind sets.
pub const WEIGHT: f32 = 1.5;

/// The cache file's first bytes; a file of another version is recomputed.
const MAGIC: &[u8; 8] = b"SNLUv01\n";
/// No cache file is read beyond this size (4,096 messages × 1,024 dimensions).
const MAX_CACHE_BYTES: u64 = 4096 * MAX_DENSE as u64 * 4 + 64;

/// The sentence part of a trained [`Nlu`].
pub(super) struct Sentence {
    pub(super) embedder: Arc<Embedder>,
    /// The training messages' mean embedding, subtracted before use (e5's vectors share a
    /// large common direction that carries no intent).
    mean: Vec<f32>,
    pub(super) model: Model,
    pub(super) main: Model,
}

impl Sentence {
    /// Trains the two models over `data` and `mains` (the hashed features) with each example's
    /// embedding appended.
    pub(super) fn train(
        embedder: Arc<Embedder>,
        vecs: &[Vec<f32>],
        data: &[(Features, Vec<f32>)],
        mains: &[(Features, usize)],
        labels: usize,
        intents: usize,
    ) -> Result<Self, String> {
        if vecs.is_empty() || vecs.len() != data.len() || vecs.iter().any(|v| v.len() != vecs[0].len()) {
            return Err("one sentence embedding of one size per example is needed".into());
        }
        let mut mean = vec![0.0f32; vecs[0].len()];
        for v in vecs {
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += x / vecs.len() as f32);
        }
        let dense = |x: &Features, v: &[f32]| with_dense(x.clone(), &centred(v, &mean), WEIGHT);
        let data: Vec<_> = data.iter().zip(vecs).map(|((x, y), v)| (dense(x, v), y.clone())).collect();
        let mains: Vec<_> = mains.iter().zip(vecs).map(|((x, m), v)| (dense(x, v), *m)).collect();
        let model = Model::train(&data, labels, 40, 7);
        let main = Model::train_softmax(&mains, intents, 40, 11);
        Ok(Self { embedder, mean, model, main })
    }

    /// `x` with the embedding of `text` appended; `None` when the embedder fails (the caller
    /// falls back to the hashed model).
    pub(super) fn features(&self, text: &str, x: &Features) -> Option<Features> {
        let v = self.embedder.embed(text, Role::Query).ok()?;
        Some(with_dense(x.clone(), &centred(&v, &self.mean), WEIGHT))
    }
}

/// `v` minus `mean`, L2-normalized.
fn centred(v: &[f32], mean: &[f32]) -> Vec<f32> {
    let c: Vec<f32> = v.iter().zip(mean).map(|(a, b)| a - b).collect();
    let n = c.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    c.into_iter().map(|x| x / n).collect()
}

/// The sentence embeddings of `texts` as the classifier reads them (the analysed part, as a
/// query).
pub fn embed_all(embedder: &Embedder, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
    texts
        .iter()
        .map(|t| embedder.embed(crate::kb::analyzer::prefix(t, MAX_TEXT_CHARS), Role::Query).map_err(|e| e.to_string()))
        .collect()
}

/// The classifier trained on `examples` with the sentence part, the training embeddings read
/// from `cache` when it holds those of this model and these examples, computed and written
/// there otherwise. A cache that cannot be written is only a slower next start.
pub fn train_cached(examples: &[Example], embedder: Arc<Embedder>, cache: &Path) -> Result<Nlu, String> {
    let key = cache_key(examples, &embedder);
    let vecs = match read_cache(cache, &key, examples.len(), embedder.dim()) {
        Some(v) => v,
        None => {
            let texts: Vec<&str> = examples.iter().map(|x| x.text.as_str()).collect();
            let v = embed_all(&embedder, &texts)?;
            if let Err(e) = write_cache(cache, &key, &v) {
                tracing::warn!(path = %cache.display(), error = %e, "the classifier's embeddings were not cached");
            }
            v
        }
    };
    Nlu::train_embedded(examples, Some((embedder, &vecs)))
}

/// Trains the classifier with the sentence part on the built-in data and puts it in use in
/// `live`. On failure the hashed classifier stays in use and the reason is logged; returns
/// whether the sentence part is in use.
pub fn install(live: &Live, embedder: Arc<Embedder>, cache: &Path) -> bool {
    let t = std::time::Instant::now();
    let trained = super::classifier::parse_examples(super::TRAIN).and_then(|x| train_cached(&x, embedder, cache));
    match trained {
        Ok(nlu) => {
            live.set(Arc::new(nlu));
            tracing::info!(ms = t.elapsed().as_millis() as u64, "message classifier: sentence embeddings in use");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "message classifier: the sentence part was not trained, word features only");
            false
        }
    }
}

/// What the cached embeddings depend on: the format, the model, the analysed length and
/// every training text.
fn cache_key(examples: &[Example], embedder: &Embedder) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(embedder.id().as_bytes());
    h.update(MAX_TEXT_CHARS.to_le_bytes());
    for x in examples {
        h.update((x.text.len() as u64).to_le_bytes());
        h.update(x.text.as_bytes());
    }
    h.finalize().into()
}

/// The cached embeddings, if `path` holds `n` of `dim` values under `key`.
fn read_cache(path: &Path, key: &[u8; 32], n: usize, dim: usize) -> Option<Vec<Vec<f32>>> {
    let len = std::fs::metadata(path).ok()?.len();
    let want = (MAGIC.len() + 32 + 8 + n * dim * 4) as u64;
    if len != want || len > MAX_CACHE_BYTES {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let (head, rest) = bytes.split_at(MAGIC.len());
    let (k, rest) = rest.split_at(32);
    let (counts, body) = rest.split_at(8);
    let stored = |i: usize| u32::from_le_bytes(counts[i * 4..i * 4 + 4].try_into().unwrap_or_default()) as usize;
    if head != MAGIC || k != key || stored(0) != n || stored(1) != dim {
        return None;
    }
    let values: Vec<f32> = body.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default())).collect();
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(values.chunks_exact(dim.max(1)).map(<[f32]>::to_vec).collect())
}

/// Writes the embeddings next to `path` and renames the file into place (a crash leaves the
/// old cache or none, never half a file).
fn write_cache(path: &Path, key: &[u8; 32], vecs: &[Vec<f32>]) -> std::io::Result<()> {
    let dim = vecs.first().map_or(0, Vec::len);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    out.write_all(MAGIC)?;
    out.write_all(key)?;
    out.write_all(&(vecs.len() as u32).to_le_bytes())?;
    out.write_all(&(dim as u32).to_le_bytes())?;
    for v in vecs {
        for x in v {
            out.write_all(&x.to_le_bytes())?;
        }
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The classifier in use: the built-in hashed one until [`Live::set`] installs another (the
/// one with the sentence part, trained in the background when the embedding model loads).
#[derive(Default)]
pub struct Live(RwLock<Option<Arc<Nlu>>>);

impl Live {
    pub fn get(&self) -> Arc<Nlu> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(Nlu::shared)
    }

    pub fn set(&self, nlu: Arc<Nlu>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(nlu);
    }

    /// True once a classifier with the sentence part is in use.
    pub fn with_sentences(&self) -> bool {
        self.0.read().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|n| n.sentence.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Intent;

    fn examples() -> Vec<Example> {
        super::super::classifier::parse_examples(super::super::TRAIN).expect("training data")[..120].to_vec()
    }

    fn tiny_embedder(dir: &Path, seed: u64) -> Arc<Embedder> {
        let path = dir.join(format!("e5-{seed}.bin"));
        crate::kb::embed::write_test_model(&path, &["возврат", "доставка", "заказ"], seed).expect("model");
        Arc::new(Embedder::load(&path).expect("load"))
    }

    #[test]
    fn the_sentence_model_trains_caches_and_understands() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = dir.path().join("cache").join("nlu.bin");
        let e = tiny_embedder(dir.path(), 5);
        let train = examples();
        let nlu = train_cached(&train, e.clone(), &cache).expect("train");
        assert!(nlu.sentence.is_some());
        let written = std::fs::metadata(&cache).expect("cache written").len();
        assert_eq!(written as usize, MAGIC.len() + 32 + 8 + train.len() * e.dim() * 4);
        let a = nlu.analyze("хочу вернуть куртку");
        assert!((0.0..=1.0).contains(&a.confidence) && Intent::ALL.contains(&a.intent));
        // The second start reads the cache: the same embeddings, so the same model.
        let again = train_cached(&train, e.clone(), &cache).expect("train again");
        let b = again.analyze("хочу вернуть куртку");
        assert_eq!((a.intent, a.confidence), (b.intent, b.confidence));
        assert_eq!(
            read_cache(&cache, &cache_key(&train, &e), train.len(), e.dim()).map(|v| v.len()),
            Some(train.len())
        );
    }

    #[test]
    fn a_cache_of_another_model_or_other_data_is_recomputed() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = dir.path().join("nlu.bin");
        let (e1, e2) = (tiny_embedder(dir.path(), 5), tiny_embedder(dir.path(), 6));
        let train = examples();
        train_cached(&train, e1.clone(), &cache).expect("train");
        assert_ne!(e1.id(), e2.id());
        assert!(read_cache(&cache, &cache_key(&train, &e2), train.len(), e2.dim()).is_none());
        assert!(read_cache(&cache, &cache_key(&train[1..], &e1), train.len() - 1, e1.dim()).is_none());
        train_cached(&train, e2.clone(), &cache).expect("retrain");
        assert!(read_cache(&cache, &cache_key(&train, &e2), train.len(), e2.dim()).is_some());
        // A damaged file is ignored and replaced.
        std::fs::write(&cache, b"SNLUv01\ngarbage").expect("damage");
        assert!(read_cache(&cache, &cache_key(&train, &e2), train.len(), e2.dim()).is_none());
        train_cached(&train, e2.clone(), &cache).expect("recover");
        assert!(read_cache(&cache, &cache_key(&train, &e2), train.len(), e2.dim()).is_some());
    }

    #[test]
    fn live_serves_the_hashed_model_until_another_is_set() {
        let live = Live::default();
        assert!(!live.with_sentences());
        assert!(Arc::ptr_eq(&live.get(), &Nlu::shared()));
        let dir = tempfile::tempdir().expect("tmp");
        let nlu =
            Arc::new(train_cached(&examples(), tiny_embedder(dir.path(), 9), &dir.path().join("c")).expect("train"));
        live.set(nlu.clone());
        assert!(live.with_sentences() && Arc::ptr_eq(&live.get(), &nlu));
    }
}
