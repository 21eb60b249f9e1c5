//! Ozon Seller API (`api-seller.ozon.ru`): every call is a POST with a JSON body and the
//! `Client-Id` and `Api-Key` headers; errors are `{"code", "message", "details"}`.
//! Paths and fields follow `shared/specs/ozon/seller-api.swagger.json`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    Market, MarketError, MarketplaceApi, Order, OrderItem, OrderStatus, Page, Question, Return, ReturnStatus, Window,
};
use crate::BoxFuture;
use crate::net::{HttpClient, KeyRef, RetryPolicy};

pub const DEFAULT_BASE_URL: &str = "https://api-seller.ozon.ru";
/// Names of the stored credentials.
pub const CLIENT_ID: &str = "ozon.client_id";
pub const API_KEY: &str = "ozon.api_key";

pub struct Ozon {
    http: HttpClient,
    base_url: String,
    client_id: KeyRef,
    api_key: KeyRef,
}

impl Ozon {
    pub fn new(base_url: &str, client_id: KeyRef, api_key: KeyRef) -> Self {
        // The Seller API allows about 50 requests per second per account for postings.
        // Waits out bursts of 429 (honouring their retry headers) rather than failing a sync.
        let policy =
            RetryPolicy { attempts: 8, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) };
        let http = HttpClient::new(Duration::from_secs(30), policy, Some((20.0, 10)));
        Self { http, base_url: base_url.trim_end_matches('/').to_owned(), client_id, api_key }
    }

    async fn post(&self, path: &str, body: &Value, deadline: Option<Instant>) -> Result<Value, MarketError> {
        let (client_id, key) = (self.client_id.get().await, self.api_key.get().await);
        let url = format!("{}{path}", self.base_url);
        let resp = self
            .http
            .send(
                |c| c.post(&url).header("Client-Id", client_id.expose()).header("Api-Key", key.expose()).json(body),
                deadline,
            )
            .await
            .map_err(MarketError::from)?;
        resp.json::<Value>().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))
    }

    /// One posting, FBS first, then FBO; `None` when neither knows it.
    async fn posting(&self, number: &str, deadline: Instant) -> Result<Option<Order>, MarketError> {
        let fbs = json!({"posting_number": number, "with": {"analytics_data": false, "financial_data": false}});
        for (path, body) in [
            ("/v3/posting/fbs/get", fbs),
            ("/v2/posting/fbo/get", json!({"posting_number": number, "with": {"analytics_data": false}})),
        ] {
            match self.post(path, &body, Some(deadline)).await {
                Ok(v) => return parse_posting(&v["result"]).map(Some),
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
}

/// Postings listed per page (the API's maximum).
pub const PAGE: usize = 1000;
/// How far back an incremental run looks for FBO postings (ms).
const FBO_LOOKBACK: i64 = 14 * 86_400_000;

fn rfc3339(ms: i64) -> String {
    crate::clock::rfc3339(ms)
}

impl Ozon {
    /// FBS postings (`/v3/posting/fbs/list`), then FBO ones (`/v2/posting/fbo/list`, cursor
    /// `fbo:<offset>`). FBO lists only by placement date, so an incremental run covers FBO
    /// postings placed in the last `FBO_LOOKBACK` (their whole delivery).
    async fn list(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        if let Some(fbo) = cursor.and_then(|c| c.strip_prefix("fbo:")) {
            return self.list_fbo(window, fbo.parse().unwrap_or(0)).await;
        }
        let offset: usize = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let filter = if window.changed_only {
            json!({"last_changed_status_date": {"from": rfc3339(window.from), "to": rfc3339(window.to)}})
        } else {
            json!({"since": rfc3339(window.from), "to": rfc3339(window.to)})
        };
        let body = json!({"dir": "ASC", "filter": filter, "limit": PAGE, "offset": offset,
            "with": {"analytics_data": false, "barcodes": false, "financial_data": false}});
        let v = self.post("/v3/posting/fbs/list", &body, None).await?;
        let postings = v["result"]["postings"]
            .as_array()
            .ok_or_else(|| MarketError::Shape("posting list without result.postings".into()))?;
        let orders = postings.iter().map(parse_posting).collect::<Result<Vec<_>, _>>()?;
        let has_next = v["result"]["has_next"].as_bool().unwrap_or(false);
        let next = if has_next && !orders.is_empty() { (offset + orders.len()).to_string() } else { "fbo:0".into() };
        Ok(Page { orders, next: Some(next) })
    }

    async fn list_fbo(&self, window: Window, offset: usize) -> Result<Page, MarketError> {
        let from = if window.changed_only { window.from.min(window.to - FBO_LOOKBACK) } else { window.from };
        let body = json!({"dir": "ASC", "filter": {"since": rfc3339(from), "to": rfc3339(window.to), "status": ""},
            "limit": PAGE, "offset": offset, "translit": false, "with": {"analytics_data": false, "financial_data": false}});
        let v = self.post("/v2/posting/fbo/list", &body, None).await?;
        let postings =
            v["result"].as_array().ok_or_else(|| MarketError::Shape("FBO posting list without result".into()))?;
        let orders = postings.iter().map(parse_posting).collect::<Result<Vec<_>, _>>()?;
        let next = (orders.len() >= PAGE).then(|| format!("fbo:{}", offset + orders.len()));
        Ok(Page { orders, next })
    }
}

impl Ozon {
    /// Buyers' unread messages in open buyer chats.
    async fn unread(&self) -> Result<Vec<Question>, MarketError> {
        let body = json!({"filter": {"chat_status": "Opened", "unread_only": true}, "limit": 100});
        let v = self.post("/v3/chat/list", &body, None).await?;
        let chats = v["chats"].as_array().ok_or_else(|| MarketError::Shape("chat list without chats".into()))?;
        let mut out = Vec::new();
        for c in chats {
            let chat = &c["chat"];
            if chat["chat_type"].as_str().is_some_and(|t| t != "Buyer_Seller") {
                continue;
            }
            let Some(id) = chat["chat_id"].as_str() else { continue };
            let h = self
                .post("/v3/chat/history", &json!({"chat_id": id, "direction": "Backward", "limit": 20}), None)
                .await?;
            let messages =
                h["messages"].as_array().ok_or_else(|| MarketError::Shape("chat history without messages".into()))?;
            let mut mine: Vec<Question> = messages
                .iter()
                .filter(|m| {
                    m["user"]["type"].as_str().is_some_and(|t| t.ends_with("ustomer"))
                        && !m["is_read"].as_bool().unwrap_or(false)
                })
                .filter_map(|m| {
                    let text: Vec<&str> = m["data"].as_array()?.iter().filter_map(Value::as_str).collect();
                    Some(Question {
                        id: format!(
                            "{id}:{}",
                            m["message_id"]
                                .as_str()
                                .map(str::to_owned)
                                .or_else(|| m["message_id"].as_u64().map(|n| n.to_string()))?
                        ),
                        thread: id.to_owned(),
                        text: text.join("\n"),
                        product: m["context"]["sku"].as_str().map(str::to_owned),
                    })
                })
                .collect();
            mine.reverse();
            out.extend(mine);
        }
        Ok(out)
    }

    /// Products (`/v3/product/list` by `last_id`, then `/v3/product/info/list` for names,
    /// prices and stocks), 100 per page.
    async fn products(&self, cursor: Option<&str>) -> Result<super::ProductPage, MarketError> {
        let body = json!({"filter": {"visibility": "ALL"}, "last_id": cursor.unwrap_or(""), "limit": 100});
        let v = self.post("/v3/product/list", &body, None).await?;
        let items = v["result"]["items"]
            .as_array()
            .ok_or_else(|| MarketError::Shape("product list without result.items".into()))?;
        let ids: Vec<i64> = items.iter().filter_map(|i| i["product_id"].as_i64()).collect();
        if ids.is_empty() {
            return Ok((Vec::new(), None));
        }
        let info = self.post("/v3/product/info/list", &json!({"product_id": ids}), None).await?;
        let list = info["items"].as_array().ok_or_else(|| MarketError::Shape("product info without items".into()))?;
        let mut out = Vec::with_capacity(list.len());
        for p in list {
            let offer = text(&p["offer_id"]).ok_or_else(|| MarketError::Shape("a product without offer_id".into()))?;
            let stock: i64 = p["stocks"]["stocks"]
                .as_array()
                .map(|a| {
                    a.iter().map(|s| s["present"].as_i64().unwrap_or(0) - s["reserved"].as_i64().unwrap_or(0)).sum()
                })
                .unwrap_or(0);
            out.push(crate::store::kb::ProductInput {
                marketplace: "ozon".into(),
                offer_id: offer,
                marketplace_id: p["sku"].as_i64().or(p["id"].as_i64()).map(|n| n.to_string()).unwrap_or_default(),
                name: text(&p["name"]).unwrap_or_default().chars().take(500).collect(),
                category: String::new(),
                description: String::new(),
                attributes: serde_json::Map::new(),
                price_rub: p["price"].as_str().and_then(|s| s.parse().ok()).or(p["price"].as_f64()),
                stock: Some(stock.max(0)),
            });
        }
        let last = v["result"]["last_id"].as_str().filter(|l| !l.is_empty() && items.len() >= 100).map(str::to_owned);
        Ok((out, last))
    }

    /// Unprocessed reviews with text; their thread is `review:<id>`.
    async fn reviews(&self) -> Result<Vec<Question>, MarketError> {
        let body = json!({"last_id": "", "limit": 100, "sort_dir": "ASC", "status": "UNPROCESSED"});
        let v = self.post("/v1/review/list", &body, None).await?;
        let list = v["reviews"].as_array().ok_or_else(|| MarketError::Shape("review list without reviews".into()))?;
        Ok(list
            .iter()
            .filter_map(|r| {
                let id = r["id"].as_str()?;
                let text = r["text"].as_str().filter(|t| !t.trim().is_empty())?;
                let stars = r["rating"].as_i64().unwrap_or(0);
                Some(Question {
                    id: format!("review:{id}"),
                    thread: format!("review:{id}"),
                    text: format!("{} {text}", "⭐".repeat(stars.clamp(0, 5) as usize)).trim().to_owned(),
                    product: r["sku"].as_i64().map(|s| s.to_string()),
                })
            })
            .collect())
    }

    /// One page of returns whose status changed in `window` (`/v1/returns/list`, paged by
    /// `last_id`, FBO and FBS alike).
    async fn returns(&self, window: Window, cursor: Option<&str>) -> Result<super::ReturnPage, MarketError> {
        let (from, to) = (iso(window.from), iso(window.to));
        let mut body = json!({
            "filter": {"visual_status_change_moment": {"time_from": from, "time_to": to}},
            "limit": 500,
        });
        if let Some(last) = cursor.and_then(|c| c.parse::<i64>().ok()) {
            body["last_id"] = json!(last);
        }
        let v = self.post("/v1/returns/list", &body, None).await?;
        let list = v["returns"].as_array().ok_or_else(|| MarketError::Shape("return list without returns".into()))?;
        let out = list.iter().map(parse_return).collect::<Result<Vec<_>, _>>()?;
        let next = match (v["has_next"].as_bool(), out.last()) {
            (Some(true), Some(last)) => Some(last.id.clone()),
            _ => None,
        };
        Ok((out, next))
    }

    /// Unprocessed product questions (`/v1/question/list`, paged by `last_id`); their thread is
    /// `question:<id>:<sku>` (an answer needs both). The method needs the Premium Plus
    /// subscription: without it Ozon refuses, and there are simply no questions to poll.
    async fn product_questions(&self) -> Result<Vec<Question>, MarketError> {
        let mut out = Vec::new();
        let mut last = String::new();
        for _ in 0..20 {
            let body = json!({"filter": {"status": "UNPROCESSED"}, "last_id": last});
            let v = match self.post("/v1/question/list", &body, None).await {
                Ok(v) => v,
                Err(MarketError::Forbidden(m)) => {
                    tracing::debug!(reason = %m, "Ozon questions are not available to this account");
                    return Ok(out);
                }
                Err(e) => return Err(e),
            };
            let list = v["questions"]
                .as_array()
                .ok_or_else(|| MarketError::Shape("question list without questions".into()))?;
            for q in list {
                let (Some(id), Some(sku)) = (text(&q["id"]), text(&q["sku"])) else {
                    return Err(MarketError::Shape("a question without id or sku".into()));
                };
                let Some(body) = q["text"].as_str().filter(|t| !t.trim().is_empty()) else { continue };
                out.push(Question {
                    id: format!("question:{id}"),
                    thread: format!("question:{id}:{sku}"),
                    text: body.to_owned(),
                    product: Some(sku),
                });
            }
            match text(&v["last_id"]) {
                Some(next) if !list.is_empty() && next != last => last = next,
                _ => break,
            }
        }
        Ok(out)
    }

    async fn send_chat(&self, chat: &str, text: &str) -> Result<(), MarketError> {
        if let Some((question, sku)) = chat.strip_prefix("question:").and_then(|q| q.rsplit_once(':')) {
            let sku: i64 = sku.parse().map_err(|_| MarketError::Shape(format!("question thread {chat}")))?;
            let body = json!({"question_id": question, "sku": sku, "text": text});
            let v = self.post("/v1/question/answer/create", &body, None).await?;
            return match v["answer_id"].as_str() {
                Some(_) => Ok(()),
                None => Err(MarketError::Shape("question answered without answer_id".into())),
            };
        }
        if let Some(review) = chat.strip_prefix("review:") {
            let body = json!({"review_id": review, "text": text, "mark_review_as_processed": true});
            let v = self.post("/v1/review/comment/create", &body, None).await?;
            return match v["comment_id"].as_str() {
                Some(_) => Ok(()),
                None => Err(MarketError::Shape("comment answered without comment_id".into())),
            };
        }
        let v = self.post("/v1/chat/send/message", &json!({"chat_id": chat, "text": text}), None).await?;
        match v["result"].as_str() {
            Some("success") => Ok(()),
            _ => Err(MarketError::Shape("send message answered without result: success".into())),
        }
    }
}

impl MarketplaceApi for Ozon {
    fn has_key(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { !self.client_id.get().await.is_empty() && !self.api_key.get().await.is_empty() })
    }

    fn questions(&self) -> BoxFuture<'_, Result<Vec<Question>, MarketError>> {
        Box::pin(async {
            let mut all = self.unread().await?;
            all.extend(self.reviews().await?);
            all.extend(self.product_questions().await?);
            Ok(all)
        })
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

    fn orders_page<'a>(&'a self, window: Window, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Page, MarketError>> {
        Box::pin(self.list(window, cursor))
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

fn millis(v: &Value) -> Option<i64> {
    let s = v.as_str().filter(|s| !s.is_empty())?;
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// RFC 3339 in UTC.
fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A return of `/v1/returns/list`. Its visual status (`sys_name`, about 30 values) is mapped
/// by what it says; the marketplace's own words are kept beside.
fn parse_return(r: &Value) -> Result<Return, MarketError> {
    let shape = |what: &str| MarketError::Shape(format!("a return without {what}"));
    let id = text(&r["id"]).ok_or_else(|| shape("id"))?;
    let posting = text(&r["posting_number"]).ok_or_else(|| shape("posting_number"))?;
    let sys = r["visual"]["status"]["sys_name"].as_str().ok_or_else(|| shape("visual.status.sys_name"))?;
    let status = match sys {
        "Cancelled" => ReturnStatus::Cancelled,
        s if s.contains("Rejected") => ReturnStatus::Rejected,
        "MoneyReturned" | "ReceivedBySeller" | "Utilized" | "ReturnedToSeller" => ReturnStatus::Done,
        "Approved" | "ReturnMoneyApproved" => ReturnStatus::Approved,
        s if s.contains("Approval") || s.contains("Dispute") || s.contains("Clarification") => ReturnStatus::Review,
        _ => ReturnStatus::InTransit,
    };
    let changed = millis(&r["visual"]["change_moment"]);
    let created = millis(&r["logistic"]["return_date"]).or(changed).ok_or_else(|| shape("dates"))?;
    Ok(Return {
        market: Market::Ozon,
        id,
        order_ref: posting,
        status,
        status_text: text(&r["visual"]["status"]["display_name"]).unwrap_or_else(|| sys.to_owned()),
        reason: text(&r["return_reason_name"]),
        product: text(&r["product"]["name"]),
        created_at: created,
        updated_at: changed.unwrap_or(created),
    })
}

/// A non-empty string field; Ozon writes int64 ids as strings or as numbers.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned),
    }
}

/// A posting (`result` of `/v3/posting/fbs/get` or `/v2/posting/fbo/get`).
pub fn parse_posting(r: &Value) -> Result<Order, MarketError> {
    let shape = |what: &str| MarketError::Shape(format!("posting without {what}"));
    let number = text(&r["posting_number"]).ok_or_else(|| shape("posting_number"))?;
    let raw = text(&r["status"]).ok_or_else(|| shape("status"))?;
    let substatus = r["substatus"].as_str().unwrap_or("");
    let products = r["products"].as_array().ok_or_else(|| shape("products"))?;
    let items = products
        .iter()
        .map(|p| {
            Ok(OrderItem {
                article: text(&p["offer_id"])
                    .or_else(|| p["sku"].as_i64().map(|s| s.to_string()))
                    .ok_or_else(|| shape("products[].offer_id"))?,
                name: text(&p["name"]).unwrap_or_default(),
                size: None,
                quantity: p["quantity"].as_u64().unwrap_or(1) as u32,
                price_rub: p["price"].as_str().and_then(|s| s.parse().ok()).or(p["price"].as_f64()).unwrap_or(0.0),
            })
        })
        .collect::<Result<Vec<_>, MarketError>>()?;
    let created = millis(&r["in_process_at"]).or_else(|| millis(&r["created_at"])).unwrap_or(0);
    let status_at = millis(&r["delivering_date"]).unwrap_or(created);
    let delivery = &r["delivery_method"];
    Ok(Order {
        market: Market::Ozon,
        number,
        status: status(&raw, substatus),
        status_raw: if substatus.is_empty() { raw } else { format!("{raw}/{substatus}") },
        phone: text(&r["customer"]["phone"]),
        reference: None,
        items,
        tracking: text(&r["tracking_number"]),
        pickup_point: text(&r["customer"]["address"]["pvz_code"]).or_else(|| text(&delivery["name"])),
        storage_until: None,
        eta: millis(&r["shipment_date"]).map(|t| t + 3 * 86_400_000),
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
    fn the_documented_example_parses() {
        let spec = json!({"posting_number": "57195475-0050-3", "status": "awaiting_packaging", "substatus": "",
            "in_process_at": "2021-11-20T09:14:16Z", "shipment_date": "2021-11-23T10:00:00Z", "tracking_number": "",
            "delivery_method": {"name": "Ozon Логистика самостоятельно, Москва"},
            "products": [{"price": "279.0000", "offer_id": "250-7898-1", "name": "Кофе", "sku": 1, "quantity": 2}]});
        let o = parse_posting(&spec).expect("parses");
        assert_eq!(o.status, OrderStatus::New);
        assert_eq!(o.items[0].quantity, 2);
        assert!((o.items[0].price_rub - 279.0).abs() < 1e-9);
        assert_eq!(o.tracking, None);
        assert!(matches!(parse_posting(&json!({"status": "x"})), Err(MarketError::Shape(_))));
    }
}
