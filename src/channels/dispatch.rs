//! Delivers the outbox of one channel: oldest first, one message in flight per recipient (so a
//! buyer never sees replies out of order), the channel's overall and per-recipient rates, the
//! channel's `retry after` obeyed, exponential backoff otherwise, and messages that can never be
//! sent parked as `failed` with the reason.
//!
//! Each send's outcome is written the moment the channel answers, so a crash can repeat at most
//! the sends whose answer had arrived and not yet been written (a few milliseconds; README
//! measures the window). A stop lets sends in flight finish and be recorded, and hands the rows
//! it claimed but had not started back to the queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tracing::Instrument;

use super::{Channel, SendError};
use crate::clock::SharedClock;
use crate::store::{Db, messaging as msgs};

/// Tries before a message is parked as `failed`.
pub const MAX_ATTEMPTS: i64 = 12;

/// Rows claimed at once: what the channel can send in about a second (at least one, at most
/// 64). Fewer claimed rows means fewer to hand back at a stop; none of them is ever sent twice.
fn batch(per_second: f64) -> u32 {
    per_second.ceil().clamp(1.0, 64.0) as u32
}

pub struct Dispatcher {
    db: Db,
    clock: SharedClock,
    channel: Arc<dyn Channel>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
}

/// When each recipient last got a message, and the next free slot of the channel's rate.
#[derive(Default)]
struct Pace {
    last_sent: HashMap<String, Instant>,
    next_slot: Option<Instant>,
}

impl Dispatcher {
    /// `stop` turning true ends [`Dispatcher::run`] once the sends in flight are recorded.
    pub fn new(
        db: Db,
        clock: SharedClock,
        channel: Arc<dyn Channel>,
        wake: Arc<Notify>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self { db, clock, channel, wake, stop }
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sends what is due now; returns how many rows were handled (sent, retried, parked or
    /// handed back). The rows of one round go to different recipients, so they are sent
    /// concurrently, each starting at its slot of the channel's rate.
    async fn deliver_due(&self, pace: &Arc<Mutex<Pace>>) -> usize {
        let limits = self.channel.limits();
        let interval = Duration::from_secs_f64(1.0 / limits.per_second.max(0.001));
        let (name, now, size) = (self.channel.name().as_str(), self.clock.now_ms(), batch(limits.per_second));
        let items = match self.db.call(move |c| msgs::outbox_claim(c, name, size, now)).await {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(channel = name, error = %e, "cannot read the outbox");
                return 0;
            }
        };
        let handled = items.len();
        let mut sends = tokio::task::JoinSet::new();
        for item in items {
            let start = {
                let mut p = pace.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let ready = p.last_sent.get(&item.recipient).map_or_else(Instant::now, |t| *t + limits.per_recipient);
                let start = ready.max(p.next_slot.unwrap_or_else(Instant::now)).max(Instant::now());
                p.next_slot = Some(start + interval);
                start
            };
            let (channel, db, clock, pace, mut stop) =
                (self.channel.clone(), self.db.clone(), self.clock.clone(), pace.clone(), self.stop.clone());
            let span = tracing::info_span!(
                "delivery",
                channel = name,
                outbox_id = item.id,
                attempt = item.attempts,
                outcome = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            );
            sends.spawn(
                async move {
                let waited = tokio::select! {
                    () = tokio::time::sleep_until(start.into()) => true,
                    _ = stop.wait_for(|s| *s) => false,
                };
                if !waited {
                    // Stopping before this send began: the row goes back to the queue as it was.
                    let id = item.id;
                    if let Err(e) = db.call(move |c| msgs::outbox_release(c, id)).await {
                        tracing::error!(channel = name, error = %e, "cannot hand a message back to the queue");
                    }
                    return;
                }
                let sending = Instant::now();
                let outcome = match super::Outbound::parse(&item.payload) {
                    Ok(mut message) => {
                        message.outbox_id = Some(item.id);
                        channel.send(&item.recipient, &message).await
                    }
                    Err(e) => Err(SendError::Permanent(format!("unreadable payload: {e}"))),
                };
                pace.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last_sent.insert(item.recipient.clone(), Instant::now());
                let span = tracing::Span::current();
                span.record("latency_ms", u64::try_from(sending.elapsed().as_millis()).unwrap_or(u64::MAX));
                span.record("outcome", match &outcome {
                    Ok(_) => "sent",
                    Err(SendError::Retry { .. }) => "retry",
                    Err(SendError::Permanent(_)) => "failed",
                    Err(SendError::Park(_)) => "parked",
                });
                match &outcome {
                    Err(SendError::Retry { reason, .. }) => {
                        tracing::warn!(channel = name, outbox_id = item.id, attempt = item.attempts, %reason, "send failed; will retry");
                    }
                    Err(SendError::Permanent(reason)) => {
                        tracing::warn!(channel = name, outbox_id = item.id, %reason, "message cannot be delivered");
                    }
                    Err(SendError::Park(reason)) => {
                        tracing::info!(channel = name, outbox_id = item.id, %reason, "message parked");
                    }
                    Ok(_) => {}
                }
                // Written at once: the window in which a crash repeats this send is this write.
                let (id, now) = (item.id, clock.now_ms());
                let recorded = db
                    .call(move |c| match &outcome {
                        Ok(d) => msgs::outbox_sent(c, id, d.external_id.as_deref(), now),
                        Err(SendError::Retry { after, reason }) => {
                            let after = after.map(|d| d.as_millis() as i64);
                            msgs::outbox_failed(c, id, reason, after, MAX_ATTEMPTS, now)
                        }
                        Err(SendError::Permanent(reason)) => msgs::outbox_failed(c, id, reason, None, 0, now),
                        Err(SendError::Park(reason)) => msgs::outbox_park(c, id, reason, now),
                    })
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(channel = name, outbox_id = id, error = %e, "cannot record a delivery");
                }
            }
                .instrument(span),
            );
        }
        while let Some(joined) = sends.join_next().await {
            if let Err(e) = joined {
                tracing::error!(channel = name, error = %e, "a send task failed");
            }
        }
        handled
    }

    /// Delivers until the stop signal; then returns once every send in flight is recorded.
    pub async fn run(mut self) {
        let pace = Arc::new(Mutex::new(Pace::default()));
        while !self.stopping() {
            if self.deliver_due(&pace).await == 0 {
                let wake = self.wake.clone();
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = self.stop.changed() => {}
                }
            }
            let mut p = pace.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if p.last_sent.len() > 10_000 {
                p.last_sent.retain(|_, t| t.elapsed() < Duration::from_secs(5));
            }
        }
        tracing::debug!(channel = self.channel.name().as_str(), "delivery stopped");
    }
}
