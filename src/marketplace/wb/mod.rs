//! Wildberries seller API. The token goes in the `Authorization` header; each API group has its
//! own host ([`Group::host`]), all of which one base URL can replace
//! (`marketplaces.wb.base_url`). The token is a JWT that says its kind and its categories
//! ([`token`]): a part of the account the token has no category for is reported and skipped,
//! never asked, and each request is limited by the documented limit of the token's kind
//! ([`endpoints::Bucket::limit`]); a limit that would hold a background request for longer than
//! it may wait puts the request off instead (hourly limits of basic tokens).
//!
//! FBS orders have no "get by id": the order itself comes from the sync (list of orders, at
//! most 30 days a request and no older than three months), and a live lookup asks
//! `POST /api/v3/orders/status` for its current supplier and WB statuses. FBO orders and sales
//! come from the statistics reports, named by `srid`.

pub mod endpoints;
pub mod token;
pub mod types;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    Access, KeyInfo, Market, MarketError, MarketplaceApi, Order, OrderItem, OrderStatus, Page, Part, PartAccess,
    Polled, Question, Return, ReturnStatus, ThreadKind, Window, parse,
};
use crate::BoxFuture;
use crate::config::Secret;
use crate::net::{HttpClient, HttpError, KeyRef, RetryPolicy, SendOptions};
pub use endpoints::{Bucket, ENDPOINTS, Endpoint, Group};
pub use token::{SCOPE_BITS, TokenInfo, TokenKind, token_info};

/// The statistics report's warehouse type of FBO orders (shipped from WB's own warehouses).
const FBO_WAREHOUSE: &str = "Склад WB";
/// Name of the stored credential.
pub const TOKEN: &str = "wb.token";
/// Orders listed per page (the API's maximum, `limit`).
pub const PAGE: usize = 1000;
const DAY: i64 = 86_400_000;
/// One FBS listing request spans at most this: "Максимум 30 календарных дней одним запросом"
/// (03-orders-fbs.yaml, `GET /api/v3/orders`).
const FBS_WINDOW: i64 = 30 * DAY;
/// A sync waits this long for a documented limit; a longer wait (a basic token's hourly
/// limits) puts the part off to the next run.
const SYNC_WAIT: Duration = Duration::from_secs(90);
/// Question polling and publishing wait at most this for a limit.
const POLL_WAIT: Duration = Duration::from_secs(15);
/// `take` of the question and feedback lists, and where paging stops: "сумма значений
/// параметров `take` и `skip` не должна превышать 10 000" (questions).
const QA_PAGE: i64 = 100;
const QA_MAX: i64 = 10_000;
/// Pages of chat events read per poll (the rest comes with the next one).
const EVENT_PAGES: usize = 20;

/// Where each API group's requests go.
enum Hosts {
    /// Each group's own host.
    Real,
    /// One host for every group (`marketplaces.wb.base_url`: proxies, tests).
    One(String),
    /// Each group's host replaced by another (the tests' per-host fake).
    Map(HashMap<String, String>),
}

