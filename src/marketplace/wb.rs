//! Wildberries seller API: the token goes in the `Authorization` header; each API group has
//! its own host (`marketplace-api.wildberries.ru` for FBS orders), all of which one override
//! base URL can replace. Errors are `{"title", "detail", "code", "status", …}`.
//!
//! FBS orders have no "get by id": the order itself comes from the sync (list of orders), and a
//! live lookup asks `POST /api/v3/orders/status` for its current supplier and WB statuses.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    Market, MarketError, MarketplaceApi, Order, OrderItem, OrderStatus, Page, Question, Return, ReturnStatus, Window,
};
use crate::BoxFuture;
use crate::net::{HttpClient, KeyRef, RetryPolicy};

/// The hosts of the API groups used; `marketplaces.wb.base_url` replaces all of them at once.
pub const MARKETPLACE_HOST: &str = "https://marketplace-api.wildberries.ru";
pub const FEEDBACKS_HOST: &str = "https://feedbacks-api.wildberries.ru";
pub const CONTENT_HOST: &str = "https://content-api.wildberries.ru";
pub const CHAT_HOST: &str = "https://buyer-chat-api.wildberries.ru";
pub const STATISTICS_HOST: &str = "https://statistics-api.wildberries.ru";
pub const RETURNS_HOST: &str = "https://returns-api.wildberries.ru";
/// The statistics report's warehouse type of FBO orders (shipped from WB's own warehouses).
const FBO_WAREHOUSE: &str = "Склад WB";
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
    /// Statistics reports (FBO orders, sales, WB-warehouse stocks): 1 request per minute,
    /// bursts of 10 (the newer edition of the documented limit).
    stats: HttpClient,
    /// Buyer claims (returns): 20 requests per minute, bursts of 10.
    claims: HttpClient,
    /// FBO stock per nmID, read once per products run (the report allows one call a minute).
    fbo_stock: tokio::sync::Mutex<Option<std::collections::HashMap<i64, i64>>>,
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
        let stats = HttpClient::new(Duration::from_secs(60), policy, Some((1.0 / 60.0, 10)));
        let claims = HttpClient::new(Duration::from_secs(30), policy, Some((20.0 / 60.0, 10)));
        Self {
            http,
            base_url,
            token,
            feedbacks,
            content,
            chats,
            chat_next: tokio::sync::Mutex::new(None),
            stats,
            claims,
            fbo_stock: tokio::sync::Mutex::new(None),
        }
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

    /// `GET` on another API group's host with its own rate limit.
    async fn get_on(
        &self,
        client: &HttpClient,
        host: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, MarketError> {
        let token = self.token.get().await;
        let url = self.url(host, path);
        let resp = client.send(|c| c.get(&url).header("Authorization", token.expose()).query(query), None).await?;
        resp.json::<Value>().await.map_err(|e| MarketError::Shape(format!("not JSON: {e}")))
    }

    /// FBS stock of the given sizes (chrtIDs) summed over the seller's warehouses
    /// (`GET /api/v3/warehouses`, then `POST /api/v3/stocks/{warehouseId}`).
    async fn fbs_stock(&self, chrts: &[i64]) -> Result<std::collections::HashMap<i64, i64>, MarketError> {
        let mut out = std::collections::HashMap::new();
        if chrts.is_empty() {
            return Ok(out);
        }
        let warehouses = self.get("/api/v3/warehouses", &[]).await?;
        let warehouses =
            warehouses.as_array().ok_or_else(|| MarketError::Shape("warehouse list is not an array".into()))?;
        for w in warehouses {
            let Some(id) = w["id"].as_i64() else { continue };
            for chunk in chrts.chunks(1000) {
                let v = self.post(&format!("/api/v3/stocks/{id}"), &json!({"chrtIds": chunk}), None).await?;
                let stocks =
                    v["stocks"].as_array().ok_or_else(|| MarketError::Shape("stock answer without stocks".into()))?;
                for st in stocks {
                    if let (Some(chrt), Some(amount)) = (st["chrtId"].as_i64(), st["amount"].as_i64()) {
                        *out.entry(chrt).or_insert(0) += amount;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stock on WB's own warehouses (FBO) per nmID from the statistics report
    /// (`GET /api/v1/supplier/stocks`, paged by `lastChangeDate`, 60 000 rows a page).
    async fn wb_warehouse_stock(&self) -> Result<std::collections::HashMap<i64, i64>, MarketError> {
        let mut out = std::collections::HashMap::new();
        let mut from = "2019-06-20".to_owned();
        loop {
            let v = self
                .get_on(&self.stats, STATISTICS_HOST, "/api/v1/supplier/stocks", &[("dateFrom", from.clone())])
                .await?;
            let rows = v.as_array().ok_or_else(|| MarketError::Shape("stock report is not an array".into()))?;
            for r in rows {
                if let (Some(nm), Some(q)) = (r["nmId"].as_i64(), r["quantity"].as_i64()) {
                    *out.entry(nm).or_insert(0) += q;
                }
            }
            match rows.last().and_then(|r| r["lastChangeDate"].as_str()) {
                Some(last) if rows.len() >= 60_000 && last != from => from = last.to_owned(),
                _ => return Ok(out),
            }
        }
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
        let chrts = |card: &Value| -> Vec<i64> {
            card["sizes"].as_array().into_iter().flatten().filter_map(|s| s["chrtID"].as_i64()).collect()
        };
        let all: Vec<i64> = cards.iter().flat_map(chrts).collect();
        // Stock is best effort: a token without these scopes still syncs the cards.
        let fbs = self
            .fbs_stock(&all)
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "WB seller-warehouse stocks were not read"))
            .ok();
        let fbo = {
            let mut cached = self.fbo_stock.lock().await;
            if cursor.is_none() || cached.is_none() {
                *cached = self
                    .wb_warehouse_stock()
                    .await
                    .inspect_err(|e| tracing::warn!(error = %e, "WB warehouse stocks were not read"))
                    .ok();
            }
            cached.clone()
        };
        let mut out = Vec::with_capacity(cards.len());
        for card in cards {
            let nm = card["nmID"].as_i64().ok_or_else(|| MarketError::Shape("a card without nmID".into()))?;
            let stock = match (&fbs, &fbo) {
                (None, None) => None,
                _ => Some(
                    chrts(card).iter().map(|c| fbs.as_ref().and_then(|m| m.get(c)).copied().unwrap_or(0)).sum::<i64>()
                        + fbo.as_ref().and_then(|m| m.get(&nm)).copied().unwrap_or(0),
                ),
            };
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
                stock,
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

    /// Orders in `window`: FBS orders first (cursor: the API's `next`), then FBO orders and
    /// sales from the statistics reports (cursors `fbo:<dateFrom>` and `sales:<dateFrom>`).
    async fn list(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
        if let Some(from) = cursor.and_then(|c| c.strip_prefix("fbo:")) {
            return self.report(Report::Orders, from, window).await;
        }
        if let Some(from) = cursor.and_then(|c| c.strip_prefix("sales:")) {
            return self.report(Report::Sales, from, window).await;
        }
        let mut page = self.fbs_list(window, cursor).await?;
        if page.next.is_none() {
            page.next = Some(format!("fbo:{}", msk_date_time(window.from)));
        }
        Ok(page)
    }

    /// One page of the statistics report of orders or sales (`GET /api/v1/supplier/orders`,
    /// `/sales`, rows changed since `dateFrom`, Moscow time). Only FBO rows are taken: FBS
    /// orders come from the marketplace API by their assembly id. Orders are named by `srid`.
    async fn report(&self, report: Report, from: &str, window: Window) -> Result<Page, MarketError> {
        let path = match report {
            Report::Orders => "/api/v1/supplier/orders",
            Report::Sales => "/api/v1/supplier/sales",
        };
        let query = [("dateFrom", from.to_owned()), ("flag", "0".to_owned())];
        let v = self.get_on(&self.stats, STATISTICS_HOST, path, &query).await?;
        let rows = v.as_array().ok_or_else(|| MarketError::Shape(format!("{path} is not an array")))?;
        let mut orders = Vec::new();
        for r in rows {
            if r["warehouseType"].as_str() != Some(FBO_WAREHOUSE) {
                continue;
            }
            orders.push(fbo_order(r, report)?);
        }
        // A full answer (80 000 rows) continues from its last change; a shorter one is the end
        // (asking again would only repeat the rows of that last moment, at a minute a call).
        let last =
            rows.last().and_then(|r| r["lastChangeDate"].as_str()).filter(|l| rows.len() >= REPORT_ROWS && *l != from);
        let next = match (last, report) {
            (Some(last), Report::Orders) => Some(format!("fbo:{last}")),
            (Some(last), Report::Sales) => Some(format!("sales:{last}")),
            (None, Report::Orders) => Some(format!("sales:{}", msk_date_time(window.from))),
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
        let v = self.get_on(&self.claims, RETURNS_HOST, "/api/v1/claims", &query).await?;
        let list = v["claims"].as_array().ok_or_else(|| MarketError::Shape("claims answer without claims".into()))?;
        let total = v["total"].as_u64().unwrap_or(0) as usize;
        let out = list.iter().map(claim).collect::<Result<Vec<_>, _>>()?;
        let next = if !list.is_empty() && offset + list.len() < total {
            Some(format!("{}:{}", u8::from(archive), offset + list.len()))
        } else if !archive {
            Some("1:0".to_owned())
        } else {
            None
        };
        Ok((out, next))
    }

    /// `GET /api/v3/orders` (placed in the window, paged by `next`), with statuses.
    async fn fbs_list(&self, window: Window, cursor: Option<&str>) -> Result<Page, MarketError> {
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
                reference: o["rid"].as_str().map(str::to_owned),
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
        let Ok(id) = number.parse::<i64>() else {
            // FBO orders (named by srid) are known from the statistics report only.
            return match cached {
                Some(_) => {
                    Err(MarketError::Unavailable("FBO orders have no live status; the last report is used".into()))
                }
                None => Ok(None),
            };
        };
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
}

/// Rows a statistics report answers at most (then the next page starts at its last change).
const REPORT_ROWS: usize = 80_000;

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
fn fbo_order(r: &Value, report: Report) -> Result<Order, MarketError> {
    let shape = |what: &str| MarketError::Shape(format!("a report row without {what}"));
    let srid = r["srid"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| shape("srid"))?;
    let created = r["date"].as_str().and_then(msk_millis).ok_or_else(|| shape("date"))?;
    let changed = r["lastChangeDate"].as_str().and_then(msk_millis).unwrap_or(created);
    let (status, raw) = match report {
        Report::Orders if r["isCancel"].as_bool() == Some(true) => (OrderStatus::Cancelled, "fbo/cancelled"),
        Report::Orders => (OrderStatus::InTransit, "fbo/ordered"),
        Report::Sales => match r["saleID"].as_str() {
            Some(id) if id.starts_with('R') => (OrderStatus::Cancelled, "fbo/returned"),
            Some(_) => (OrderStatus::Delivered, "fbo/sold"),
            None => return Err(shape("saleID")),
        },
    };
    let status_at = match (report, status) {
        (Report::Orders, OrderStatus::Cancelled) => r["cancelDate"].as_str().and_then(msk_millis).unwrap_or(changed),
        (Report::Orders, _) => created,
        _ => changed,
    };
    let article = r["supplierArticle"]
        .as_str()
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .or_else(|| r["nmId"].as_i64().map(|n| n.to_string()))
        .ok_or_else(|| shape("supplierArticle and nmId"))?;
    let price = r["finishedPrice"].as_f64().filter(|p| *p > 0.0).or(r["priceWithDisc"].as_f64()).unwrap_or(0.0);
    Ok(Order {
        market: Market::Wb,
        number: srid.to_owned(),
        status,
        status_raw: raw.to_owned(),
        phone: None,
        reference: Some(srid.to_owned()),
        items: vec![OrderItem {
            name: article.clone(),
            article,
            size: r["techSize"].as_str().filter(|z| !z.is_empty() && *z != "0").map(str::to_owned),
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
/// 2 approved; `status_ex` says where the item went (2 to WB for disposal, 5 stays with the
/// buyer, 8 back on sale, 10 back to the seller).
fn claim(c: &Value) -> Result<Return, MarketError> {
    let shape = |what: &str| MarketError::Shape(format!("a claim without {what}"));
    let id = c["id"].as_str().ok_or_else(|| shape("id"))?;
    let srid = c["srid"].as_str().ok_or_else(|| shape("srid"))?;
    let (code, ex) = (c["status"].as_i64().ok_or_else(|| shape("status"))?, c["status_ex"].as_i64().unwrap_or(0));
    let status = match (code, ex) {
        (0, _) => ReturnStatus::Review,
        (1, _) => ReturnStatus::Rejected,
        (2, 5 | 8 | 10) => ReturnStatus::Done,
        (2, 2) => ReturnStatus::InTransit,
        (2, _) => ReturnStatus::Approved,
        _ => ReturnStatus::Review,
    };
    let created = c["dt"].as_str().and_then(msk_millis).ok_or_else(|| shape("dt"))?;
    Ok(Return {
        market: Market::Wb,
        id: id.to_owned(),
        order_ref: srid.to_owned(),
        status,
        status_text: c["wb_comment"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .map_or_else(|| format!("status {code}/{ex}"), str::to_owned),
        reason: c["user_comment"].as_str().filter(|t| !t.trim().is_empty()).map(str::to_owned),
        product: c["imt_name"].as_str().map(str::to_owned),
        created_at: created,
        updated_at: c["dt_update"].as_str().and_then(msk_millis).unwrap_or(created),
    })
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
        assert_eq!(status("complete", "defect"), OrderStatus::Problem);
    }
}
