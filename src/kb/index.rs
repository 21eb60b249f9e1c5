//! The Tantivy full-text index of the knowledge base (BM25), kept in `DATA_DIR/kb-index/`.
//! SQLite is the source of truth; this index is rebuilt from it whenever it is missing, from
//! another schema version, or out of step.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TantivyDocument, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use super::analyzer::{self, Analyzer};
use crate::store::kb::IndexDoc;

/// Bump when the schema or the analysis changes: the index is then rebuilt at start.
const SCHEMA_VERSION: &str = "kb-index-v7";

/// Distinct words of one query that are searched; the rest of a long query is ignored.
pub const MAX_QUERY_TERMS: usize = 48;
/// Unknown words of one query looked up with typo tolerance. A fuzzy look-up builds an
/// automaton whose size grows with the word, so both their number and length are bounded.
const MAX_FUZZY_TERMS: usize = 6;
const FUZZY_CHARS: std::ops::RangeInclusive<usize> = 4..=16;
/// Article numbers and SKUs of one query matched exactly.
const MAX_CODES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index directory {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("search index lock poisoned")]
    Poisoned,
    #[error("the search index is in use by a running supportd of another version; stop it first")]
    Busy,
    #[error("the search index is owned by the running server; it applies this change")]
    ReadOnly,
}

/// Adapts [`Analyzer`] to Tantivy's tokenizer interface.
#[derive(Clone)]
struct RuTokenizer(Analyzer);

struct RuTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl Tokenizer for RuTokenizer {
    type TokenStream<'a> = RuTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> RuTokenStream {
        let tokens = self
            .0
            .analyze(text)
            .into_iter()
            .map(|t| Token {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.text,
                position_length: 1,
            })
            .collect();
        RuTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for RuTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

#[derive(Clone, Copy)]
struct Fields {
    doc: Field,
    kind: Field,
    published: Field,
    title: Field,
    body: Field,
    tags: Field,
    codes: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let indexing =
            TextFieldIndexing::default().set_tokenizer("ru").set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let opts = TextOptions::default().set_indexing_options(indexing);
        if stored { opts.set_stored() } else { opts }
    };
    let codes = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("code").set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        doc: b.add_text_field("doc", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        published: b.add_text_field("published", STRING),
        title: b.add_text_field("title", text(true)),
        body: b.add_text_field("body", text(true)),
        tags: b.add_text_field("tags", text(false)),
        codes: b.add_text_field("codes", codes),
    };
    (b.build(), fields)
}

/// One BM25 result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: String,
    pub kind: String,
    pub title: String,
    pub score: f32,
    /// A fragment of the body around the matches, HTML-escaped, matches in `<b>…</b>`.
    pub snippet_html: String,
}

pub struct SearchIndex {
    _index: Index,
    reader: IndexReader,
    /// `None` when another process (the running server) owns the index: this one only reads
    /// it, seeing each commit of the owner.
    writer: Option<Mutex<IndexWriter>>,
    f: Fields,
    analyzer: Analyzer,
}

