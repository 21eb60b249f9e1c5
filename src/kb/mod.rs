//! The knowledge base: articles, FAQ pairs and products from SQLite, searchable by BM25
//! (Tantivy), by meaning (e5 sentence embeddings) and by both (reciprocal rank fusion).
//!
//! SQLite is the source of truth. Every change queues its document key in the same
//! transaction; [`Kb::sync`] brings the index and the vectors up to date and is called after
//! each change and at start (so a crash between the two is repaired).

pub mod aliases;
pub mod analyzer;
pub mod bench;
pub mod compose;
pub mod embed;
pub mod eval;
pub mod import;
pub mod index;
pub mod measure;
pub mod rerank;
pub mod units;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::store::{Db, StoreError, kb as rows};
pub use embed::Embedder;
use index::SearchIndex;

#[derive(Debug, thiserror::Error)]
pub enum KbError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] index::IndexError),
    #[error(transparent)]
    Embed(#[from] embed::EmbedError),
    #[error("vector search needs the embedding model, which is not installed ({0})")]
    NoEmbedder(String),
    #[error("the request was cancelled before the search started")]
    Cancelled,
}

pub type Result<T, E = KbError> = std::result::Result<T, E>;

/// The file name of the embedding model inside `DATA_DIR/models/`.
pub use crate::paths::EMBEDDING_MODEL_FILE;

/// The part of a query that is searched, in characters: a longer query (a pasted letter, a
/// buyer's run-on message) is cut here, so search time and memory do not grow with the input.
pub const MAX_QUERY_CHARS: usize = 1000;

/// How many recent questions' embeddings are kept (see `Kb::embed_query`).
const QUERY_CACHE: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Bm25,
    Vector,
    #[default]
    Hybrid,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// `a:<id>` for articles and FAQ, `p:<id>` for products.
    pub doc: String,
    pub id: i64,
    pub kind: String,
    pub title: String,
    /// Fused score (higher is better); comparable only within one result list.
    pub score: f32,
    /// BM25 score, when the text search found it.
    pub bm25: Option<f32>,
    /// Cosine similarity of the best passage, when the vector search found it.
    pub similarity: Option<f32>,
    /// HTML-escaped fragment with matches in `<b>…</b>`.
    pub snippet_html: String,
    /// The passage of the document that matched best (plain text), for grounding.
    pub passage: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Retrieval {
    pub passages: Vec<SearchHit>,
    /// The mode actually used (hybrid falls back to bm25 without the embedding model).
    pub mode: Mode,
    /// False when nothing relevant was found: the engine must not answer from these passages.
    pub grounded: bool,
    /// The product the question names, when the text and the meaning rankings agree on one
    /// (see [`Kb::search_naming`]); it may also be among `passages`.
    pub product: Option<SearchHit>,
}

/// A document found by meaning: its key, its best passage, the similarity.
type ByMeaning = (String, usize, f32);

/// Passage vectors in memory: row i of `data` belongs to `keys[i]`.
#[derive(Default)]
struct Vectors {
    keys: Vec<(String, usize)>,
    data: Vec<f32>,
    dim: usize,
    /// Documents that are drafts (kept out of answers without a database round trip).
    drafts: std::collections::HashSet<String>,
}

impl Vectors {
    fn replace(&mut self, doc: &str, vectors: &[Vec<f32>], published: bool) {
        if published {
            self.drafts.remove(doc);
        } else {
            self.drafts.insert(doc.to_owned());
        }
        let keep: Vec<bool> = self.keys.iter().map(|(d, _)| d != doc).collect();
        if keep.iter().any(|k| !k) {
            let dim = self.dim;
            let mut keys = Vec::with_capacity(self.keys.len());
            let mut data = Vec::with_capacity(self.data.len());
            for (i, k) in keep.iter().enumerate() {
                if *k {
                    keys.push(self.keys[i].clone());
                    data.extend_from_slice(&self.data[i * dim..(i + 1) * dim]);
                }
            }
            self.keys = keys;
            self.data = data;
        }
        for (i, v) in vectors.iter().enumerate() {
            if self.dim == 0 {
                self.dim = v.len();
            }
            if v.len() == self.dim {
                self.keys.push((doc.to_owned(), i));
                self.data.extend_from_slice(v);
            }
        }
    }