/// A request body.
enum Body<'a> {
    None,
    Json(&'a Value),
    Form(Vec<(&'static str, String)>),
}

pub struct Wb {
    hosts: Hosts,
    token: KeyRef,
    /// One client per shared limit.
    clients: HashMap<Bucket, HttpClient>,
    /// Documented limits are run this many times faster (tests and benchmarks).
    scale: f64,
    /// Where the chat event feed continues; events already stored are recognised anyway.
    chat_next: tokio::sync::Mutex<Option<i64>>,
    /// Chat → its `replySign` (from events with `isNewChat`, or the chat list).
    reply_signs: tokio::sync::Mutex<HashMap<String, String>>,
    /// Stock per products run: WB's warehouses per nmID (the report allows three calls a
    /// minute), the seller's warehouse ids.
    stock_cache: tokio::sync::Mutex<Option<StockCache>>,
    /// Which of questions and feedbacks is read first (they share a limit of five an hour for
    /// a basic token, so each gets its turn).
    poll_turn: AtomicUsize,
}

#[derive(Clone, Default)]
struct StockCache {
    wb: Option<HashMap<i64, i64>>,
    warehouses: Option<Vec<i64>>,
}

impl Wb {
    pub fn new(base_url: &str, token: KeyRef) -> Self {
        // Waits out bursts of 429 (honouring their retry headers) rather than failing a sync,
        // as long as the wait is short; longer ones are the caller's to schedule.
        let policy =
            RetryPolicy { attempts: 8, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) };
        let clients = Bucket::ALL
            .into_iter()
            .map(|b| {
                let r = b.limit(TokenKind::Personal);
                let timeout =
                    if matches!(b, Bucket::ReportOrders | Bucket::ReportSales | Bucket::WbStocks) { 60 } else { 30 };
                (b, HttpClient::new(Duration::from_secs(timeout), policy, Some((r.per_second, r.burst))))
            })
            .collect();
        let base = base_url.trim_end_matches('/');
        Self {
            hosts: if base.is_empty() { Hosts::Real } else { Hosts::One(base.to_owned()) },
            token,
            clients,
            scale: 1.0,
            chat_next: tokio::sync::Mutex::new(None),
            reply_signs: tokio::sync::Mutex::new(HashMap::new()),
            stock_cache: tokio::sync::Mutex::new(None),
            poll_turn: AtomicUsize::new(0),
        }
    }

    /// Each group's real origin (`https://marketplace-api.wildberries.ru`) replaced by the
    /// mapped one (tests with a fake per host).
    pub fn with_hosts(mut self, map: HashMap<String, String>) -> Self {
        self.hosts = Hosts::Map(map);
        self
    }

    /// Runs every documented limit `k` times faster (tests and benchmarks against a fake that
    /// does the same).
    pub fn with_limit_scale(mut self, k: f64) -> Self {
        self.scale = k.max(1e-6);
        self
    }

    fn url(&self, group: Group, path: &str) -> String {
        match &self.hosts {
            Hosts::Real => format!("{}{path}", group.host()),
            Hosts::One(b) => format!("{b}{path}"),
            Hosts::Map(m) => format!("{}{path}", m.get(group.host()).map_or(group.host(), String::as_str)),
        }
    }

    async fn token(&self) -> (Secret, Option<TokenInfo>) {
        let t = self.token.get().await;
        let info = token_info(t.expose());
        (t, info)
    }

    /// One request: refused here when the token's categories or kind do not allow the
    /// method (a 4xx would also count as ten requests against the marketplace's limit),
    /// else sent within the limit of the token's kind.
    async fn call(
        &self,
        ep: &Endpoint,
        path: &str,
        query: &[(&str, String)],
        body: Body<'_>,
        deadline: Option<Instant>,
        max_wait: Duration,
    ) -> Result<bytes::Bytes, MarketError> {
        let (token, info) = self.token().await;
        if let Some(i) = &info {
            if !i.has(ep.group.category()) {
                return Err(MarketError::Forbidden(format!(
                    "the token has no «{}» category ({})",
                    ep.group.category_title(),
                    ep.name()
                )));
            }
            if !ep.kinds.is_empty() && !ep.kinds.contains(&i.kind) {
                return Err(MarketError::Forbidden(format!(
                    "{} is not available to a {} token",
                    ep.name(),
                    i.kind.as_str()
                )));
            }
            if i.read_only && ep.writes {
                return Err(MarketError::Forbidden(format!("the token is read-only ({})", ep.name())));
            }
        }
        let kind = info.as_ref().map_or(TokenKind::Personal, |i| i.kind);
        let mut rate = ep.bucket.limit(kind);
        rate.per_second *= self.scale;
        let url = self.url(ep.group, path);
        let method = reqwest::Method::from_bytes(ep.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let client = &self.clients[&ep.bucket];
        let resp = client
            .send_with(
                |c| {
                    let mut r = c.request(method.clone(), &url).header("Authorization", token.expose());
                    if !query.is_empty() {
                        r = r.query(query);
                    }
                    match &body {
                        Body::None => r,
                        Body::Json(v) => r.json(v),
                        Body::Form(fields) => {
                            let form =
                                fields.iter().fold(reqwest::multipart::Form::new(), |f, (k, v)| f.text(*k, v.clone()));
                            r.multipart(form)
                        }
                    }
                },
                SendOptions { deadline, rate: Some(rate), max_wait: Some(max_wait) },
            )
            .await
            .map_err(|e| classify(e, info.as_ref(), ep))?;
        resp.bytes().await.map_err(|e| MarketError::Unavailable(format!("{}: {e}", ep.name())))
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        ep: &Endpoint,
        query: &[(&str, String)],
        max_wait: Duration,
    ) -> Result<T, MarketError> {
        let bytes = self.call(ep, ep.path, query, Body::None, None, max_wait).await?;
        parse(&ep.name(), &bytes)
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        ep: &Endpoint,
        path: &str,
        body: &Value,
        deadline: Option<Instant>,
        max_wait: Duration,
    ) -> Result<T, MarketError> {
        let bytes = self.call(ep, path, &[], Body::Json(body), deadline, max_wait).await?;
        parse(&ep.name(), &bytes)
    }

    /// What the token says it may do.
    async fn info(&self) -> KeyInfo {
        let (_, info) = self.token().await;
        key_info(info.as_ref())
    }

    /// The connection test: the token's own word, and one live request that proves the token
    /// valid (the FBS order list when the token has that category, else `GET /ping`, which any
    /// token may call).
    async fn connection(&self) -> Result<KeyInfo, MarketError> {
        let mut info = self.info().await;
        if info.may(Part::Orders) {
            let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
            let q = [("limit", "1".to_owned()), ("next", "0".into()), ("dateFrom", ((now - DAY) / 1000).to_string())];
            match self.get::<types::OrderList>(&endpoints::ORDERS, &q, POLL_WAIT).await {
                Ok(_) => set(&mut info, Part::Orders, Access::Allowed, None),
                Err(MarketError::Forbidden(m)) => set(&mut info, Part::Orders, Access::Denied, Some(m)),
                Err(e) => return Err(e),
            }
        } else {
            let p: types::Ping = self.get(&endpoints::PING, &[], POLL_WAIT).await?;
            if p.status != "OK" {
                return Err(MarketError::Unavailable(format!("GET /ping: Status {}", p.status)));
            }
        }
        Ok(info)
    }

    /// FBS stock of the given sizes (chrtIDs) summed over the seller's warehouses
    /// (`GET /api/v3/warehouses`, read once per products run, then
    /// `POST /api/v3/stocks/{warehouseId}`, 1000 sizes a request).
    async fn fbs_stock(&self, chrts: &[i64], first_page: bool) -> Result<HashMap<i64, i64>, MarketError> {
        let mut out = HashMap::new();
        if chrts.is_empty() {
            return Ok(out);
        }
        let warehouses = {
            let mut cache = self.stock_cache.lock().await;
            let c = cache.get_or_insert_with(StockCache::default);
            match (&c.warehouses, first_page) {
                (Some(w), false) => w.clone(),
                _ => {
                    let list: Vec<types::Warehouse> = self.get(&endpoints::WAREHOUSES, &[], SYNC_WAIT).await?;
                    let ids: Vec<i64> = list.into_iter().map(|w| w.id).collect();
                    c.warehouses = Some(ids.clone());
                    ids
                }
            }
        };
        for id in warehouses {
            for chunk in chrts.chunks(1000) {
                let path = endpoints::STOCKS.path.replace("{warehouseId}", &id.to_string());
                let v: types::Stocks =
                    self.post(&endpoints::STOCKS, &path, &json!({"chrtIds": chunk}), None, SYNC_WAIT).await?;
                for st in v.stocks {
                    *out.entry(st.chrt_id).or_insert(0) += st.amount;
                }
            }
        }
        Ok(out)
    }

    /// Stock on WB's own warehouses per nmID: the analytics report
    /// `POST /api/analytics/v1/stocks-report/wb-warehouses` (which replaces the removed
    /// `GET /api/v1/supplier/stocks`), all rows in pages of 250,000.
    async fn wb_warehouse_stock(&self) -> Result<HashMap<i64, i64>, MarketError> {
        const LIMIT: usize = 250_000;
        let mut out = HashMap::new();
        let mut offset = 0;
        loop {
            let body = json!({"limit": LIMIT, "offset": offset});
            let v: types::WbStocks =
                self.post(&endpoints::WB_STOCKS, endpoints::WB_STOCKS.path, &body, None, SYNC_WAIT).await?;
            let n = v.data.items.len();
            for r in v.data.items {
                *out.entry(r.nm_id).or_insert(0) += r.quantity;
            }
            if n < LIMIT {
                return Ok(out);
            }
            offset += n;
        }
    }

    /// Product cards (`POST /content/v2/get/cards/list`), 100 per page, oldest change first;
    /// the cursor is the last card's `updatedAt` and `nmID`, and the list ends when `total`
    /// is below the `limit` asked (02-items.yaml, the method's paging steps).
    async fn cards(&self, cursor: Option<&str>) -> Result<super::ProductPage, MarketError> {
        const LIMIT: i64 = 100;
        let mut c = json!({"limit": LIMIT});
        if let Some((updated, nm)) = cursor.and_then(|c| c.split_once('|')) {
            c["updatedAt"] = json!(updated);
            c["nmID"] = json!(nm.parse::<i64>().unwrap_or(0));
        }
        let body = json!({"settings": {"sort": {"ascending": true}, "cursor": c, "filter": {"withPhoto": -1}}});
        let v: types::Cards = self.post(&endpoints::CARDS, endpoints::CARDS.path, &body, None, SYNC_WAIT).await?;
        let chrts = |card: &types::Card| -> Vec<i64> { card.sizes.iter().filter_map(|s| s.chrt_id).collect() };
        let all: Vec<i64> = v.cards.iter().flat_map(chrts).collect();
        // Stock is best effort: a token without these categories still syncs the cards.
        let first = cursor.is_none();
        let fbs = self
            .fbs_stock(&all, first)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "WB seller-warehouse stocks were not read"))
            .ok();
        let wb = {
            let cached = self.stock_cache.lock().await.as_ref().and_then(|c| c.wb.clone());
            match cached {
                Some(m) if !first => Some(m),
                _ => {
                    let m = self
                        .wb_warehouse_stock()
                        .await
                        .inspect_err(|e| tracing::warn!(error = %e, "WB warehouse stocks were not read"))
                        .ok();
                    self.stock_cache.lock().await.get_or_insert_with(StockCache::default).wb = m.clone();
                    m
                }
            }
        };
        let mut out = Vec::with_capacity(v.cards.len());
        for card in &v.cards {
            let nm = card.nm_id;
            let stock = match (&fbs, &wb) {
                (None, None) => None,
                _ => Some(
                    chrts(card).iter().map(|c| fbs.as_ref().and_then(|m| m.get(c)).copied().unwrap_or(0)).sum::<i64>()
                        + wb.as_ref().and_then(|m| m.get(&nm)).copied().unwrap_or(0),
                ),
            };
            let mut attributes = serde_json::Map::new();
            for ch in &card.characteristics {
                let (Some(name), Some(value)) = (&ch.name, &ch.value) else { continue };
                let value = match value {
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", "),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                attributes.insert(name.clone(), json!(value));
            }
            let sizes: Vec<&str> = card.sizes.iter().filter_map(|s| s.tech_size.as_deref()).collect();
            if !sizes.is_empty() {
                attributes.insert(crate::texts::product::SIZES.into(), json!(sizes.join(", ")));
            }
            out.push(crate::store::kb::ProductInput {
                marketplace: "wb".into(),
                offer_id: card.vendor_code.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| nm.to_string()),
                marketplace_id: nm.to_string(),
                name: card.title.as_deref().unwrap_or("").chars().take(500).collect(),
                category: card.subject_name.clone().unwrap_or_default(),
                description: card.description.clone().unwrap_or_default(),
                attributes,
                price_rub: None,
                stock,
            });
        }
        let next = match (&v.cursor.updated_at, v.cursor.nm_id) {
            (Some(u), Some(nm)) if v.cursor.total >= LIMIT => Some(format!("{u}|{nm}")),
            _ => None,
        };
        Ok((out, next))
    }

    /// Unanswered product questions, oldest first, every page (`take` + `skip` ≤ 10 000).
    async fn unanswered(&self) -> Result<Vec<Question>, MarketError> {
        let mut out = Vec::new();
        let mut skip = 0;
        while skip + QA_PAGE <= QA_MAX {
            let q = [
                ("isAnswered", "false".to_owned()),
                ("take", QA_PAGE.to_string()),
                ("skip", skip.to_string()),
                ("order", "dateAsc".into()),
            ];
            let page: types::Questions = match self.get(&endpoints::QUESTIONS, &q, POLL_WAIT).await {
                Ok(p) => p,
                // The next poll reads the rest.
                Err(MarketError::RateLimited { .. }) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            let n = page.data.questions.len() as i64;
            for q in page.data.questions {
                out.push(Question {
                    id: q.id.clone(),
                    thread: q.id,
                    text: q.text,
                    product: q.product_details.and_then(|p| p.product_name),
                    kind: ThreadKind::Question,
                    created_at: rfc3339_ms(&q.created_date),
                });
            }
            if n < QA_PAGE {
                break;
            }
            skip += n;
        }
        Ok(out)
    }

    /// Unanswered feedbacks (reviews) with text, every page; their thread is `feedback:<id>`.
    async fn unanswered_feedbacks(&self) -> Result<Vec<Question>, MarketError> {
        // "Количество отзывов для пропуска (max. 199990)".
        const MAX_SKIP: i64 = 199_990;
        let mut out = Vec::new();
        let mut skip = 0;
        while skip <= MAX_SKIP {
            let q = [
                ("isAnswered", "false".to_owned()),
                ("take", QA_PAGE.to_string()),
                ("skip", skip.to_string()),
                ("order", "dateAsc".into()),
            ];
            let page: types::Feedbacks = match self.get(&endpoints::FEEDBACKS, &q, POLL_WAIT).await {
                Ok(p) => p,
                Err(MarketError::RateLimited { .. }) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            let n = page.data.feedbacks.len() as i64;
            for f in page.data.feedbacks {
                let parts: Vec<&str> = [&f.text, &f.pros, &f.cons]
                    .into_iter()
                    .map(String::as_str)
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                if parts.is_empty() {
                    continue;
                }
                out.push(Question {
                    id: format!("feedback:{}", f.id),
                    thread: format!("feedback:{}", f.id),
                    text: format!("{} {}", "⭐".repeat(f.product_valuation.clamp(0, 5) as usize), parts.join(". "))
                        .trim()
                        .to_owned(),
                    product: f.product_details.and_then(|p| p.product_name),
                    kind: ThreadKind::Review,
                    created_at: rfc3339_ms(&f.created_date),
                });
            }
            if n < QA_PAGE {
                break;
            }
            skip += n;
        }
        Ok(out)
    }

    /// Buyers' new chat messages from the event feed (`GET /api/v1/seller/events`, repeated
    /// with `next` "пока `totalEvents` не станет равным `0`"); their thread is `chat:<chatID>`.
    async fn chat_messages(&self) -> Result<Vec<Question>, MarketError> {
        let mut next = self.chat_next.lock().await;
        let mut out = Vec::new();
        for _ in 0..EVENT_PAGES {
            let query: Vec<(&str, String)> = next.map(|n| vec![("next", n.to_string())]).unwrap_or_default();
            let v: types::Events = match self.get(&endpoints::EVENTS, &query, POLL_WAIT).await {
                Ok(v) => v,
                Err(MarketError::RateLimited { .. }) if !out.is_empty() => break,
                Err(e) => return Err(e),
            };
            let r = v.result;
            let mut signs = self.reply_signs.lock().await;
            for e in &r.events {
                if let Some(sign) = &e.reply_sign {
                    signs.insert(e.chat_id.clone(), sign.clone());
                }
                let text = e.message.as_ref().and_then(|m| m.text.as_deref()).unwrap_or("");
                if e.sender == "client" && !text.trim().is_empty() {
                    out.push(Question {
                        id: format!("chat:{}", e.event_id),
                        thread: format!("chat:{}", e.chat_id),
                        text: text.to_owned(),
                        product: e
                            .message
                            .as_ref()
                            .and_then(|m| m.attachments.as_ref())
                            .and_then(|a| a.good_card.as_ref())
                            .and_then(|g| g.nm_id)
                            .map(|n| n.to_string()),
                        kind: ThreadKind::Chat,
                        created_at: e.add_timestamp,
                    });
                }
            }
            drop(signs);
            if let Some(n) = r.next {
                *next = Some(n);
            }
            if r.total_events == 0 || r.events.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// Sends a chat message: the chat's `replySign` (from its events, else
    /// `GET /api/v1/seller/chats`), then `POST /api/v1/seller/message` (multipart).
    async fn send_chat(&self, chat: &str, text: &str) -> Result<(), MarketError> {
        let known = self.reply_signs.lock().await.get(chat).cloned();
        let sign = match known {
            Some(s) => s,
            None => {
                let v: types::Chats = self.get(&endpoints::CHATS, &[], POLL_WAIT).await?;
                let mut signs = self.reply_signs.lock().await;
                for c in v.result {
                    signs.insert(c.chat_id, c.reply_sign);
                }
                signs
                    .get(chat)
                    .cloned()
                    .ok_or_else(|| MarketError::Rejected { status: 404, message: format!("no chat {chat}") })?
            }
        };
        let form = Body::Form(vec![("replySign", sign), ("message", text.to_owned())]);
        let ep = &endpoints::MESSAGE;
        self.call(ep, ep.path, &[], form, None, POLL_WAIT).await?;
        Ok(())
    }

    /// `PATCH /api/v1/questions` with the answer (state `wbRu`: published on the site), for a
    /// `feedback:<id>` thread `POST /api/v1/feedbacks/answer`, for a `chat:<id>` one a chat
    /// message. A text outside the documented lengths is refused here, permanently.
    async fn publish(&self, id: &str, text: &str) -> Result<(), MarketError> {
        let kind = super::rules::thread_kind(crate::channels::ChannelName::WbQuestions.as_str(), id);
        if let Err(e) = super::rules::check_length(Market::Wb, kind, text) {
            return Err(MarketError::Rejected { status: 400, message: e });
        }
        if let Some(chat) = id.strip_prefix("chat:") {
            return self.send_chat(chat, text).await;
        }
        if let Some(feedback) = id.strip_prefix("feedback:") {
            let ep = &endpoints::ANSWER_FEEDBACK;
            let body = json!({"id": feedback, "text": text});
            self.call(ep, ep.path, &[], Body::Json(&body), None, POLL_WAIT).await?;
            return Ok(());
        }
        let body = json!({"id": id, "answer": {"text": text}, "state": "wbRu"});
        let ep = &endpoints::ANSWER_QUESTION;
        let v: types::FqResult = self.post(ep, ep.path, &body, None, POLL_WAIT).await?;
        if v.error {
            return Err(MarketError::Rejected { status: 200, message: v.error_text.unwrap_or_else(|| "error".into()) });
        }
        Ok(())
    }

    /// Supplier and WB statuses of the orders, 1000 a request.
    async fn statuses(
        &self,
        ids: &[i64],
        deadline: Option<Instant>,
    ) -> Result<HashMap<i64, (String, String)>, MarketError> {
        let mut out = HashMap::new();
        let ep = &endpoints::ORDER_STATUS;
        for chunk in ids.chunks(1000) {
            let v: types::OrderStatuses =
                self.post(ep, ep.path, &json!({"orders": chunk}), deadline, SYNC_WAIT).await?;
            for o in v.orders {
                out.insert(o.id, (o.supplier_status, o.wb_status));
            }
        }
        Ok(out)
    }

    /// One page of FBS orders placed in `window` (`GET /api/v3/orders`), in windows of at most
    /// 30 days and no older than three months; cursor `<window start ms>:<next>`.
    async fn fbs_page(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        // "созданных не более 3 месяцев назад" (a minute of margin for the clocks).
        let earliest = three_months_before(window.to) + 60_000;
        let (start, next) = cursor
            .and_then(|c| c.split_once(':'))
            .and_then(|(s, n)| Some((s.parse::<i64>().ok()?, n.parse::<i64>().ok()?)))
            .unwrap_or((window.from, 0));
        let start = start.max(earliest);
        if start > window.to {
            return Ok(Page { orders: Vec::new(), next: None });
        }
        let end = (start + FBS_WINDOW).min(window.to);
        let query = [
            ("limit", PAGE.to_string()),
            ("next", next.to_string()),
            ("dateFrom", (start / 1000).to_string()),
            ("dateTo", (end / 1000).to_string()),
        ];
        let v: types::OrderList = self.get(&endpoints::ORDERS, &query, SYNC_WAIT).await?;
        let ids: Vec<i64> = v.orders.iter().map(|o| o.id).collect();
        let statuses = self.statuses(&ids, None).await?;
        let mut orders = Vec::with_capacity(v.orders.len());
        for o in &v.orders {
            let created = rfc3339_ms(&o.created_at).ok_or_else(|| {
                MarketError::Shape(format!("GET /api/v3/orders: orders.createdAt: not RFC 3339: {}", o.created_at))
            })?;
            let (supplier, wb) = statuses.get(&o.id).cloned().unwrap_or_else(|| ("new".into(), "waiting".into()));
            let article = if o.article.is_empty() { o.nm_id.to_string() } else { o.article.clone() };
            let price = o.converted_price.unwrap_or(o.price) as f64 / 100.0;
            orders.push(Order {
                market: Market::Wb,
                number: o.id.to_string(),
                status: status(&supplier, &wb),
                status_raw: format!("{supplier}/{wb}"),
                phone: None,
                reference: Some(o.rid.clone()).filter(|r| !r.is_empty()),
                items: vec![OrderItem {
                    article: article.clone(),
                    name: article,
                    size: None,
                    quantity: 1,
                    price_rub: price,
                }],
                tracking: None,
                // `offices` is where the seller takes the order, not the buyer's pick-up point;
                // the FBS order says nothing about the latter.
                pickup_point: None,
                storage_until: None,
                eta: None,
                created_at: created,
                status_at: created,
                synced_at: 0,
            });
        }
        let next = if v.orders.len() >= PAGE {
            Some(format!("{start}:{}", v.next))
        } else if end < window.to {
            Some(format!("{}:0", end + 1000))
        } else {
            None
        };
        Ok(Page { orders, next })
    }

    async fn refresh_all(&self, orders: &[Order]) -> Result<Vec<Order>, MarketError> {
        let ids: Vec<i64> = orders.iter().filter_map(|o| o.number.parse().ok()).collect();
        let statuses = self.statuses(&ids, None).await?;
        Ok(orders
            .iter()
            .filter_map(|o| {
                let (s, w) = statuses.get(&o.number.parse::<i64>().ok()?)?;
                let raw = format!("{s}/{w}");
                (raw != o.status_raw).then(|| Order {
                    status: status(s, w),
                    status_raw: raw,
                    status_at: 0,
                    ..o.clone()
                })
            })
            .collect())
    }

    async fn status_of(
        &self,
        number: &str,
        cached: Option<&Order>,
        deadline: Instant,
    ) -> Result<Option<Order>, MarketError> {
        let Ok(id) = number.parse::<i64>() else {
            // FBO orders (named by srid) are known from the statistics report only.
            return match cached {
                Some(_) => {
                    Err(MarketError::Unavailable("FBO orders have no live status; the last report is used".into()))
                }
                None => Ok(None),
            };
        };
        let statuses = self.statuses(&[id], Some(deadline)).await?;
        let Some((supplier, wb)) = statuses.get(&id) else { return Ok(None) };
        let raw = format!("{supplier}/{wb}");
        let status = status(supplier, wb);
        let mut order = cached.cloned().unwrap_or_else(|| Order {
            market: Market::Wb,
            number: number.to_owned(),
            status,
            status_raw: raw.clone(),
            phone: None,
            reference: None,
            items: Vec::new(),
            tracking: None,
            pickup_point: None,
            storage_until: None,
            eta: None,
            created_at: 0,
            status_at: 0,
            synced_at: 0,
        });
        if order.status_raw != raw {
            order.status_at = 0;
        }
        order.status = status;
        order.status_raw = raw;
        Ok(Some(order))
    }

    /// One page of the statistics report of orders or sales (`GET /api/v1/supplier/orders`,
    /// `/sales`, rows changed since `dateFrom`, Moscow time; cursors `orders:<dateFrom>` and
    /// `sales:<dateFrom>`). Only FBO rows are taken: FBS orders come from the marketplace API by
    /// their assembly id. The next page starts at the last row's `lastChangeDate`, and a report
    /// ends on an empty array ("Если в ответе отдаётся пустой массив `[]`, все заказы уже
    /// выгружены") — or on a page that only repeats rows of that same moment.
    async fn report_page(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        let start = msk_date_time(window.from);
        let (report, from) = match cursor.and_then(|c| c.split_once(':')) {
            Some(("sales", from)) => (Report::Sales, from.to_owned()),
            Some(("orders", from)) => (Report::Orders, from.to_owned()),
            _ => (Report::Orders, start.clone()),
        };
        let ep = match report {
            Report::Orders => &endpoints::REPORT_ORDERS,
            Report::Sales => &endpoints::REPORT_SALES,
        };
        let query = [("dateFrom", from.clone()), ("flag", "0".to_owned())];
        let rows: Vec<types::ReportRow> = self.get(ep, &query, SYNC_WAIT).await?;
        let mut orders = Vec::new();
        for r in &rows {
            if r.warehouse_type.as_deref() == Some(FBO_WAREHOUSE) {
                orders.push(fbo_order(r, report, &ep.name())?);
            }
        }
        let last = rows.last().map(|r| r.last_change_date.clone()).filter(|l| *l != from);
        let next = match (last, report) {
            (Some(last), Report::Orders) => Some(format!("orders:{last}")),
            (Some(last), Report::Sales) => Some(format!("sales:{last}")),
            (None, Report::Orders) => Some(format!("sales:{start}")),
            (None, Report::Sales) => None,
        };
        Ok(Page { orders, next })
    }

    /// One page of buyer claims (`GET /api/v1/claims`): those under review, then the archive
    /// (cursor `<archive 0|1>:<offset>`). WB keeps claims of the last 14 days.
    async fn claims_page(&self, cursor: Option<&str>) -> Result<super::ReturnPage, MarketError> {
        const LIMIT: usize = 200;
        let (archive, offset) = cursor
            .and_then(|c| c.split_once(':'))
            .and_then(|(a, o)| Some((a == "1", o.parse::<usize>().ok()?)))
            .unwrap_or((false, 0));
        let query = [("is_archive", archive.to_string()), ("limit", LIMIT.to_string()), ("offset", offset.to_string())];
        let v: types::Claims = self.get(&endpoints::CLAIMS, &query, SYNC_WAIT).await?;
        let out = v.claims.iter().map(claim).collect::<Result<Vec<_>, _>>()?;
        let total = usize::try_from(v.total).unwrap_or(0);
        let next = if !v.claims.is_empty() && offset + v.claims.len() < total {
            Some(format!("{}:{}", u8::from(archive), offset + v.claims.len()))
        } else if !archive {
            Some("1:0".to_owned())
        } else {
            None
        };
        Ok((out, next))
    }

    async fn poll(&self) -> Result<Polled, MarketError> {
        let mut out = Polled::default();
        let turn = self.poll_turn.fetch_add(1, Ordering::Relaxed);
        for i in 0..2 {
            let r =
                if (turn + i).is_multiple_of(2) { self.unanswered().await } else { self.unanswered_feedbacks().await };
            note(&mut out, Part::Questions, r)?;
        }
        let r = self.chat_messages().await;
        note(&mut out, Part::Chats, r)?;
        Ok(out)
    }
}

/// Adds a source's questions, or why it could not be read; only a rejected token fails the
/// whole poll.
fn note(out: &mut Polled, part: Part, r: Result<Vec<Question>, MarketError>) -> Result<(), MarketError> {
    match r {
        Ok(q) => {
            out.questions.extend(q);
            out.parts.push(PartAccess::new(part, Access::Allowed, None));
        }
        Err(MarketError::Unauthorized) => return Err(MarketError::Unauthorized),
        Err(e @ MarketError::Forbidden(_)) => {
            out.parts.push(PartAccess::new(part, Access::Denied, Some(e.to_string())));
        }
        Err(e) => {
            tracing::warn!(part = part.as_str(), error = %e, "WB questions were not read");
            out.parts.push(PartAccess::new(part, Access::Unknown, Some(e.to_string())));
        }
    }
    Ok(())
}

fn set(info: &mut KeyInfo, part: Part, access: Access, reason: Option<String>) {
    if let Some(p) = info.parts.iter_mut().find(|p| p.part == part) {
        p.access = access;
        p.reason = reason;
    }
}

/// What a token may do, part by part (`None`: not a WB JWT, so nothing is known until asked).
pub fn key_info(info: Option<&TokenInfo>) -> KeyInfo {
    let Some(t) = info else {
        return KeyInfo {
            parts: Part::ALL.map(|p| PartAccess::new(p, Access::Unknown, None)).to_vec(),
            ..KeyInfo::default()
        };
    };
    let by = |group: Group| {
        if t.has(group.category()) {
            (Access::Allowed, None)
        } else {
            (Access::Denied, Some(format!("the token has no «{}» category", group.category_title())))
        }
    };
    let writes = |group: Group| match by(group) {
        (Access::Allowed, _) if t.read_only => {
            (Access::Partial, Some("read-only token: answers are not published".to_owned()))
        }
        other => other,
    };
    let stocks = {
        let seller = t.has(Group::Marketplace.category());
        let wb_kind = endpoints::WB_STOCKS.kinds.contains(&t.kind);
        let wb = t.has(Group::Analytics.category()) && wb_kind;
        match (seller, wb) {
            (true, true) => (Access::Allowed, None),
            (false, false) => (Access::Denied, Some("the token has neither «Marketplace» nor «Analytics»".to_owned())),
            (true, false) if !wb_kind => (
                Access::Partial,
                Some(format!(
                    "stock on WB's warehouses needs a personal or service token, not a {} one",
                    t.kind.as_str()
                )),
            ),
            (true, false) => (Access::Partial, Some("stock on WB's warehouses needs «Analytics»".to_owned())),
            (false, true) => (Access::Partial, Some("stock on the seller's warehouses needs «Marketplace»".to_owned())),
        }
    };
    let parts = [
        (Part::Orders, by(Group::Marketplace)),
        (Part::Statistics, by(Group::Statistics)),
        (Part::Content, by(Group::Content)),
        (Part::Questions, writes(Group::Feedbacks)),
        (Part::Chats, writes(Group::Chat)),
        (Part::Returns, by(Group::Returns)),
        (Part::Stocks, stocks),
    ]
    .into_iter()
    .map(|(p, (a, r))| PartAccess::new(p, a, r))
    .collect();
    KeyInfo { kind: Some(t.kind.as_str().to_owned()), expires_at: t.expires_at, read_only: t.read_only, parts }
}

/// WB's 401s: "token scope not allowed" (or a 401 on a group the token has no category for) is
/// a missing category, any other 401 a wrong or revoked token.
fn classify(e: HttpError, info: Option<&TokenInfo>, ep: &Endpoint) -> MarketError {
    match e {
        HttpError::Status { status: 401, message, .. }
            if message.contains("scope") || info.is_some_and(|i| !i.has(ep.group.category())) =>
        {
            MarketError::Forbidden(format!("{}: {message}", ep.name()))
        }
        HttpError::Status { status: 403, message, .. } => MarketError::Forbidden(format!("{}: {message}", ep.name())),
        other => MarketError::from(other),
    }
}

impl MarketplaceApi for Wb {
    fn market(&self) -> Market {
        Market::Wb
    }

    fn has_key(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { !self.token.get().await.is_empty() })
    }

    fn key_info(&self) -> BoxFuture<'_, KeyInfo> {
        Box::pin(self.info())
    }

    fn check(&self) -> BoxFuture<'_, Result<KeyInfo, MarketError>> {
        Box::pin(self.connection())
    }

    fn order_parts(&self) -> &'static [Part] {
        &[Part::Orders, Part::Statistics]
    }

    fn orders_page<'a>(
        &'a self,
        part: Part,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, MarketError>> {
        Box::pin(async move {
            match part {
                Part::Orders => self.fbs_page(window, cursor).await,
                Part::Statistics => self.report_page(window, cursor).await,
                _ => Ok(Page { orders: Vec::new(), next: None }),
            }
        })
    }

    fn refresh<'a>(&'a self, orders: &'a [Order]) -> BoxFuture<'a, Result<Vec<Order>, MarketError>> {
        Box::pin(self.refresh_all(orders))
    }

    fn returns_page<'a>(
        &'a self,
        _window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<super::ReturnPage, MarketError>> {
        Box::pin(self.claims_page(cursor))
    }

    fn lists_changes(&self) -> bool {
        false
    }

    fn questions(&self) -> BoxFuture<'_, Result<Polled, MarketError>> {
        Box::pin(self.poll())
    }

    fn products_page<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<super::ProductPage, MarketError>> {
        Box::pin(self.cards(cursor))
    }

    fn answer<'a>(&'a self, thread: &'a str, text: &'a str) -> BoxFuture<'a, Result<(), MarketError>> {
        Box::pin(self.publish(thread, text))
    }

    fn qa_channel(&self) -> crate::channels::ChannelName {
        crate::channels::ChannelName::WbQuestions
    }

    fn order<'a>(
        &'a self,
        number: &'a str,
        cached: Option<&'a Order>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<Order>, MarketError>> {
        Box::pin(self.status_of(number, cached, deadline))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    Orders,
    Sales,
}

