//! Knowledge answers: retrieval finds the documents, composition picks the units that hold the
//! fact asked for ([`crate::kb::compose`]).

use std::time::Instant;

use super::dialog::State;
use super::policy::{self, Decision};
use super::provenance::{ModelCall, ModelOutcome, ModelRecord};
use super::{Action, Draft, Engine, EngineError, MODEL_SENTENCES, guard, stream};
use crate::channels::ChannelName;
use crate::kb::SearchHit;
use crate::kb::compose::{Composition, Hints, Marketplace};
use crate::llm::chain::CallOptions;
use crate::llm::{ChatMessage, GenerateRequest, Sampling, TokenSink};
use crate::nlu::Intent;
use crate::store::messaging::{self as msgs, Conversation};
use crate::texts::bot;

/// Documents retrieved for composing one answer.
const CANDIDATES: usize = 4;
/// The most questions of one message answered one by one.
const MAX_QUESTIONS: usize = 3;

/// A composed answer and the documents it was chosen from.
pub(super) struct Found {
    pub composition: Composition,
    /// For a question about a product: what the other source adds (the card's fields beside
    /// a size or care article, or the article beside the card).
    pub also: Option<Composition>,
    pub hits: Vec<SearchHit>,
}

impl Found {
    /// The reply's parts: `first` (the composed text, or the model's phrasing of it), then
    /// what the other source adds.
    pub fn parts(&self, first: String) -> impl Iterator<Item = String> + '_ {
        std::iter::once(first).chain(self.also.iter().map(|a| a.text.clone()))
    }
}

/// Whether a second composition for the same question adds to the first: enough of the
/// question's distinctive words, or a close meaning.
fn adds(c: &Composition) -> bool {
    c.coverage >= ADDS_COVERAGE || c.similarity.is_some_and(|s| s >= ADDS_SIMILARITY)
}

/// What a product question's second source needs to be added ([`adds`]).
const ADDS_COVERAGE: f32 = 0.2;
const ADDS_SIMILARITY: f32 = 0.86;

/// Whether a composition that retrieval alone did not find relevant enough is still a sure
/// answer: most of the question's distinctive words in one unit, and a close meaning.
fn sure_without_retrieval(c: &Composition) -> bool {
    c.coverage >= 0.6 && c.similarity.is_none_or(|s| s >= 0.85)
}