    /// Best passage similarity per document, best documents first. A document's passages are
    /// adjacent rows (`replace` appends them together), so one pass keeps each document's best
    /// row without a map, and only the `limit` winners are ranked and named.
    fn search(&self, q: &[f32], limit: usize) -> Vec<(String, usize, f32)> {
        if self.dim == 0 || q.len() != self.dim || limit == 0 {
            return Vec::new();
        }
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(self.keys.len());
        for (i, row) in self.data.chunks_exact(self.dim).enumerate() {
            let sim = dot(row, q);
            match best.last_mut() {
                Some(last) if self.keys[last.1].0 == self.keys[i].0 => {
                    if sim > last.0 {
                        *last = (sim, i);
                    }
                }
                _ => best.push((sim, i)),
            }
        }
        let by_sim = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0);
        if best.len() > limit {
            best.select_nth_unstable_by(limit - 1, by_sim);
            best.truncate(limit);
        }
        best.sort_by(by_sim);
        best.into_iter().map(|(sim, i)| (self.keys[i].0.clone(), self.keys[i].1, sim)).collect()
    }
}

/// Dot product with eight independent accumulators, so the compiler can use SIMD lanes (a plain
/// `zip().sum()` must add in order and stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xs, ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = xs.remainder().iter().zip(ys.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in xs.zip(ys) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Splits a document into passages of about `target` characters at paragraph boundaries;
/// each passage starts with the title, so it stands on its own. (Answers are composed from the
/// finer [`units`] of the documents these find.)
pub fn passages(title: &str, body: &str) -> Vec<String> {
    const TARGET: usize = 700;
    let mut out = Vec::new();
    let mut cur = String::new();
    for para in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !cur.is_empty() && cur.chars().count() + para.chars().count() > TARGET {
            out.push(format!("{title}. {cur}"));
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(para);
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(format!("{title}. {cur}"));
    }
    out
}

fn text_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Whether the best hit is evidence that the knowledge base answers the question. Calibrated
/// on the development questions (both retrieval development sets and both development dialog
/// sets' knowledge turns, 363) against the 40 off-topic ones (`retrieval_offtopic*.txt`): a
/// very close meaning alone is enough; otherwise meaning and words must both agree, and many
/// shared words need a little less of the meaning. In-domain grounded 0.88 → 0.92 against the
/// previous bar (meaning alone 0.875, words 5 with meaning 0.84), off-topic 6 of 40 either
/// way (near-topic ones: curtains, another shop's returns, shoe sizes).
pub fn is_grounded(bm25: Option<f32>, similarity: Option<f32>, vectors_available: bool) -> bool {
    match (bm25, similarity) {
        (_, Some(s)) if s >= 0.885 => true,
        (Some(b), Some(s)) => (b >= 5.0 && s >= 0.84) || (b >= 12.0 && s >= 0.82),
        (Some(b), None) if !vectors_available => b >= 10.0,
        (Some(b), None) => b >= 20.0,
        _ => false,
    }
}
/// Answer-unit vectors kept in memory (a shop's knowledge base has a few thousand units).
const UNIT_CACHE: usize = 20_000;

/// Without the embedding model, how high by words a product card must rank to be the one the
/// question names.
const NAMED_DEPTH: usize = 3;
/// Reciprocal-rank-fusion constant and the weight of each ranking.
const RRF_K: f32 = 60.0;
const W_BM25: f32 = 1.0;
const W_VECTOR: f32 = 1.3;
/// Products rank below articles unless the query names an article number: buyers asking
/// "how do I return it" want the policy, not a product card that mentions returns.
const W_PRODUCT: f32 = 0.6;

pub struct Kb {
    db: Db,
    clock: SharedClock,
    index: SearchIndex,
    analyzer: analyzer::Analyzer,
    /// Embeddings of answer units by their text's hash: stored when a document is indexed
    /// (`kb_unit_vectors`), loaded at start, computed (and stored) when one is missing.
    unit_cache: std::sync::Mutex<HashMap<String, Vec<f32>>>,
    /// The last [`QUERY_CACHE`] questions' embeddings: one turn searches, re-ranks and composes
    /// with the same question, and embeds it once.
    query_cache: std::sync::Mutex<std::collections::VecDeque<(String, Arc<Vec<f32>>)>>,
    embedder: Option<Arc<Embedder>>,
    embedder_path: PathBuf,
    vectors: RwLock<Vectors>,
    /// The abbreviations the documents define, added to a question's text search.
    aliases: RwLock<aliases::Aliases>,
}

