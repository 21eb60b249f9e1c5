//! Ozon Seller API (`api-seller.ozon.ru`): every call is a POST with a JSON body and the
//! `Client-Id` and `Api-Key` headers; errors are `{"code", "message", "details"}`. Paths,
//! fields and limits follow `shared/specs/ozon/seller-api.swagger.json`.
//!
//! Chats' history and messages, reviews and product questions need the Premium Plus
//! subscription ("Доступно для продавцов с подпиской Premium Plus"): without it Ozon refuses
//! them, and the poll reports that part and goes on with the others.

pub mod types;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    Access, KeyInfo, Market, MarketError, MarketplaceApi, Order, OrderItem, OrderStatus, Page, Part, PartAccess,
    Polled, Question, Return, ReturnStatus, ThreadKind, Window, parse,
};
use crate::BoxFuture;
use crate::net::{HttpClient, HttpError, KeyRef, RetryPolicy};

/// Names of the stored credentials.
pub const CLIENT_ID: &str = "ozon.client_id";
pub const API_KEY: &str = "ozon.api_key";

/// Postings listed per page: `limit` "максимум — 1000".
pub const PAGE: usize = 1000;
/// `/v2/posting/fbo/list`: `offset` "Максимальное значение — 20000."
const FBO_MAX_OFFSET: usize = 20_000;
/// How far back an incremental run looks for FBO postings (ms): FBO lists only by placement
/// date, so it covers those placed in the last two weeks (their whole delivery).
const FBO_LOOKBACK: i64 = 14 * DAY;
/// An incremental FBS listing asks for postings whose status changed in the window among
/// those placed in this span before it (`filter.since`/`filter.to` are required, "не больше
/// одного года").
const CHANGE_LOOKBACK: i64 = 180 * DAY;
/// A listing that still says `has_next` after this many pages is broken: it stops with an
/// error instead of looping.
pub const MAX_PAGES: usize = 1000;
/// Pages of chats, reviews and questions read per poll (the rest comes with the next one).
const POLL_PAGES: usize = 50;
const DAY: i64 = 86_400_000;

pub struct Ozon {
    http: HttpClient,
    base_url: String,
    client_id: KeyRef,
    api_key: KeyRef,
}

