//! Wildberries and Ozon: the one place that talks to the marketplaces.
//!
//! Both adapters implement [`MarketplaceApi`] over the shared HTTP layer ([`crate::net`]).
//! [`Orders`] is what the conversation engine sees: an order by number from the SQLite cache
//! when it is fresh, otherwise from the marketplace (bounded by a short deadline), falling back
//! to the cache with "data as of …" when the marketplace does not answer. The marketplace is the
//! source of truth: a live answer always replaces the cached row.

pub mod access;
pub mod deadlines;
pub mod demo;
pub mod order;
pub mod ozon;
pub mod qa;
pub mod rules;
pub mod sync;
pub mod wb;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::clock::SharedClock;
use crate::net::HttpError;
use crate::store::{Db, orders as rows};

pub use order::{Order, OrderItem, OrderStatus, Return, ReturnPage, ReturnStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Market {
    Wb,
    Ozon,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::Wb => "wb",
            Market::Ozon => "ozon",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "wb" => Some(Market::Wb),
            "ozon" => Some(Market::Ozon),
            _ => None,
        }
    }

    /// Which marketplace a number written by a buyer belongs to: Ozon posting numbers have
    /// dashes (`57195475-0050-3`), WB order ids are plain digits.
    pub fn of_number(number: &str) -> Self {
        if number.contains('-') { Market::Ozon } else { Market::Wb }
    }

    pub fn title(self) -> &'static str {
        match self {
            Market::Wb => "Wildberries",
            Market::Ozon => "Ozon",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MarketError {
    #[error("the marketplace rejected the key (wrong or revoked token)")]
    Unauthorized,
    #[error("the key lacks access to this API group: {0}")]
    Forbidden(String),
    #[error("rate limited by the marketplace")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the marketplace answered in an unexpected shape: {0}")]
    Shape(String),
    #[error("the marketplace is unavailable: {0}")]
    Unavailable(String),
    #[error("no answer from the marketplace in time")]
    Timeout,
    #[error("the marketplace refused the request: HTTP {status}: {message}")]
    Rejected { status: u16, message: String },
}

impl From<HttpError> for MarketError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Timeout => MarketError::Timeout,
            HttpError::Transport(m) => MarketError::Unavailable(m),
            // WB answers a token without the API group's scope with 401 "token scope not allowed".
            HttpError::Status { status: 401, message, .. } if message.contains("scope") => {
                MarketError::Forbidden(message)
            }
            HttpError::Status { status: 401, .. } => MarketError::Unauthorized,
            HttpError::Status { status: 403, message, .. } => MarketError::Forbidden(message),
            HttpError::Status { status: 429, retry_after, .. } => MarketError::RateLimited { retry_after },
            HttpError::Status { status, message, .. } if status >= 500 => {
                MarketError::Unavailable(format!("HTTP {status}: {message}"))
            }
            HttpError::Status { status, message, .. } => MarketError::Rejected { status, message },
        }
    }
}

/// A part of a marketplace account that a key may or may not reach: the settings page, the
/// connection test, `supportd doctor` and the sync report each part on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Orders (WB: FBS assembly orders; Ozon: FBS and FBO postings).
    Orders,
    /// WB statistics reports (FBO orders and sales).
    Statistics,
    /// Product cards.
    Content,
    /// Product questions and reviews.
    Questions,
    /// Buyer chats.
    Chats,
    /// Buyers' returns (WB claims, Ozon returns).
    Returns,
    /// Stock on the seller's and the marketplace's warehouses.
    Stocks,
}

impl Part {
    pub const ALL: [Part; 7] =
        [Part::Orders, Part::Statistics, Part::Content, Part::Questions, Part::Chats, Part::Returns, Part::Stocks];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Orders => "orders",
            Part::Statistics => "statistics",
            Part::Content => "content",
            Part::Questions => "questions",
            Part::Chats => "chats",
            Part::Returns => "returns",
            Part::Stocks => "stocks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether a key reaches a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Allowed,
    /// Some of it: e.g. WB stock on the seller's warehouses but not on WB's.
    Partial,
    Denied,
    /// Not known until the marketplace is asked (Ozon keys do not say what they may do).
    Unknown,
    /// The marketplace has no such part (Ozon has no statistics reports).
    NotApplicable,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allowed => "allowed",
            Access::Partial => "partial",
            Access::Denied => "denied",
            Access::Unknown => "unknown",
            Access::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Access::Allowed, Access::Partial, Access::Denied, Access::Unknown, Access::NotApplicable]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What a key may do with one part, and why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PartAccess {
    pub part: Part,
    pub access: Access,
    /// Why it is denied or partial (English; the panel words it in Russian by `part`/`access`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl PartAccess {
    pub fn new(part: Part, access: Access, reason: Option<String>) -> Self {
        Self { part, access, reason }
    }
}

