//! Order sync: the marketplace's orders copied into the cache, page by page.
//!
//! Each page is committed in one transaction together with the run's cursor, so a sync that
//! stops half-way (an error, a crash, a restart) resumes from the next page and never leaves a
//! half-written page. A full run covers the last `full_days`; an incremental one the orders
//! whose status changed since the last run (Ozon lists those; for WB the new orders are listed
//! and the unfinished cached ones asked for their statuses). Status changes to shipped, at the
//! pick-up point or cancelled notify the buyers linked to the order, once per status.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Market, MarketError, MarketplaceApi, Order, OrderStatus, Window};
use crate::clock::SharedClock;
use crate::store::{Db, orders as rows};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Full,
    Incremental,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Full => "full",
            Kind::Incremental => "incremental",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub pages: usize,
    pub orders: usize,
    /// Orders whose status changed.
    pub changed: usize,
    /// Buyer notifications queued.
    pub notified: usize,
    /// The run continued one that had stopped.
    pub resumed: bool,
    /// Returns (WB claims, Ozon returns) fetched.
    pub returns: usize,
    /// Why the returns could not be fetched (the orders are synced all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returns_error: Option<String>,
    pub seconds: f64,
}

/// Notifies linked buyers of a status change inside the sync's transaction; returns how many
/// messages were queued. The engine provides it (it owns what buyers are told).
pub type Notifier = Arc<dyn Fn(&rusqlite::Connection, i64, &Order, i64) -> crate::store::Result<usize> + Send + Sync>;

pub struct Syncer {
    db: Db,
    clock: SharedClock,
    full_days: i64,
    notifier: Option<Notifier>,
    /// One run per marketplace at a time (the schedule and "sync now" take turns).
    running: [tokio::sync::Mutex<()>; 2],
}

/// Statuses buyers are told about.
pub fn notifies(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::InTransit | OrderStatus::ReadyForPickup | OrderStatus::Cancelled)
}

const DAY: i64 = 86_400_000;
/// Returns whose status changed in this many days are synced (WB keeps claims for 14).
const RETURNS_DAYS: i64 = 30;
/// Incremental windows start this much before the last run, so nothing falls between runs.
const OVERLAP: i64 = 10 * 60_000;

impl Syncer {
    pub fn new(db: Db, clock: SharedClock, full_days: u32, notifier: Option<Notifier>) -> Self {
        Self { db, clock, full_days: i64::from(full_days.max(1)), notifier, running: Default::default() }
    }

    /// Runs (or resumes) one sync of `api`.
    pub async fn run(&self, api: &dyn MarketplaceApi, kind: Kind) -> Result<Report, MarketError> {
        let market = api.market();
        let _turn = self.running[usize::from(market == Market::Ozon)].lock().await;
        let started = std::time::Instant::now();
        let store = |e: crate::store::StoreError| MarketError::Unavailable(format!("order cache: {e}"));
        let state = self.db.call(move |c| rows::sync_state(c, market, kind.as_str())).await.map_err(store)?;
        let now = self.clock.now_ms();
        let mut report = Report::default();
        let (window, mut cursor) = match (state.status.as_str(), state.window_from, state.window_to) {
            ("running" | "failed", Some(from), Some(to)) => {
                report.resumed = true;
                (Window { from, to, changed_only: kind == Kind::Incremental && api.lists_changes() }, state.cursor)
            }
            _ => {
                let from = match kind {
                    Kind::Full => now - self.full_days * DAY,
                    Kind::Incremental => {
                        let last = self.last_finished(market).await.map_err(store)?;
                        last.map_or(now - DAY, |t| t - OVERLAP)
                    }
                };
                self.db
                    .call(move |c| rows::sync_begin(c, market, kind.as_str(), from, now, now))
                    .await
                    .map_err(store)?;
                (Window { from, to: now, changed_only: kind == Kind::Incremental && api.lists_changes() }, None)
            }
        };
        let result = self.pages(api, kind, window, &mut cursor, &mut report).await;
        let result = match result {
            Ok(()) if kind == Kind::Incremental && !api.lists_changes() => self.refresh(api, &mut report).await,
            other => other,
        };
        match result {
            Ok(()) => {
                if let Err(e) = self.returns(api, &mut report).await {
                    tracing::warn!(market = market.as_str(), error = %e, "returns were not synced");
                    report.returns_error = Some(e.to_string());
                }
                let now = self.clock.now_ms();
                self.db.call(move |c| rows::sync_finish(c, market, kind.as_str(), now)).await.map_err(store)?;
                report.seconds = started.elapsed().as_secs_f64();
                tracing::info!(
                    market = market.as_str(),
                    kind = kind.as_str(),
                    orders = report.orders,
                    changed = report.changed,
                    notified = report.notified,
                    "sync finished"
                );
                Ok(report)
            }
            Err(e) => {
                let msg = e.to_string();
                let _ = self.db.call(move |c| rows::sync_fail(c, market, kind.as_str(), &msg)).await;
                tracing::warn!(market = market.as_str(), kind = kind.as_str(), error = %e, "sync stopped; it resumes from the last page");
                Err(e)
            }
        }
    }