impl std::fmt::Debug for Kb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kb").field("embedder", &self.embedder).finish_non_exhaustive()
    }
}

impl Kb {
    /// Opens the index under `data_dir/kb-index` and the embedding model (if installed), then
    /// repairs anything a crash left behind. Blocking: call from a blocking thread.
    pub fn open(db: Db, data_dir: &Path, clock: SharedClock) -> Result<Self> {
        let embedder_path = crate::paths::embedding_model(data_dir);
        let embedder = if embedder_path.exists() {
            match Embedder::load(&embedder_path) {
                Ok(e) => Some(Arc::new(e)),
                Err(e) => {
                    tracing::warn!(error = %e, "the embedding model could not be loaded; search uses BM25 only");
                    None
                }
            }
        } else {
            None
        };
        Self::open_with(db, &crate::paths::kb_index(data_dir), clock, embedder, embedder_path)
    }

    /// Like [`Kb::open`] with an explicit embedder (tests, benchmarks).
    pub fn open_with(
        db: Db,
        index_dir: &Path,
        clock: SharedClock,
        embedder: Option<Arc<Embedder>>,
        embedder_path: PathBuf,
    ) -> Result<Self> {
        let (index, fresh) = SearchIndex::open(index_dir, analyzer::Analyzer::new())?;
        let kb = Self {
            db,
            clock,
            index,
            analyzer: analyzer::Analyzer::new(),
            unit_cache: std::sync::Mutex::new(HashMap::new()),
            query_cache: std::sync::Mutex::new(std::collections::VecDeque::new()),
            embedder,
            embedder_path,
            vectors: RwLock::new(Vectors::default()),
            aliases: RwLock::new(aliases::Aliases::default()),
        };
        let docs = kb.db.with_conn(|c| rows::all_docs(c))?;
        kb.mine_aliases(&docs);
        if kb.read_only() {
            // A running server owns the index and the vectors' upkeep: use what it keeps.
            kb.load_vectors(&docs)?;
            return Ok(kb);
        }
        if fresh || kb.index.num_docs() != docs.len() as u64 {
            tracing::info!(docs = docs.len(), "building the knowledge-base search index");
            kb.index.rebuild(&docs)?;
            let now = kb.clock.now_ms();
            kb.db.with_conn(|c| rows::clear_queue(c, now))?;
        }
        kb.load_vectors(&docs)?;
        kb.sync()?;
        Ok(kb)
    }

    pub fn embedder(&self) -> Option<&Embedder> {
        self.embedder.as_deref()
    }

    /// The embedding model, shared (the message classifier reads with it too).
    pub fn shared_embedder(&self) -> Option<Arc<Embedder>> {
        self.embedder.clone()
    }

    /// Another process (a running `supportd serve`) owns the search index: this one searches
    /// it and leaves changes queued in the database for the owner to apply.
    pub fn read_only(&self) -> bool {
        self.index.read_only()
    }

    pub fn embedder_path(&self) -> &Path {
        &self.embedder_path
    }

    /// Loads stored vectors of the current model and computes the missing or stale ones.
    fn load_vectors(&self, docs: &[rows::IndexDoc]) -> Result<()> {
        let Some(e) = &self.embedder else { return Ok(()) };
        let stored = self.db.with_conn(|c| rows::vectors(c, e.id()))?;
        let mut by_doc: HashMap<String, Vec<(String, Vec<f32>)>> = HashMap::new();
        for (doc, _, hash, v) in stored {
            by_doc.entry(doc).or_default().push((hash, v));
        }
        let mut vs = Vectors { dim: e.dim(), ..Vectors::default() };
        let mut missing = Vec::new();
        for d in docs {
            let texts = passages(&d.title, &d.body);
            match by_doc.get(&d.doc) {
                Some(have)
                    if have.len() == texts.len() && have.iter().zip(&texts).all(|((h, _), t)| *h == text_hash(t)) =>
                {
                    vs.replace(&d.doc, &have.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(), d.published);
                }
                _ => missing.push(d.clone()),
            }
        }
        if let Ok(mut w) = self.vectors.write() {
            *w = vs;
        }
        let units = self.db.with_conn(|c| rows::unit_vectors(c, e.id(), UNIT_CACHE))?;
        self.remember_units(units);
        if self.read_only() {
            return Ok(());
        }
        if !missing.is_empty() {
            tracing::info!(docs = missing.len(), "computing embeddings");
        }
        for d in missing {
            self.embed_doc(&d)?;
        }
        Ok(())
    }

