//! Marketplace questions, reviews and chats as a channel: they are polled into the inbox (keyed
//! by their ids), answered by the same engine, and the answers are published back through the
//! marketplace's API from the outbox. Per source the seller chooses "auto" (publish the bot's
//! answer) or "draft" (a person approves it in the inbox first). Each thread gets its answer
//! deadline ([`super::deadlines`]) when its message is polled; a thread past it without an
//! answer raises one "overdue" event.

use std::sync::Arc;
use std::time::Duration;

use super::{MarketError, MarketplaceApi, PartAccess};
use crate::BoxFuture;
use crate::channels::{Channel, ChannelName, Delivered, Inbound, Inbox, Limits, Outbound, SendError};
use crate::clock::SharedClock;
use crate::store::{Db, marketplace as rows};

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
            // The last line of the marketplace's rules: nothing breaking them is published.
            let findings = super::rules::operator_reply(self.api.qa_channel().as_str(), recipient, text);
            if !findings.is_empty() {
                let what: Vec<String> = findings.iter().map(super::rules::Finding::describe).collect();
                return Err(SendError::Permanent(format!(
                    "not published, against the marketplace's rules: {}",
                    what.join("; ")
                )));
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

/// What polling needs besides the adapters and the inbox.
#[derive(Clone)]
pub struct PollContext {
    pub db: Db,
    pub clock: SharedClock,
    /// `marketplaces.reply_target_hours`.
    pub reply_target_hours: u32,
}

/// Fetches new questions once; returns how many new ones were stored. A part the key or the
/// subscription does not reach is recorded and the others are still read.
pub async fn poll_once(api: &dyn MarketplaceApi, inbox: &dyn Inbox, ctx: &PollContext) -> Result<usize, MarketError> {
    let polled = api.questions().await?;
    let (market, now) = (api.market(), ctx.clock.now_ms());
    let parts: Vec<PartAccess> = polled.parts.clone();
    if let Err(e) = ctx.db.call(move |c| rows::set_access(c, market, &parts, "poll", now)).await {
        tracing::warn!(error = %e, "cannot record marketplace access");
    }
    for p in polled.parts.iter().filter(|p| p.access != super::Access::Allowed) {
        tracing::info!(
            channel = api.qa_channel().as_str(),
            part = p.part.as_str(),
            reason = p.reason.as_deref().unwrap_or(""),
            "part not read"
        );
    }
    let mut new = 0;
    for q in polled.questions {
        if q.text.trim().is_empty() {
            continue;
        }
        let (due, rule) = super::deadlines::due(market, q.kind, q.created_at.unwrap_or(now), ctx.reply_target_hours);
        let (channel, thread, written) =
            (api.qa_channel().as_str().to_owned(), q.thread.clone(), q.created_at.unwrap_or(now));
        if let Err(e) = ctx.db.call(move |c| rows::note_deadline(c, &channel, &thread, written, due, rule, now)).await {
            tracing::warn!(error = %e, "cannot record a reply deadline");
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

/// Raises the "overdue" event of each unanswered thread past its deadline (once).
pub async fn check_deadlines(ctx: &PollContext) -> usize {
    let now = ctx.clock.now_ms();
    match ctx.db.call(move |c| rows::take_overdue(c, now)).await {
        Ok(list) => {
            for o in &list {
                tracing::warn!(channel = %o.channel, conversation = o.conversation_id, rule = o.rule.as_str(), "a marketplace answer is overdue");
            }
            list.len()
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot check reply deadlines");
            0
        }
    }
}

/// Polls each source every `every` until aborted, and checks the deadlines after each round.
pub async fn poll(apis: Vec<Arc<dyn MarketplaceApi>>, inbox: Arc<dyn Inbox>, every: Duration, ctx: PollContext) {
    if apis.is_empty() {
        return;
    }
    loop {
        for api in &apis {
            if !api.has_key().await {
                continue;
            }
            if let Err(e) = poll_once(api.as_ref(), inbox.as_ref(), &ctx).await {
                tracing::warn!(channel = api.qa_channel().as_str(), error = %e, "cannot fetch marketplace questions");
            }
        }
        check_deadlines(&ctx).await;
        tokio::time::sleep(every).await;
    }
}