    /// Copies the seller's product cards into the knowledge base's products (created or updated
    /// by marketplace and article; a card the API sends malformed is skipped with a warning).
    /// Returns (created or updated, unchanged). The caller syncs the search index afterwards.
    pub async fn products(&self, api: &dyn MarketplaceApi) -> Result<(usize, usize), MarketError> {
        let market = api.market();
        let _turn = self.running[usize::from(market == Market::Ozon)].lock().await;
        let (mut changed, mut same) = (0, 0);
        let mut cursor: Option<String> = None;
        loop {
            let (products, next) = api.products_page(cursor.as_deref()).await?;
            let now = self.clock.now_ms();
            let (c, u) = self
                .db
                .call(move |conn| {
                    let (mut c, mut u) = (0, 0);
                    for p in &products {
                        if let Err(e) = p.validate() {
                            tracing::warn!(offer = %p.offer_id, error = %e, "a product card was skipped");
                            continue;
                        }
                        match crate::store::kb::upsert_product(conn, p, now)?.1 {
                            crate::store::kb::Saved::Unchanged => u += 1,
                            _ => c += 1,
                        }
                    }
                    Ok((c, u))
                })
                .await
                .map_err(|e| MarketError::Unavailable(format!("product store: {e}")))?;
            changed += c;
            same += u;
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok((changed, same)),
            }
        }
    }

    /// Every page of returns, each page in one transaction (returns are few: WB keeps claims
    /// of the last 14 days).
    async fn returns(&self, api: &dyn MarketplaceApi, report: &mut Report) -> Result<(), MarketError> {
        let now = self.clock.now_ms();
        let window = Window { from: now - RETURNS_DAYS * DAY, to: now, changed_only: true };
        let mut cursor: Option<String> = None;
        loop {
            let (list, next) = api.returns_page(window, cursor.as_deref()).await?;
            let now = self.clock.now_ms();
            report.returns += list.len();
            self.db
                .call(move |c| {
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    for r in &list {
                        rows::upsert_return(&tx, r, now)?;
                    }
                    tx.commit()?;
                    Ok(())
                })
                .await
                .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(()),
            }
        }
    }

    async fn last_finished(&self, market: Market) -> crate::store::Result<Option<i64>> {
        self.db
            .call(move |c| {
                let full = rows::sync_state(c, market, "full")?.finished_at;
                let inc = rows::sync_state(c, market, "incremental")?.finished_at;
                Ok(full.max(inc))
            })
            .await
    }

    async fn pages(
        &self,
        api: &dyn MarketplaceApi,
        kind: Kind,
        window: Window,
        cursor: &mut Option<String>,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        loop {
            let page = api.orders_page(window, cursor.as_deref()).await?;
            let next = page.next.clone();
            if !page.orders.is_empty() {
                report.pages += 1;
            }
            self.commit(api.market(), kind, page.orders, next.clone(), report).await?;
            match next {
                Some(n) => *cursor = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// WB: unfinished cached orders asked for their current statuses, 1000 at a time.
    async fn refresh(&self, api: &dyn MarketplaceApi, report: &mut Report) -> Result<(), MarketError> {
        let market = api.market();
        let mut after = 0;
        loop {
            let batch = self
                .db
                .call(move |c| rows::unfinished(c, market, after, 1000))
                .await
                .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
            let Some((last, _)) = batch.last() else { return Ok(()) };
            after = *last;
            let orders: Vec<Order> = batch.into_iter().map(|(_, o)| o).collect();
            let changed = api.refresh(&orders).await?;
            let cursor = Some(after.to_string());
            self.commit(market, Kind::Incremental, changed, cursor, report).await?;
        }
    }

    /// One page in one transaction: orders, status history, notifications, the cursor.
    async fn commit(
        &self,
        market: Market,
        kind: Kind,
        orders: Vec<Order>,
        next: Option<String>,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        let now = self.clock.now_ms();
        let notifier = self.notifier.clone();
        let n = orders.len();
        let (changed, notified) = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let (mut changed, mut notified) = (0, 0);
                for mut o in orders {
                    rows::name_items(&tx, &mut o)?;
                    o.synced_at = now;
                    if o.status_at == 0 {
                        o.status_at = now;
                    }
                    let (id, status_changed) = rows::upsert(&tx, &o, now)?;
                    if status_changed {
                        changed += 1;
                        if notifies(o.status)
                            && let Some(notify) = &notifier
                        {
                            notified += notify(&tx, id, &o, now)?;
                        }
                    }
                }
                rows::sync_progress(&tx, market, kind.as_str(), next.as_deref(), n)?;
                tx.commit()?;
                Ok((changed, notified))
            })
            .await
            .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
        report.orders += n;
        report.changed += changed;
        report.notified += notified;
        Ok(())
    }
}

