//! Delivers the outbox of one channel: oldest first, one message in flight per recipient (so a
//! buyer never sees replies out of order), the channel's overall and per-recipient rates, the
//! channel's `retry after` obeyed, exponential backoff otherwise, and messages that can never be
//! sent parked as `failed` with the reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{Channel, SendError};
use crate::clock::SharedClock;
use crate::store::{Db, messaging as msgs};

/// Tries before a message is parked as `failed`.
pub const MAX_ATTEMPTS: i64 = 12;

pub struct Dispatcher {
    db: Db,
    clock: SharedClock,
    channel: Arc<dyn Channel>,
    wake: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(db: Db, clock: SharedClock, channel: Arc<dyn Channel>, wake: Arc<Notify>) -> Self {
        Self { db, clock, channel, wake }
    }

    /// Sends what is due now; returns how many rows were handled (sent, retried or parked).
    pub async fn deliver_due(&self, last_sent: &mut HashMap<String, Instant>, next_slot: &mut Instant) -> usize {
        let limits = self.channel.limits();
        let interval = Duration::from_secs_f64(1.0 / limits.per_second.max(0.001));
        let (name, now) = (self.channel.name(), self.clock.now_ms());
        let items = match self.db.call(move |c| msgs::outbox_claim(c, name, 30, now)).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(channel = name, error = %e, "cannot read the outbox");
                return 0;
            }
        };
        let handled = items.len();
        for item in items {
            if let Some(t) = last_sent.get(&item.recipient) {
                tokio::time::sleep(limits.per_recipient.saturating_sub(t.elapsed())).await;
            }
            let wait = next_slot.saturating_duration_since(Instant::now());
            tokio::time::sleep(wait).await;
            *next_slot = Instant::now().max(*next_slot) + interval;
            let outcome = match serde_json::from_str::<serde_json::Value>(&item.payload) {
                Ok(payload) => self.channel.send(&item.recipient, &payload).await,
                Err(e) => Err(SendError::Permanent(format!("unreadable payload: {e}"))),
            };
            last_sent.insert(item.recipient.clone(), Instant::now());
            let (id, now) = (item.id, self.clock.now_ms());
            let result = match outcome {
                Ok(d) => self.db.call(move |c| msgs::outbox_sent(c, id, d.external_id.as_deref(), now)).await,
                Err(SendError::Retry { after, reason }) => {
                    tracing::warn!(channel = name, outbox_id = id, attempt = item.attempts, %reason, "send failed; will retry");
                    let after = after.map(|d| d.as_millis() as i64);
                    self.db.call(move |c| msgs::outbox_failed(c, id, &reason, after, MAX_ATTEMPTS, now)).await
                }
                Err(SendError::Permanent(reason)) => {
                    tracing::warn!(channel = name, outbox_id = id, %reason, "message cannot be delivered");
                    self.db.call(move |c| msgs::outbox_failed(c, id, &reason, None, 0, now)).await
                }
            };
            if let Err(e) = result {
                tracing::error!(channel = name, outbox_id = id, error = %e, "cannot record a delivery");
            }
        }
        handled
    }

    /// Runs until the task is aborted.
    pub async fn run(self) {
        let mut last_sent = HashMap::new();
        let mut next_slot = Instant::now();
        loop {
            if self.deliver_due(&mut last_sent, &mut next_slot).await == 0 {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
            if last_sent.len() > 10_000 {
                last_sent.retain(|_, t| t.elapsed() < Duration::from_secs(5));
            }
        }
    }
}