impl Ozon {
    pub fn new(base_url: &str, client_id: KeyRef, api_key: KeyRef) -> Self {
        // "максимум 50 запросов в секунду с одного Client ID" (the document's common errors);
        // the client keeps well below. Waits out bursts of 429 rather than failing a sync.
        let policy =
            RetryPolicy { attempts: 8, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) };
        let http = HttpClient::new(Duration::from_secs(30), policy, Some((20.0, 10)));
        Self { http, base_url: base_url.trim_end_matches('/').to_owned(), client_id, api_key }
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        deadline: Option<Instant>,
    ) -> Result<T, MarketError> {
        let (client_id, key) = (self.client_id.get().await, self.api_key.get().await);
        let url = format!("{}{path}", self.base_url);
        let resp = self
            .http
            .send(
                |c| c.post(&url).header("Client-Id", client_id.expose()).header("Api-Key", key.expose()).json(body),
                deadline,
            )
            .await
            .map_err(|e| classify(e, path))?;
        let bytes = resp.bytes().await.map_err(|e| MarketError::Unavailable(format!("POST {path}: {e}")))?;
        parse(&format!("POST {path}"), &bytes)
    }

    /// One posting, FBS first, then FBO; `None` when neither knows it.
    async fn posting(&self, number: &str, deadline: Instant) -> Result<Option<Order>, MarketError> {
        let fbs = json!({"posting_number": number, "with": {"analytics_data": false, "financial_data": false}});
        let fbo = json!({"posting_number": number, "with": {"analytics_data": false}});
        for (path, body) in [("/v3/posting/fbs/get", fbs), ("/v2/posting/fbo/get", fbo)] {
            match self.post::<types::Envelope<types::Posting>>(path, &body, Some(deadline)).await {
                Ok(v) => return parse_posting(&v.result, path).map(Some),
                Err(MarketError::Rejected { status: 404, .. }) => continue,
                // Ozon answers an unknown posting number with 400 "not found" too.
                Err(MarketError::Rejected { status: 400, message }) if message.to_lowercase().contains("not found") => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// FBS postings (`/v3/posting/fbs/list`, cursor `fbs:<offset>:<first posting of the
    /// page>`), then FBO ones (`/v2/posting/fbo/list`, cursor `fbo:<since ms>:<offset>`).
    async fn list(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        let mut parts = cursor.unwrap_or("fbs:0:").splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("fbo"), Some(since), Some(offset)) => {
                self.list_fbo(window, since.parse().ok(), offset.parse().unwrap_or(0)).await
            }
            (_, offset, first) => {
                self.list_fbs(window, offset.and_then(|o| o.parse().ok()).unwrap_or(0), first.unwrap_or("")).await
            }
        }
    }

    /// An incremental run asks for postings whose status changed in the window
    /// (`filter.last_changed_status_date`), among those placed in `CHANGE_LOOKBACK` before it
    /// (`filter.since` and `filter.to` are required).
    async fn list_fbs(&self, window: Window, offset: usize, previous_first: &str) -> Result<Page, MarketError> {
        let filter = if window.changed_only {
            json!({"since": rfc3339(window.to - CHANGE_LOOKBACK), "to": rfc3339(window.to),
                "last_changed_status_date": {"from": rfc3339(window.from), "to": rfc3339(window.to)}})
        } else {
            json!({"since": rfc3339(window.from), "to": rfc3339(window.to)})
        };
        let body = json!({"dir": "asc", "filter": filter, "limit": PAGE, "offset": offset,
            "with": {"analytics_data": false, "barcodes": false, "financial_data": false}});
        const PATH: &str = "/v3/posting/fbs/list";
        let v: types::Envelope<types::FbsList> = self.post(PATH, &body, None).await?;
        let list = v.result;
        let orders = list.postings.iter().map(|p| parse_posting(p, PATH)).collect::<Result<Vec<_>, _>>()?;
        let first = list.postings.first().map_or("", |p| p.posting_number.as_str());
        let fbo_since = if window.changed_only { window.from.min(window.to - FBO_LOOKBACK) } else { window.from };
        if !list.has_next {
            return Ok(Page { orders, next: Some(format!("fbo:{fbo_since}:0")) });
        }
        if list.postings.is_empty() {
            return Err(MarketError::Shape(format!(
                "POST {PATH}: has_next is true on an empty page (offset {offset})"
            )));
        }
        if first == previous_first {
            return Err(MarketError::Shape(format!(
                "POST {PATH}: has_next is true but offset {offset} repeats the last page"
            )));
        }
        if offset / PAGE + 1 >= MAX_PAGES {
            return Err(MarketError::Shape(format!("POST {PATH}: has_next is still true after {MAX_PAGES} pages")));
        }
        Ok(Page { orders, next: Some(format!("fbs:{}:{first}", offset + list.postings.len())) })
    }

    /// FBO postings placed since `since`, `offset` at most 20,000: past it the listing starts
    /// again from the last posting's placement time.
    async fn list_fbo(&self, window: Window, since: Option<i64>, offset: usize) -> Result<Page, MarketError> {
        let since = since.unwrap_or(window.from);
        let body = json!({"dir": "asc", "filter": {"since": rfc3339(since), "to": rfc3339(window.to)},
            "limit": PAGE, "offset": offset, "translit": false, "with": {"analytics_data": false, "financial_data": false}});
        const PATH: &str = "/v2/posting/fbo/list";
        let v: types::Envelope<Vec<types::Posting>> = self.post(PATH, &body, None).await?;
        let orders = v.result.iter().map(|p| parse_posting(p, PATH)).collect::<Result<Vec<_>, _>>()?;
        if orders.len() < PAGE {
            return Ok(Page { orders, next: None });
        }
        let next_offset = offset + orders.len();
        let next = if next_offset <= FBO_MAX_OFFSET {
            format!("fbo:{since}:{next_offset}")
        } else {
            let last = orders.iter().map(|o| o.created_at).max().unwrap_or(since);
            if last <= since {
                return Err(MarketError::Shape(format!(
                    "POST {PATH}: more than {FBO_MAX_OFFSET} postings placed at {}",
                    rfc3339(since)
                )));
            }
            format!("fbo:{last}:0")
        };
        Ok(Page { orders, next: Some(next) })
    }

    /// Buyers' unread messages in open buyer chats (`/v3/chat/list` page by page, then each
    /// chat's `/v3/chat/history`).
    async fn unread(&self) -> Result<Vec<Question>, MarketError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        for page in 0.. {
            if page >= POLL_PAGES {
                break;
            }
            let mut body = json!({"filter": {"chat_status": "Opened", "unread_only": true}, "limit": 100});
            if !cursor.is_empty() {
                body["cursor"] = json!(cursor);
            }
            let list: types::ChatList = self.post("/v3/chat/list", &body, None).await?;
            for c in &list.chats {
                if c.chat.chat_type.as_deref().is_some_and(|t| t != "Buyer_Seller") || c.unread_count == 0 {
                    continue;
                }
                out.extend(self.unread_in(&c.chat.chat_id, c.unread_count).await?);
            }
            match list.cursor {
                Some(next) if list.has_next && !next.is_empty() && next != cursor => cursor = next,
                Some(_) if list.has_next => {
                    return Err(MarketError::Shape(
                        "POST /v3/chat/list: has_next is true but the cursor does not move".into(),
                    ));
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn unread_in(&self, chat: &str, unread: i64) -> Result<Vec<Question>, MarketError> {
        let limit = (unread + 5).clamp(1, 1000);
        let body = json!({"chat_id": chat, "direction": "Backward", "limit": limit});
        let h: types::ChatHistory = self.post("/v3/chat/history", &body, None).await?;
        let mut mine: Vec<Question> = h
            .messages
            .iter()
            .filter(|m| m.user.kind.eq_ignore_ascii_case("customer") && !m.is_read)
            .map(|m| Question {
                id: format!("{chat}:{}", m.message_id),
                thread: chat.to_owned(),
                text: m.data.join("\n"),
                product: m.context.as_ref().and_then(|c| c.sku.clone()).filter(|s| !s.is_empty()),
                kind: ThreadKind::Chat,
                created_at: m.created_at.as_deref().and_then(millis),
            })
            .collect();
        mine.reverse();
        Ok(mine)
    }

    /// Products (`/v3/product/list` by `last_id`, then `/v3/product/info/list` for names,
    /// prices and stocks), 100 per page.
    async fn products(&self, cursor: Option<&str>) -> Result<super::ProductPage, MarketError> {
        let body = json!({"filter": {"visibility": "ALL"}, "last_id": cursor.unwrap_or(""), "limit": 100});
        let v: types::Envelope<types::ProductList> = self.post("/v3/product/list", &body, None).await?;
        let ids: Vec<String> = v.result.items.iter().map(|i| i.product_id.to_string()).collect();
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let info: types::ProductInfoList =
            self.post("/v3/product/info/list", &json!({"product_id": ids}), None).await?;
        let mut out = Vec::with_capacity(info.items.len());
        for p in info.items {
            let stock: i64 = p.stocks.as_ref().map_or(0, |s| s.stocks.iter().map(|s| s.present - s.reserved).sum());
            out.push(crate::store::kb::ProductInput {
                marketplace: "ozon".into(),
                offer_id: p.offer_id,
                marketplace_id: p.sku.unwrap_or(p.id).to_string(),
                name: p.name.unwrap_or_default().chars().take(500).collect(),
                category: String::new(),
                description: String::new(),
                attributes: serde_json::Map::new(),
                price_rub: p.price.as_deref().and_then(|s| s.parse().ok()),
                stock: Some(stock.max(0)),
            });
        }
        let next = v.result.last_id.filter(|l| !l.is_empty() && v.result.items.len() >= 100);
        Ok((out, next))
    }

    /// Unprocessed reviews with text, every page (`last_id`, `has_next`); their thread is
    /// `review:<id>`.
    async fn reviews(&self) -> Result<Vec<Question>, MarketError> {
        let mut out = Vec::new();
        let mut last = String::new();
        for _ in 0..POLL_PAGES {
            let body = json!({"last_id": last, "limit": 100, "sort_dir": "ASC", "status": "UNPROCESSED"});
            let v: types::ReviewList = self.post("/v1/review/list", &body, None).await?;
            for r in &v.reviews {
                let Some(text) = r.text.as_deref().filter(|t| !t.trim().is_empty()) else { continue };
                let stars = r.rating.unwrap_or(0);
                out.push(Question {
                    id: format!("review:{}", r.id),
                    thread: format!("review:{}", r.id),
                    text: format!("{} {text}", "⭐".repeat(stars.clamp(0, 5) as usize)).trim().to_owned(),
                    product: r.sku.map(|s| s.to_string()),
                    kind: ThreadKind::Review,
                    created_at: r.published_at.as_deref().and_then(millis),
                });
            }
            match v.last_id {
                Some(next) if v.has_next && !next.is_empty() && next != last => last = next,
                _ if v.has_next => {
                    return Err(MarketError::Shape(
                        "POST /v1/review/list: has_next is true but last_id does not move".into(),
                    ));
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// One page of returns whose status changed in `window` (`/v1/returns/list`, paged by
    /// `last_id`, FBO and FBS alike).
    async fn returns(&self, window: Window, cursor: Option<&str>) -> Result<super::ReturnPage, MarketError> {
        let mut body = json!({
            "filter": {"visual_status_change_moment": {"time_from": rfc3339(window.from), "time_to": rfc3339(window.to)}},
            "limit": 500,
        });
        let after = cursor.and_then(|c| c.parse::<i64>().ok());
        if let Some(last) = after {
            body["last_id"] = json!(last);
        }
        let v: types::Returns = self.post("/v1/returns/list", &body, None).await?;
        let out = v.returns.iter().map(parse_return).collect::<Result<Vec<_>, _>>()?;
        let next = match (v.has_next, v.returns.last()) {
            (true, Some(last)) if Some(last.id) != after => Some(last.id.to_string()),
            (true, _) => {
                return Err(MarketError::Shape(
                    "POST /v1/returns/list: has_next is true but last_id does not move".into(),
                ));
            }
            _ => None,
        };
        Ok((out, next))
    }

    /// Unprocessed product questions (`/v1/question/list`, paged by `last_id`); their thread is
    /// `question:<id>:<sku>` (an answer needs both).
    async fn product_questions(&self) -> Result<Vec<Question>, MarketError> {
        let mut out = Vec::new();
        let mut last = String::new();
        for _ in 0..POLL_PAGES {
            let body = json!({"filter": {"status": "UNPROCESSED"}, "last_id": last});
            let v: types::QuestionList = self.post("/v1/question/list", &body, None).await?;
            for q in &v.questions {
                let Some(text) = q.text.as_deref().filter(|t| !t.trim().is_empty()) else { continue };
                out.push(Question {
                    id: format!("question:{}", q.id),
                    thread: format!("question:{}:{}", q.id, q.sku),
                    text: text.to_owned(),
                    product: Some(q.sku.to_string()),
                    kind: ThreadKind::Question,
                    created_at: q.published_at.as_deref().and_then(millis),
                });
            }
            match v.last_id {
                Some(next) if !v.questions.is_empty() && !next.is_empty() && next != last => last = next,
                _ => break,
            }
        }
        Ok(out)
    }

    async fn send_chat(&self, chat: &str, text: &str) -> Result<(), MarketError> {
        let kind = super::rules::thread_kind(crate::channels::ChannelName::OzonChat.as_str(), chat);
        if let Err(e) = super::rules::check_length(Market::Ozon, kind, text) {
            return Err(MarketError::Rejected { status: 400, message: e });
        }
        if let Some((question, sku)) = chat.strip_prefix("question:").and_then(|q| q.rsplit_once(':')) {
            let sku: i64 = sku.parse().map_err(|_| MarketError::Shape(format!("question thread {chat}")))?;
            let body = json!({"question_id": question, "sku": sku, "text": text});
            let _: types::AnswerCreated = self.post("/v1/question/answer/create", &body, None).await?;
            return Ok(());
        }
        if let Some(review) = chat.strip_prefix("review:") {
            let body = json!({"review_id": review, "text": text, "mark_review_as_processed": true});
            let _: types::CommentCreated = self.post("/v1/review/comment/create", &body, None).await?;
            return Ok(());
        }
        let v: types::SendResult =
            self.post("/v1/chat/send/message", &json!({"chat_id": chat, "text": text}), None).await?;
        match v.result.as_str() {
            "success" => Ok(()),
            other => Err(MarketError::Rejected {
                status: 200,
                message: format!("POST /v1/chat/send/message: result {other}"),
            }),
        }
    }

    async fn poll(&self) -> Result<Polled, MarketError> {
        let mut out = Polled::default();
        note(&mut out, Part::Chats, self.unread().await)?;
        note(&mut out, Part::Questions, self.reviews().await)?;
        note(&mut out, Part::Questions, self.product_questions().await)?;
        Ok(out)
    }

    /// The connection test: one small request per part.
    async fn connection(&self) -> Result<KeyInfo, MarketError> {
        let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        let day = Window { from: now - DAY, to: now, changed_only: false };
        let mut parts = Vec::new();
        let body = json!({"dir": "asc", "filter": {"since": rfc3339(day.from), "to": rfc3339(day.to)}, "limit": 1, "offset": 0});
        parts.push(probe(
            Part::Orders,
            self.post::<types::Envelope<types::FbsList>>("/v3/posting/fbs/list", &body, None).await,
        )?);
        parts.push(PartAccess::new(Part::Statistics, Access::NotApplicable, None));
        let body = json!({"filter": {"visibility": "ALL"}, "last_id": "", "limit": 1});
        let content = probe(
            Part::Content,
            self.post::<types::Envelope<types::ProductList>>("/v3/product/list", &body, None).await,
        )?;
        parts.push(PartAccess { part: Part::Stocks, ..content.clone() });
        parts.push(content);
        let body = json!({"filter": {"visual_status_change_moment": {"time_from": rfc3339(day.from), "time_to": rfc3339(day.to)}}, "limit": 1});
        parts.push(probe(Part::Returns, self.post::<types::Returns>("/v1/returns/list", &body, None).await)?);
        let body = json!({"last_id": "", "limit": 20, "sort_dir": "ASC", "status": "UNPROCESSED"});
        parts.push(probe(Part::Questions, self.post::<types::ReviewList>("/v1/review/list", &body, None).await)?);
        let body = json!({"filter": {"chat_status": "Opened"}, "limit": 1});
        let chats = self.post::<types::ChatList>("/v3/chat/list", &body, None).await;
        let chats = match chats {
            // The history is what needs Premium Plus: ask it for the first chat.
            Ok(list) => match list.chats.first() {
                Some(c) => {
                    let body = json!({"chat_id": c.chat.chat_id, "direction": "Backward", "limit": 1});
                    probe(Part::Chats, self.post::<types::ChatHistory>("/v3/chat/history", &body, None).await)?
                }
                None => PartAccess::new(Part::Chats, Access::Allowed, None),
            },
            Err(e) => probe::<()>(Part::Chats, Err(e))?,
        };
        parts.push(chats);
        parts.sort_by_key(|p| p.part);
        Ok(KeyInfo { parts, ..KeyInfo::default() })
    }
}

/// A part's probe: allowed, denied (with Ozon's reason), or unknown (rate limited); a wrong key
/// or an unreachable API fails the whole test.
fn probe<T>(part: Part, r: Result<T, MarketError>) -> Result<PartAccess, MarketError> {
    match r {
        Ok(_) => Ok(PartAccess::new(part, Access::Allowed, None)),
        Err(MarketError::Forbidden(m)) => Ok(PartAccess::new(part, Access::Denied, Some(m))),
        Err(e @ MarketError::RateLimited { .. }) => Ok(PartAccess::new(part, Access::Unknown, Some(e.to_string()))),
        Err(e) => Err(e),
    }
}

/// Adds a source's questions, or why it could not be read; only a rejected key fails the poll.
fn note(out: &mut Polled, part: Part, r: Result<Vec<Question>, MarketError>) -> Result<(), MarketError> {
    match r {
        Ok(q) => {
            out.questions.extend(q);
            out.parts.push(PartAccess::new(part, Access::Allowed, None));
        }
        Err(MarketError::Unauthorized) => return Err(MarketError::Unauthorized),
        Err(e @ MarketError::Forbidden(_)) => {
            tracing::debug!(part = part.as_str(), reason = %e, "not available to this Ozon account");
            out.parts.push(PartAccess::new(part, Access::Denied, Some(e.to_string())));
        }
        Err(e) => {
            tracing::warn!(part = part.as_str(), error = %e, "Ozon questions were not read");
            out.parts.push(PartAccess::new(part, Access::Unknown, Some(e.to_string())));
        }
    }
    Ok(())
}

/// Ozon's refusals: a wrong or deactivated key (the document's common errors: "Invalid
/// Api-Key, please check the key and try again", "Api-key is deactivated, use another one or
/// generate a new one") is a wrong key even when it comes as 403; any other 403 (a role the key
/// lacks, an IP restriction, a subscription) is missing access to that part.
fn classify(e: HttpError, path: &str) -> MarketError {
    match e {
        HttpError::Status { status: 401 | 403, message, .. } if wrong_key(&message) => MarketError::Unauthorized,
        HttpError::Status { status: 401, .. } => MarketError::Unauthorized,
        HttpError::Status { status: 403, message, .. } => MarketError::Forbidden(format!("POST {path}: {message}")),
        other => MarketError::from(other),
    }
}

fn wrong_key(message: &str) -> bool {
    let m = message.to_lowercase();
    (m.contains("api-key") || m.contains("client-id")) && (m.contains("invalid") || m.contains("deactivated"))
        || m.contains("client-id and api-key headers are required")
}

impl MarketplaceApi for Ozon {
    fn has_key(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { !self.client_id.get().await.is_empty() && !self.api_key.get().await.is_empty() })
    }

    fn key_info(&self) -> BoxFuture<'_, KeyInfo> {
        Box::pin(async { key_info() })
    }

    fn check(&self) -> BoxFuture<'_, Result<KeyInfo, MarketError>> {
        Box::pin(self.connection())
    }

    fn questions(&self) -> BoxFuture<'_, Result<Polled, MarketError>> {
        Box::pin(self.poll())
    }

    fn answer<'a>(&'a self, thread: &'a str, text: &'a str) -> BoxFuture<'a, Result<(), MarketError>> {
        Box::pin(self.send_chat(thread, text))
    }

    fn returns_page<'a>(
        &'a self,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<super::ReturnPage, MarketError>> {
        Box::pin(self.returns(window, cursor))
    }

    fn qa_channel(&self) -> crate::channels::ChannelName {
        crate::channels::ChannelName::OzonChat
    }

    fn products_page<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<super::ProductPage, MarketError>> {
        Box::pin(self.products(cursor))
    }

    fn market(&self) -> Market {
        Market::Ozon
    }

    fn orders_page<'a>(
        &'a self,
        part: Part,
        window: Window,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page, MarketError>> {
        Box::pin(async move {
            match part {
                Part::Orders => self.list(window, cursor).await,
                _ => Ok(Page { orders: Vec::new(), next: None }),
            }
        })
    }

    fn order<'a>(
        &'a self,
        number: &'a str,
        _cached: Option<&'a Order>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<Order>, MarketError>> {
        Box::pin(self.posting(number, deadline))
    }
}

