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
    /// The rows of one round go to different recipients, so they are sent concurrently, each
    /// starting at its slot of the channel's rate.
    pub async fn deliver_due(&self, last_sent: &mut HashMap<String, Instant>, next_slot: &mut Instant) -> usize {
        let limits = self.channel.limits();
        let interval = Duration::from_secs_f64(1.0 / limits.per_second.max(0.001));
        let (name, now) = (self.channel.name(), self.clock.now_ms());
        let items = match self.db.call(move |c| msgs::outbox_claim(c, name, 64, now)).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(channel = name, error = %e, "cannot read the outbox");
                return 0;
            }
        };
        let handled = items.len();
        let mut sends = tokio::task::JoinSet::new();
        for item in items {
            let ready = last_sent.get(&item.recipient).map_or_else(Instant::now, |t| *t + limits.per_recipient);
            let start = ready.max(*next_slot).max(Instant::now());
            *next_slot = start + interval;
            let channel = self.channel.clone();
            sends.spawn(async move {
                tokio::time::sleep_until(start.into()).await;
                let outcome = match serde_json::from_str::<serde_json::Value>(&item.payload) {
                    Ok(payload) => channel.send(&item.recipient, &payload).await,
                    Err(e) => Err(SendError::Permanent(format!("unreadable payload: {e}"))),
                };
                (item, outcome)
            });
        }
        let mut results = Vec::with_capacity(handled);
        while let Some(joined) = sends.join_next().await {
            match joined {
                Ok((item, outcome)) => {
                    last_sent.insert(item.recipient.clone(), Instant::now());
                    match &outcome {
                        Err(SendError::Retry { reason, .. }) => {
                            tracing::warn!(channel = name, outbox_id = item.id, attempt = item.attempts, %reason, "send failed; will retry");
                        }
                        Err(SendError::Permanent(reason)) => {
                            tracing::warn!(channel = name, outbox_id = item.id, %reason, "message cannot be delivered");
                        }
                        Ok(_) => {}
                    }
                    results.push((item.id, outcome));
                }
                Err(e) => tracing::error!(channel = name, error = %e, "a send task failed"),
            }
        }
        let now = self.clock.now_ms();
        let recorded = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let c = &tx;
                for (id, outcome) in &results {
                    match outcome {
                        Ok(d) => msgs::outbox_sent(c, *id, d.external_id.as_deref(), now)?,
                        Err(SendError::Retry { after, reason }) => {
                            let after = after.map(|d| d.as_millis() as i64);
                            msgs::outbox_failed(c, *id, reason, after, MAX_ATTEMPTS, now)?;
                        }
                        Err(SendError::Permanent(reason)) => msgs::outbox_failed(c, *id, reason, None, 0, now)?,
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(channel = name, error = %e, "cannot record deliveries");
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