/// Takes the index's writer lock, or `None` when another process holds it.
fn writer_of(index: &Index) -> Result<Option<IndexWriter>, IndexError> {
    match index.writer_with_num_threads(1, 30_000_000) {
        Ok(w) => Ok(Some(w)),
        Err(tantivy::TantivyError::LockFailure(..)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (empty) when missing or from another schema.
    /// Returns the index and whether it was (re)created and so needs a full rebuild. When
    /// another process (a running `supportd serve`) holds the index, it is opened read-only.
    pub fn open(dir: &Path, analyzer: Analyzer) -> Result<(Self, bool), IndexError> {
        let io = |source| IndexError::Io { path: dir.to_owned(), source };
        let marker = dir.join("supportd-schema");
        let current = std::fs::read_to_string(&marker).map(|s| s.trim() == SCHEMA_VERSION).unwrap_or(false);
        let (schema, f) = schema();
        let opened = if current { Index::open_in_dir(dir).ok() } else { None };
        let (index, writer, fresh) = match opened {
            Some(i) => {
                let w = writer_of(&i)?;
                (i, w, false)
            }
            None => {
                if dir.exists() {
                    // Never delete an index another process is using.
                    if let Ok(old) = Index::open_in_dir(dir)
                        && writer_of(&old)?.is_none()
                    {
                        return Err(IndexError::Busy);
                    }
                    std::fs::remove_dir_all(dir).map_err(io)?;
                }
                crate::crypto::create_private_dir(dir).map_err(io)?;
                let i = Index::create_in_dir(dir, schema)?;
                crate::crypto::write_private_file(&marker, SCHEMA_VERSION.as_bytes()).map_err(io)?;
                let w = writer_of(&i)?;
                (i, w, true)
            }
        };
        index.tokenizers().register("ru", TextAnalyzer::builder(RuTokenizer(analyzer.clone())).build());
        index.tokenizers().register("code", TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).build());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = writer.map(Mutex::new);
        Ok((Self { _index: index, reader, writer, f, analyzer }, fresh))
    }

    /// Another process owns the index: this one only searches it.
    pub fn read_only(&self) -> bool {
        self.writer.is_none()
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, IndexError> {
        self.writer.as_ref().ok_or(IndexError::ReadOnly)?.lock().map_err(|_| IndexError::Poisoned)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn document(&self, d: &IndexDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.f.doc, &d.doc);
        doc.add_text(self.f.kind, &d.kind);
        doc.add_text(self.f.published, if d.published { "1" } else { "0" });
        doc.add_text(self.f.title, &d.title);
        doc.add_text(self.f.body, &d.body);
        for t in &d.tags {
            doc.add_text(self.f.tags, t);
        }
        for c in d.codes.iter().filter(|c| !c.is_empty()) {
            doc.add_text(self.f.codes, c);
        }
        doc
    }

    /// Applies changes in one commit: `Some(doc)` replaces, `None` deletes the key.
    pub fn apply(&self, changes: &[(String, Option<IndexDoc>)]) -> Result<(), IndexError> {
        let mut w = self.writer()?;
        for (key, doc) in changes {
            w.delete_term(Term::from_field_text(self.f.doc, key));
            if let Some(d) = doc {
                w.add_document(self.document(d))?;
            }
        }
        w.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Drops everything and indexes `docs`.
    pub fn rebuild(&self, docs: &[IndexDoc]) -> Result<(), IndexError> {
        let mut w = self.writer()?;
        w.delete_all_documents()?;
        for d in docs {
            w.add_document(self.document(d))?;
        }
        w.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    fn build_query(&self, text: &str, include_drafts: bool) -> Option<Box<dyn Query>> {
        let searcher = self.reader.searcher();
        let known =
            |field: Field, t: &str| searcher.doc_freq(&Term::from_field_text(field, t)).map(|n| n > 0).unwrap_or(false);
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut fuzzy = 0;
        for t in self.analyzer.query_terms(text) {
            if seen.len() >= MAX_QUERY_TERMS {
                break;
            }
            if !seen.insert(t.text.clone()) {
                continue;
            }
            let chars = t.text.chars().count();
            let fields = [(self.f.title, 2.0f32), (self.f.body, 1.0), (self.f.tags, 1.5)];
            let exists = fields.iter().any(|(f, _)| known(*f, &t.text));
            let typo = !exists
                && fuzzy < MAX_FUZZY_TERMS
                && FUZZY_CHARS.contains(&chars)
                && !t.text.chars().any(|c| c.is_ascii_digit());
            fuzzy += usize::from(typo);
            for (field, boost) in fields {
                let term = Term::from_field_text(field, &t.text);
                let q: Box<dyn Query> = if exists {
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
                } else if typo {
                    // An unknown word: probably a typo; look for words one or two edits away.
                    let distance = if chars >= 8 { 2 } else { 1 };
                    Box::new(BoostQuery::new(Box::new(FuzzyTermQuery::new(term, distance, true)), 0.7))
                } else {
                    continue;
                };
                should.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
            }
        }
        for code in analyzer::codes(text).into_iter().take(MAX_CODES) {
            let q = TermQuery::new(Term::from_field_text(self.f.codes, &code), IndexRecordOption::Basic);
            should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 8.0))));
        }
        if should.is_empty() {
            return None;
        }
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(BooleanQuery::new(should)))];
        if !include_drafts {
            let published = TermQuery::new(Term::from_field_text(self.f.published, "1"), IndexRecordOption::Basic);
            must.push((Occur::Must, Box::new(BoostQuery::new(Box::new(published), 0.0))));
        }
        Some(Box::new(BooleanQuery::new(must)))
    }

    /// BM25 search; `limit` best hits with snippets.
    pub fn search(&self, text: &str, limit: usize, include_drafts: bool) -> Result<Vec<Hit>, IndexError> {
        if self.read_only() {
            // See what the owner has committed since.
            self.reader.reload()?;
        }
        let Some(query) = self.build_query(text, include_drafts) else { return Ok(Vec::new()) };
        let searcher = self.reader.searcher();
        let top = searcher.search(&*query, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut snippets = SnippetGenerator::create(&searcher, &*query, self.f.body)?;
        snippets.set_max_num_chars(240);
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            hits.push(Hit {
                doc: text(self.f.doc),
                kind: text(self.f.kind),
                title: text(self.f.title),
                score,
                snippet_html: snippets.snippet_from_doc(&doc).to_html(),
            });
        }
        Ok(hits)
    }
}
