//! What operators do in a conversation: take it over, reply, release it, and ask for a
//! suggested reply.

use super::dialog::Awaiting;
use super::dialog::State;
use super::turn::rating_buttons;
use super::{Attachment, Draft, Engine, EngineError, answer, policy};
use crate::channels::OutFile;
use crate::channels::Outbound;
use crate::store::messaging as msgs;
use crate::store::messaging::Author;
use crate::store::messaging::Delivery;
use crate::store::messaging::NewMessage;
use crate::store::messaging::OutboxKey;
use crate::texts::bot;
use serde_json::json;

impl Engine {
    /// A reply the operator may edit and send: for the buyer's last message, the order facts it
    /// asks about or an answer from the knowledge base (never sent by itself). `None` when there
    /// is nothing to suggest from.
    pub async fn suggest(&self, conv: i64) -> Result<Option<String>, EngineError> {
        let settings = self.settings();
        let conversation = self.db.call(move |c| msgs::conversation(c, conv)).await?;
        let recent = self.db.call(move |c| msgs::recent_messages(c, conv, 50)).await?;
        let Some(last) = recent.iter().rev().find(|m| m.author == "buyer" && !m.internal).map(|m| m.body.clone())
        else {
            return Ok(None);
        };
        let text = last.clone();
        let analysis = self.analyze(text).await?;
        let now = self.clock.now_ms();
        let mut parts = Vec::new();
        for e in analysis
            .entities
            .iter()
            .filter(|e| matches!(e.kind, crate::nlu::EntityKind::WbOrder | crate::nlu::EntityKind::OzonPosting))
        {
            if let Ok(Some(f)) = self.orders.find(&e.normalized).await {
                parts.push(answer::order(&f.order, f.stale_since, now, settings.utc_offset_minutes));
            }
        }
        let state = State::parse(&conversation.state);
        if parts.is_empty()
            && let Some(found) = self
                .find_answer(
                    &last,
                    policy::retrieval_hint(analysis.intent, &last).map(str::to_owned),
                    analysis.intent,
                    &state,
                )
                .await?
        {
            let mut draft = Draft { settings: settings.clone(), ..Draft::default() };
            let written =
                if settings.use_model { self.write_with_model(&found, &conversation, &mut draft).await? } else { None };
            parts.extend(found.parts(written.unwrap_or_else(|| found.composition.text.clone())));
        }
        Ok((!parts.is_empty()).then(|| parts.join("\n\n")))
    }

    /// An operator takes the conversation: the bot stays silent until it is returned.
    pub async fn take_over(&self, conv: i64, user_id: i64) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                msgs::set_handler(&tx, conv, "operator", Some("takeover"), Some(user_id), now)?;
                msgs::add_event(&tx, "takeover", Some(conv), &json!({"user_id": user_id}), now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Returns the conversation to the bot; with `resolved`, the buyer is asked for a rating.
    pub async fn release(&self, conv: i64, user_id: i64, resolved: bool) -> Result<(), EngineError> {
        let now = self.clock.now_ms();
        let ask = resolved && self.settings().ask_rating;
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let conversation = msgs::conversation(&tx, conv)?;
                msgs::set_handler(&tx, conv, "bot", None, None, now)?;
                let mut state = State::parse(&conversation.state);
                state.misses = 0;
                state.awaiting = None;
                let (text, buttons) = if ask {
                    state.awaiting = Some(Awaiting::Rating);
                    (bot::ASK_RATING, rating_buttons())
                } else {
                    (bot::BACK_TO_BOT, Vec::new())
                };
                msgs::set_state(&tx, conv, &state.to_json(), now)?;
                let m = NewMessage {
                    conversation_id: conv,
                    author: Author::System,
                    author_user_id: Some(user_id),
                    body: text,
                    attachments: "[]",
                    provenance: None,
                    inbox_id: None,
                };
                let payload = Outbound::text(text).with_buttons(buttons).to_json();
                let delivery = Delivery {
                    channel: &conversation.channel,
                    recipient: &conversation.recipient,
                    payload: &payload,
                    key: OutboxKey::Message,
                };
                let event = json!({"user_id": user_id, "resolved": resolved});
                msgs::post_message(&tx, &m, Some(&delivery), Some(("release", &event)), now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// An operator's reply: stored and queued to the buyer's channel. Replying takes the
    /// conversation over (the bot does not talk over a person).
    pub async fn operator_reply(
        &self,
        conv: i64,
        user_id: i64,
        text: &str,
        file: Option<Attachment>,
    ) -> Result<i64, EngineError> {
        let body = text.trim().to_owned();
        if body.is_empty() && file.is_none() {
            return Err(EngineError::BadPayload("the reply is empty".into()));
        }
        // A reply published on a marketplace follows its rules: refused with the reason.
        let conversation = self.db.call(move |c| msgs::conversation(c, conv)).await?;
        let findings = crate::marketplace::rules::operator_reply(&conversation.channel, &conversation.recipient, &body);
        if !findings.is_empty() {
            return Err(EngineError::BadPayload(crate::texts::marketplace::refused(&findings)));
        }
        let attachments = serde_json::to_string(&file.iter().collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into());
        let now = self.clock.now_ms();
        let id = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let conversation = msgs::conversation(&tx, conv)?;
                if conversation.handled_by != "operator" {
                    msgs::set_handler(&tx, conv, "operator", Some("takeover"), Some(user_id), now)?;
                }
                let m = NewMessage {
                    conversation_id: conv,
                    author: Author::Operator,
                    author_user_id: Some(user_id),
                    body: &body,
                    attachments: &attachments,
                    provenance: None,
                    inbox_id: None,
                };
                let payload = match &file {
                    Some(f) => Outbound::text(body.clone()).with_file(OutFile {
                        path: f.path.clone(),
                        name: f.name.clone(),
                        mime: f.mime.clone(),
                    }),
                    None => Outbound::text(body.clone()),
                }
                .to_json();
                let delivery = Delivery {
                    channel: &conversation.channel,
                    recipient: &conversation.recipient,
                    payload: &payload,
                    key: OutboxKey::Message,
                };
                let event = json!({"author": "operator", "user_id": user_id});
                let id = msgs::post_message(&tx, &m, Some(&delivery), Some(("message", &event)), now)?;
                tx.commit()?;
                Ok(id)
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(id)
    }
}