/// Three calendar months before `ms` (UTC), the oldest FBS order the list returns.
pub fn three_months_before(ms: i64) -> i64 {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else { return ms - 89 * DAY };
    let (mut year, mut month) = (t.year(), i32::from(u8::from(t.month())) - 3);
    if month < 1 {
        month += 12;
        year -= 1;
    }
    let Ok(m) = time::Month::try_from(month as u8) else { return ms - 89 * DAY };
    let day = t.day().min(m.length(year));
    match time::Date::from_calendar_date(year, m, day) {
        Ok(d) => d.with_time(t.time()).assume_utc().unix_timestamp() * 1000,
        Err(_) => ms - 89 * DAY,
    }
}

/// RFC 3339 in ms.
fn rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Moscow time (the statistics API's zone), as the reports write it: `2024-05-01T13:45:00`.
fn msk_date_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000) + MSK_SECS)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]T[hour]:[minute]:[second]");
    format.ok().and_then(|f| t.format(&f).ok()).unwrap_or_default()
}

const MSK_SECS: i64 = 3 * 3600;

/// A report time (Moscow time without a zone, maybe with a fraction, or RFC 3339) in ms.
fn msk_millis(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let (date, clock) = s.split_once('T').unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut c = hms.split(':').map(|p| p.parse::<u8>().ok());
    let (h, min, sec) = (c.next()??, c.next()??, c.next().flatten().unwrap_or(0));
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(y, month, u8::try_from(day).ok()?).ok()?;
    let t = date.with_hms(h, min, sec).ok()?.assume_utc();
    let ms: i64 = frac.chars().chain("000".chars()).take(3).collect::<String>().parse().unwrap_or(0);
    Some(t.unix_timestamp() * 1000 - MSK_SECS * 1000 + ms)
}

