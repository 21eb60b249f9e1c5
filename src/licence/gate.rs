//! Where the plan reaches into other modules, as small adapters built in `App::build`:
//! marketplace accounts past the plan's count look unconnected (no sync, no polling, no live
//! lookups), cloud providers are skipped when the plan has none, and automation (bot replies,
//! order notifications) pauses after a licence's grace period.

use std::sync::Arc;
use std::time::Instant;

use super::Licensing;
use crate::BoxFuture;
use crate::llm::chain::ProviderGate;
use crate::marketplace::sync::Notifier;
use crate::marketplace::{
    KeyInfo, Market, MarketError, MarketplaceApi, Order, Orders, Page, Part, Polled, ProductPage, ReturnPage, Window,
};

/// A marketplace adapter that has a key only while the plan includes its account.
struct Gated {
    inner: Arc<dyn MarketplaceApi>,
    licensing: Arc<Licensing>,
}

impl MarketplaceApi for Gated {
    fn market(&self) -> Market {
        self.inner.market()
    }

    fn has_key(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.inner.has_key().await && self.licensing.market_allowed(self.inner.market()).await })
    }

    fn key_info(&self) -> BoxFuture<'_, KeyInfo> {
        self.inner.key_info()
    }

    fn check(&self) -> BoxFuture<'_, Result<KeyInfo, MarketError>> {
        self.inner.check()
    }

    fn order_parts(&self) -> &'static [Part] {
        self.inner.order_parts()
    }

    fn orders_page<'a>(
        &'a self,
        part: Part,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, MarketError>> {
        self.inner.orders_page(part, window, cursor)
    }

    fn refresh<'a>(&'a self, orders: &'a [Order]) -> BoxFuture<'a, Result<Vec<Order>, MarketError>> {
        self.inner.refresh(orders)
    }

    fn products_page<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<ProductPage, MarketError>> {
        self.inner.products_page(cursor)
    }

    fn returns_page<'a>(
        &'a self,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ReturnPage, MarketError>> {
        self.inner.returns_page(window, cursor)
    }

    fn questions(&self) -> BoxFuture<'_, Result<Polled, MarketError>> {
        self.inner.questions()
    }

    /// Operators' answers are published whatever the plan: a person may always reply.
    fn answer<'a>(&'a self, thread: &'a str, text: &'a str) -> BoxFuture<'a, Result<(), MarketError>> {
        self.inner.answer(thread, text)
    }

    fn qa_channel(&self) -> crate::channels::ChannelName {
        self.inner.qa_channel()
    }

    fn lists_changes(&self) -> bool {
        self.inner.lists_changes()
    }

    fn order<'a>(
        &'a self,
        number: &'a str,
        cached: Option<&'a Order>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<Order>, MarketError>> {
        self.inner.order(number, cached, deadline)
    }
}

/// `orders` with every adapter behind the plan's count of marketplace accounts.
pub fn marketplaces(orders: Orders, licensing: &Arc<Licensing>) -> Orders {
    licensing.set_marketplaces(orders.apis());
    let l = licensing.clone();
    orders.map_apis(move |inner| Arc::new(Gated { inner, licensing: l.clone() }))
}

/// Skips cloud providers the plan does not include (the local model is always allowed).
pub fn models(licensing: Arc<Licensing>) -> ProviderGate {
    Arc::new(move |provider: &str| {
        if provider == "local" {
            return None;
        }
        licensing.current().allows_cloud().err().map(|r| r.0)
    })
}

/// True while automation is paused (the engine stays silent and hands conversations to people).
pub fn pause(licensing: Arc<Licensing>) -> Arc<dyn Fn() -> bool + Send + Sync> {
    Arc::new(move || licensing.paused())
}

/// Order status notifications are automation too: none while paused.
pub fn notifier(inner: Option<Notifier>, licensing: Arc<Licensing>) -> Option<Notifier> {
    let inner = inner?;
    Some(Arc::new(
        move |conn: &rusqlite::Connection, order_id: i64, o: &Order, now: i64| {
            if licensing.paused() { Ok(0) } else { inner(conn, order_id, o, now) }
        },
    ))
}
