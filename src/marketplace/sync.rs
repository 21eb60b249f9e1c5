//! Order sync: the marketplace's orders copied into the cache, page by page, part by part.
//!
//! Each page is committed in one transaction together with the run's cursor (`<stage>|<the
//! adapter's cursor>`), so a sync that stops half-way (an error, a crash, a restart) resumes
//! from the next page and never leaves a half-written page. The parts of an account (WB: FBS
//! orders, then the statistics reports; then status refreshes and returns) run one after
//! another: a part the key cannot reach is skipped and reported, one a documented limit holds
//! back (a basic token's hourly reports) is put off to the next run, which catches it up from
//! where it last finished; neither stops the others. A full run covers the last `full_days`; an incremental one the orders
//! whose status changed since the last run (Ozon lists those; for WB the new orders are listed
//! and the unfinished cached ones asked for their statuses). Status changes to shipped, at the
//! pick-up point or cancelled notify the buyers linked to the order, once per status.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Access, Market, MarketError, MarketplaceApi, Order, OrderStatus, Part, PartAccess, Window};
use crate::clock::SharedClock;
use crate::store::{Db, marketplace as access_rows, orders as rows};

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

/// How one part of a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartStatus {
    Done,
    /// The key does not reach it.
    Skipped,
    /// A documented limit would have held it too long: the next run does it.
    Deferred,
    Failed,
}

impl PartStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartStatus::Done => "done",
            PartStatus::Skipped => "skipped",
            PartStatus::Deferred => "deferred",
            PartStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartReport {
    pub part: Part,
    pub status: PartStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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
    /// Each part: done, skipped for want of access, or put off by a limit.
    pub parts: Vec<PartReport>,
    pub seconds: f64,
}

impl Report {
    fn part(&mut self, part: Part, status: PartStatus, message: Option<String>) {
        self.parts.push(PartReport { part, status, message });
    }
}

/// Where a run is: listing a part's orders, or refreshing unfinished ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Part(Part),
    Refresh,
}

/// `<stage>|<adapter cursor>` → the stage and the adapter's cursor (a cursor of an older
/// format starts the run from its first stage).
fn split_cursor(c: Option<&str>) -> (Option<Stage>, Option<String>) {
    let Some((stage, rest)) = c.and_then(|c| c.split_once('|')) else { return (None, None) };
    let stage = if stage == "refresh" { Some(Stage::Refresh) } else { Part::parse(stage).map(Stage::Part) };
    (stage, Some(rest.to_owned()).filter(|r| !r.is_empty()))
}

