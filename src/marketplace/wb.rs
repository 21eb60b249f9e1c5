//! Wildberries seller API: the token goes in the `Authorization` header; each API group has
//! its own host (`marketplace-api.wildberries.ru` for FBS orders), all of which one override
//! base URL can replace. Errors are `{"title", "detail", "code", "status", …}`.
//!
//! FBS orders have no "get by id": the order itself comes from the sync (list of orders), and a
//! live lookup asks `POST /api/v3/orders/status` for its current supplier and WB statuses.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Market, MarketError, MarketplaceApi, Order, OrderItem, OrderStatus, Page, Question, Window};
use crate::BoxFuture;
use crate::net::{HttpClient, KeyRef, RetryPolicy};

/// The hosts of the API groups used; `marketplaces.wb.base_url` replaces all of them at once.
pub const MARKETPLACE_HOST: &str = "https://marketplace-api.wildberries.ru";
pub const FEEDBACKS_HOST: &str = "https://feedbacks-api.wildberries.ru";
pub const CONTENT_HOST: &str = "https://content-api.wildberries.ru";
pub const CHAT_HOST: &str = "https://buyer-chat-api.wildberries.ru";
/// Name of the stored credential.
pub const TOKEN: &str = "wb.token";

pub struct Wb {
    http: HttpClient,
    /// One host for every group (tests, proxies), or none: each group's own host.
    base_url: Option<String>,
    token: KeyRef,
    /// Questions and feedbacks: 3 requests per second, bursts of 6 (a separate limit).
    feedbacks: HttpClient,
    /// Content (product cards): 100 requests per minute, bursts of 5.
    content: HttpClient,
    /// Buyer chats: 10 requests per 10 seconds.
    chats: HttpClient,
    /// Where the chat event feed continues (ms); events already stored are recognised anyway.
    chat_next: tokio::sync::Mutex<Option<i64>>,
}

impl Wb {
    pub fn new(base_url: &str, token: KeyRef) -> Self {
        // FBS orders: 300 requests per minute, bursts of 20 (the group's documented limit).
        // Waits out bursts of 429 (honouring their retry headers) rather than failing a sync.
        let policy =
            RetryPolicy { attempts: 8, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(60) };
        let http = HttpClient::new(Duration::from_secs(30), policy, Some((5.0, 20)));
        let feedbacks = HttpClient::new(Duration::from_secs(30), policy, Some((3.0, 6)));
        let content = HttpClient::new(Duration::from_secs(30), policy, Some((100.0 / 60.0, 5)));
        let chats = HttpClient::new(Duration::from_secs(30), policy, Some((1.0, 10)));
        let base_url = Some(base_url.trim_end_matches('/').to_owned()).filter(|b| !b.is_empty());
        Self { http, base_url, token, feedbacks, content, chats, chat_next: tokio::sync::Mutex::new(None) }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("{}{path}", self.base_url.as_deref().unwrap_or(host))
    }

