//! Why the bot said what it said: one typed record per bot message, stored as JSON in
//! `messages.provenance`.
//!
//! Its keys are a contract with the readers of the stored JSON: the analytics triggers
//! (migration 0012) read `action`, `plan` (`NotUnderstood`, `Knowledge(…)`), `intent`,
//! `latency_ms` and `sources[].doc`; the store's panel queries `draft`, `action`, `sentiment`
//! and `urgent`; the panel's `meta()` intent, confidence, action, sentiment, urgent,
//! `orders[].number`, `sources[].doc/title`, `model.provider` and draft. Absent values are left
//! out (never `null`). `tests::the_stored_shape_is_the_readers_contract` pins the shape.

use serde::{Serialize, Serializer};

use super::Action;
use super::guard::Violation;
use super::policy::{HandoffReason, Plan};
use crate::marketplace::rules::RulesRecord;
use crate::marketplace::{Market, OrderSource, OrderStatus};
use crate::nlu::{Analysis, Intent};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanRecord>,
    /// Why the bot stayed silent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<SilentReason>,
    /// What the message was understood to say.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub understood: Option<Understood>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_reason: Option<HandoffReason>,
    /// Knowledge-base documents the reply was composed from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Orders the reply speaks of.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<OrderRef>,
    /// Orders a verified phone linked to the buyer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_orders: Option<usize>,
    /// Files the buyer sent without words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<usize>,
    /// What the model did, when it was asked to write the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRecord>,
    /// The guard's findings in what the model wrote (those sentences were dropped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub guard: Vec<Violation>,
    /// Stored for a person to approve, not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<bool>,
    /// The marketplace's rules for a public answer, as applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketplace_rules: Option<RulesRecord>,
    /// From the message's arrival to the reply (the analytics' answer time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl Provenance {
    /// A record with the action only; the rest is added by the caller.
    pub fn of(action: Action) -> Self {
        Self {
            action,
            plan: None,
            reason: None,
            understood: None,
            handoff_reason: None,
            sources: Vec::new(),
            orders: Vec::new(),
            linked_orders: None,
            attachments: None,
            model: None,
            guard: Vec::new(),
            draft: None,
            marketplace_rules: None,
            latency_ms: None,
        }
    }

    /// The main intent, when the message was understood.
    pub fn intent(&self) -> Option<Intent> {
        self.understood.as_ref().map(|u| u.analysis.intent)
    }

    /// The JSON stored with the message.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The plan the turn followed, written as the policy's `Debug` names it (the analytics match
/// `NotUnderstood` and `Knowledge(…)`), or one of the engine's own steps before any plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanRecord {
    Policy(Plan),
    /// The buyer proved their phone: their orders were listed.
    VerifiedPhone,
    /// A file without words: the bot asked what it is about.
    Attachment,
}

impl Serialize for PlanRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PlanRecord::Policy(p) => s.collect_str(&format_args!("{p:?}")),
            PlanRecord::VerifiedPhone => s.serialize_str("VerifiedPhone"),
            PlanRecord::Attachment => s.serialize_str("Attachment"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SilentReason {
    /// A person handles the conversation.
    Operator,
    /// The licence does not cover answering now.
    Licence,
}

/// The message as the classifier understood it (its fields as `nlu::Analysis` names them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Understood {
    #[serde(flatten)]
    pub analysis: Analysis,
    /// The message tried to instruct the assistant.
    pub injection: bool,
}

impl Understood {
    pub fn new(a: &Analysis, injection: bool) -> Self {
        Self { analysis: a.clone(), injection }
    }
}

/// A knowledge-base document a reply was composed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// `a:<article id>` or a file's document id.
    pub doc: String,
    pub title: String,
    /// Retrieval's score of the document.
    pub score: f32,
    pub intent: Intent,
    /// The chosen units' positions in the document.
    pub units: Vec<usize>,
    pub coverage: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

/// An order a reply speaks of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<Market>,
    pub number: String,
    pub status: OrderStatus,
    /// Where its facts came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<OrderSource>,
    /// The marketplace could not be asked: the facts are as of then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<i64>,
}

/// What became of the model's part in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelOutcome {
    /// Every sentence passed the guard.
    Written,
    /// Some sentences were dropped or cut, the rest was sent.
    Changed,
    /// No sentence passed: the knowledge base's own text was sent.
    Rejected,
    /// No answer came (no provider, an error, a timeout, a prompt that does not fit).
    Failed,
}

