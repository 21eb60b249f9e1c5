//! Taking buyers' messages in and working through the inbox: `accept` stores a message
//! before the channel acknowledges it, the worker processes pending rows (several conversations
//! at once, each conversation's messages in order), and a message that keeps failing is parked
//! and handed to a person.

use super::policy::HandoffReason;
use super::provenance::Provenance;
use super::{Action, Engine, EngineError, Inbound, MAX_ATTEMPTS, MAX_MESSAGE_CHARS, PARALLEL, Turn, trace};
use crate::channels::Outbound;
use crate::store::messaging as msgs;
use crate::store::messaging::Author;
use crate::store::messaging::Delivery;
use crate::store::messaging::NewMessage;
use crate::store::messaging::OutboxKey;
use crate::texts::bot;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

impl Engine {
    /// Stores an inbound message durably (a redelivery is recognised by its message id) and
    /// wakes the worker. The channel may acknowledge once this returns.
    pub async fn accept(&self, m: &Inbound) -> Result<msgs::Accepted, EngineError> {
        if m.text.trim().is_empty() && m.attachments.is_empty() && m.verified_phone.is_none() {
            return Err(EngineError::BadPayload("the message has no text".into()));
        }
        let cut;
        let m = if m.text.chars().nth(MAX_MESSAGE_CHARS).is_some() {
            let mut short = m.clone();
            short.text = crate::kb::analyzer::prefix(&m.text, MAX_MESSAGE_CHARS).to_owned();
            cut = short;
            &cut
        } else {
            m
        };
        let payload = serde_json::to_string(m).map_err(|e| EngineError::Internal(e.to_string()))?;
        let (channel, id, now) = (m.channel, m.message_id.clone(), self.clock.now_ms());
        let accepted = self.db.call(move |c| msgs::inbox_accept(c, channel.as_str(), &id, &payload, now)).await?;
        self.wake.notify_one();
        Ok(accepted)
    }

    /// Accepts and processes one message at once (terminal chat, evaluation, tests).
    pub async fn handle(&self, m: &Inbound) -> Result<Turn, EngineError> {
        let accepted = self.accept(m).await?;
        let item = msgs::InboxItem {
            id: accepted.id,
            channel: m.channel.as_str().to_owned(),
            external_id: m.message_id.clone(),
            payload: serde_json::to_string(m).map_err(|e| EngineError::Internal(e.to_string()))?,
            attempts: 0,
        };
        self.process(&item).await
    }

    /// Processes every pending inbox item in arrival order; returns how many.
    pub async fn process_pending(&self) -> Result<usize, EngineError> {
        let mut done = 0;
        loop {
            let items = self.db.call(|c| msgs::inbox_pending(c, 64)).await?;
            if items.is_empty() {
                return Ok(done);
            }
            for item in items {
                self.process_logged(&item).await?;
                done += 1;
            }
        }
    }

    /// Processes one item. Its start is counted (and committed) first: an item whose earlier
    /// starts never finished (a crash, a hang, a panic) is parked after [`MAX_ATTEMPTS`] and
    /// handed to a person; an error is recorded on the item (retried, then parked).
    pub(super) async fn process_logged(&self, item: &msgs::InboxItem) -> Result<(), EngineError> {
        let id = item.id;
        let starts = self.db.call(move |c| msgs::inbox_start(c, id)).await?;
        if starts > MAX_ATTEMPTS {
            return self.park(item, starts - 1).await;
        }
        if let Err(e) = self.process(item).await {
            tracing::error!(inbox_id = item.id, error = %e, "processing an inbound message failed");
            let err = e.to_string();
            self.db.call(move |c| msgs::inbox_failed(c, id, &err, MAX_ATTEMPTS)).await?;
        }
        Ok(())
    }