    async fn post(&self, path: &str, body: &Value, deadline: Option<Instant>) -> Result<Value, MarketError> {
        let token = self.token.get().await;
        let url = self.url(MARKETPLACE_HOST, path);
        let resp =
            self.http.send(|c| c.post(&url).header("Authorization", token.expose()).json(body), deadline).await?;
        resp.json::<Value>().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, MarketError> {
        let token = self.token.get().await;
        let url = self.url(MARKETPLACE_HOST, path);
        let resp = self.http.send(|c| c.get(&url).header("Authorization", token.expose()).query(query), None).await?;
        resp.json::<Value>().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))
    }

    /// Product cards (`POST /content/v2/get/cards/list`), 100 per page; the cursor is the last
    /// card's `updatedAt` and `nmID`.
    async fn cards(&self, cursor: Option<&str>) -> Result<super::ProductPage, MarketError> {
        let mut c = json!({"limit": 100});
        if let Some((updated, nm)) = cursor.and_then(|c| c.split_once('|')) {
            c["updatedAt"] = json!(updated);
            c["nmID"] = json!(nm.parse::<i64>().unwrap_or(0));
        }
        let body = json!({"settings": {"cursor": c, "filter": {"withPhoto": -1}}});
        let token = self.token.get().await;
        let url = self.url(CONTENT_HOST, "/content/v2/get/cards/list");
        let resp =
            self.content.send(|cl| cl.post(&url).header("Authorization", token.expose()).json(&body), None).await?;
        let v: Value = resp.json().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))?;
        let cards = v["cards"].as_array().ok_or_else(|| MarketError::Shape("card list without cards".into()))?;
        let mut out = Vec::with_capacity(cards.len());
        for card in cards {
            let nm = card["nmID"].as_i64().ok_or_else(|| MarketError::Shape("a card without nmID".into()))?;
            let mut attributes = serde_json::Map::new();
            for ch in card["characteristics"].as_array().into_iter().flatten() {
                if let Some(name) = ch["name"].as_str() {
                    let value = match &ch["value"] {
                        Value::Array(a) => a
                            .iter()
                            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(", "),
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    attributes.insert(name.to_owned(), json!(value));
                }
            }
            let sizes: Vec<&str> =
                card["sizes"].as_array().into_iter().flatten().filter_map(|s| s["techSize"].as_str()).collect();
            if !sizes.is_empty() {
                attributes.insert("Размеры".into(), json!(sizes.join(", ")));
            }
            out.push(crate::store::kb::ProductInput {
                marketplace: "wb".into(),
                offer_id: card["vendorCode"].as_str().map_or_else(|| nm.to_string(), str::to_owned),
                marketplace_id: nm.to_string(),
                name: card["title"].as_str().unwrap_or("").chars().take(500).collect(),
                category: card["subjectName"].as_str().unwrap_or("").to_owned(),
                description: card["description"].as_str().unwrap_or("").to_owned(),
                attributes,
                price_rub: None,
                stock: None,
            });
        }
        let next = (cards.len() >= 100)
            .then(|| Some(format!("{}|{}", v["cursor"]["updatedAt"].as_str()?, v["cursor"]["nmID"].as_i64()?)))
            .flatten();
        Ok((out, next))
    }

    /// Unanswered product questions, oldest first.
    async fn unanswered(&self) -> Result<Vec<Question>, MarketError> {
        let token = self.token.get().await;
        let url = self.url(FEEDBACKS_HOST, "/api/v1/questions");
        let query = [("isAnswered", "false"), ("take", "100"), ("skip", "0"), ("order", "dateAsc")];
        let resp =
            self.feedbacks.send(|c| c.get(&url).header("Authorization", token.expose()).query(&query), None).await?;
        let v: Value = resp.json().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))?;
        let list = v["data"]["questions"]
            .as_array()
            .ok_or_else(|| MarketError::Shape("questions without data.questions".into()))?;
        list.iter()
            .map(|q| {
                let id = q["id"].as_str().ok_or_else(|| MarketError::Shape("a question without id".into()))?;
                Ok(Question {
                    id: id.to_owned(),
                    thread: id.to_owned(),
                    text: q["text"].as_str().unwrap_or("").to_owned(),
                    product: q["productDetails"]["productName"].as_str().map(str::to_owned),
                })
            })
            .collect()
    }

    /// Unanswered feedbacks (reviews) with text; their thread is `feedback:<id>`.
    async fn unanswered_feedbacks(&self) -> Result<Vec<Question>, MarketError> {
        let token = self.token.get().await;
        let url = self.url(FEEDBACKS_HOST, "/api/v1/feedbacks");
        let query = [("isAnswered", "false"), ("take", "100"), ("skip", "0"), ("order", "dateAsc")];
        let resp =
            self.feedbacks.send(|c| c.get(&url).header("Authorization", token.expose()).query(&query), None).await?;
        let v: Value = resp.json().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))?;
        let list = v["data"]["feedbacks"]
            .as_array()
            .ok_or_else(|| MarketError::Shape("feedbacks without data.feedbacks".into()))?;
        Ok(list
            .iter()
            .filter_map(|f| {
                let id = f["id"].as_str()?;
                let parts: Vec<&str> = [&f["text"], &f["pros"], &f["cons"]]
                    .iter()
                    .filter_map(|t| t.as_str())
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                let stars = f["productValuation"].as_i64().unwrap_or(0);
                Some(Question {
                    id: format!("feedback:{id}"),
                    thread: format!("feedback:{id}"),
                    text: format!("{} {}", "⭐".repeat(stars.clamp(0, 5) as usize), parts.join(". ")).trim().to_owned(),
                    product: f["productDetails"]["productName"].as_str().map(str::to_owned),
                })
            })
            .collect())
    }

    /// Buyers' new chat messages from the event feed (`GET /api/v1/seller/events`); their thread
    /// is `chat:<chatID>`.
    async fn chat_messages(&self) -> Result<Vec<Question>, MarketError> {
        let token = self.token.get().await;
        let url = self.url(CHAT_HOST, "/api/v1/seller/events");
        let mut next = self.chat_next.lock().await;
        let mut out = Vec::new();
        for _ in 0..10 {
            let query: Vec<(&str, String)> = next.map(|n| vec![("next", n.to_string())]).unwrap_or_default();
            let resp =
                self.chats.send(|c| c.get(&url).header("Authorization", token.expose()).query(&query), None).await?;
            let v: Value = resp.json().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))?;
            let r = &v["result"];
            let events =
                r["events"].as_array().ok_or_else(|| MarketError::Shape("chat events without result.events".into()))?;
            for e in events {
                let (Some(chat), Some(id), Some(text)) =
                    (e["chatID"].as_str(), e["eventID"].as_str(), e["message"]["text"].as_str())
                else {
                    continue;
                };
                if e["sender"] == "client" && !text.trim().is_empty() {
                    out.push(Question {
                        id: format!("chat:{id}"),
                        thread: format!("chat:{chat}"),
                        text: text.to_owned(),
                        product: e["message"]["attachments"]["goodCard"]["nmID"].as_i64().map(|n| n.to_string()),
                    });
                }
            }
            if let Some(n) = r["next"].as_i64() {
                *next = Some(n);
            }
            if r["totalEvents"].as_i64().unwrap_or(0) == 0 || events.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// Sends a chat message: the chat's `replySign` from `GET /api/v1/seller/chats`, then
    /// `POST /api/v1/seller/message` (multipart).
    async fn send_chat(&self, chat: &str, text: &str) -> Result<(), MarketError> {
        let token = self.token.get().await;
        let url = self.url(CHAT_HOST, "/api/v1/seller/chats");
        let resp = self.chats.send(|c| c.get(&url).header("Authorization", token.expose()), None).await?;
        let v: Value = resp.json().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))?;
        let sign = v["result"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["chatID"] == chat))
            .and_then(|c| c["replySign"].as_str())
            .ok_or_else(|| MarketError::Rejected { status: 404, message: format!("no chat {chat}") })?
            .to_owned();
        let url = self.url(CHAT_HOST, "/api/v1/seller/message");
        let text: String = text.chars().take(1000).collect();
        self.chats
            .send(
                |c| {
                    let form =
                        reqwest::multipart::Form::new().text("replySign", sign.clone()).text("message", text.clone());
                    c.post(&url).header("Authorization", token.expose()).multipart(form)
                },
                None,
            )
            .await?;
        Ok(())
    }

    /// `PATCH /api/v1/questions` with the answer (state `wbRu`: published on the site), for a
    /// `feedback:<id>` thread `POST /api/v1/feedbacks/answer`, for a `chat:<id>` one a chat message.
    async fn publish(&self, id: &str, text: &str) -> Result<(), MarketError> {
        if let Some(chat) = id.strip_prefix("chat:") {
            return self.send_chat(chat, text).await;
        }
        if let Some(feedback) = id.strip_prefix("feedback:") {
            let token = self.token.get().await;
            let url = self.url(FEEDBACKS_HOST, "/api/v1/feedbacks/answer");
            let body = json!({"id": feedback, "text": text});
            self.feedbacks.send(|c| c.post(&url).header("Authorization", token.expose()).json(&body), None).await?;
            return Ok(());
        }
        let token = self.token.get().await;
        let url = self.url(FEEDBACKS_HOST, "/api/v1/questions");
        let body = json!({"id": id, "answer": {"text": text}, "state": "wbRu"});
        let resp =
            self.feedbacks.send(|c| c.patch(&url).header("Authorization", token.expose()).json(&body), None).await?;
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if v["error"].as_bool() == Some(true) {
            return Err(MarketError::Rejected {
                status: 200,
                message: v["errorText"].as_str().unwrap_or("error").to_owned(),
            });
        }
        Ok(())
    }

    /// Supplier and WB statuses of up to 1000 orders.
    async fn statuses(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, (String, String)>, MarketError> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(1000) {
            let v = self.post("/api/v3/orders/status", &json!({"orders": chunk}), None).await?;
            let list =
                v["orders"].as_array().ok_or_else(|| MarketError::Shape("status answer without orders".into()))?;
            for o in list {
                let id = o["id"].as_i64().ok_or_else(|| MarketError::Shape("order status without id".into()))?;
                let s = o["supplierStatus"].as_str().unwrap_or("").to_owned();
                let w = o["wbStatus"].as_str().unwrap_or("").to_owned();
                out.insert(id, (s, w));
            }
        }
        Ok(out)
    }

    /// `GET /api/v3/orders` (placed in the window, paged by `next`), with statuses.
    async fn list(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        let next: i64 = cursor.and_then(|c| c.parse().ok()).unwrap_or(0);
        let query = [
            ("limit", PAGE.to_string()),
            ("next", next.to_string()),
            ("dateFrom", (window.from / 1000).to_string()),
            ("dateTo", (window.to / 1000).to_string()),
        ];
        let v = self.get("/api/v3/orders", &query).await?;
        let list = v["orders"].as_array().ok_or_else(|| MarketError::Shape("order list without orders".into()))?;
        let ids: Vec<i64> = list.iter().filter_map(|o| o["id"].as_i64()).collect();
        if ids.len() != list.len() {
            return Err(MarketError::Shape("an order without a numeric id".into()));
        }
        let statuses = self.statuses(&ids).await?;
        let mut orders = Vec::with_capacity(list.len());
        for o in list {
            let id = o["id"].as_i64().unwrap_or_default();
            let created = o["createdAt"]
                .as_str()
                .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .ok_or_else(|| MarketError::Shape("order without createdAt".into()))?;
            let (supplier, wb) = statuses.get(&id).cloned().unwrap_or_else(|| ("new".into(), "waiting".into()));
            let article = o["article"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| o["nmId"].as_i64().map(|n| n.to_string()))
                .unwrap_or_default();
            let price = o["convertedPrice"].as_f64().or(o["price"].as_f64()).unwrap_or(0.0) / 100.0;
            orders.push(Order {
                market: Market::Wb,
                number: id.to_string(),
                status: status(&supplier, &wb),
                status_raw: format!("{supplier}/{wb}"),
                phone: None,
                items: vec![OrderItem {
                    article: article.clone(),
                    name: article,
                    size: None,
                    quantity: 1,
                    price_rub: price,
                }],
                tracking: None,
                pickup_point: o["offices"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|x| x.as_str())
                    .map(str::to_owned),
                storage_until: None,
                eta: None,
                created_at: created,
                status_at: created,
                synced_at: 0,
            });
        }
        let next_cursor = v["next"].as_i64().filter(|_| list.len() >= PAGE).map(|n| n.to_string());
        Ok(Page { orders, next: next_cursor })
    }

    async fn refresh_all(&self, orders: &[Order]) -> Result<Vec<Order>, MarketError> {
        let ids: Vec<i64> = orders.iter().filter_map(|o| o.number.parse().ok()).collect();
        let statuses = self.statuses(&ids).await?;
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
        let Ok(id) = number.parse::<i64>() else { return Ok(None) };
        let v = self.post("/api/v3/orders/status", &json!({"orders": [id]}), Some(deadline)).await?;
        let list = v["orders"].as_array().ok_or_else(|| MarketError::Shape("status answer without orders".into()))?;
        let Some(found) = list.iter().find(|o| o["id"].as_i64() == Some(id)) else { return Ok(None) };
        let supplier = found["supplierStatus"].as_str().unwrap_or("");
        let wb = found["wbStatus"].as_str().unwrap_or("");
        if supplier.is_empty() && wb.is_empty() {
            return Err(MarketError::Shape("order status without supplierStatus and wbStatus".into()));
        }
        let raw = format!("{supplier}/{wb}");
        let status = status(supplier, wb);
        let mut order = cached.cloned().unwrap_or_else(|| Order {
            market: Market::Wb,
            number: number.to_owned(),
            status,
            status_raw: raw.clone(),
            phone: None,
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
}

/// Orders listed per page (the API's maximum).
pub const PAGE: usize = 1000;

impl MarketplaceApi for Wb {
    fn market(&self) -> Market {
        Market::Wb
    }

    fn has_key(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { !self.token.get().await.is_empty() })
    }

    fn orders_page<'a>(&'a self, window: Window, cursor: Option<&'a str>) -> BoxFuture<'a, Result<Page, MarketError>> {
        Box::pin(self.list(window, cursor))
    }

    fn refresh<'a>(&'a self, orders: &'a [Order]) -> BoxFuture<'a, Result<Vec<Order>, MarketError>> {
        Box::pin(self.refresh_all(orders))
    }

    fn lists_changes(&self) -> bool {
        false
    }

    fn questions(&self) -> BoxFuture<'_, Result<Vec<Question>, MarketError>> {
        Box::pin(async {
            let mut all = self.unanswered().await?;
            all.extend(self.unanswered_feedbacks().await?);
            all.extend(self.chat_messages().await?);
            Ok(all)
        })
    }

    fn products_page<'a>(&'a self, cursor: Option<&'a str>) -> BoxFuture<'a, Result<super::ProductPage, MarketError>> {
        Box::pin(self.cards(cursor))
    }

    fn answer<'a>(&'a self, thread: &'a str, text: &'a str) -> BoxFuture<'a, Result<(), MarketError>> {
        Box::pin(self.publish(thread, text))
    }

    fn qa_channel(&self) -> &'static str {
        "wb_questions"
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

/// An FBS order's supplier status and WB status in our terms.
pub fn status(supplier: &str, wb: &str) -> OrderStatus {
    match (supplier, wb) {
        (_, "sold") => OrderStatus::Delivered,
        ("cancel", _) | (_, "canceled" | "canceled_by_client" | "declined_by_client") => OrderStatus::Cancelled,
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
    fn statuses_map() {
        assert_eq!(status("new", "waiting"), OrderStatus::New);
        assert_eq!(status("complete", "waiting"), OrderStatus::Assembled);
        assert_eq!(status("complete", "sorted"), OrderStatus::InTransit);
        assert_eq!(status("complete", "ready_for_pickup"), OrderStatus::ReadyForPickup);
        assert_eq!(status("complete", "sold"), OrderStatus::Delivered);
        assert_eq!(status("cancel", "waiting"), OrderStatus::Cancelled);
        assert_eq!(status("complete", "defect"), OrderStatus::Problem);
    }
}