/// Background schedule: an incremental sync of each connected marketplace every
/// `every`, and a full one each night after 03:00 shop time. The schedule lives in
/// `sync_state` (last finish times), so a restart does not repeat or skip runs.
pub async fn schedule(
    syncer: Arc<Syncer>,
    apis: Vec<Arc<dyn MarketplaceApi>>,
    every: Duration,
    utc_offset_minutes: i32,
    kb: Arc<crate::kb::Kb>,
) {
    if apis.is_empty() {
        return;
    }
    // After a rejected key, wait before asking again (the panel or CLI shows the error).
    let mut paused: std::collections::HashMap<Market, std::time::Instant> = std::collections::HashMap::new();
    loop {
        for api in &apis {
            let market = api.market();
            if paused.get(&market).is_some_and(|t| t.elapsed() < Duration::from_secs(1800)) || !api.has_key().await {
                continue;
            }
            let states = syncer
                .db
                .call(move |c| Ok((rows::sync_state(c, market, "full")?, rows::sync_state(c, market, "incremental")?)))
                .await;
            let Ok((full, inc)) = states else { continue };
            let now = syncer.clock.now_ms();
            // The most recent 03:00 shop time, as a UTC instant.
            let local = now + i64::from(utc_offset_minutes) * 60_000;
            let last_3am_utc = now - (local - 3 * 3_600_000).rem_euclid(DAY);
            let full_due = full.status != "idle" || full.finished_at.is_none_or(|t| t < last_3am_utc);
            let inc_due = inc.status != "idle" || inc.finished_at.is_none_or(|t| now - t >= every.as_millis() as i64);
            let kind = if full_due {
                Some(Kind::Full)
            } else if inc_due {
                Some(Kind::Incremental)
            } else {
                None
            };
            if let Some(kind) = kind {
                match syncer.run(api.as_ref(), kind).await {
                    Err(e @ (MarketError::Unauthorized | MarketError::Forbidden(_))) => {
                        tracing::error!(market = market.as_str(), error = %e, "sync stopped: fix the key in the settings");
                        paused.insert(market, std::time::Instant::now());
                    }
                    Err(e) => tracing::warn!(market = market.as_str(), error = %e, "scheduled sync failed"),
                    Ok(_) => {
                        paused.remove(&market);
                        // Product cards change rarely: refreshed with the nightly full sync.
                        if kind == Kind::Full {
                            match syncer.products(api.as_ref()).await {
                                Ok((changed, _)) if changed > 0 => {
                                    let kb = kb.clone();
                                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || kb.sync()).await {
                                        tracing::warn!(error = %e, "cannot index synced products");
                                    }
                                }
                                Ok(_) => {}
                                Err(e) => tracing::warn!(market = market.as_str(), error = %e, "product sync failed"),
                            }
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