    fn embed_doc(&self, d: &rows::IndexDoc) -> Result<()> {
        let Some(e) = &self.embedder else { return Ok(()) };
        let texts = passages(&d.title, &d.body);
        let mut out = Vec::with_capacity(texts.len());
        for t in &texts {
            out.push((text_hash(t), e.embed(t, embed::Role::Passage)?));
        }
        let (doc, model) = (d.doc.clone(), e.id().to_owned());
        self.db.with_conn(|c| rows::put_vectors(c, &doc, &model, &out))?;
        if let Ok(mut w) = self.vectors.write() {
            w.replace(&d.doc, &out.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), d.published);
        }
        self.embed_units(std::slice::from_ref(d))
    }

    /// Embeds and stores the answer units and titles of `docs` that have no stored vector yet,
    /// so that composing and re-ranking find them ready.
    fn embed_units(&self, docs: &[rows::IndexDoc]) -> Result<()> {
        let Some(e) = &self.embedder else { return Ok(()) };
        let mut out: Vec<(String, Vec<f32>)> = Vec::new();
        // Units repeated across documents (a shared sentence) are embedded once.
        let mut seen = HashSet::new();
        for d in docs {
            // The title alone too: the re-ranker compares the question with it.
            let body_units = units::units(&d.body);
            let texts =
                std::iter::once(d.title.clone()).chain(body_units.iter().map(|u| units::context_text(&d.title, u)));
            for text in texts {
                let hash = text_hash(&text);
                if self.cached_unit(&hash).is_none() && seen.insert(hash.clone()) {
                    out.push((hash, e.embed(&text, embed::Role::Passage)?));
                }
            }
        }
        if out.is_empty() {
            return Ok(());
        }
        let model = e.id().to_owned();
        self.db.with_conn(|c| rows::put_unit_vectors(c, &model, &out))?;
        self.remember_units(out);
        Ok(())
    }

    /// The embedding of a question (its Cyrillic reading when typed in Latin letters: the model
    /// reads "mozhno primerit" poorly, the text search transliterates on its own), from the
    /// cache of recent questions when there.
    fn embed_query(&self, e: &Embedder, query: &str) -> Result<Arc<Vec<f32>>> {
        let cached =
            self.query_cache.lock().ok().and_then(|c| c.iter().find(|(q, _)| q == query).map(|(_, v)| v.clone()));
        if let Some(v) = cached {
            return Ok(v);
        }
        let v = Arc::new(e.embed(&analyzer::cyrillic_view(query), embed::Role::Query)?);
        if let Ok(mut c) = self.query_cache.lock() {
            if c.len() >= QUERY_CACHE {
                c.pop_front();
            }
            c.push_back((query.to_owned(), v.clone()));
        }
        Ok(v)
    }

    fn cached_unit(&self, hash: &str) -> Option<Vec<f32>> {
        self.unit_cache.lock().ok().and_then(|c| c.get(hash).cloned())
    }

    /// Keeps unit vectors in memory (at most [`UNIT_CACHE`]; beyond that the cache starts over,
    /// and the stored ones are read again when needed).
    fn remember_units(&self, units: Vec<(String, Vec<f32>)>) {
        if let Ok(mut c) = self.unit_cache.lock() {
            for (hash, v) in units {
                if c.len() >= UNIT_CACHE {
                    c.clear();
                }
                c.insert(hash, v);
            }
        }
    }

    /// The embedding of one answer unit (`text`, in its document's context): from memory, else
    /// computed now and stored (a document indexed before unit vectors were stored).
    pub(crate) fn unit_vector_of(&self, text: &str) -> Result<Vec<f32>> {
        let Some(e) = &self.embedder else { return Ok(Vec::new()) };
        let hash = text_hash(text);
        if let Some(v) = self.cached_unit(&hash) {
            return Ok(v);
        }
        let model = e.id().to_owned();
        let computed = vec![(hash, e.embed(text, embed::Role::Passage)?)];
        if let Err(err) = self.db.with_conn(|c| rows::put_unit_vectors(c, &model, &computed)) {
            tracing::warn!(error = %err, "cannot store an answer unit's embedding");
        }
        let v = computed[0].1.clone();
        self.remember_units(computed);
        Ok(v)
    }

    /// Applies every queued change to the index and the vectors. Returns how many.
    pub fn sync(&self) -> Result<usize> {
        if self.read_only() {
            return Ok(0);
        }
        let started = self.clock.now_ms();
        let queued = self.db.with_conn(|c| rows::queued_docs(c))?;
        if queued.is_empty() {
            return Ok(0);
        }
        let mut changes = Vec::with_capacity(queued.len());
        for key in &queued {
            let doc = self.db.with_conn(|c| rows::load_doc(c, key))?;
            changes.push((key.clone(), doc));
        }
        self.index.apply(&changes)?;
        for (key, doc) in &changes {
            if let Ok(mut a) = self.aliases.write() {
                match doc {
                    Some(d) => a.set_doc(d),
                    None => a.remove(key),
                }
            }
            match doc {
                Some(d) => self.embed_doc(d)?,
                None => {
                    if let Ok(mut w) = self.vectors.write() {
                        w.replace(key, &[], true);
                    }
                }
            }
        }
        self.db.with_conn(|c| rows::dequeue(c, &queued, started))?;
        Ok(queued.len())
    }

    /// Rebuilds the index from the database and brings every vector up to date (vectors whose
    /// passage text and model are unchanged are kept).
    /// Beside a running server (read-only), every document is queued for the server instead.
    pub fn reindex(&self) -> Result<usize> {
        let docs = self.db.with_conn(|c| rows::all_docs(c))?;
        if self.read_only() {
            let now = self.clock.now_ms();
            self.db.with_conn(|c| docs.iter().try_for_each(|d| rows::queue_doc(c, &d.doc, now)))?;
            return Ok(docs.len());
        }
        self.index.rebuild(&docs)?;
        self.mine_aliases(&docs);
        if let Some(e) = &self.embedder {
            let model = e.id().to_owned();
            self.db.with_conn(|c| rows::delete_vectors_of_other_models(c, &model))?;
        }
        self.load_vectors(&docs)?;
        self.embed_units(&docs)?;
        let now = self.clock.now_ms();
        self.db.with_conn(|c| rows::clear_queue(c, now))?;
        Ok(docs.len())
    }

    /// Mines every document's abbreviations again.
    fn mine_aliases(&self, docs: &[rows::IndexDoc]) {
        let mut fresh = aliases::Aliases::default();
        for d in docs {
            fresh.set_doc(d);
        }
        if let Ok(mut a) = self.aliases.write() {
            *a = fresh;
        }
    }

    /// The mode a request for `mode` really gets.
    pub fn effective_mode(&self, mode: Mode) -> Mode {
        if self.embedder.is_none() && mode == Mode::Hybrid { Mode::Bm25 } else { mode }
    }

    /// Ranked search. Drafts only with `include_drafts`.
    pub fn search(&self, query: &str, mode: Mode, limit: usize, include_drafts: bool) -> Result<Vec<SearchHit>> {
        Ok(self.search_naming(query, mode, limit, include_drafts, true)?.0)
    }

    /// The re-ranker's features of the best fused hybrid hits for `query`, before re-ranking
    /// (empty without the embedding model): the data its weights are fitted on.
    pub fn rerank_candidates(&self, query: &str) -> Result<Vec<(String, [f32; rerank::FEATURES])>> {
        let Some(e) = &self.embedder else { return Ok(Vec::new()) };
        let query = analyzer::prefix(query, MAX_QUERY_CHARS);
        let (hits, _) = self.search_naming(query, Mode::Hybrid, rerank::DEPTH, false, false)?;
        let q = self.embed_query(e, query)?;
        let features = self.rerank_features(query, &q, &hits)?;
        Ok(hits.into_iter().map(|h| h.doc).zip(features).collect())
    }

    /// [`Kb::search`], and the product the query names: the first product of the text ranking
    /// that is also the first product by meaning, or without the embedding model one among the
    /// best [`NAMED_DEPTH`] by words (products weigh less in the fused ranking, so it may not
    /// be among the hits).
    fn search_naming(
        &self,
        query: &str,
        mode: Mode,
        limit: usize,
        include_drafts: bool,
        rerank: bool,
    ) -> Result<(Vec<SearchHit>, Option<SearchHit>)> {
        let query = analyzer::prefix(query, MAX_QUERY_CHARS);
        let limit = limit.min(100);
        let mode = self.effective_mode(mode);
        let depth = (limit * 4).max(40);
        // The text search also looks for the other form of an abbreviation the documents define.
        let expanded = self.aliases.read().ok().and_then(|a| a.expand(query));
        let text_query = expanded.as_deref().unwrap_or(query);
        // The query embedding (the slow part) runs beside the BM25 search.
        let (bm25, vector) = std::thread::scope(|scope| {
            let vector = (mode != Mode::Bm25).then(|| scope.spawn(|| self.vector_search(query, depth, include_drafts)));
            let bm25 = if mode == Mode::Vector {
                Ok(Vec::new())
            } else {
                self.index.search(text_query, depth, include_drafts)
            };
            let vector = match vector {
                Some(handle) => handle.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                None => Ok((Arc::default(), Vec::new())),
            };
            (bm25, vector)
        });
        let (bm25, (q_vec, vector)) = (bm25?, vector?);
        let mut fused: HashMap<String, SearchHit> = HashMap::new();
        for (rank, h) in bm25.iter().enumerate() {
            let rrf = W_BM25 / (RRF_K + rank as f32 + 1.0);
            fused.insert(
                h.doc.clone(),
                SearchHit {
                    doc: h.doc.clone(),
                    id: doc_id(&h.doc),
                    kind: h.kind.clone(),
                    title: h.title.clone(),
                    score: if mode == Mode::Bm25 { h.score } else { rrf },
                    bm25: Some(h.score),
                    similarity: None,
                    snippet_html: h.snippet_html.clone(),
                    passage: String::new(),
                },
            );
        }
        let mut passage_of: HashMap<String, usize> = HashMap::new();
        for (rank, (doc, passage, sim)) in vector.iter().enumerate() {
            let rrf = W_VECTOR / (RRF_K + rank as f32 + 1.0);
            passage_of.insert(doc.clone(), *passage);
            match fused.get_mut(doc) {
                Some(h) => {
                    h.similarity = Some(*sim);
                    h.score += rrf;
                }
                None => {
                    fused.insert(
                        doc.clone(),
                        SearchHit {
                            doc: doc.clone(),
                            id: doc_id(doc),
                            kind: String::new(),
                            title: String::new(),
                            score: if mode == Mode::Vector { *sim } else { rrf },
                            bm25: None,
                            similarity: Some(*sim),
                            snippet_html: String::new(),
                            passage: String::new(),
                        },
                    );
                }
            }
        }
        let has_code = !analyzer::codes(query).is_empty();
        let mut hits: Vec<SearchHit> = fused.into_values().collect();
        if mode == Mode::Hybrid && !has_code {
            for h in &mut hits {
                if h.doc.starts_with("p:") {
                    h.score *= W_PRODUCT;
                }
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.doc.cmp(&b.doc)));
        let first_text = bm25.iter().map(|h| &h.doc).position(|d| d.starts_with("p:"));
        let named =
            match (first_text.map(|i| &bm25[i].doc), vector.iter().map(|(d, ..)| d).find(|d| d.starts_with("p:"))) {
                // The same card on both marketplaces ties in both rankings.
                (Some(a), Some(b)) if a == b || self.same_title(a, b)? => hits.iter().find(|h| &h.doc == a).cloned(),
                // Without the embedding model: a card among the best few by words.
                (Some(a), None) if mode == Mode::Bm25 && first_text.is_some_and(|i| i < NAMED_DEPTH) => {
                    hits.iter().find(|h| &h.doc == a).cloned()
                }
                _ => None,
            };
        if rerank && mode == Mode::Hybrid && !has_code && !q_vec.is_empty() {
            self.rerank(query, &q_vec, &mut hits)?;
        }
        hits.truncate(limit);
        let mut named = named;
        // Fill in titles and passages from the database (the source of truth).
        for h in hits.iter_mut().chain(named.iter_mut()) {
            let key = h.doc.clone();
            let Some(d) = self.db.with_conn(|c| rows::load_doc(c, &key))? else { continue };
            let texts = passages(&d.title, &d.body);
            let idx = passage_of.get(&h.doc).copied().unwrap_or(0).min(texts.len().saturating_sub(1));
            h.passage = texts.get(idx).cloned().unwrap_or_default();
            if h.title.is_empty() {
                h.title = d.title.clone();
                h.kind = d.kind.clone();
                h.snippet_html = html_escape(&d.body.chars().take(240).collect::<String>());
            }
        }
        Ok((hits, named))
    }

    fn same_title(&self, a: &str, b: &str) -> Result<bool> {
        let title = |k: &str| self.db.with_conn(|c| rows::load_doc(c, k)).map(|d| d.map(|d| d.title));
        Ok(title(a)? == title(b)?)
    }

    /// The query's embedding and the best documents by meaning: (document, its best passage,
    /// similarity).
    fn vector_search(
        &self,
        query: &str,
        depth: usize,
        include_drafts: bool,
    ) -> Result<(Arc<Vec<f32>>, Vec<ByMeaning>)> {
        let e = self.embedder.as_ref().ok_or_else(|| KbError::NoEmbedder(self.embedder_path.display().to_string()))?;
        let q = self.embed_query(e, query)?;
        let found = self
            .vectors
            .read()
            .map(|v| {
                let mut found = v.search(&q, depth + v.drafts.len().min(depth));
                if !include_drafts {
                    found.retain(|(d, ..)| !v.drafts.contains(d));
                }
                found.truncate(depth);
                found
            })
            .unwrap_or_default();
        Ok((q, found))
    }

    /// Grounding for the conversation engine: the best published passages for `query`, with
    /// `grounded = false` when none is relevant enough to answer from. `context` (for example
    /// the previous buyer message) widens the text search. Counts the retrievals.
    pub fn retrieve(&self, query: &str, context: Option<&str>, limit: usize) -> Result<Retrieval> {
        let mode = self.effective_mode(Mode::Hybrid);
        let query = analyzer::prefix(query, MAX_QUERY_CHARS);
        let text = match context {
            Some(c) if !c.trim().is_empty() => format!("{query} {}", analyzer::prefix(c, MAX_QUERY_CHARS / 2)),
            _ => query.to_owned(),
        };
        let (passages, product) = self.search_naming(&text, mode, limit, false, true)?;
        let grounded = passages.first().is_some_and(|h| is_grounded(h.bm25, h.similarity, self.embedder.is_some()));
        let docs: Vec<String> = passages.iter().map(|p| p.doc.clone()).collect();
        let now = self.clock.now_ms();
        self.db.with_conn(|c| rows::record_retrieved(c, &docs, now))?;
        Ok(Retrieval { passages, mode, grounded, product })
    }
}