fn join_cursor(stage: Stage, inner: Option<&str>) -> String {
    let s = match stage {
        Stage::Part(p) => p.as_str(),
        Stage::Refresh => "refresh",
    };
    format!("{s}|{}", inner.unwrap_or(""))
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

/// The span of one sync run: market, kind and what started it ("schedule", "manual", "cli");
/// the outcome, pages, orders and latency are recorded when the run ends ([`record_run`]).
/// Never a key, an error's text or a buyer's data.
pub fn span(market: Market, kind: Kind, trigger: &'static str) -> tracing::Span {
    tracing::info_span!(
        "sync",
        market = market.as_str(),
        kind = kind.as_str(),
        trigger,
        outcome = tracing::field::Empty,
        pages = tracing::field::Empty,
        orders = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

/// A run's outcome as a word: "done", or the kind of error (its text may quote the marketplace).
fn outcome(result: &Result<Report, MarketError>) -> &'static str {
    match result {
        Ok(_) => "done",
        Err(MarketError::Unauthorized) => "unauthorized",
        Err(MarketError::Forbidden(_)) => "forbidden",
        Err(MarketError::RateLimited { .. }) => "rate_limited",
        Err(MarketError::Shape(_)) => "shape",
        Err(MarketError::Unavailable(_)) => "unavailable",
        Err(MarketError::Timeout) => "timeout",
        Err(MarketError::Rejected { .. }) => "rejected",
    }
}

/// Records how a run ended on its span (see [`span`]) and logs one line in it.
pub fn record_run(span: &tracing::Span, result: &Result<Report, MarketError>, started: std::time::Instant) {
    span.record("latency_ms", u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    span.record("outcome", outcome(result));
    if let Ok(r) = result {
        span.record("pages", r.pages);
        span.record("orders", r.orders);
    }
    span.in_scope(|| tracing::info!("sync run done"));
}

impl Syncer {
    pub fn new(db: Db, clock: SharedClock, full_days: u32, notifier: Option<Notifier>) -> Self {
        Self { db, clock, full_days: i64::from(full_days.max(1)), notifier, running: Default::default() }
    }

    /// Runs (or resumes) one sync of `api`; called within a [`span`], it records how the run ended.
    pub async fn run(&self, api: &dyn MarketplaceApi, kind: Kind) -> Result<Report, MarketError> {
        let started = std::time::Instant::now();
        let result = self.run_once(api, kind).await;
        record_run(&tracing::Span::current(), &result, started);
        result
    }

    async fn run_once(&self, api: &dyn MarketplaceApi, kind: Kind) -> Result<Report, MarketError> {
        let market = api.market();
        let _turn = self.running[usize::from(market == Market::Ozon)].lock().await;
        let started = std::time::Instant::now();
        let store = |e: crate::store::StoreError| MarketError::Unavailable(format!("order cache: {e}"));
        let state = self.db.call(move |c| rows::sync_state(c, market, kind.as_str())).await.map_err(store)?;
        let now = self.clock.now_ms();
        // What the key says it reaches (a WB token carries its categories).
        let info = api.key_info().await;
        {
            let info = info.clone();
            self.db.call(move |c| access_rows::set_key(c, market, &info, "token", now)).await.map_err(store)?;
        }
        let mut report = Report::default();
        let changed_only = kind == Kind::Incremental && api.lists_changes();
        let (window, cursor) = match (state.status.as_str(), state.window_from, state.window_to) {
            ("running" | "failed", Some(from), Some(to)) => {
                report.resumed = true;
                (Window { from, to, changed_only }, state.cursor)
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
                (Window { from, to: now, changed_only }, None)
            }
        };
        let (resume_stage, resume_cursor) = split_cursor(cursor.as_deref());
        let result = self.stages(api, kind, window, &info, resume_stage, resume_cursor, &mut report).await;
        match result {
            Ok(()) => {
                if !info.may(Part::Returns) {
                    report.part(Part::Returns, PartStatus::Skipped, reason_of(&info, Part::Returns));
                } else {
                    match self.returns(api, &mut report).await {
                        Ok(()) => {
                            report.part(Part::Returns, PartStatus::Done, None);
                            self.part_done(market, Part::Returns, PartStatus::Done, None).await;
                        }
                        Err(e) => {
                            tracing::warn!(market = market.as_str(), error = %e, "returns were not synced");
                            report.returns_error = Some(e.to_string());
                            let status = self.part_refused(market, Part::Returns, &e).await;
                            report.part(Part::Returns, status, Some(e.to_string()));
                        }
                    }
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

    /// Each part's listing, then (WB, incremental) the refresh of unfinished orders. A part the
    /// key does not reach, or that a limit puts off, is reported and the next one runs.
    #[expect(
        clippy::too_many_arguments,
        reason = "one run's inputs: the api, the kind, the window and the progress it reports"
    )]
    async fn stages(
        &self,
        api: &dyn MarketplaceApi,
        kind: Kind,
        window: Window,
        info: &super::KeyInfo,
        resume: Option<Stage>,
        mut cursor: Option<String>,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        let market = api.market();
        let mut stages: Vec<Stage> = api.order_parts().iter().copied().map(Stage::Part).collect();
        if kind == Kind::Incremental && !api.lists_changes() {
            stages.push(Stage::Refresh);
        }
        let first = resume.and_then(|r| stages.iter().position(|s| *s == r)).unwrap_or_else(|| {
            cursor = None;
            0
        });
        for i in first..stages.len() {
            let stage = stages[i];
            let after = stages.get(i + 1).map(|s| join_cursor(*s, None));
            let part_cursor = if i == first { cursor.take() } else { None };
            let part = match stage {
                Stage::Part(p) => p,
                Stage::Refresh => Part::Orders,
            };
            if !info.may(part) {
                report.part(part, PartStatus::Skipped, reason_of(info, part));
                self.part_done(market, part, PartStatus::Skipped, reason_of(info, part)).await;
                if let Some(a) = &after {
                    self.commit(market, kind, Vec::new(), Some(a.clone()), report).await?;
                }
                continue;
            }
            let result = match stage {
                Stage::Part(p) => {
                    let w = self.part_window(market, p, kind, window).await;
                    self.pages(api, p, kind, w, part_cursor, after.clone(), report).await
                }
                Stage::Refresh => self.refresh(api, part_cursor, after.clone(), report).await,
            };
            match result {
                Ok(()) => {
                    if stage != Stage::Refresh {
                        report.part(part, PartStatus::Done, None);
                        self.part_done(market, part, PartStatus::Done, None).await;
                    }
                }
                Err(e @ (MarketError::Forbidden(_) | MarketError::RateLimited { .. })) => {
                    let status = self.part_refused(market, part, &e).await;
                    tracing::warn!(market = market.as_str(), part = part.as_str(), error = %e, "a part of the sync was not done");
                    report.part(part, status, Some(e.to_string()));
                    if let Some(a) = &after {
                        self.commit(market, kind, Vec::new(), Some(a.clone()), report).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The window a part lists: the run's, reaching back to where that part last finished when
    /// an earlier run put it off (never further than a full run).
    async fn part_window(&self, market: Market, part: Part, kind: Kind, window: Window) -> Window {
        if kind == Kind::Full {
            return window;
        }
        let finished = self.db.call(move |c| access_rows::part_finished(c, market, part)).await.ok().flatten();
        let floor = window.to - self.full_days * DAY;
        let from = finished.map_or(window.from, |t| window.from.min(t - OVERLAP)).max(floor);
        Window { from, ..window }
    }

    async fn part_done(&self, market: Market, part: Part, status: PartStatus, message: Option<String>) {
        let now = self.clock.now_ms();
        let done = status == PartStatus::Done;
        let access = match status {
            PartStatus::Done => Some(Access::Allowed),
            PartStatus::Skipped => Some(Access::Denied),
            _ => None,
        };
        let r = self
            .db
            .call(move |c| {
                access_rows::set_part_sync(c, market, part, status.as_str(), message.as_deref(), done, now)?;
                if let Some(a) = access {
                    access_rows::set_access(c, market, &[PartAccess::new(part, a, message.clone())], "sync", now)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot record a part's sync");
        }
    }

    /// Records a part refused (no access: skipped) or put off (a limit: deferred).
    async fn part_refused(&self, market: Market, part: Part, e: &MarketError) -> PartStatus {
        let status = match e {
            MarketError::Forbidden(_) => PartStatus::Skipped,
            MarketError::RateLimited { .. } => PartStatus::Deferred,
            _ => PartStatus::Failed,
        };
        self.part_done(market, part, status, Some(e.to_string())).await;
        status
    }

    /// Copies the seller's product cards into the knowledge base's products (created or updated
    /// by marketplace and article; a card the API sends malformed is skipped with a warning).
    /// Returns (created or updated, unchanged). The caller syncs the search index afterwards.
    /// A key without access to product cards gets `Forbidden` (the caller reports it as
    /// skipped).
    pub async fn products(&self, api: &dyn MarketplaceApi) -> Result<(usize, usize), MarketError> {
        let market = api.market();
        let _turn = self.running[usize::from(market == Market::Ozon)].lock().await;
        let info = api.key_info().await;
        if !info.may(Part::Content) {
            let reason = reason_of(&info, Part::Content).unwrap_or_else(|| "no access to product cards".into());
            self.part_done(market, Part::Content, PartStatus::Skipped, Some(reason.clone())).await;
            return Err(MarketError::Forbidden(reason));
        }
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
                None => {
                    self.part_done(market, Part::Content, PartStatus::Done, None).await;
                    return Ok((changed, same));
                }
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

    #[expect(
        clippy::too_many_arguments,
        reason = "one part's listing: the api, the part, the window and the progress it reports"
    )]
    async fn pages(
        &self,
        api: &dyn MarketplaceApi,
        part: Part,
        kind: Kind,
        window: Window,
        mut cursor: Option<String>,
        after: Option<String>,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        loop {
            let page = api.orders_page(part, window, cursor.as_deref()).await?;
            let next = page.next.clone();
            if !page.orders.is_empty() {
                report.pages += 1;
            }
            let saved = match &next {
                Some(n) => Some(join_cursor(Stage::Part(part), Some(n))),
                None => after.clone(),
            };
            self.commit(api.market(), kind, page.orders, saved, report).await?;
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// WB: unfinished cached orders asked for their current statuses, 1000 at a time (the
    /// cursor is the last order's row id).
    async fn refresh(
        &self,
        api: &dyn MarketplaceApi,
        cursor: Option<String>,
        after: Option<String>,
        report: &mut Report,
    ) -> Result<(), MarketError> {
        let market = api.market();
        let mut last_id = cursor.and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
        loop {
            let batch = self
                .db
                .call(move |c| rows::unfinished(c, market, last_id, 1000))
                .await
                .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
            let Some((last, _)) = batch.last() else {
                self.commit(market, Kind::Incremental, Vec::new(), after, report).await?;
                return Ok(());
            };
            last_id = *last;
            let orders: Vec<Order> = batch.into_iter().map(|(_, o)| o).collect();
            let changed = api.refresh(&orders).await?;
            let cursor = Some(join_cursor(Stage::Refresh, Some(&last_id.to_string())));
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

/// Why the key does not reach `part`.
fn reason_of(info: &super::KeyInfo, part: Part) -> Option<String> {
    info.parts.iter().find(|p| p.part == part).and_then(|p| p.reason.clone())
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
                let span = span(market, kind, "schedule");
                match tracing::Instrument::instrument(syncer.run(api.as_ref(), kind), span).await {
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

#[cfg(test)]
mod tests {

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    use crate::telemetry::testing::Captured;

    /// The last line logged while `f` runs, as JSON with its span, and all the text.
    fn logged(f: impl FnOnce()) -> (serde_json::Value, String) {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        let line = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
        (line, text)
    }

    #[test]
    fn a_scheduled_run_logs_its_span_and_never_the_error_text() {
        let (line, text) = logged(|| {
            let report = Report { pages: 3, orders: 250, ..Report::default() };
            record_run(&span(Market::Wb, Kind::Incremental, "schedule"), &Ok(report), std::time::Instant::now());
        });
        let s = &line["span"];
        assert_eq!(s["name"], "sync", "{text}");
        assert_eq!(
            (&s["market"], &s["kind"], &s["trigger"]),
            (&"wb".into(), &"incremental".into(), &"schedule".into())
        );
        assert_eq!((&s["outcome"], &s["pages"], &s["orders"]), (&"done".into(), &3.into(), &250.into()), "{text}");
        assert!(s["latency_ms"].is_u64(), "{text}");

        let (line, text) = logged(|| {
            let failed =
                Err(MarketError::Rejected { status: 400, message: "token=secret-123 buyer Иванов".into() });
            record_run(&span(Market::Ozon, Kind::Full, "schedule"), &failed, std::time::Instant::now());
        });
        assert_eq!(line["span"]["outcome"], "rejected", "{text}");
        assert_eq!(line["span"]["market"], "ozon", "{text}");
        assert!(line["span"].get("pages").is_none(), "{text}");
        assert!(!text.contains("secret-123") && !text.contains("Иванов"), "{text}");
    }
}
