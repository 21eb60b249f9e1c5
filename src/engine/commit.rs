//! Step 7: everything a turn changes, in one transaction.

use super::dialog::State;
use super::{Draft, Engine, EngineError, Turn};
use crate::channels::Outbound;
use crate::marketplace::Order;
use crate::store::messaging as msgs;
use crate::store::messaging::Author;
use crate::store::messaging::Conversation;
use crate::store::messaging::Delivery;
use crate::store::messaging::NewMessage;
use crate::store::messaging::OutboxKey;
use crate::store::orders as order_rows;
use crate::texts::bot;
use serde_json::json;

impl Engine {
    /// Step 7: everything the turn changes, in one transaction (skipped if a previous run of
    /// this inbox item got here).
    pub(super) async fn commit(
        &self,
        item: &msgs::InboxItem,
        conv: &Conversation,
        turn: &Turn,
        state: Option<&State>,
        draft: &Draft,
        now: i64,
    ) -> Result<(), EngineError> {
        let (inbox_id, conv_id, customer) = (item.id, conv.id, conv.customer_id);
        let (channel, recipient) = (conv.channel.clone(), conv.recipient.clone());
        let reply = turn.reply.clone();
        let provenance = turn.provenance.to_json();
        let action = turn.action;
        let state = state.map(State::to_json);
        let handoff = draft.handoff;
        let rating = draft.rating;
        let link: Vec<Order> = draft.link.clone();
        let buttons = draft.buttons.clone();
        let opt_out = draft.opt_out;
        let hold = draft.hold;
        let note = draft.note.clone();
        let request_phone = draft.request_phone;
        let rated_docs = if rating.is_some() { State::parse(&conv.state).last_sources } else { Vec::new() };
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if msgs::inbox_is_done(&tx, inbox_id)? {
                    return Ok(());
                }
                msgs::add_event(&tx, "message", Some(conv_id), &json!({"author": "buyer"}), now)?;
                if let Some(body) = &reply {
                    let m = NewMessage {
                        conversation_id: conv_id,
                        author: Author::Bot,
                        author_user_id: None,
                        body,
                        attachments: "[]",
                        provenance: Some(&provenance),
                        inbox_id: None,
                    };
                    let mut payload = Outbound::text(body.clone()).with_buttons(buttons.clone());
                    if request_phone {
                        payload.request_phone = Some(bot::SHARE_PHONE_BUTTON.to_owned());
                    }
                    let payload = payload.to_json();
                    let key = format!("reply:{inbox_id}");
                    // A held draft is not delivered: a person approves (edits and sends) it.
                    let delivery = (!hold).then(|| Delivery {
                        channel: &channel,
                        recipient: &recipient,
                        payload: &payload,
                        key: OutboxKey::Named(&key),
                    });
                    let event = json!({"author": "bot", "action": action, "draft": hold});
                    msgs::post_message(&tx, &m, delivery.as_ref(), Some(("message", &event)), now)?;
                    if let Some(n) = &note {
                        msgs::add_system_note(&tx, conv_id, n, now)?;
                    }
                    if hold {
                        msgs::set_handler(&tx, conv_id, "operator", Some("approval"), None, now)?;
                    }
                }
                if let Some(s) = &state {
                    msgs::set_state(&tx, conv_id, s, now)?;
                }
                for o in &link {
                    order_rows::link(&tx, customer, o.market, &o.number, now)?;
                }
                if opt_out {
                    order_rows::set_opt_out(&tx, customer, true)?;
                }
                if let Some(reason) = handoff {
                    msgs::set_handler(&tx, conv_id, "operator", Some(reason.as_str()), None, now)?;
                    msgs::add_event(&tx, "handoff", Some(conv_id), &json!({"reason": reason}), now)?;
                }
                if let Some(score) = rating {
                    msgs::set_rating(&tx, conv_id, i64::from(score), now)?;
                    crate::store::kb::record_used(&tx, &rated_docs, Some(score >= 4))?;
                    msgs::add_event(&tx, "rated", Some(conv_id), &json!({"score": score}), now)?;
                }
                msgs::inbox_done(&tx, inbox_id, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        if turn.reply.is_some() {
            self.outbox_wake.notify_waiters();
        }
        if !draft.source_docs.is_empty() {
            let (kb, docs) = (self.kb.clone(), draft.source_docs.clone());
            if let Err(e) = tokio::task::spawn_blocking(move || kb.record_used(&docs, None)).await {
                tracing::warn!(error = %e, "cannot count knowledge-base usage");
            }
        }
        Ok(())
    }
}