/// An FBO order from a row of the orders or sales report. Statuses: ordered (on its way from
/// WB's warehouse), cancelled, sold (`S…` sale), returned (`R…` return).
fn fbo_order(r: &types::ReportRow, report: Report, endpoint: &str) -> Result<Order, MarketError> {
    let shape = |what: &str| MarketError::Shape(format!("{endpoint}: {what}"));
    if r.srid.is_empty() {
        return Err(shape("srid is empty"));
    }
    let created = msk_millis(&r.date).ok_or_else(|| shape("date is not a date"))?;
    let changed = msk_millis(&r.last_change_date).unwrap_or(created);
    let (status, raw) = match report {
        Report::Orders if r.is_cancel => (OrderStatus::Cancelled, "fbo/cancelled"),
        Report::Orders => (OrderStatus::InTransit, "fbo/ordered"),
        Report::Sales => match r.sale_id.as_deref() {
            Some(id) if id.starts_with('R') => (OrderStatus::Cancelled, "fbo/returned"),
            Some(_) => (OrderStatus::Delivered, "fbo/sold"),
            None => return Err(shape("saleID is missing")),
        },
    };
    let status_at = match (report, status) {
        (Report::Orders, OrderStatus::Cancelled) => r.cancel_date.as_deref().and_then(msk_millis).unwrap_or(changed),
        (Report::Orders, _) => created,
        _ => changed,
    };
    let article = r
        .supplier_article
        .clone()
        .filter(|a| !a.is_empty())
        .or_else(|| r.nm_id.map(|n| n.to_string()))
        .ok_or_else(|| shape("supplierArticle and nmId are missing"))?;
    let price = r.finished_price.filter(|p| *p > 0.0).or(r.price_with_disc).unwrap_or(0.0);
    Ok(Order {
        market: Market::Wb,
        number: r.srid.clone(),
        status,
        status_raw: raw.to_owned(),
        phone: None,
        reference: Some(r.srid.clone()),
        items: vec![OrderItem {
            name: article.clone(),
            article,
            size: r.tech_size.clone().filter(|z| !z.is_empty() && z != "0"),
            quantity: 1,
            price_rub: price,
        }],
        tracking: None,
        pickup_point: None,
        storage_until: None,
        eta: None,
        created_at: created,
        status_at,
        synced_at: 0,
    })
}