/// What a marketplace key is and may do.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// WB: "personal", "service", "basic" or "test" (the token's `acc`); Ozon: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// When the token expires (ms), if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The token may only read (answers cannot be published).
    pub read_only: bool,
    pub parts: Vec<PartAccess>,
}

impl KeyInfo {
    pub fn access(&self, part: Part) -> Access {
        self.parts.iter().find(|p| p.part == part).map_or(Access::Unknown, |p| p.access)
    }

    /// Whether `part` may be tried (not known to be denied or missing).
    pub fn may(&self, part: Part) -> bool {
        !matches!(self.access(part), Access::Denied | Access::NotApplicable)
    }
}

/// What one poll of questions, reviews and chats found, and how each part went.
#[derive(Debug, Clone, Default)]
pub struct Polled {
    pub questions: Vec<Question>,
    /// Parts that could not be read this time (no access, a subscription missing, a limit),
    /// and parts read successfully (`Allowed`).
    pub parts: Vec<PartAccess>,
}

/// Parses a marketplace's JSON answer into `T`; a malformed one names the endpoint and the
/// field (`GET /api/v3/orders: orders[3].createdAt: invalid type: null, expected a string`).
pub fn parse<T: serde::de::DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, MarketError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            MarketError::Shape(format!("{endpoint}: {inner}"))
        } else {
            MarketError::Shape(format!("{endpoint}: {path}: {inner}"))
        }
    })
}

/// Which orders a sync asks for: placed in [from, to] (full), or whose status changed in
/// [from, to] (incremental, where the API can filter so). Milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
    pub changed_only: bool,
}

/// What kind of public thread a buyer's message is in (the kind decides the answer's length
/// limits and its deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadKind {
    /// A product question.
    Question,
    /// A review (WB feedback, Ozon review).
    Review,
    /// A buyer chat.
    Chat,
}

impl ThreadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadKind::Question => "question",
            ThreadKind::Review => "review",
            ThreadKind::Chat => "chat",
        }
    }
}

/// A buyer's message on a marketplace that the seller may answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The message's own id (inbox key).
    pub id: String,
    /// Where the answer goes: the question id on WB, the chat id on Ozon.
    pub thread: String,
    pub text: String,
    pub product: Option<String>,
    pub kind: ThreadKind,
    /// When the buyer wrote it, by the marketplace (ms).
    pub created_at: Option<i64>,
}

/// One page of product cards and the cursor of the next one.
pub type ProductPage = (Vec<crate::store::kb::ProductInput>, Option<String>);

/// One page of a listing; `next` continues it (none: the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

/// One marketplace account. Implementations live in `wb` and `ozon`.
pub trait MarketplaceApi: Send + Sync {
    fn market(&self) -> Market;

    /// Whether its keys are set now (they may be added from the settings page at run time).
    fn has_key(&self) -> BoxFuture<'_, bool>;

