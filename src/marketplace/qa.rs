//! Marketplace questions and chats as a channel: WB product questions and Ozon buyer chats are
//! polled into the inbox (keyed by their ids), answered by the same engine, and the answers are
//! published back through the marketplace's API from the outbox. Per source the seller chooses
//! "auto" (publish the bot's answer) or "draft" (a person approves it in the inbox first).

use std::sync::Arc;
use std::time::Duration;

use super::{MarketError, MarketplaceApi};
use crate::BoxFuture;
use crate::channels::{Channel, ChannelName, Delivered, Inbound, Inbox, Limits, Outbound, SendError};

pub struct MarketplaceChannel {
    api: Arc<dyn MarketplaceApi>,
}

impl MarketplaceChannel {
    pub fn new(api: Arc<dyn MarketplaceApi>) -> Self {
        Self { api }
    }
}

impl Channel for MarketplaceChannel {
    fn name(&self) -> ChannelName {
        self.api.qa_channel()
    }

    fn limits(&self) -> Limits {
        Limits { per_second: 2.0, per_recipient: Duration::ZERO }
    }

    /// Answers are published text: buttons and files are not sent (registry: no buttons).
    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let text = message.text.trim();
            if text.is_empty() {
                return Err(SendError::Permanent("empty answer".into()));
            }
            match self.api.answer(recipient, text).await {
                Ok(()) => Ok(Delivered { external_id: None }),
                Err(MarketError::RateLimited { retry_after }) => {
                    Err(SendError::Retry { after: retry_after, reason: "rate limited".into() })
                }
                Err(e @ (MarketError::Unauthorized | MarketError::Forbidden(_))) => {
                    Err(SendError::Retry { after: Some(Duration::from_secs(600)), reason: e.to_string() })
                }
                Err(e @ MarketError::Rejected { .. }) => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Retry { after: None, reason: e.to_string() }),
            }
        })
    }
}

/// Fetches new questions once; returns how many new ones were stored.
pub async fn poll_once(api: &dyn MarketplaceApi, inbox: &dyn Inbox) -> Result<usize, MarketError> {
    let mut new = 0;
    for q in api.questions().await? {
        if q.text.trim().is_empty() {
            continue;
        }
        let mut m = Inbound::text(api.qa_channel(), q.id, q.thread, q.text);
        m.name = q.product.map(|p| format!("Вопрос о товаре «{p}»")).unwrap_or_default();
        match inbox.accept(&m).await {
            Ok(a) if !a.duplicate => new += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot store a marketplace question"),
        }
    }
    Ok(new)
}

/// Polls each source every `every` until aborted.
pub async fn poll(apis: Vec<Arc<dyn MarketplaceApi>>, inbox: Arc<dyn Inbox>, every: Duration) {
    if apis.is_empty() {
        return;
    }
    loop {
        for api in &apis {
            if !api.has_key().await {
                continue;
            }
            if let Err(e) = poll_once(api.as_ref(), inbox.as_ref()).await {
                tracing::warn!(channel = api.qa_channel().as_str(), error = %e, "cannot fetch marketplace questions");
            }
        }
        tokio::time::sleep(every).await;
    }
}