/// A buyer claim (`GET /api/v1/claims`) as a return. `status`: 0 under review, 1 rejected,
/// 2 approved; `status_ex` says where the item goes: 1 stays with the buyer (rejected), 2 the
/// buyer hands it in and it is disposed of, 5 stays with the buyer (approved), 8 back on sale
/// after WB's check, 10 back to the seller. Only 5 leaves nothing to happen; 2, 8 and 10 are
/// on their way.
pub fn claim_status(code: i64, ex: i64) -> ReturnStatus {
    match (code, ex) {
        (0, _) => ReturnStatus::Review,
        (1, _) => ReturnStatus::Rejected,
        (2, 5) => ReturnStatus::Done,
        (2, 2 | 8 | 10) => ReturnStatus::InTransit,
        (2, _) => ReturnStatus::Approved,
        _ => ReturnStatus::Review,
    }
}

fn claim(c: &types::Claim) -> Result<Return, MarketError> {
    let created = msk_millis(&c.dt)
        .ok_or_else(|| MarketError::Shape(format!("GET /api/v1/claims: claims.dt is not a date: {}", c.dt)))?;
    Ok(Return {
        market: Market::Wb,
        id: c.id.clone(),
        order_ref: c.srid.clone(),
        status: claim_status(c.status, c.status_ex),
        status_text: c
            .wb_comment
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("status {}/{}", c.status, c.status_ex)),
        reason: c.user_comment.clone().filter(|t| !t.trim().is_empty()),
        product: c.imt_name.clone(),
        created_at: created,
        updated_at: c.dt_update.as_deref().and_then(msk_millis).unwrap_or(created),
    })
}