    /// What the key is and may do, as far as it says without asking the marketplace (a WB
    /// token carries its kind and scopes; an Ozon key says nothing).
    fn key_info(&self) -> BoxFuture<'_, KeyInfo> {
        Box::pin(async {
            KeyInfo {
                parts: Part::ALL.map(|p| PartAccess::new(p, Access::Unknown, None)).to_vec(),
                ..KeyInfo::default()
            }
        })
    }

    /// The connection test: [`MarketplaceApi::key_info`] confirmed by the marketplace (a
    /// rejected key is an error; what each part answered is in the parts).
    fn check(&self) -> BoxFuture<'_, Result<KeyInfo, MarketError>>;

    /// The parts a sync lists orders from, in order.
    fn order_parts(&self) -> &'static [Part] {
        &[Part::Orders]
    }

    /// One page of `part`'s orders in `window`, from `cursor` (none: the first page).
    fn orders_page<'a>(
        &'a self,
        part: Part,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, MarketError>>;

    /// Current statuses of `orders` (cached copies), for APIs that cannot list by status
    /// change; the default asks nothing.
    fn refresh<'a>(&'a self, _orders: &'a [Order]) -> BoxFuture<'a, Result<Vec<Order>, MarketError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// One page of the seller's product cards (with prices and stocks where the API gives
    /// them), from `cursor`; `next` continues.
    fn products_page<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<ProductPage, MarketError>>;

    /// One page of buyers' returns (WB claims, Ozon returns) changed in `window` (where the API
    /// can filter so), from `cursor`; `next` continues.
    fn returns_page<'a>(
        &'a self,
        _window: Window,
        _cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ReturnPage, MarketError>> {
        Box::pin(async { Ok((Vec::new(), None)) })
    }

    /// Buyers' messages waiting for the seller (questions, reviews, chats). A part the key or
    /// the subscription does not reach is reported in [`Polled::parts`] and the others are
    /// still read; only a rejected key fails the whole poll.
    fn questions(&self) -> BoxFuture<'_, Result<Polled, MarketError>> {
        Box::pin(async { Ok(Polled::default()) })
    }

    /// Publishes the seller's answer in `thread` (a WB question, an Ozon chat).
    fn answer<'a>(&'a self, _thread: &'a str, _text: &'a str) -> BoxFuture<'a, Result<(), MarketError>> {
        Box::pin(async { Err(MarketError::Rejected { status: 501, message: "answers are not supported".into() }) })
    }

    /// The channel its questions travel under.
    fn qa_channel(&self) -> crate::channels::ChannelName;

    /// Whether listing by status change is supported (else the sync refreshes unfinished
    /// orders with [`MarketplaceApi::refresh`]).
    fn lists_changes(&self) -> bool {
        true
    }

    /// The order `number` as the marketplace knows it now. `cached` is our last copy (some
    /// APIs only report a status by id, and the rest is kept from the sync). `Ok(None)`: the
    /// marketplace has no such order for this seller.
    fn order<'a>(
        &'a self,
        number: &'a str,
        cached: Option<&'a Order>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<Order>, MarketError>>;
}

/// Where an order's facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderSource {
    /// The local copy from the last sync.
    Cache,
    /// Asked from the marketplace just now.
    Live,
}

impl OrderSource {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSource::Cache => "cache",
            OrderSource::Live => "live",
        }
    }
}

/// An order lookup's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub order: Order,
    /// Set when the data is older than the freshness window and the marketplace could not be
    /// asked: the answer must say "as of" this time.
    pub stale_since: Option<i64>,
    pub source: OrderSource,
    /// Returns requested on this order (from the last sync), newest first.
    pub returns: Vec<Return>,
}

impl Found {
    /// The cached copy when the marketplace could not be asked: "as of" its last sync.
    fn as_of(order: Order) -> Self {
        Found { stale_since: Some(order.synced_at), order, source: OrderSource::Cache, returns: Vec::new() }
    }
}

/// Order lookups for the engine: cache first, the marketplace when stale, cache as fallback.
pub struct Orders {
    db: Db,
    clock: SharedClock,
    apis: HashMap<Market, Arc<dyn MarketplaceApi>>,
    fresh_ms: i64,
    timeout: Duration,
}

impl Orders {
    pub fn new(db: Db, clock: SharedClock, fresh: Duration, timeout: Duration) -> Self {
        Self { db, clock, apis: HashMap::new(), fresh_ms: fresh.as_millis() as i64, timeout }
    }

    pub fn with_api(mut self, api: Arc<dyn MarketplaceApi>) -> Self {
        self.apis.insert(api.market(), api);
        self
    }

    /// Replaces every adapter with `f(adapter)` (the plan's gate wraps them).
    pub fn map_apis(mut self, f: impl Fn(Arc<dyn MarketplaceApi>) -> Arc<dyn MarketplaceApi>) -> Self {
        for api in self.apis.values_mut() {
            *api = f(api.clone());
        }
        self
    }

    /// Every marketplace API (with or without keys yet).
    pub fn apis(&self) -> Vec<Arc<dyn MarketplaceApi>> {
        let mut v: Vec<Arc<dyn MarketplaceApi>> = self.apis.values().cloned().collect();
        v.sort_by_key(|a| a.market().as_str());
        v
    }