impl Engine {
    /// The best composed answer to `text` (with `context` widening the search), or `None`.
    /// A question about a product (`intent`) that names one is answered from its card
    /// together with the best article (size, care, restock), the better of them first.
    pub(super) async fn find_answer(
        &self,
        text: &str,
        context: Option<String>,
        intent: Intent,
        state: &State,
    ) -> Result<Option<Found>, EngineError> {
        let marketplace = Marketplace::named_in(text).or_else(|| {
            state.last_order.as_deref().map(|n| Marketplace::of_market(crate::marketplace::Market::of_number(n)))
        });
        // In a delivery question a city named is also its region, as delivery rules are
        // written ("до Казани" → "Поволжье"); asked about working hours, it is a time zone.
        let about_delivery = intent == Intent::DeliveryTime || policy::mentions_delivery(text);
        let regions = if about_delivery { crate::nlu::places::regions_of(text) } else { Vec::new() };
        let query = if regions.is_empty() { text.to_owned() } else { format!("{text} ({})", regions.join("; ")) };
        let kb = self.kb.clone();
        let found = tokio::task::spawn_blocking(move || -> crate::kb::Result<Option<Found>> {
            let r = kb.retrieve(&query, context.as_deref(), CANDIDATES)?;
            if r.passages.is_empty() {
                return Ok(None);
            }
            let hints = Hints { marketplace };
            if intent == Intent::ProductInfo
                && let Some(card) = &r.product
            {
                let card = kb.compose(&query, std::slice::from_ref(card), &hints)?;
                // The best articles, also where cards fill the best hits (without the embedding
                // model products are not weighed down).
                let mut articles: Vec<SearchHit> =
                    r.passages.iter().filter(|h| !h.doc.starts_with("p:")).cloned().collect();
                if articles.len() < CANDIDATES {
                    articles = kb.search(&query, r.mode, CANDIDATES * 4, false)?;
                    articles.retain(|h| !h.doc.starts_with("p:"));
                    articles.truncate(CANDIDATES);
                }
                let article = kb.compose(&query, &articles, &hints)?.filter(|a| r.grounded || adds(a));
                let mut hits = r.passages.clone();
                hits.extend(r.product.clone().filter(|p| !r.passages.iter().any(|h| h.doc == p.doc)));
                let found = match (card, article) {
                    (Some(c), Some(a)) => {
                        let (first, second) = if c.score >= a.score { (c, a) } else { (a, c) };
                        let also = adds(&second).then_some(second);
                        Some(Found { composition: first, also, hits })
                    }
                    (Some(c), None) | (None, Some(c)) => Some(Found { composition: c, also: None, hits }),
                    (None, None) => None,
                };
                return Ok(found);
            }
            let Some(c) = kb.compose(&query, &r.passages, &hints)? else { return Ok(None) };
            if !r.grounded && !sure_without_retrieval(&c) {
                return Ok(None);
            }
            Ok(Some(Found { composition: c, also: None, hits: r.passages }))
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
        .map_err(|e| EngineError::Internal(format!("knowledge base: {e}")))?;
        Ok(found)
    }

    /// The composed answer's documents as the reply's sources, and their texts as the facts.
    pub(super) fn cite_composition(&self, found: &Found, intent: Intent, out: &mut Draft) {
        for c in std::iter::once(&found.composition).chain(&found.also) {
            Self::cite(found, c, intent, out);
        }
    }

    fn cite(found: &Found, c: &Composition, intent: Intent, out: &mut Draft) {
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

    /// A second question in the same message (or `pending` from the message that asked for
    /// the order number), answered from the knowledge base.
    pub(super) async fn also_knowledge(
        &self,
        d: &Decision,
        text: &str,
        pending: Option<&str>,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<(), EngineError> {
        let (intent, query, context) =
            match (d.also, policy::rule_question(text).or_else(|| pending.map(str::to_owned))) {
                (Some(intent), _) => (intent, text.to_owned(), None),
                // The classifier heard only the order; a clause asks about the rules: that clause
                // is the query, the message without its numbers its context.
                (None, Some(clause)) => {
                    let q = clause.clone();
                    let a = self.analyze(q).await?;
                    let rest: Vec<&str> =
                        text.split_whitespace().filter(|w| !w.chars().any(|c| c.is_ascii_digit())).collect();
                    (a.intent, clause, Some(rest.join(" ")))
                }
                (None, None) => return Ok(()),
            };
        if let Some(found) = self.find_answer(&query, context, intent, state).await? {
            out.parts.extend(found.parts(found.composition.text.clone()));
            self.cite_composition(&found, intent, out);
            state.last_sources = out.source_docs.clone();
        }
        Ok(())
    }

    /// What a follow-up goes on with: the question the last knowledge answer answered
    /// (`State::last_question`), else the buyer's message before this one.
    pub(super) async fn earlier_question(
        &self,
        last_question: Option<String>,
        conv: i64,
    ) -> Result<Option<String>, EngineError> {
        if last_question.is_some() {
            return Ok(last_question);
        }
        let recent = self.db.call(move |c| msgs::recent_messages(c, conv, 6)).await?;
        Ok(recent.iter().rev().filter(|m| m.author == "buyer").nth(1).map(|m| m.body.clone()))
    }

    /// Answers from the knowledge base; false when nothing relevant exists.
    #[expect(clippy::too_many_arguments, reason = "one turn's inputs, each used once")]
    pub(super) async fn answer_knowledge(
        &self,
        intent: Intent,
        text: &str,
        context: Option<String>,
        injection: bool,
        conv: &Conversation,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<bool, EngineError> {
        if self.answer_each_question(intent, text, context.as_deref(), state, out).await? {
            return Ok(true);
        }
        let context = with_hint(context.as_deref(), intent, text);
        let Some(found) = self.find_answer(text, context, intent, state).await? else { return Ok(false) };
        let mut reply = None;
        if out.settings.use_model && !injection {
            reply = self.write_with_model(&found, conv, out).await?;
        }
        self.cite_composition(&found, intent, out);
        out.parts.extend(found.parts(reply.unwrap_or_else(|| found.composition.text.clone())));
        out.action = Some(Action::Answer);
        state.last_sources = out.source_docs.clone();
        state.awaiting = None;
        Ok(true)
    }

    /// A message that asks two or three things ([`policy::questions`]) gets an answer to each,
    /// in the message's order, when at least two of them find distinct answers; false (then
    /// the message is answered as one question) otherwise. These replies are the composed
    /// units themselves: the model phrases one answer at a time.
    async fn answer_each_question(
        &self,
        intent: Intent,
        text: &str,
        context: Option<&str>,
        state: &mut State,
        out: &mut Draft,
    ) -> Result<bool, EngineError> {
        let questions = policy::questions(text);
        if questions.len() < 2 {
            return Ok(false);
        }
        let mut found: Vec<Found> = Vec::new();
        for q in questions.iter().take(MAX_QUESTIONS) {
            // Each question is searched with its own topic's words: "доставка платная? и
            // через сбп можно" asks about delivery, then about paying.
            let own = self.analyze(q.clone()).await?;
            let topic = if policy::is_rule_topic(own.intent) { own.intent } else { intent };
            let Some(f) = self.find_answer(q, with_hint(context, topic, q), topic, state).await? else { continue };
            let c = &f.composition;
            let repeats = found.iter().any(|e| {
                let d = &e.composition;
                d.doc == c.doc && d.units.iter().any(|u| c.units.contains(u))
            });
            if !repeats {
                found.push(f);
            }
        }
        if found.len() < 2 {
            return Ok(false);
        }
        for f in &found {
            self.cite_composition(f, intent, out);
            out.parts.extend(f.parts(f.composition.text.clone()));
        }
        out.action = Some(Action::Answer);
        state.last_sources = out.source_docs.clone();
        state.awaiting = None;
        Ok(true)
    }

    /// The chosen units phrased by the model (at most [`MODEL_SENTENCES`] sentences), each
    /// sentence checked by the guard: one that fails is dropped and the rest stands. `None`
    /// (then the caller sends the composed units themselves) without a provider, on a failure,
    /// or when no sentence passes. `out.model` records what happened (`outcome`: written,
    /// changed, rejected or failed).
    pub(super) async fn write_with_model(
        &self,
        found: &Found,
        conv: &Conversation,
        out: &mut Draft,
    ) -> Result<Option<String>, EngineError> {
        let settings = out.settings.clone();
        // The model takes seconds: show the buyer that a reply is coming.
        if let (Some(typing), Some(channel)) = (&self.typing, ChannelName::parse(&conv.channel)) {
            typing(channel, &conv.recipient);
        }
        let (id, limit) = (conv.id, settings.history_messages);
        let recent = self.db.call(move |c| msgs::recent_messages(c, id, limit)).await?;
        let history: Vec<ChatMessage> = recent
            .iter()
            .filter(|m| !m.internal)
            .map(|m| {
                let body = crate::kb::analyzer::prefix(&m.body, crate::nlu::MAX_TEXT_CHARS);
                if m.author == "buyer" { ChatMessage::user(body) } else { ChatMessage::assistant(body) }
            })
            .collect();
        let buyer: Vec<String> = recent.iter().filter(|m| m.author == "buyer").map(|m| m.body.clone()).collect();
        let llm = self.llm.clone();
        let system = bot::system_prompt(&settings.shop_name, settings.formal);
        // The facts are chosen before the model is called: it only phrases them.
        let c = &found.composition;
        let mut facts = vec![format!("{}: {}", c.title, c.text)];
        // A budget from the facts: a rephrasing is about as long as what it rephrases.
        let budget = (llm.count_tokens(&c.text) * 3 / 2 + 24).min(settings.max_answer_tokens).max(8);
        let fitted = loop {
            match crate::llm::context::fit(&system, &facts, &history, settings.context_tokens, budget, &|t| {
                llm.count_tokens(t)
            }) {
                Ok(f) => break f,
                // A small context: a shorter fact (from its start, where the best unit is).
                Err(_) if facts[0].chars().count() > 200 => {
                    let keep = facts[0].chars().count() / 2;
                    facts[0] = facts[0].chars().take(keep).collect();
                }
                Err(e) => {
                    out.model = Some(ModelRecord::failed(e.to_string()));
                    return Ok(None);
                }
            }
        };
        let mut req = GenerateRequest::new(fitted.messages);
        req.max_tokens = budget;
        // Short by design: generation ends with the last sentence that may be used.
        req.max_sentences = Some(MODEL_SENTENCES);
        req.sampling = Sampling::greedy();
        req.deadline = Some(Instant::now() + settings.model_timeout);
        let opts = CallOptions { cache: true, conversation_id: Some(conv.id) };
        // Sentences are shown as they come, each checked by the guard first (`stream`).
        let (sink, relay) = self.stream_relay(conv, &facts, &buyer);
        let generated = self.llm.generate(&req, &sink, &opts).await;
        drop(sink);
        let shown = relay.finish().await;
        match generated {
            Ok(done) => {
                let text = done.text.trim().to_owned();
                let mut checked = guard::check_sentences(&text, &facts, &buyer);
                let extra = checked.kept.len().saturating_sub(MODEL_SENTENCES);
                let cut: Vec<String> = checked.kept.drain(MODEL_SENTENCES.min(checked.kept.len())..).collect();
                let outcome = match (checked.kept.is_empty(), checked.dropped.is_empty() && extra == 0) {
                    (true, _) => ModelOutcome::Rejected,
                    (false, true) => ModelOutcome::Written,
                    (false, false) => ModelOutcome::Changed,
                };
                let reasons: Vec<guard::Violation> = checked.dropped.iter().flat_map(|(_, v)| v.clone()).collect();
                out.model = Some(ModelRecord {
                    outcome,
                    error: None,
                    call: Some(ModelCall {
                        provider: done.provider.clone(),
                        model: done.model.clone(),
                        prompt_tokens: done.prompt_tokens,
                        cached_prompt_tokens: done.cached_prompt_tokens,
                        completion_tokens: done.completion_tokens,
                        latency_ms: done.latency_ms,
                        from_cache: done.from_cache,
                        history_dropped: fitted.dropped,
                        dropped_sentences: checked.dropped.len(),
                        cut_sentences: cut.len(),
                        reasons,
                        first_text_ms: shown.first_ms,
                        drafted_tokens: done.drafted_tokens,
                        accepted_tokens: done.accepted_tokens,
                    }),
                });
                if checked.kept.is_empty() {
                    out.guard = checked.dropped.into_iter().flat_map(|(_, v)| v).collect();
                    return Ok(None);
                }
                out.guard = checked.dropped.into_iter().flat_map(|(_, v)| v).collect();
                Ok(Some(checked.kept.join(" ")))
            }
            Err(e) => {
                out.model = Some(ModelRecord::failed(e.to_string()));
                Ok(None)
            }
        }
    }

    /// The sink a model answer streams into: its sentences, checked by the guard against
    /// `facts` and the buyer's words, shown to the operators and (where the channel can show
    /// it) to the buyer.
    pub(super) fn stream_relay(
        &self,
        conv: &Conversation,
        facts: &[String],
        buyer: &[String],
    ) -> (TokenSink, stream::Relay) {
        let channel = ChannelName::parse(&conv.channel).unwrap_or(ChannelName::Api);
        let base = stream::Partial {
            conversation_id: conv.id,
            channel,
            recipient: conv.recipient.clone(),
            draft_id: conv.id.max(1),
            text: String::new(),
            done: false,
        };
        let (facts, buyer) = (facts.to_vec(), buyer.to_vec());
        let check: stream::Check = Box::new(move |t: &str| guard::check(t, &facts, &buyer).is_empty());
        let previews = crate::channels::registry::of(channel).streaming;
        stream::Relay::start(base, check, &self.streams, self.streamer.clone(), previews)
    }
}

/// The search context with the words of the intent's topic ([`policy::retrieval_hint`]).
fn with_hint(context: Option<&str>, intent: Intent, text: &str) -> Option<String> {
    let parts: Vec<&str> = [context, policy::retrieval_hint(intent, text)].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}
