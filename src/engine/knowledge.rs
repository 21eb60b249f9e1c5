//! Knowledge answers: retrieval finds the documents, composition picks the units that hold the
//! fact asked for ([`crate::kb::compose`]).

use super::dialog::State;
use super::{Draft, Engine, EngineError};
use crate::kb::SearchHit;
use crate::kb::compose::{Composition, Hints, Marketplace};
use crate::nlu::Intent;

/// Documents retrieved for composing one answer.
const CANDIDATES: usize = 4;

/// A composed answer and the documents it was chosen from.
pub(super) struct Found {
    pub composition: Composition,
    pub hits: Vec<SearchHit>,
}

/// Whether a composition that retrieval alone did not find relevant enough is still a sure
/// answer: most of the question's distinctive words in one unit, and a close meaning.
fn sure_without_retrieval(c: &Composition) -> bool {
    c.coverage >= 0.6 && c.similarity.is_none_or(|s| s >= 0.85)
}

impl Engine {
    /// The best composed answer to `text` (with `context` widening the search), or `None`.
    pub(super) async fn find_answer(
        &self,
        text: &str,
        context: Option<String>,
        state: &State,
    ) -> Result<Option<Found>, EngineError> {
        let marketplace = Marketplace::named_in(text).or_else(|| {
            state.last_order.as_deref().map(|n| match crate::marketplace::Market::of_number(n) {
                crate::marketplace::Market::Wb => Marketplace::Wb,
                crate::marketplace::Market::Ozon => Marketplace::Ozon,
            })
        });
        let (kb, query) = (self.kb.clone(), text.to_owned());
        let found = tokio::task::spawn_blocking(move || -> crate::kb::Result<Option<Found>> {
            let r = kb.retrieve(&query, context.as_deref(), CANDIDATES)?;
            if r.passages.is_empty() {
                return Ok(None);
            }
            let Some(c) = kb.compose(&query, &r.passages, &Hints { marketplace })? else { return Ok(None) };
            if !r.grounded && !sure_without_retrieval(&c) {
                return Ok(None);
            }
            Ok(Some(Found { composition: c, hits: r.passages }))
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
        .map_err(|e| EngineError::Internal(format!("knowledge base: {e}")))?;
        Ok(found)
    }

    /// The composed answer's document as the reply's source, and its text as the fact.
    pub(super) fn cite_composition(&self, found: &Found, intent: Intent, out: &mut Draft) {
        let c = &found.composition;
        let score = found.hits.iter().find(|h| h.doc == c.doc).map_or(0.0, |h| h.score);
        out.sources.push(super::provenance::Source {
            doc: c.doc.clone(),
            title: c.title.clone(),
            score,
            intent,
            units: c.units.clone(),
            coverage: c.coverage,
            similarity: c.similarity,
        });
        out.source_docs.push(c.doc.clone());
        out.facts.push(format!("{}: {}", c.title, c.text));
    }
}