    /// The marketplace APIs whose keys are set now.
    pub async fn connected_apis(&self) -> Vec<Arc<dyn MarketplaceApi>> {
        let mut out = Vec::new();
        for api in self.apis() {
            if api.has_key().await {
                out.push(api);
            }
        }
        out
    }

    /// The marketplaces with keys.
    pub async fn connected(&self) -> Vec<Market> {
        self.connected_apis().await.iter().map(|a| a.market()).collect()
    }

    /// The order with this number (as a buyer wrote it: spaces are ignored), or `None` when
    /// neither the cache nor the marketplace knows it.
    pub async fn find(&self, number: &str) -> Result<Option<Found>, MarketError> {
        let Some(mut found) = self.lookup(number).await? else { return Ok(None) };
        let order = found.order.clone();
        found.returns = self
            .db
            .call(move |c| rows::returns_of(c, &order))
            .await
            .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
        Ok(Some(found))
    }

    async fn lookup(&self, number: &str) -> Result<Option<Found>, MarketError> {
        let number: String = number.chars().filter(|c| !c.is_whitespace()).collect();
        let market = Market::of_number(&number);
        let cached = {
            let n = number.clone();
            self.db
                .call(move |c| rows::get(c, market, &n))
                .await
                .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?
        };
        let now = self.clock.now_ms();
        let fresh = |o: &Order| o.status.is_final() || now - o.synced_at < self.fresh_ms;
        if let Some(o) = &cached
            && fresh(o)
        {
            return Ok(Some(Found {
                order: o.clone(),
                stale_since: None,
                source: OrderSource::Cache,
                returns: Vec::new(),
            }));
        }
        let api = match self.apis.get(&market) {
            Some(api) if api.has_key().await => api,
            _ => {
                return Ok(cached.map(Found::as_of));
            }
        };
        let deadline = Instant::now() + self.timeout;
        let live = tokio::time::timeout(self.timeout, api.order(&number, cached.as_ref(), deadline)).await;
        match live {
            Ok(Ok(Some(mut order))) => {
                order.synced_at = now;
                if order.status_at == 0 {
                    order.status_at = now;
                }
                if order.created_at == 0 {
                    order.created_at = cached.as_ref().map_or(now, |c| c.created_at);
                }
                let o = order.clone();
                self.db
                    .call(move |c| rows::upsert(c, &o, now))
                    .await
                    .map_err(|e| MarketError::Unavailable(format!("order cache: {e}")))?;
                Ok(Some(Found { order, stale_since: None, source: OrderSource::Live, returns: Vec::new() }))
            }
            Ok(Ok(None)) => Ok(None),
            Ok(Err(e)) => {
                tracing::warn!(market = market.as_str(), error = %e, "live order lookup failed; answering from the cache");
                Ok(cached.map(Found::as_of))
            }
            Err(_) => {
                tracing::warn!(market = market.as_str(), "live order lookup timed out; answering from the cache");
                Ok(cached.map(Found::as_of))
            }
        }
    }
}

/// The marketplaces configured with keys (config/environment or the encrypted store).
pub fn setup(config: &crate::config::Config, db: Db, cipher: crate::crypto::Cipher, clock: SharedClock) -> Orders {
    let m = &config.marketplaces;
    let mut orders = Orders::new(
        db.clone(),
        clock,
        Duration::from_secs(m.order_fresh_secs),
        Duration::from_millis(m.lookup_timeout_ms),
    );
    // A key from the config file, or else the encrypted store (read at each call, so keys
    // entered on the settings page work without a restart).
    let key = |fixed: &crate::config::Secret, name: &'static str| -> crate::net::KeyRef {
        if fixed.is_empty() {
            crate::net::KeyRef::Stored { db: db.clone(), cipher: cipher.clone(), name }
        } else {
            crate::net::KeyRef::Fixed(fixed.clone())
        }
    };
    orders = orders.with_api(Arc::new(wb::Wb::new(&m.wb.base_url, key(&m.wb.token, wb::TOKEN))));
    orders = orders.with_api(Arc::new(ozon::Ozon::new(
        &m.ozon.base_url,
        key(&m.ozon.client_id, ozon::CLIENT_ID),
        key(&m.ozon.api_key, ozon::API_KEY),
    )));
    orders
}