impl Kb {
    /// Counts documents used in an answer, and the buyer's rating of it when given.
    pub fn record_used(&self, docs: &[String], rating: Option<bool>) -> Result<()> {
        Ok(self.db.with_conn(|c| rows::record_used(c, docs, rating))?)
    }
}

fn doc_id(doc: &str) -> i64 {
    doc.split_once(':').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grounding_needs_agreeing_evidence() {
        assert!(is_grounded(Some(1.0), Some(0.9), true), "a very close meaning is enough");
        assert!(!is_grounded(Some(1.0), Some(0.88), true), "a close meaning without the words is not");
        assert!(is_grounded(Some(9.0), Some(0.85), true), "words and meaning agree");
        assert!(is_grounded(Some(15.0), Some(0.83), true), "many shared words, a fair meaning");
        assert!(!is_grounded(Some(9.0), Some(0.83), true), "some shared words, a fair meaning");
        assert!(!is_grounded(Some(25.0), Some(0.81), true), "shared words without the meaning");
        assert!(!is_grounded(None, Some(0.86), true));
        assert!(is_grounded(Some(12.0), None, false), "BM25 only without the model");
        assert!(!is_grounded(None, None, false));
    }

    #[test]
    fn passages_split_at_paragraphs_and_carry_the_title() {
        let body = format!("{}\n\n{}", "а".repeat(500), "б".repeat(500));
        let p = passages("Заголовок", &body);
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|x| x.starts_with("Заголовок. ")));
        assert_eq!(passages("T", "short").len(), 1);
        assert!((dot(&[1.0; 19], &[2.0; 19]) - 38.0).abs() < 1e-6);
    }
}
