//! The tracing span of one conversation turn, so one buyer's path through the logs can be
//! followed: `turn{inbox_id channel conversation_id intent action provider handoff latency_ms}`.
//! Fields are recorded as they become known; never the message text or the reply.

use std::time::Instant;

use tracing::Span;
use tracing::field::Empty;

use super::Turn;
use crate::store::messaging::InboxItem;

/// The span of processing `item`; every log line of the turn (order lookups, model calls,
/// searches) is inside it.
pub(super) fn turn_span(item: &InboxItem) -> Span {
    tracing::info_span!(
        "turn",
        inbox_id = item.id,
        channel = %item.channel,
        conversation_id = Empty,
        intent = Empty,
        action = Empty,
        provider = Empty,
        handoff = Empty,
        latency_ms = Empty,
    )
}

/// Records the conversation as soon as the message is stored in it.
pub(super) fn record_conversation(conversation_id: i64) {
    Span::current().record("conversation_id", conversation_id);
}

/// Records what the turn decided (from its provenance) and how long it took, then logs it once.
pub(super) fn record_turn(span: &Span, turn: Option<&Turn>, started: Instant) {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("latency_ms", latency_ms);
    let Some(turn) = turn else { return };
    let p = &turn.provenance;
    span.record("conversation_id", turn.conversation_id);
    span.record("action", turn.action.as_str());
    if let Some(intent) = p.intent() {
        span.record("intent", intent.as_str());
    }
    if let Some(call) = p.model.as_ref().and_then(|m| m.call.as_ref()) {
        span.record("provider", call.provider.as_str());
    }
    if let Some(reason) = p.handoff_reason {
        span.record("handoff", reason.as_str());
    }
    span.in_scope(|| tracing::info!("turn done"));
}

#[cfg(test)]
mod tests {

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::engine::Action;
    use crate::engine::provenance::{ModelCall, ModelOutcome, ModelRecord, Provenance, Understood};
    use crate::nlu::{Analysis, Intent, Sentiment};

    use crate::telemetry::testing::Captured;

    #[test]
    fn a_turn_logs_its_fields_and_never_the_text() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(move || writer.clone()));
        let item = InboxItem {
            id: 7,
            channel: "telegram".into(),
            external_id: "update:1".into(),
            payload: r#"{"text": "секретный текст покупателя"}"#.into(),
            attempts: 0,
        };
        let turn = Turn {
            conversation_id: 42,
            action: Action::Answer,
            reply: Some("ответ бота".into()),
            provenance: Provenance {
                understood: Some(Understood {
                    analysis: Analysis {
                        intent: Intent::OrderStatus,
                        confidence: 0.9,
                        intents: Vec::new(),
                        entities: Vec::new(),
                        sentiment: Sentiment::Neutral,
                        urgent: false,
                    },
                    injection: false,
                }),
                model: Some(ModelRecord {
                    outcome: ModelOutcome::Written,
                    error: None,
                    call: Some(ModelCall {
                        provider: "local".into(),
                        model: "m".into(),
                        prompt_tokens: 1,
                        cached_prompt_tokens: 0,
                        completion_tokens: 1,
                        latency_ms: 1,
                        from_cache: false,
                        history_dropped: 0,
                        dropped_sentences: 0,
                        cut_sentences: 0,
                        reasons: Vec::new(),
                        first_text_ms: None,
                        drafted_tokens: 0,
                        accepted_tokens: 0,
                    }),
                }),
                ..Provenance::of(Action::Answer)
            },
            facts: Vec::new(),
        };
        tracing::subscriber::with_default(subscriber, || {
            let span = turn_span(&item);
            span.in_scope(|| record_conversation(42));
            record_turn(&span, Some(&turn), Instant::now());
        });
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        let line: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
        let span = &line["span"];
        assert_eq!(span["name"], "turn", "{text}");
        assert_eq!(span["inbox_id"], 7);
        assert_eq!(span["channel"], "telegram");
        assert_eq!(span["conversation_id"], 42);
        assert_eq!(span["intent"], "order_status");
        assert_eq!(span["action"], "answer");
        assert_eq!(span["provider"], "local");
        assert!(span["latency_ms"].is_u64(), "{text}");
        assert!(!text.contains("секретный") && !text.contains("ответ бота"), "{text}");
    }
}