    /// Gives up on an item that `tries` starts could not finish: the buyer's message is put in
    /// its conversation with a note for the operators, the conversation waits for a person, the
    /// buyer is told a person will answer, and the worker goes on with the rest.
    pub(super) async fn park(&self, item: &msgs::InboxItem, tries: i64) -> Result<(), EngineError> {
        let (id, now) = (item.id, self.clock.now_ms());
        tracing::error!(inbox_id = id, tries, "an inbound message could not be processed; a person takes it over");
        let reason = format!("processing did not finish after {tries} starts");
        let Ok(m) = serde_json::from_str::<Inbound>(&item.payload) else {
            self.db.call(move |c| msgs::inbox_park(c, id, &reason, now)).await?;
            return Ok(());
        };
        let when = self.settings().hours.promise(now);
        self.db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if msgs::inbox_is_done(&tx, id)? {
                    return Ok(());
                }
                let customer = msgs::upsert_customer(&tx, m.channel.as_str(), &m.customer, &m.name, now)?;
                let conv = msgs::open_conversation(&tx, customer, m.channel.as_str(), now)?;
                let attachments = serde_json::to_string(&m.attachments).unwrap_or_else(|_| "[]".into());
                let buyer = NewMessage {
                    conversation_id: conv,
                    author: Author::Buyer,
                    author_user_id: None,
                    body: &m.text,
                    attachments: &attachments,
                    provenance: None,
                    inbox_id: Some(id),
                };
                msgs::append_message(&tx, &buyer, now)?;
                msgs::add_system_note(&tx, conv, &bot::processing_failed(tries), now)?;
                let reply = bot::handoff(&when);
                let mut provenance = Provenance::of(Action::Handoff);
                provenance.handoff_reason = Some(HandoffReason::ProcessingFailed);
                let provenance = provenance.to_json();
                let answer = NewMessage {
                    conversation_id: conv,
                    author: Author::Bot,
                    author_user_id: None,
                    body: &reply,
                    attachments: "[]",
                    provenance: Some(&provenance),
                    inbox_id: None,
                };
                let delivery = Delivery {
                    channel: m.channel.as_str(),
                    recipient: &m.customer,
                    payload: &Outbound::text(reply.clone()).to_json(),
                    key: OutboxKey::Named(&format!("reply:{id}")),
                };
                msgs::post_message(&tx, &answer, Some(&delivery), None, now)?;
                let reason_code = HandoffReason::ProcessingFailed.as_str();
                msgs::set_handler(&tx, conv, "operator", Some(reason_code), None, now)?;
                msgs::add_event(&tx, "message", Some(conv), &json!({"author": "buyer"}), now)?;
                msgs::add_event(&tx, "handoff", Some(conv), &json!({"reason": reason_code}), now)?;
                msgs::inbox_park(&tx, id, &reason, now)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// Like [`Engine::process_pending`], with different buyers' messages processed at the same
    /// time (up to [`PARALLEL`]); each buyer's messages stay in arrival order. A message that
    /// arrives while others are being answered starts as soon as a slot is free, not when the
    /// messages taken before it are all done: one slow answer holds up only its own buyer.
    pub(super) async fn process_pending_parallel(self: &Arc<Self>) -> Result<usize, EngineError> {
        let mut done = 0;
        let mut running = tokio::task::JoinSet::new();
        // The buyer of each running task, so a buyer has one task at a time.
        let mut buyers: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut failed = None;
        loop {
            if failed.is_none() && running.len() < PARALLEL {
                let items = self.db.call(|c| msgs::inbox_pending(c, 256)).await?;
                let mut groups: Vec<(String, Vec<msgs::InboxItem>)> = Vec::new();
                for item in items {
                    let key = serde_json::from_str::<Inbound>(&item.payload)
                        .map(|m| format!("{}\u{1f}{}", m.channel, m.customer))
                        .unwrap_or_else(|_| format!("item:{}", item.id));
                    if buyers.values().any(|b| *b == key) {
                        continue;
                    }
                    match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, g)) => g.push(item),
                        None => groups.push((key, vec![item])),
                    }
                }
                for (key, group) in groups.into_iter().take(PARALLEL - running.len()) {
                    let me = self.clone();
                    let task = running.spawn(async move {
                        for item in &group {
                            me.process_logged(item).await?;
                        }
                        Ok::<usize, EngineError>(group.len())
                    });
                    buyers.insert(task.id(), key);
                }
            }
            if running.is_empty() {
                return failed.map_or(Ok(done), Err);
            }
            tokio::select! {
                Some(joined) = running.join_next_with_id() => {
                    let id = joined.as_ref().map_or_else(tokio::task::JoinError::id, |(id, _)| *id);
                    buyers.remove(&id);
                    match joined_ok(joined.map(|(_, r)| r)) {
                        Ok(n) => done += n,
                        // The others finish first; the caller retries.
                        Err(e) => failed = failed.or(Some(e)),
                    }
                }
                () = self.wake.notified(), if failed.is_none() => {}
            }
        }
    }

    /// The background worker: processes the inbox whenever something arrives.
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.process_pending_parallel().await {
                tracing::error!(error = %e, "the conversation worker failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Steps 1–7 for one inbox item, in the tracing span of one turn (`trace`).
    pub async fn process(&self, item: &msgs::InboxItem) -> Result<Turn, EngineError> {
        use tracing::Instrument as _;
        let (span, started) = (trace::turn_span(item), Instant::now());
        let turn = self.process_turn(item).instrument(span.clone()).await;
        trace::record_turn(&span, turn.as_ref().ok(), started);
        turn
    }
}

/// A worker task's end: its error, or nothing after a panic (logged; the item's start was
/// counted, so it is tried again and then parked).
fn joined_ok(joined: Result<Result<usize, EngineError>, tokio::task::JoinError>) -> Result<usize, EngineError> {
    match joined {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "processing a buyer message panicked");
            Ok(0)
        }
    }
}