/// An FBS order's supplier status and WB status in our terms (03-orders-fbs.yaml,
/// `POST /api/v3/orders/status`): `cancel` and `cancel_carrier` (the carrier cancelled a
/// cross-border order), and `canceled`, `canceled_by_client`, `declined_by_client`, `defect`
/// (cancelled for a defect) and `canceled_by_carrier` are cancellations.
pub fn status(supplier: &str, wb: &str) -> OrderStatus {
    match (supplier, wb) {
        (_, "sold") => OrderStatus::Delivered,
        ("cancel" | "cancel_carrier", _)
        | (_, "canceled" | "canceled_by_client" | "declined_by_client" | "defect" | "canceled_by_carrier") => {
            OrderStatus::Cancelled
        }
        (_, "ready_for_pickup") => OrderStatus::ReadyForPickup,
        (_, "sorted" | "accepted_by_carrier" | "sent_to_carrier" | "postponed_delivery") => OrderStatus::InTransit,
        ("complete", "waiting" | "") => OrderStatus::Assembled,
        ("new" | "confirm", "waiting" | "") => OrderStatus::New,
        _ => OrderStatus::Problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_times_are_moscow_time() {
        // 2024-05-01 10:45:00 UTC is 13:45 in Moscow.
        let ms = 1_714_560_300_000;
        assert_eq!(msk_date_time(ms), "2024-05-01T13:45:00");
        assert_eq!(msk_millis("2024-05-01T13:45:00"), Some(ms));
        assert_eq!(msk_millis("2024-05-01T13:45:00.245611"), Some(ms + 245));
        assert_eq!(msk_millis("2024-05-01T10:45:00Z"), Some(ms));
    }

    #[test]
    fn statuses_map() {
        assert_eq!(status("new", "waiting"), OrderStatus::New);
        assert_eq!(status("complete", "waiting"), OrderStatus::Assembled);
        assert_eq!(status("complete", "sorted"), OrderStatus::InTransit);
        assert_eq!(status("complete", "ready_for_pickup"), OrderStatus::ReadyForPickup);
        assert_eq!(status("complete", "sold"), OrderStatus::Delivered);
        assert_eq!(status("cancel", "waiting"), OrderStatus::Cancelled);
        // Cancellations the documents list: a defect, and the carrier's (cross-border).
        assert_eq!(status("complete", "defect"), OrderStatus::Cancelled);
        assert_eq!(status("cancel_carrier", "waiting"), OrderStatus::Cancelled);
        assert_eq!(status("complete", "canceled_by_carrier"), OrderStatus::Cancelled);
        assert_eq!(status("confirm", "something_new"), OrderStatus::Problem);
    }

    #[test]
    fn claims_are_done_only_when_nothing_is_left_to_happen() {
        assert_eq!(claim_status(0, 0), ReturnStatus::Review);
        assert_eq!(claim_status(1, 1), ReturnStatus::Rejected);
        assert_eq!(claim_status(2, 5), ReturnStatus::Done);
        // Back on sale after WB's check, or on its way to the seller: not done yet.
        assert_eq!(claim_status(2, 8), ReturnStatus::InTransit);
        assert_eq!(claim_status(2, 10), ReturnStatus::InTransit);
        assert_eq!(claim_status(2, 2), ReturnStatus::InTransit);
    }

    #[test]
    fn three_calendar_months() {
        // 2026-05-31 12:00 UTC → 2026-02-28 12:00 UTC.
        let may31 = 1_780_228_800_000;
        assert_eq!(msk_date_time(three_months_before(may31)), "2026-02-28T15:00:00");
    }

    #[test]
    fn stocks_and_answers_follow_the_token() {
        let t = |kind, scopes: &[&str], read_only| TokenInfo {
            kind,
            scopes: scopes
                .iter()
                .map(|c| 1u64 << SCOPE_BITS.iter().find(|(x, _)| x == c).map(|(_, b)| *b).unwrap_or(0))
                .sum(),
            read_only,
            expires_at: None,
        };
        let base =
            key_info(Some(&t(TokenKind::Base, &["marketplace", "contentanalytics", "questionsandfeedback"], false)));
        assert_eq!(base.access(Part::Stocks), Access::Partial, "WB's stock report is not for basic tokens");
        assert_eq!(base.access(Part::Statistics), Access::Denied);
        assert_eq!(base.kind.as_deref(), Some("basic"));
        let ro = key_info(Some(&t(TokenKind::Personal, &["questionsandfeedback", "buyerchat"], true)));
        assert_eq!(ro.access(Part::Questions), Access::Partial);
        assert_eq!(ro.access(Part::Orders), Access::Denied);
        assert!(key_info(None).parts.iter().all(|p| p.access == Access::Unknown));
    }
}