/// What an Ozon key says of itself: nothing (it is not a token with scopes), and Ozon has no
/// statistics reports.
pub fn key_info() -> KeyInfo {
    let parts = Part::ALL
        .map(|p| match p {
            Part::Statistics => PartAccess::new(p, Access::NotApplicable, None),
            _ => PartAccess::new(p, Access::Unknown, None),
        })
        .to_vec();
    KeyInfo { parts, ..KeyInfo::default() }
}

/// Ozon's posting status (and sub-status) in our terms.
pub fn status(status: &str, substatus: &str) -> OrderStatus {
    match (status, substatus) {
        (_, "posting_in_pickup_point") => OrderStatus::ReadyForPickup,
        ("awaiting_registration" | "acceptance_in_progress" | "awaiting_approve" | "awaiting_packaging", _) => {
            OrderStatus::New
        }
        ("awaiting_deliver", _) => OrderStatus::Assembled,
        ("delivering" | "driver_pickup" | "sent_by_seller", _) => OrderStatus::InTransit,
        ("delivered", _) => OrderStatus::Delivered,
        ("cancelled" | "not_accepted" | "cancelled_from_split_pending", _) => OrderStatus::Cancelled,
        _ => OrderStatus::Problem,
    }
}

fn millis(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn rfc3339(ms: i64) -> String {
    crate::clock::rfc3339(ms)
}

/// A return of `/v1/returns/list`. Its visual status (`sys_name`, about 30 values) is mapped
/// by what it says; the marketplace's own words are kept beside.
fn parse_return(r: &types::ReturnItem) -> Result<Return, MarketError> {
    let sys = r.visual.status.sys_name.as_str();
    let status = match sys {
        "Cancelled" => ReturnStatus::Cancelled,
        s if s.contains("Rejected") => ReturnStatus::Rejected,
        "MoneyReturned" | "ReceivedBySeller" | "Utilized" | "ReturnedToSeller" => ReturnStatus::Done,
        "Approved" | "ReturnMoneyApproved" => ReturnStatus::Approved,
        s if s.contains("Approval") || s.contains("Dispute") || s.contains("Clarification") => ReturnStatus::Review,
        _ => ReturnStatus::InTransit,
    };
    let changed = r.visual.change_moment.as_deref().and_then(millis);
    let created =
        r.logistic.as_ref().and_then(|l| l.return_date.as_deref()).and_then(millis).or(changed).ok_or_else(|| {
            MarketError::Shape(
                "POST /v1/returns/list: returns.logistic.return_date and visual.change_moment are missing".into(),
            )
        })?;
    Ok(Return {
        market: Market::Ozon,
        id: r.id.to_string(),
        order_ref: r.posting_number.clone(),
        status,
        status_text: r.visual.status.display_name.clone().filter(|d| !d.is_empty()).unwrap_or_else(|| sys.to_owned()),
        reason: r.return_reason_name.clone().filter(|t| !t.trim().is_empty()),
        product: r.product.as_ref().and_then(|p| p.name.clone()),
        created_at: created,
        updated_at: changed.unwrap_or(created),
    })
}

/// A posting as an order. The buyer's pick-up point is told only when the posting says it
/// goes to one (`customer.address.pvz_code`): its address is then `customer.address.address_tail`.
/// `delivery_method.name` is how the seller ships, not where the buyer collects.
pub fn parse_posting(p: &types::Posting, endpoint: &str) -> Result<Order, MarketError> {
    let items = p
        .products
        .iter()
        .enumerate()
        .map(|(i, x)| {
            Ok(OrderItem {
                article: x
                    .offer_id
                    .clone()
                    .filter(|o| !o.is_empty())
                    .or_else(|| x.sku.map(|s| s.to_string()))
                    .ok_or_else(|| {
                        MarketError::Shape(format!("POST {endpoint}: products[{i}]: neither offer_id nor sku"))
                    })?,
                name: x.name.clone().unwrap_or_default(),
                size: None,
                quantity: x.quantity.and_then(|q| u32::try_from(q).ok()).unwrap_or(1),
                price_rub: x.price.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0.0),
            })
        })
        .collect::<Result<Vec<_>, MarketError>>()?;
    let created =
        p.in_process_at.as_deref().and_then(millis).or_else(|| p.created_at.as_deref().and_then(millis)).unwrap_or(0);
    let status_at = p.delivering_date.as_deref().and_then(millis).unwrap_or(created);
    let substatus = p.substatus.as_deref().unwrap_or("");
    let pickup = p
        .customer
        .as_ref()
        .and_then(|c| c.address.as_ref())
        .filter(|a| a.pvz_code.is_some_and(|c| c != 0))
        .and_then(|a| a.address_tail.clone())
        .filter(|a| !a.trim().is_empty());
    Ok(Order {
        market: Market::Ozon,
        number: p.posting_number.clone(),
        status: status(&p.status, substatus),
        status_raw: if substatus.is_empty() { p.status.clone() } else { format!("{}/{substatus}", p.status) },
        phone: None,
        reference: None,
        items,
        tracking: p.tracking_number.clone().filter(|t| !t.trim().is_empty()),
        pickup_point: pickup,
        storage_until: None,
        eta: None,
        created_at: created,
        status_at,
        synced_at: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_with_substatus() {
        assert_eq!(status("awaiting_packaging", ""), OrderStatus::New);
        assert_eq!(status("delivering", "posting_in_pickup_point"), OrderStatus::ReadyForPickup);
        assert_eq!(status("delivering", "posting_on_way_to_pickup_point"), OrderStatus::InTransit);
        assert_eq!(status("arbitration", ""), OrderStatus::Problem);
        assert_eq!(status("cancelled", ""), OrderStatus::Cancelled);
    }

    #[test]
    fn the_documented_example_parses_and_names_no_pickup_point() {
        let v = json!({"posting_number": "57195475-0050-3", "status": "awaiting_packaging", "substatus": "",
            "in_process_at": "2021-11-20T09:14:16Z", "shipment_date": "2021-11-23T10:00:00Z", "tracking_number": "",
            "delivery_method": {"name": "Ozon Логистика самостоятельно, Москва"},
            "products": [{"price": "279.0000", "offer_id": "250-7898-1", "name": "Кофе", "sku": 1, "quantity": 2}]});
        let p: types::Posting = serde_json::from_value(v).expect("typed");
        let o = parse_posting(&p, "/v3/posting/fbs/get").expect("parses");
        assert_eq!(o.status, OrderStatus::New);
        assert_eq!(o.items[0].quantity, 2);
        assert!((o.items[0].price_rub - 279.0).abs() < 1e-9);
        assert_eq!((o.tracking, o.pickup_point, o.eta), (None, None, None));
        let with_pvz = json!({"posting_number": "1-1-1", "status": "delivering", "products": [],
            "customer": {"address": {"pvz_code": 17, "address_tail": "Екатеринбург, ул. Малышева, 5"}}});
        let p: types::Posting = serde_json::from_value(with_pvz).expect("typed");
        assert_eq!(
            parse_posting(&p, "x").expect("parses").pickup_point.as_deref(),
            Some("Екатеринбург, ул. Малышева, 5")
        );
        let err =
            parse::<types::Envelope<types::Posting>>("POST /v3/posting/fbs/get", br#"{"result": {"status": "x"}}"#);
        match err {
            Err(MarketError::Shape(m)) => {
                assert!(m.contains("POST /v3/posting/fbs/get") && m.contains("posting_number"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_keys_and_missing_access_are_told_apart() {
        let s = |status, m: &str| HttpError::Status { status, message: m.into(), retry_after: None };
        assert_eq!(
            classify(s(403, "Invalid Api-Key, please check the key and try again"), "/x"),
            MarketError::Unauthorized
        );
        assert_eq!(
            classify(s(403, "Api-key is deactivated, use another one or generate a new one"), "/x"),
            MarketError::Unauthorized
        );
        assert!(matches!(
            classify(s(403, "Api-Key is missing a required role for a method"), "/x"),
            MarketError::Forbidden(_)
        ));
        assert!(matches!(classify(s(403, "available only with Premium Plus"), "/x"), MarketError::Forbidden(_)));
    }
}
