//! Understanding one buyer message: what it is about (intents, the main one first, with a
//! confidence), what it names (order and posting numbers, articles, phones, e-mails, dates,
//! sizes), and how the buyer feels (sentiment, urgency). Channel-agnostic and fast: no model
//! call, microseconds per message after a start-up training of tens of milliseconds.

pub mod classifier;
pub mod entities;
pub mod eval;
pub mod places;
pub mod sentence;

use std::sync::{Arc, LazyLock};

use serde::{Deserialize, Serialize};

pub use crate::domain::Intent;
use crate::kb::analyzer::Analyzer;
use crate::kb::embed::Embedder;
use classifier::{Model, features, parse_examples};
pub use entities::{Entity, EntityKind};

/// An intent's row in the classifier's output.
fn index(intent: Intent) -> usize {
    Intent::ALL.iter().position(|i| *i == intent).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
    Angry,
}

impl Sentiment {
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Neutral => "neutral",
            Sentiment::Negative => "negative",
            Sentiment::Angry => "angry",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoredIntent {
    pub intent: Intent,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Analysis {
    /// The main intent.
    pub intent: Intent,
    /// Its probability (0–1).
    pub confidence: f32,
    /// Every intent the message carries (main first).
    pub intents: Vec<ScoredIntent>,
    pub entities: Vec<Entity>,
    pub sentiment: Sentiment,
    /// Urgency or escalation (threats of a bad review, "срочно", long waits).
    pub urgent: bool,
}

impl Analysis {
    /// The same reading with `intent` as the main one (first among the intents; the others
    /// keep their order), for a rule that knows what the message is about better than the
    /// classifier does.
    #[must_use]
    pub fn about(mut self, intent: Intent) -> Self {
        if self.intent == intent {
            return self;
        }
        let score = self.intents.iter().find(|s| s.intent == intent).map_or(self.confidence, |s| s.score);
        self.intents.retain(|s| s.intent != intent);
        self.intents.insert(0, ScoredIntent { intent, score });
        self.intent = intent;
        self
    }
}

/// Labels after the intents: sentiment classes and urgency.
const SENT_NEG: usize = 13;
const SENT_ANGRY: usize = 14;
const SENT_POS: usize = 15;
const URGENT: usize = 16;
const LABELS: usize = 17;
/// A second intent is reported from this probability on.
const SECOND_INTENT: f32 = 0.5;

/// The part of a message that is understood, in characters: what a buyer asks is in its first
/// lines, and a longer text (a pasted letter, 100,000 characters) must not cost more.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Entities of one message that are kept (order numbers are looked up one by one).
pub const MAX_ENTITIES: usize = 16;

/// The labelled training examples (compiled in).
pub const TRAIN: &str = include_str!("../../tests/data/nlu_train.jsonl");
/// The held-out examples, never trained on (the default of `supportd eval nlu`).
pub const HELDOUT: &str = include_str!("../../tests/data/nlu_heldout.jsonl");

pub struct Nlu {
    analyzer: Analyzer,
    /// One-vs-rest: every intent a message carries, sentiment, urgency.
    model: Model,
    /// Softmax over the intents: which one is the main request.
    main: Model,
    /// With the embedding model installed: the same two models over the hashed features and
    /// the message's sentence embedding.
    sentence: Option<sentence::Sentence>,
}

static SHARED: LazyLock<Arc<Nlu>> =
    LazyLock::new(|| Arc::new(Nlu::train(TRAIN).expect("the built-in NLU data is valid")));

impl Nlu {
    /// The model trained on the built-in data (trained once per process).
    pub fn shared() -> Arc<Nlu> {
        SHARED.clone()
    }

    /// Trains on JSONL examples.
    pub fn train(jsonl: &str) -> Result<Self, String> {
        Self::train_on(&parse_examples(jsonl)?)
    }

    pub fn train_on(examples: &[classifier::Example]) -> Result<Self, String> {
        Self::train_embedded(examples, None)
    }

    /// Trains with the sentence part when `sentences` holds the embedder and each example's
    /// embedding ([`sentence::embed_all`] of their texts).
    pub fn train_embedded(
        examples: &[classifier::Example],
        sentences: Option<(Arc<Embedder>, &[Vec<f32>])>,
    ) -> Result<Self, String> {
        let analyzer = Analyzer::new();
        let mut data = Vec::with_capacity(examples.len());
        let mut mains = Vec::with_capacity(examples.len());
        for ex in examples {
            let mut y = vec![0.0f32; LABELS];
            for l in ex.labels() {
                let i = Intent::parse(&l).ok_or_else(|| format!("unknown intent {l:?} in {:?}", ex.text))?;
                y[index(i)] = 1.0;
            }
            match ex.sentiment.as_deref() {
                Some("negative") => y[SENT_NEG] = 1.0,
                Some("angry") => y[SENT_ANGRY] = 1.0,
                Some("positive") => y[SENT_POS] = 1.0,
                _ => {}
            }
            if ex.urgent == Some(true) {
                y[URGENT] = 1.0;
            }
            let ents = entities::extract(&ex.text);
            let x = features(&analyzer, &ex.text, &ents);
            let main = ex.labels().first().and_then(|l| Intent::parse(l)).map_or(0, index);
            mains.push((x.clone(), main));
            data.push((x, y));
        }
        if data.is_empty() {
            return Err("no training examples".into());
        }
        let model = Model::train(&data, LABELS, 40, 7);
        let main = Model::train_softmax(&mains, Intent::ALL.len(), 40, 11);
        let sentence = match sentences {
            Some((embedder, vecs)) => {
                Some(sentence::Sentence::train(embedder, vecs, &data, &mains, LABELS, Intent::ALL.len())?)
            }
            None => None,
        };
        Ok(Self { analyzer, model, main, sentence })
    }

    /// The main-intent probabilities of `text`, in [`Intent::ALL`]'s order: what the text is
    /// mainly about (the knowledge search compares a question's with each article title's).
    pub fn main_distribution(&self, text: &str) -> Vec<f32> {
        self.main.softmax(&self.read(text).1)
    }

    /// The entities of the analysed part of `text` and its features.
    fn read(&self, text: &str) -> (Vec<Entity>, classifier::Features) {
        let text = crate::kb::analyzer::prefix(text, MAX_TEXT_CHARS);
        let mut entities = entities::extract(text);
        entities.truncate(MAX_ENTITIES);
        let x = features(&self.analyzer, text, &entities);
        (entities, x)
    }

    pub fn analyze(&self, text: &str) -> Analysis {
        let (entities, x) = self.read(text);
        let embedded = self
            .sentence
            .as_ref()
            .and_then(|s| Some((s, s.features(crate::kb::analyzer::prefix(text, MAX_TEXT_CHARS), &x)?)));
        let (p, q) = match &embedded {
            Some((s, xd)) => (s.model.predict(xd), s.main.softmax(xd)),
            None => (self.model.predict(&x), self.main.softmax(&x)),
        };
        let best = (0..Intent::ALL.len()).max_by(|&a, &b| q[a].total_cmp(&q[b])).unwrap_or(0);
        let main = ScoredIntent { intent: Intent::ALL[best], score: q[best] };
        let mut others: Vec<ScoredIntent> = Intent::ALL
            .iter()
            .filter(|&&i| index(i) != best)
            .map(|&intent| ScoredIntent { intent, score: p[index(intent)] })
            .filter(|s| s.score >= SECOND_INTENT)
            .collect();
        others.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut intents = vec![main.clone()];
        intents.extend(others.into_iter().take(2));
        let sentiment = if p[SENT_ANGRY] >= 0.5 {
            Sentiment::Angry
        } else if p[SENT_NEG] >= 0.5 {
            Sentiment::Negative
        } else if p[SENT_POS] >= 0.5 {
            Sentiment::Positive
        } else {
            Sentiment::Neutral
        };
        Analysis { intent: main.intent, confidence: main.score, intents, entities, sentiment, urgent: p[URGENT] >= 0.5 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_about_another_intent_puts_it_first() {
        let a = Nlu::shared().analyze("я его не отменяла!! деньги сняли а заказ отменен");
        let others: Vec<Intent> = a.intents.iter().map(|s| s.intent).filter(|i| *i != Intent::OrderStatus).collect();
        let b = a.clone().about(Intent::OrderStatus);
        assert_eq!(b.intent, Intent::OrderStatus);
        assert_eq!(b.intents[0].intent, Intent::OrderStatus);
        assert_eq!(b.intents.iter().skip(1).map(|s| s.intent).collect::<Vec<_>>(), others);
        assert_eq!((b.entities, b.sentiment, b.urgent), (a.entities.clone(), a.sentiment, a.urgent));
        assert_eq!(a.clone().about(a.intent), a);
    }

    #[test]
    fn obvious_messages_are_understood() {
        let nlu = Nlu::shared();
        let a = nlu.analyze("здравствуйте где мой заказ 2345678901 уже неделю жду");
        assert_eq!(a.intent, Intent::OrderStatus, "{a:?}");
        assert_eq!(
            a.entities.iter().map(|e| (e.kind, e.normalized.as_str())).collect::<Vec<_>>(),
            [(EntityKind::WbOrder, "2345678901")]
        );
        assert_eq!(nlu.analyze("позовите живого человека, бот бесполезен").intent, Intent::HumanRequest);
        assert_eq!(nlu.analyze("хочу вернуть куртку, не подошла").intent, Intent::ReturnRequest);
        assert_eq!(nlu.analyze("есть промокод на скидку?").intent, Intent::Promo);
        let angry = nlu.analyze("ВЫ МОШЕННИКИ!!! ВЕРНИТЕ ДЕНЬГИ НЕМЕДЛЕННО, НАПИШУ В РОСПОТРЕБНАДЗОР");
        assert!(matches!(angry.sentiment, Sentiment::Angry | Sentiment::Negative) && angry.urgent, "{angry:?}");
        assert!(a.confidence > 0.0 && a.confidence <= 1.0);
    }

    #[test]
    fn an_article_title_reads_as_the_intent_it_answers() {
        let nlu = Nlu::shared();
        let main = |text: &str| {
            let p = nlu.main_distribution(text);
            assert_eq!(p.len(), Intent::ALL.len());
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{p:?}");
            Intent::ALL[(0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)]
        };
        assert_eq!(main("Когда вернутся деньги за возврат"), Intent::ReturnRequest);
        assert_eq!(main("Сроки доставки по России"), Intent::DeliveryTime);
        assert_eq!(main("Оплата частями"), Intent::Payment);
        assert_eq!(main("Как отменить заказ"), Intent::CancelOrder);
    }

    #[test]
    fn training_rejects_unknown_labels() {
        assert!(Nlu::train(r#"{"text": "x", "intent": "weather"}"#).is_err());
        assert!(Nlu::train("").is_err());
        assert!(Nlu::train("{not json").is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Any Unicode text: no panic, a probability as confidence, a bounded number of
        /// entities, each inside the analysed part of the text.
        #[test]
        fn any_text_is_understood_within_bounds(text in "\\PC{0,600}", digits in "[0-9 +()-]{0,200}") {
            let input = format!("{text} {digits} {text}");
            let a = Nlu::shared().analyze(&input);
            prop_assert!((0.0..=1.0).contains(&a.confidence));
            prop_assert!(!a.intents.is_empty() && a.intents.len() <= 3);
            prop_assert!(a.entities.len() <= MAX_ENTITIES);
            for e in &a.entities {
                prop_assert!(e.start < input.len() && input.is_char_boundary(e.start));
            }
        }
    }
}