/// The model's part in a reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRecord {
    pub outcome: ModelOutcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The call that answered.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub call: Option<ModelCall>,
}

impl ModelRecord {
    pub fn failed(error: impl Into<String>) -> Self {
        Self { outcome: ModelOutcome::Failed, error: Some(error.into()), call: None }
    }
}

/// The call that wrote a reply and what the guard made of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCall {
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u32,
    /// Prompt tokens an earlier request had processed (the local model's KV snapshots).
    pub cached_prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u64,
    pub from_cache: bool,
    /// Older history messages left out of the prompt.
    pub history_dropped: usize,
    pub dropped_sentences: usize,
    /// Sentences beyond the answer's length, cut.
    pub cut_sentences: usize,
    /// The guard's findings in the dropped sentences.
    pub reasons: Vec<Violation>,
    /// When the buyer could see the first checked sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_text_ms: Option<u64>,
    pub drafted_tokens: u32,
    pub accepted_tokens: u32,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::marketplace::rules::Finding;

    #[test]
    fn the_stored_shape_is_the_readers_contract() {
        let a = crate::nlu::Nlu::shared().analyze("Как вернуть куртку?");
        let mut p = Provenance::of(Action::Answer);
        p.plan = Some(PlanRecord::Policy(Plan::Knowledge(Intent::ReturnRequest)));
        p.understood = Some(Understood::new(&a, false));
        p.sources.push(Source {
            doc: "a:7".into(),
            title: "Возврат".into(),
            score: 0.5,
            intent: Intent::ReturnRequest,
            units: vec![1],
            coverage: 0.75,
            similarity: None,
        });
        p.orders.push(OrderRef {
            market: Some(Market::Wb),
            number: "4102938475".into(),
            status: OrderStatus::InTransit,
            source: Some(OrderSource::Live),
            stale_since: None,
        });
        p.model = Some(ModelRecord {
            outcome: ModelOutcome::Changed,
            error: None,
            call: Some(ModelCall {
                provider: "local".into(),
                model: "m".into(),
                prompt_tokens: 300,
                cached_prompt_tokens: 200,
                completion_tokens: 20,
                latency_ms: 900,
                from_cache: false,
                history_dropped: 0,
                dropped_sentences: 1,
                cut_sentences: 0,
                reasons: vec![Violation::InventedNumber("5".into())],
                first_text_ms: Some(400),
                drafted_tokens: 6,
                accepted_tokens: 3,
            }),
        });
        p.draft = Some(false);
        p.marketplace_rules = Some(RulesRecord::Held { findings: vec![Finding::TooShort { chars: 1, min: 2 }] });
        p.latency_ms = Some(1000);
        let v = p.to_json();
        // What the analytics triggers, the store's queries and the panel read.
        assert_eq!(v["action"], "answer");
        assert_eq!(v["plan"], "Knowledge(ReturnRequest)");
        assert_eq!(v["intent"], "return_request");
        assert!(v["confidence"].is_number() && v["sentiment"].is_string() && v["urgent"] == false);
        assert_eq!(v["sources"][0]["doc"], "a:7");
        assert_eq!(v["sources"][0]["title"], "Возврат");
        assert_eq!(
            v["orders"][0],
            json!({"market": "wb", "number": "4102938475", "status": "in_transit", "source": "live"})
        );
        assert_eq!(v["model"]["provider"], "local");
        assert_eq!(v["model"]["outcome"], "changed");
        assert_eq!(v["model"]["reasons"][0]["kind"], "invented_number");
        assert_eq!(v["draft"], false);
        assert_eq!(v["marketplace_rules"]["verdict"], "held");
        assert_eq!(v["latency_ms"], 1000);
        // Nothing absent is written as null.
        assert!(v.get("handoff_reason").is_none() && v.get("reason").is_none() && v.get("guard").is_none());

        let failed = json!(ModelRecord::failed("busy"));
        assert_eq!(failed, json!({"outcome": "failed", "error": "busy"}));
        let mut silent = Provenance::of(Action::Silent);
        silent.reason = Some(SilentReason::Operator);
        assert_eq!(silent.to_json(), json!({"action": "silent", "reason": "operator"}));
        let mut phone = Provenance::of(Action::Answer);
        phone.plan = Some(PlanRecord::VerifiedPhone);
        phone.linked_orders = Some(2);
        assert_eq!(phone.to_json(), json!({"action": "answer", "plan": "VerifiedPhone", "linked_orders": 2}));
    }
}
