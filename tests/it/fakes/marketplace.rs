//! Fake marketplace APIs on loopback, following the official documents:
//! - Ozon Seller API (`shared/specs/ozon/seller-api.swagger.json`): `POST /v3/posting/fbs/get`
//!   and `POST /v2/posting/fbo/get` with `{"posting_number"}`, headers `Client-Id` and
//!   `Api-Key`; `{"result": {...posting}}`; errors as `rpcStatus` `{"code", "message", "details"}`
//!   (403 for a wrong key, 404 for an unknown posting).
//! - Wildberries FBS orders: `POST /api/v3/orders/status` with `{"orders": [id]}` and the
//!   token in `Authorization`; `{"orders": [{"id", "supplierStatus", "wbStatus"}]}`; errors as
//!   `{"title", "detail", "code", "requestId", "origin", "status", "statusText", "timestamp"}`.
//!
//! - Listings for the sync: WB `GET /api/v3/orders` (`limit`, `next`, `dateFrom`, `dateTo`;
//!   `{"next", "orders": [...]}`) and Ozon `POST /v3/posting/fbs/list` (`filter.since/to` or
//!   `filter.last_changed_status_date`, `limit`, `offset`; `{"result": {"postings", "has_next"}}`).
//!
//! - WB statistics reports (`GET /api/v1/supplier/orders|sales|stocks`, `dateFrom` in Moscow
//!   time), seller-warehouse stocks (`GET /api/v3/warehouses`, `POST /api/v3/stocks/{id}` with
//!   `chrtIds`), buyer claims (`GET /api/v1/claims`, `is_archive` required); Ozon returns
//!   (`POST /v1/returns/list`, `limit` and `last_id`) and product questions
//!   (`/v1/question/list`, `/v1/question/answer/create`).
//!
//! Tests set postings and statuses, generate thousands of orders, script faults (429 with the
//! retry headers each API documents, 401, a malformed answer) and can make the server hang.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const OZON_CLIENT_ID: &str = "836412";
pub const OZON_API_KEY: &str = "ozon-test-key-7f3a";
pub const WB_TOKEN: &str = "wb-test-token-91c2";

/// A scripted answer instead of the real one, for the next calls of a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Answer normally (to place a fault at a later call).
    Pass,
    TooMany {
        retry_after: u64,
    },
    Unauthorized,
    Malformed,
}

/// A review: (id, text, stars, the seller's answer).
type Review = (String, String, i64, Option<String>);

/// An Ozon chat message: (message id, from the customer, text, read).
type ChatMessage = (u64, bool, String, bool);

/// An Ozon product question: (id, sku, text, the seller's answer).
type OzonQuestion = (String, i64, String, Option<String>);

/// A WB FBS order as the fake keeps it.
#[derive(Debug, Clone)]
struct WbOrder {
    id: i64,
    created: i64,
    article: String,
    price: i64,
}

#[derive(Default)]
struct Inner {
    wb_orders: Mutex<Vec<WbOrder>>,
    /// WB buyer chats: (chatID, replySign) and the event feed (addTimestamp, event).
    wb_chats: Mutex<Vec<(String, String)>>,
    wb_chat_events: Mutex<Vec<(i64, Value)>>,
    /// Ozon FBO postings: (created ms, posting).
    ozon_fbo: Mutex<Vec<(i64, Value)>>,
    /// Ozon postings for the list: (in_process_at ms, changed_at ms, posting).
    ozon_list: Mutex<Vec<(i64, i64, Value)>>,
    faults: Mutex<HashMap<String, std::collections::VecDeque<Fault>>>,
    /// WB questions: (id, text, answer).
    wb_questions: Mutex<Vec<(String, String, Option<String>)>>,
    /// WB feedbacks: (id, text, stars, answer).
    wb_feedbacks: Mutex<Vec<Review>>,
    /// Ozon reviews: (id, text, rating, comment).
    ozon_reviews: Mutex<Vec<Review>>,
    /// Ozon chats: chat id → messages (message id, from customer, text, read).
    ozon_chats: Mutex<Vec<(String, Vec<ChatMessage>)>>,
    list_calls: AtomicUsize,
    /// Posting number → the `result` object of `/v3/posting/fbs/get`.
    postings: Mutex<HashMap<String, Value>>,
    /// WB order id → (supplierStatus, wbStatus).
    wb_statuses: Mutex<HashMap<i64, (String, String)>>,
    hang: AtomicBool,
    calls: AtomicUsize,
    /// WB statistics reports: rows of the orders and sales reports and of WB-warehouse stocks.
    wb_report_orders: Mutex<Vec<Value>>,
    wb_report_sales: Mutex<Vec<Value>>,
    wb_report_stocks: Mutex<Vec<Value>>,
    /// WB seller-warehouse stock: chrtId → amount (one warehouse).
    wb_fbs_stock: Mutex<HashMap<i64, i64>>,
    /// WB buyer claims: (archived, claim).
    wb_claims: Mutex<Vec<(bool, Value)>>,
    /// Ozon returns (`/v1/returns/list` items).
    ozon_returns: Mutex<Vec<Value>>,
    /// Generated WB product cards, in cursor order (`updatedAt`, `nmID`).
    wb_cards: Mutex<Vec<Value>>,
    /// Ozon product questions: (id, sku, text, answer).
    ozon_questions: Mutex<Vec<OzonQuestion>>,
}

#[derive(Clone)]
pub struct FakeMarketplace {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeMarketplace {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        // Each marketplace checks its own credentials before any handler runs (WB: the token in
        // `Authorization`; Ozon: `Client-Id` and `Api-Key`), answering in its own error shape.
        let wb = Router::new()
            .route("/api/v3/orders/status", post(wb_status))
            .route("/api/v3/orders", get(wb_orders))
            .route("/api/v1/questions", get(wb_questions).patch(wb_answer))
            .route("/content/v2/get/cards/list", post(wb_cards))
            .route("/api/v1/feedbacks", get(wb_feedbacks))
            .route("/api/v1/feedbacks/answer", post(wb_feedback_answer))
            .route("/api/v1/seller/chats", get(wb_chat_list))
            .route("/api/v1/seller/events", get(wb_chat_events))
            .route("/api/v1/seller/message", post(wb_chat_send))
            .route("/api/v1/supplier/{report}", get(wb_report))
            .route("/api/v3/warehouses", get(wb_warehouses))
            .route("/api/v3/stocks/{warehouse}", post(wb_stocks))
            .route("/api/v1/claims", get(wb_claims))
            .route_layer(axum::middleware::from_fn(wb_auth));
        let ozon = Router::new()
            .route("/v3/posting/fbs/get", post(ozon_posting))
            .route("/v2/posting/fbo/get", post(ozon_posting_fbo))
            .route("/v3/posting/fbs/list", post(ozon_list))
            .route("/v2/posting/fbo/list", post(ozon_fbo_list))
            .route("/v1/review/list", post(ozon_review_list))
            .route("/v1/review/comment/create", post(ozon_review_comment))
            .route("/v3/product/list", post(ozon_product_list))
            .route("/v3/product/info/list", post(ozon_product_info))
            .route("/v3/chat/list", post(ozon_chat_list))
            .route("/v3/chat/history", post(ozon_chat_history))
            .route("/v1/chat/send/message", post(ozon_chat_send))
            .route("/v1/returns/list", post(ozon_returns))
            .route("/v1/question/list", post(ozon_question_list))
            .route("/v1/question/answer/create", post(ozon_question_answer))
            .route_layer(axum::middleware::from_fn(ozon_auth));
        let app = wb.merge(ozon).with_state(inner.clone());
        let (addr, _task) = super::serve(app).await;
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An FBS posting as `/v3/posting/fbs/get` returns it.
    pub fn set_posting(&self, number: &str, status: &str, substatus: &str) {
        let posting = json!({
            "posting_number": number,
            "order_id": 438764970,
            "order_number": number.rsplit_once('-').map_or(number, |(o, _)| o),
            "status": status,
            "substatus": substatus,
            "delivery_method": {"id": 18114520187000i64, "name": "Пункт выдачи Ozon, Екатеринбург, ул. Малышева, 5",
                "warehouse_id": 18114520187000i64, "warehouse": "Екатеринбург", "tpl_provider_id": 24, "tpl_provider": "Ozon Логистика"},
            "tracking_number": "OZ1234567890RU",
            "tpl_integration_type": "ozon",
            "in_process_at": "2026-11-24T09:14:16Z",
            "shipment_date": "2026-11-25T10:00:00Z",
            "delivering_date": null,
            "cancellation": {"cancel_reason_id": 0, "cancel_reason": "", "cancellation_type": "", "cancelled_after_ship": false,
                "affect_cancellation_rating": false, "cancellation_initiator": ""},
            "customer": null,
            "addressee": null,
            "products": [{"currency_code": "RUB", "price": "1290.0000", "offer_id": "LD-TS-001",
                "name": "Футболка женская оверсайз из хлопка", "sku": 1784523910i64, "quantity": 1, "mandatory_mark": []}],
            "barcodes": null,
            "analytics_data": null,
            "financial_data": null,
            "is_express": false,
        });
        self.inner.postings.lock().expect("lock").insert(number.to_owned(), posting);
    }

    pub fn set_wb_status(&self, id: i64, supplier: &str, wb: &str) {
        self.inner.wb_statuses.lock().expect("lock").insert(id, (supplier.to_owned(), wb.to_owned()));
    }

    /// Accept requests and never answer (until set back).
    pub fn hang(&self, on: bool) {
        self.inner.hang.store(on, Ordering::SeqCst);
    }

    /// `n` WB orders with ids from `first`, placed `age_ms` ago and later, all new.
    pub fn add_wb_orders(&self, first: i64, n: usize, created: i64) {
        let mut list = self.inner.wb_orders.lock().expect("lock");
        let mut statuses = self.inner.wb_statuses.lock().expect("lock");
        for i in 0..n as i64 {
            let id = first + i;
            list.push(WbOrder {
                id,
                created: created + i * 1000,
                article: format!("LD-TS-{:03}", i % 50),
                price: 129_000,
            });
            statuses.insert(id, ("new".into(), "waiting".into()));
        }
        list.sort_by_key(|o| o.id);
    }

    /// `n` Ozon postings `PREFIX-0001-1`…, placed at `created`, in `status`.
    pub fn add_ozon_postings(&self, prefix: &str, n: usize, created: i64, status: &str) {
        let mut list = self.inner.ozon_list.lock().expect("lock");
        for i in 0..n {
            let number = format!("{prefix}-{:04}-1", i + 1);
            let p = json!({"posting_number": number, "order_id": i, "status": status, "substatus": "",
                "in_process_at": rfc3339(created + i as i64 * 1000), "tracking_number": "",
                "delivery_method": {"name": "Пункт выдачи Ozon, Екатеринбург"},
                "products": [{"price": "990.0000", "offer_id": "LD-TS-002", "name": "Футболка", "sku": 1, "quantity": 1}]});
            list.push((created + i as i64 * 1000, created, p));
        }
    }

    /// `n` FBO postings `PREFIX-0001-1`…, placed at `created`.
    pub fn add_ozon_fbo(&self, prefix: &str, n: usize, created: i64, status: &str) {
        let mut list = self.inner.ozon_fbo.lock().expect("lock");
        for i in 0..n {
            let t = created + i as i64 * 1000;
            list.push((t, json!({"order_id": i, "order_number": format!("{prefix}-{:04}", i + 1),
                "posting_number": format!("{prefix}-{:04}-1", i + 1), "status": status, "cancel_reason_id": 0,
                "created_at": rfc3339(t), "in_process_at": rfc3339(t),
                "products": [{"sku": 1, "name": "Худи женское оверсайз с капюшоном", "quantity": 1, "offer_id": "LD-HD-011",
                    "price": "3490.00", "digital_codes": [], "currency_code": "RUB"}]})));
        }
    }

    /// Changes an Ozon posting's status at `at` (it then shows up in status-change listings).
    pub fn change_ozon(&self, number: &str, status: &str, substatus: &str, at: i64) {
        for (_, changed, p) in self.inner.ozon_list.lock().expect("lock").iter_mut() {
            if p["posting_number"] == number {
                p["status"] = json!(status);
                p["substatus"] = json!(substatus);
                *changed = at;
            }
        }
    }

    /// The next calls of `path` get these faults, in order.
    pub fn fault(&self, path: &str, faults: Vec<Fault>) {
        self.inner.faults.lock().expect("lock").insert(path.to_owned(), faults.into());
    }

    pub fn add_wb_question(&self, id: &str, text: &str) {
        self.inner.wb_questions.lock().expect("lock").push((id.into(), text.into(), None));
    }

    /// The answer published to a WB question.
    pub fn wb_answer(&self, id: &str) -> Option<String> {
        self.inner.wb_questions.lock().expect("lock").iter().find(|q| q.0 == id).and_then(|q| q.2.clone())
    }

    pub fn add_wb_feedback(&self, id: &str, text: &str, stars: i64) {
        self.inner.wb_feedbacks.lock().expect("lock").push((id.into(), text.into(), stars, None));
    }

    pub fn wb_feedback_answer(&self, id: &str) -> Option<String> {
        self.inner.wb_feedbacks.lock().expect("lock").iter().find(|f| f.0 == id).and_then(|f| f.3.clone())
    }

    /// A buyer's message in a WB chat (the chat is created on first use).
    pub fn add_wb_chat_message(&self, chat: &str, text: &str, at: i64) {
        let mut chats = self.inner.wb_chats.lock().expect("lock");
        let new = !chats.iter().any(|c| c.0 == chat);
        if new {
            chats.push((chat.into(), format!("{chat}:sign")));
        }
        let mut events = self.inner.wb_chat_events.lock().expect("lock");
        let n = events.len();
        events.push((
            at,
            json!({"chatID": chat, "eventID": format!("ev-{n}"), "eventType": "message", "isNewChat": new,
            "message": {"text": text}, "source": "rusite", "addTimestamp": at, "addTime": rfc3339(at),
            "replySign": format!("{chat}:sign"), "sender": "client", "clientID": "186132", "clientName": "Алёна"}),
        ));
    }

    /// What the seller sent in a WB chat.
    pub fn wb_chat_sent(&self, chat: &str) -> Vec<String> {
        self.inner
            .wb_chat_events
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, e)| e["chatID"] == chat && e["sender"] == "seller")
            .filter_map(|(_, e)| e["message"]["text"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn add_ozon_review(&self, id: &str, text: &str, rating: i64) {
        self.inner.ozon_reviews.lock().expect("lock").push((id.into(), text.into(), rating, None));
    }

    pub fn ozon_review_comment(&self, id: &str) -> Option<String> {
        self.inner.ozon_reviews.lock().expect("lock").iter().find(|r| r.0 == id).and_then(|r| r.3.clone())
    }

    pub fn add_ozon_chat_message(&self, chat: &str, message_id: u64, text: &str) {
        let mut chats = self.inner.ozon_chats.lock().expect("lock");
        match chats.iter_mut().find(|c| c.0 == chat) {
            Some(c) => c.1.push((message_id, true, text.into(), false)),
            None => chats.push((chat.into(), vec![(message_id, true, text.into(), false)])),
        }
    }

    /// What the seller sent in an Ozon chat.
    pub fn ozon_sent(&self, chat: &str) -> Vec<String> {
        self.inner
            .ozon_chats
            .lock()
            .expect("lock")
            .iter()
            .filter(|c| c.0 == chat)
            .flat_map(|c| c.1.iter().filter(|m| !m.1).map(|m| m.2.clone()))
            .collect()
    }

    /// An FBO order in WB's statistics report of orders (Moscow-time dates, as WB writes them).
    pub fn add_wb_report_order(&self, srid: &str, article: &str, nm: i64, date: i64, changed: i64, cancelled: bool) {
        self.inner.wb_report_orders.lock().expect("lock").push(json!({
            "date": msk(date), "lastChangeDate": msk(changed), "warehouseName": "Коледино", "warehouseType": "Склад WB",
            "countryName": "Россия", "oblastOkrugName": "Центральный федеральный округ", "regionName": "Московская",
            "supplierArticle": article, "nmId": nm, "barcode": "2040001", "category": "Одежда", "subject": "Платья",
            "brand": "Ладья", "techSize": "M", "incomeID": 1, "isSupply": false, "isRealization": true,
            "totalPrice": 4990, "discountPercent": 10, "spp": 5, "finishedPrice": 4267, "priceWithDisc": 4491,
            "isCancel": cancelled, "cancelDate": if cancelled { msk(changed) } else { "0001-01-01T00:00:00".into() },
            "sticker": "926912515", "gNumber": "34343462218572569531", "srid": srid}));
    }

    /// A row of a seller-warehouse (FBS) order in the statistics report (the sync skips it).
    pub fn add_wb_report_fbs_row(&self, srid: &str, date: i64) {
        self.add_wb_report_order(srid, "LD-TS-001", 190011224, date, date, false);
        if let Some(last) = self.inner.wb_report_orders.lock().expect("lock").last_mut() {
            last["warehouseType"] = json!("Склад продавца");
        }
    }

    /// A sale (`S…`) or a return (`R…`) in WB's sales report.
    pub fn add_wb_sale(&self, srid: &str, sale_id: &str, nm: i64, at: i64) {
        self.inner.wb_report_sales.lock().expect("lock").push(json!({
            "date": msk(at), "lastChangeDate": msk(at), "warehouseName": "Коледино", "warehouseType": "Склад WB",
            "countryName": "Россия", "oblastOkrugName": "", "regionName": "Московская", "supplierArticle": "LD-DR-101",
            "nmId": nm, "barcode": "2040001", "category": "Одежда", "subject": "Платья", "brand": "Ладья",
            "techSize": "M", "incomeID": 1, "isSupply": false, "isRealization": true, "totalPrice": 4990,
            "discountPercent": 10, "spp": 5, "paymentSaleAmount": 0, "forPay": 3800.5, "finishedPrice": 4267,
            "priceWithDisc": 4491, "saleID": sale_id, "sticker": "926912515", "gNumber": "34343462218572569531",
            "srid": srid}));
    }

    /// Stock of `nm` on a WB warehouse (statistics report) and of size `chrt` on the seller's.
    pub fn set_wb_stock(&self, nm: i64, on_wb: i64, chrt: i64, fbs: i64) {
        self.inner.wb_report_stocks.lock().expect("lock").push(json!({
            "lastChangeDate": "2026-11-20T10:00:00", "warehouseName": "Коледино", "supplierArticle": "LD-DR-101",
            "nmId": nm, "barcode": "2040001", "quantity": on_wb, "inWayToClient": 0, "inWayFromClient": 0,
            "quantityFull": on_wb, "category": "Одежда", "subject": "Платья", "brand": "Ладья", "techSize": "M",
            "Price": 4990, "Discount": 10, "isSupply": true, "isRealization": false, "SCCode": "Tech"}));
        self.inner.wb_fbs_stock.lock().expect("lock").insert(chrt, fbs);
    }

    /// A catalogue of `n` WB product cards (one size each, chrtID = nmID).
    pub fn add_wb_cards(&self, n: usize) {
        let mut cards = self.inner.wb_cards.lock().expect("lock");
        for i in 0..n {
            let nm = 300_000_000 + i as i64;
            cards.push(json!({"nmID": nm, "imtID": nm, "subjectID": 1, "subjectName": "Футболки",
                "vendorCode": format!("GEN-{i:05}"), "brand": "Ладья", "title": format!("Футболка базовая, модель {i}"),
                "description": "Футболка из хлопка.", "characteristics": [{"id": 1, "name": "Состав", "value": ["хлопок 100%"]}],
                "sizes": [{"chrtID": nm, "techSize": "M", "wbSize": "46", "skus": [format!("20{nm}")]}],
                "updatedAt": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60)}));
        }
    }

    /// A buyer claim on the order with `srid` (status 0 review, 1 rejected, 2 approved).
    pub fn add_wb_claim(&self, id: &str, srid: &str, status: i64, status_ex: i64, archived: bool, at: i64) {
        self.inner.wb_claims.lock().expect("lock").push((
            archived,
            json!({
            "id": id, "claim_type": 1, "status": status, "status_ex": status_ex, "nm_id": 190011223,
            "user_comment": "Не подошёл размер", "wb_comment": null, "dt": format!("{}.245611", msk(at)),
            "imt_name": "Платье льняное миди", "order_dt": msk(at - 7 * 86_400_000), "dt_update": msk(at),
            "photos": [], "video_paths": [], "actions": ["approve1", "reject1"], "price": 4267,
            "currency_code": "643", "srid": srid}),
        ));
    }

    /// An Ozon return of `posting` in the visual status `sys_name`.
    pub fn add_ozon_return(&self, id: i64, posting: &str, sys_name: &str, display: &str, changed: i64) {
        self.inner.ozon_returns.lock().expect("lock").push(json!({
            "id": id.to_string(), "company_id": "3058", "return_reason_name": "Не подошёл размер",
            "type": "ClientReturn", "schema": "Fbs", "order_id": "24540784250", "order_number": "58544282-0057",
            "posting_number": posting, "exemplars": [{"id": "1019562967545956"}],
            "product": {"sku": "1100526203", "offer_id": "LD-HD-011", "name": "Худи оверсайз",
                "price": {"currency_code": "RUB", "price": "3318"}, "quantity": 1},
            "logistic": {"return_date": rfc3339(changed - 86_400_000), "barcode": "ii5275210303"},
            "visual": {"status": {"id": 3, "display_name": display, "sys_name": sys_name}, "change_moment": rfc3339(changed)},
            "additional_info": {"is_opened": true, "is_super_econom": false}}));
    }

    pub fn add_ozon_question(&self, id: &str, sku: i64, text: &str) {
        self.inner.ozon_questions.lock().expect("lock").push((id.to_owned(), sku, text.to_owned(), None));
    }

    pub fn ozon_question_answer(&self, id: &str) -> Option<String> {
        self.inner.ozon_questions.lock().expect("lock").iter().find(|q| q.0 == id).and_then(|q| q.3.clone())
    }

    pub fn list_calls(&self) -> usize {
        self.inner.list_calls.load(Ordering::SeqCst)
    }

    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

fn ozon_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

async fn ozon_lookup(inner: &Inner, body: &Value, fbo: bool) -> Response {
    inner.calls.fetch_add(1, Ordering::SeqCst);
    if inner.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let Some(number) = body["posting_number"].as_str() else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "posting_number is required");
    };
    match inner.postings.lock().expect("lock").get(number) {
        Some(p) if !fbo => axum::Json(json!({"result": p})).into_response(),
        _ => ozon_error(StatusCode::NOT_FOUND, 5, "Posting not found"),
    }
}

async fn ozon_posting(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    ozon_lookup(&inner, &body, false).await
}

async fn ozon_posting_fbo(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    ozon_lookup(&inner, &body, true).await
}

async fn wb_status(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    inner.calls.fetch_add(1, Ordering::SeqCst);
    if inner.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    if headers.get("Authorization").and_then(|v| v.to_str().ok()) != Some(WB_TOKEN) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"title": "unauthorized", "detail": "token is malformed or expired", "code": "07e4668e-ac2242",
                "requestId": "a1b2c3", "origin": "s2s-api-auth-marketplace", "status": 401, "statusText": "Unauthorized",
                "timestamp": "2026-11-27T10:00:00Z"})),
        )
            .into_response();
    }
    let statuses = inner.wb_statuses.lock().expect("lock");
    let orders: Vec<Value> = body["orders"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_i64)
                .filter_map(|id| statuses.get(&id).map(|(s, w)| json!({"id": id, "supplierStatus": s, "wbStatus": w})))
                .collect()
        })
        .unwrap_or_default();
    axum::Json(json!({"orders": orders})).into_response()
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("time");
    t.format(&time::format_description::well_known::Rfc3339).expect("format")
}

/// Moscow time without a zone, as WB's statistics API writes dates.
fn msk(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000) + 3 * 3600).expect("time");
    let format =
        time::format_description::parse_borrowed::<2>("[year]-[month]-[day]T[hour]:[minute]:[second]").expect("format");
    t.format(&format).expect("format")
}

fn wb_authorized(headers: &HeaderMap) -> bool {
    headers.get("Authorization").and_then(|v| v.to_str().ok()) == Some(WB_TOKEN)
}

fn take_fault(inner: &Inner, path: &str) -> Option<Fault> {
    inner.faults.lock().expect("lock").get_mut(path).and_then(|q| q.pop_front())
}

/// The fault's answer in the marketplace's own error shape.
fn fault_response(fault: Fault, wb: bool) -> Response {
    match (fault, wb) {
        (Fault::Pass, _) => unreachable!("passed faults are answered normally"),
        (Fault::TooMany { retry_after }, true) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"title": "too many requests",
                "detail": "limited by c122a060-a7fb-4bb4-abb0-32fd4e18d489", "code": "07e4668e-ac2242",
                "requestId": "r", "origin": "api-marketplace", "status": 429, "statusText": "Too Many Requests",
                "timestamp": "2026-11-27T10:00:00Z"})),
            )
                .into_response();
            r.headers_mut().insert("X-Ratelimit-Retry", retry_after.to_string().parse().expect("header"));
            r.headers_mut().insert("X-Ratelimit-Limit", "20".parse().expect("header"));
            r.headers_mut().insert("X-Ratelimit-Reset", retry_after.to_string().parse().expect("header"));
            r
        }
        (Fault::TooMany { retry_after }, false) => {
            let mut r = ozon_error(StatusCode::TOO_MANY_REQUESTS, 8, "You have reached request rate limit per second");
            r.headers_mut().insert("Retry-After", retry_after.to_string().parse().expect("header"));
            r
        }
        (Fault::Unauthorized, true) => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"title": "unauthorized",
            "detail": "token is malformed or expired", "code": "07e4668e", "requestId": "r", "origin": "s2s-api-auth",
            "status": 401, "statusText": "Unauthorized", "timestamp": "2026-11-27T10:00:00Z"})),
        )
            .into_response(),
        (Fault::Unauthorized, false) => {
            ozon_error(StatusCode::UNAUTHORIZED, 16, "Client-Id and Api-Key headers are required")
        }
        (Fault::Malformed, true) => (StatusCode::OK, "{\"next\": 1, \"orders\": [{\"id\": \"оops\"").into_response(),
        (Fault::Malformed, false) => {
            (StatusCode::OK, axum::Json(json!({"result": {"postings": "not a list"}}))).into_response()
        }
    }
}

async fn wb_orders(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    inner.list_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(f) = take_fault(&inner, "/api/v3/orders").filter(|f| *f != Fault::Pass) {
        return fault_response(f, true);
    }
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (limit, next) = (num("limit").unwrap_or(1000).clamp(1, 1000) as usize, num("next").unwrap_or(0));
    let (from, to) = (num("dateFrom").unwrap_or(0) * 1000, num("dateTo").map_or(i64::MAX, |t| t * 1000 + 999));
    let list = inner.wb_orders.lock().expect("lock");
    let page: Vec<Value> = list
        .iter()
        .filter(|o| o.id > next && o.created >= from && o.created <= to)
        .take(limit)
        .map(|o| {
            json!({"id": o.id, "rid": format!("r{}", o.id), "createdAt": rfc3339(o.created), "warehouseId": 1,
            "nmId": 178452391, "chrtId": 1, "article": o.article, "price": o.price, "convertedPrice": o.price,
            "currencyCode": 643, "convertedCurrencyCode": 643, "skus": ["2000000000001"], "offices": ["Москва"],
            "deliveryType": "fbs", "cargoType": 1})
        })
        .collect();
    let last = page.last().and_then(|o| o["id"].as_i64()).unwrap_or(next);
    axum::Json(json!({"next": last, "orders": page})).into_response()
}

async fn ozon_list(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    inner.list_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(f) = take_fault(&inner, "/v3/posting/fbs/list").filter(|f| *f != Fault::Pass) {
        return fault_response(f, false);
    }
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    };
    let f = &body["filter"];
    let (by_change, from, to) = match f.get("last_changed_status_date") {
        Some(c) => (true, parse(&c["from"]), parse(&c["to"])),
        None => (false, parse(&f["since"]), parse(&f["to"])),
    };
    let (Some(from), Some(to)) = (from, to) else {
        return ozon_error(
            StatusCode::BAD_REQUEST,
            3,
            "filter: since and to (or last_changed_status_date) are required",
        );
    };
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let list = inner.ozon_list.lock().expect("lock");
    let matching: Vec<&Value> = list
        .iter()
        .filter(|(created, changed, _)| {
            let t = if by_change { *changed } else { *created };
            t >= from && t <= to
        })
        .map(|(_, _, p)| p)
        .collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|p| (*p).clone()).collect();
    let has_next = offset + page.len() < matching.len();
    axum::Json(json!({"result": {"postings": page, "has_next": has_next}})).into_response()
}

/// The `isAnswered` filter of WB's question and feedback lists (`take` and `skip` are required
/// too), or the API's 400 answer.
fn answered_filter(q: &HashMap<String, String>) -> Result<bool, Box<Response>> {
    if !["isAnswered", "take", "skip"].iter().all(|k| q.contains_key(*k)) {
        return Err(Box::new(
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"data": null, "error": true,
                "errorText": "isAnswered, take and skip are required", "additionalErrors": null})),
            )
                .into_response(),
        ));
    }
    Ok(q.get("isAnswered").is_some_and(|v| v == "true"))
}

async fn wb_questions(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let answered = match answered_filter(&q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let list: Vec<Value> = inner
        .wb_questions
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, _, a)| a.is_some() == answered)
        .map(|(id, text, a)| {
            json!({"id": id, "text": text, "createdDate": "2026-11-27T08:00:00.000000000Z",
            "state": if a.is_some() { "wbRu" } else { "suppliersPortalSynch" },
            "answer": a.as_ref().map(|t| json!({"text": t, "editable": true, "createDate": "2026-11-27T09:00:00Z"})),
            "productDetails": {"imtId": 1, "nmId": 178452391, "productName": "Футболка женская оверсайз из хлопка",
                "supplierArticle": "LD-TS-001", "supplierName": "Ладья", "brandName": "Ладья"},
            "wasViewed": false, "isWarned": false})
        })
        .collect();
    axum::Json(json!({"data": {"countUnanswered": list.len(), "countArchive": 0, "questions": list},
        "error": false, "errorText": "", "additionalErrors": null}))
    .into_response()
}

async fn wb_answer(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (Some(id), Some(text), Some("wbRu")) =
        (body["id"].as_str(), body["answer"]["text"].as_str(), body["state"].as_str())
    else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": null, "error": true, "errorText": "id, answer.text and state are required",
            "additionalErrors": null})),
        )
            .into_response();
    };
    let mut list = inner.wb_questions.lock().expect("lock");
    match list.iter_mut().find(|q| q.0 == id) {
        Some(q) => {
            q.2 = Some(text.to_owned());
            axum::Json(json!({"data": null, "error": false, "errorText": "", "additionalErrors": null})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"data": null, "error": true, "errorText": "Не найден вопрос",
            "additionalErrors": null})),
        )
            .into_response(),
    }
}

async fn ozon_auth(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !ozon_authorized(req.headers()) {
        return ozon_error(StatusCode::FORBIDDEN, 7, "Invalid Api-Key, please contact support");
    }
    next.run(req).await
}

async fn wb_auth(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !wb_authorized(req.headers()) {
        return fault_response(Fault::Unauthorized, true);
    }
    next.run(req).await
}

fn ozon_authorized(headers: &HeaderMap) -> bool {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    header("Client-Id") == OZON_CLIENT_ID && header("Api-Key") == OZON_API_KEY
}

async fn ozon_chat_list(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let unread_only = body["filter"]["unread_only"].as_bool().unwrap_or(false);
    let chats: Vec<Value> = inner
        .ozon_chats
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(id, msgs)| {
            let unread = msgs.iter().filter(|m| m.1 && !m.3).count();
            (!unread_only || unread > 0).then(|| json!({"chat": {"created_at": "2026-11-27T08:00:00Z", "chat_id": id,
                "chat_status": "Opened", "chat_type": "Buyer_Seller"},
                "first_unread_message_id": "0", "last_message_id": msgs.last().map(|m| m.0.to_string()), "unread_count": unread}))
        })
        .collect();
    axum::Json(json!({"chats": chats, "total_unread_count": chats.len(), "cursor": "", "has_next": false}))
        .into_response()
}

async fn ozon_chat_history(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let Some(chat) = body["chat_id"].as_str() else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "chat_id is required");
    };
    let chats = inner.ozon_chats.lock().expect("lock");
    let Some((_, msgs)) = chats.iter().find(|c| c.0 == chat) else {
        return ozon_error(StatusCode::NOT_FOUND, 5, "chat not found");
    };
    let mut list: Vec<Value> = msgs
        .iter()
        .map(|(id, customer, text, read)| json!({"message_id": id.to_string(), "created_at": "2026-11-27T08:00:00Z",
            "data": [text], "is_image": false, "is_read": read, "context": {"order_number": "", "sku": ""},
            "user": {"id": if *customer { "115568" } else { "seller" }, "type": if *customer { "Customer" } else { "Seller" }}}))
        .collect();
    if body["direction"] == "Backward" {
        list.reverse();
    }
    axum::Json(json!({"has_next": false, "messages": list})).into_response()
}

async fn ozon_chat_send(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (Some(chat), Some(text)) = (body["chat_id"].as_str(), body["text"].as_str()) else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "chat_id and text are required");
    };
    let mut chats = inner.ozon_chats.lock().expect("lock");
    let Some((_, msgs)) = chats.iter_mut().find(|c| c.0 == chat) else {
        return ozon_error(StatusCode::NOT_FOUND, 5, "chat not found");
    };
    for m in msgs.iter_mut() {
        m.3 = true;
    }
    let next = msgs.last().map_or(1, |m| m.0 + 1);
    msgs.push((next, false, text.to_owned(), true));
    axum::Json(json!({"result": "success"})).into_response()
}

/// WB product cards (content API shapes): the generated catalogue paged by the cursor
/// (`updatedAt` + `nmID` of the last card, `limit` up to 100), or else two fixed cards.
async fn wb_cards(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let cursor = &body["settings"]["cursor"];
    let Some(limit) = cursor["limit"].as_u64().filter(|l| (1..=100).contains(l)) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": null, "error": true, "errorText": "settings.cursor.limit must be 1..100",
            "additionalErrors": null})),
        )
            .into_response();
    };
    let generated = inner.wb_cards.lock().expect("lock");
    if !generated.is_empty() {
        let after = (cursor["updatedAt"].as_str().unwrap_or(""), cursor["nmID"].as_i64().unwrap_or(0));
        let page: Vec<Value> = generated
            .iter()
            .filter(|c| (c["updatedAt"].as_str().unwrap_or(""), c["nmID"].as_i64().unwrap_or(0)) > after)
            .take(limit as usize)
            .cloned()
            .collect();
        let last = page.last().map_or_else(
            || json!({"total": 0}),
            |c| json!({"updatedAt": c["updatedAt"], "nmID": c["nmID"], "total": page.len()}),
        );
        return axum::Json(json!({"cards": page, "cursor": last})).into_response();
    }
    axum::Json(json!({"cards": [
        {"nmID": 190011223, "imtID": 1, "subjectID": 1, "subjectName": "Платья", "vendorCode": "LD-DR-101", "brand": "Ладья",
         "title": "Платье льняное миди с поясом", "description": "Свободное платье из 100% льна, длина миди, пояс в комплекте.",
         "characteristics": [{"id": 1, "name": "Состав", "value": ["лён 100%"]}, {"id": 2, "name": "Цвет", "value": ["бежевый"]}],
         "sizes": [{"chrtID": 1, "techSize": "S", "wbSize": "44", "skus": ["2040001"]}, {"chrtID": 2, "techSize": "M", "wbSize": "46", "skus": ["2040002"]}],
         "updatedAt": "2026-11-20T10:00:00Z"},
        {"nmID": 190011224, "imtID": 2, "subjectID": 1, "subjectName": "Футболки", "vendorCode": "LD-TS-001", "brand": "Ладья",
         "title": "Футболка женская оверсайз из хлопка", "description": "Свободная футболка из хлопка.",
         "characteristics": [], "sizes": [{"chrtID": 3, "techSize": "M", "wbSize": "46", "skus": ["2040003"]}],
         "updatedAt": "2026-11-21T10:00:00Z"}],
        "cursor": {"updatedAt": "2026-11-21T10:00:00Z", "nmID": 190011224, "total": 2}})).into_response()
}

async fn ozon_product_list(axum::Json(body): axum::Json<Value>) -> Response {
    let items = if body["last_id"].as_str().unwrap_or("").is_empty() {
        json!([{"product_id": 223681945, "offer_id": "LD-HD-011", "archived": false, "has_fbo_stocks": true, "has_fbs_stocks": true,
            "is_discounted": false, "quants": []}])
    } else {
        json!([])
    };
    axum::Json(json!({"result": {"items": items, "total": 1, "last_id": "bnVsbA=="}})).into_response()
}

async fn ozon_product_info(axum::Json(body): axum::Json<Value>) -> Response {
    if body["product_id"].as_array().is_none_or(|a| a.is_empty()) {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "product_id, offer_id or sku is required");
    }
    axum::Json(json!({"items": [{"id": 223681945, "name": "Худи женское оверсайз с капюшоном", "offer_id": "LD-HD-011",
        "price": "3490.0000", "old_price": "", "currency_code": "RUB", "sku": 1784523911, "is_archived": false,
        "stocks": {"has_stock": true, "stocks": [{"present": 17, "reserved": 2, "sku": 1784523911, "source": "fbs"}]}}]})).into_response()
}

async fn wb_feedbacks(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let answered = match answered_filter(&q) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let list: Vec<Value> = inner
        .wb_feedbacks
        .lock()
        .expect("lock")
        .iter()
        .filter(|f| f.3.is_some() == answered)
        .map(|(id, text, stars, answer)| json!({"id": id, "text": text, "pros": "", "cons": "", "productValuation": stars,
            "createdDate": "2026-11-27T08:00:00Z", "answer": answer.as_ref().map(|t| json!({"text": t, "state": "wbRu", "editable": true})),
            "state": "none", "productDetails": {"imtId": 1, "nmId": 178452391, "productName": "Футболка женская оверсайз из хлопка",
                "supplierArticle": "LD-TS-001", "brandName": "Ладья"}, "userName": "Анна", "wasViewed": false}))
        .collect();
    axum::Json(json!({"data": {"countUnanswered": list.len(), "countArchive": 0, "feedbacks": list},
        "error": false, "errorText": "", "additionalErrors": null}))
    .into_response()
}

async fn wb_feedback_answer(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (Some(id), Some(text)) = (body["id"].as_str(), body["text"].as_str()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"data": null, "error": true, "errorText": "id and text are required",
            "additionalErrors": null})),
        )
            .into_response();
    };
    let mut list = inner.wb_feedbacks.lock().expect("lock");
    match list.iter_mut().find(|f| f.0 == id) {
        Some(f) => {
            f.3 = Some(text.to_owned());
            StatusCode::NO_CONTENT.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"data": null, "error": true, "errorText": "Не найден отзыв",
            "additionalErrors": null})),
        )
            .into_response(),
    }
}

async fn ozon_review_list(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let unprocessed = body["status"] == "UNPROCESSED";
    let list: Vec<Value> = inner
        .ozon_reviews
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| !unprocessed || r.3.is_none())
        .map(|(id, text, rating, comment)| json!({"id": id, "sku": 1784523911, "text": text, "rating": rating,
            "published_at": "2026-11-27T08:00:00Z", "status": if comment.is_some() { "PROCESSED" } else { "UNPROCESSED" },
            "comments_amount": i32::from(comment.is_some()), "photos_amount": 0, "videos_amount": 0,
            "order_status": "DELIVERED", "is_rating_participant": true}))
        .collect();
    axum::Json(json!({"reviews": list, "has_next": false, "last_id": ""})).into_response()
}

async fn ozon_review_comment(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (Some(id), Some(text)) = (body["review_id"].as_str(), body["text"].as_str()) else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "review_id and text are required");
    };
    let mut list = inner.ozon_reviews.lock().expect("lock");
    match list.iter_mut().find(|r| r.0 == id) {
        Some(r) => {
            r.3 = Some(text.to_owned());
            axum::Json(json!({"comment_id": format!("c-{id}")})).into_response()
        }
        None => ozon_error(StatusCode::NOT_FOUND, 5, "review not found"),
    }
}

async fn ozon_fbo_list(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    inner.list_calls.fetch_add(1, Ordering::SeqCst);
    let parse = |v: &Value| {
        v.as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    };
    let (Some(from), Some(to)) = (parse(&body["filter"]["since"]), parse(&body["filter"]["to"])) else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "filter.since and filter.to are required");
    };
    let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 1000) as usize;
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let page: Vec<Value> = inner
        .ozon_fbo
        .lock()
        .expect("lock")
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .skip(offset)
        .take(limit)
        .map(|(_, p)| p.clone())
        .collect();
    axum::Json(json!({"result": page})).into_response()
}

fn wb_problem(status: StatusCode, detail: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"status": status.as_u16(), "title": status.canonical_reason().unwrap_or(""), "origin": "proxy-chats",
        "detail": detail, "requestId": "r", "error": detail}),
        ),
    )
        .into_response()
}

async fn wb_chat_list(State(inner): State<Arc<Inner>>) -> Response {
    let chats: Vec<Value> = inner
        .wb_chats
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, sign)| json!({"chatID": id, "replySign": sign, "clientID": "186132", "clientName": "Алёна",
            "goodCard": {"date": "2026-11-20T10:00:00Z", "needRefund": false, "nmID": 178452391, "price": 1290, "priceCurrency": "RUB",
                "rid": "r", "size": "M"}, "lastMessage": {"text": "", "addTimestamp": 0}}))
        .collect();
    axum::Json(json!({"result": chats, "errors": null})).into_response()
}

async fn wb_chat_events(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = match q.get("next").map(|v| v.parse::<i64>()) {
        Some(Ok(0) | Err(_)) => return wb_problem(StatusCode::BAD_REQUEST, "Invalid value for \"next\""),
        Some(Ok(n)) => n,
        None => 0,
    };
    let events = inner.wb_chat_events.lock().expect("lock");
    let page: Vec<&(i64, Value)> = events.iter().filter(|(t, _)| *t >= next).take(100).collect();
    let new_next = page.last().map_or(next.max(1), |(t, _)| t + 1);
    let list: Vec<Value> = page.iter().map(|(_, e)| e.clone()).collect();
    axum::Json(json!({"result": {"next": new_next, "newestEventTime": "2026-11-27T08:00:00Z", "oldestEventTime": "2026-11-27T08:00:00Z",
        "totalEvents": list.len(), "events": list}, "errors": null})).into_response()
}

async fn wb_chat_send(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("multipart/form-data") {
        return wb_problem(StatusCode::BAD_REQUEST, "multipart/form-data expected");
    }
    let form = super::form_fields(ct, &body);
    let (Some(sign), Some(text)) = (form["replySign"].as_str(), form["message"].as_str()) else {
        return wb_problem(StatusCode::BAD_REQUEST, "Invalid value for \"message\"");
    };
    let chat = inner.wb_chats.lock().expect("lock").iter().find(|c| c.1 == sign).map(|c| c.0.clone());
    let Some(chat) = chat else { return wb_problem(StatusCode::BAD_REQUEST, "Invalid signature") };
    let mut events = inner.wb_chat_events.lock().expect("lock");
    let at = events.last().map_or(1, |(t, _)| t + 1);
    let n = events.len();
    events.push((
        at,
        json!({"chatID": chat, "eventID": format!("ev-{n}"), "eventType": "message", "message": {"text": text},
        "source": "seller-public-api", "addTimestamp": at, "addTime": rfc3339(at), "sender": "seller"}),
    ));
    axum::Json(json!({"result": {"addTime": at, "chatID": chat}, "errors": []})).into_response()
}

/// A statistics report (`orders`, `sales` or `stocks`): rows whose `lastChangeDate` is at or
/// after `dateFrom` (string order is time order in this format), oldest change first; 400 as
/// the API answers a missing `dateFrom`.
async fn wb_report(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(report): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let rows = match report.as_str() {
        "orders" => &inner.wb_report_orders,
        "sales" => &inner.wb_report_sales,
        "stocks" => &inner.wb_report_stocks,
        _ => return wb_problem(StatusCode::NOT_FOUND, "no such report"),
    };
    let Some(from) = q.get("dateFrom") else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"errors": ["dateFrom: field required"]}))).into_response();
    };
    let mut list: Vec<Value> = rows
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r["lastChangeDate"].as_str().is_some_and(|d| d >= from.as_str()))
        .cloned()
        .collect();
    list.sort_by(|a, b| a["lastChangeDate"].as_str().cmp(&b["lastChangeDate"].as_str()));
    axum::Json(Value::Array(list)).into_response()
}

async fn wb_warehouses() -> Response {
    axum::Json(json!([{"name": "Склад Подольск", "officeId": 15, "id": 507, "cargoType": 1, "deliveryType": 1,
        "isDeleting": false, "isProcessing": false}]))
    .into_response()
}

async fn wb_stocks(
    State(inner): State<Arc<Inner>>,
    axum::extract::Path(warehouse): axum::extract::Path<i64>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if warehouse != 507 {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"code": "NotFound", "message": ""}))).into_response();
    }
    let Some(chrts) = body["chrtIds"].as_array() else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": "IncorrectRequestBody", "message": "Incorrect required body"})),
        )
            .into_response();
    };
    let stock = inner.wb_fbs_stock.lock().expect("lock");
    let list: Vec<Value> = chrts
        .iter()
        .filter_map(Value::as_i64)
        .map(|c| json!({"chrtId": c, "amount": stock.get(&c).copied().unwrap_or(0)}))
        .collect();
    axum::Json(json!({"stocks": list})).into_response()
}

async fn wb_claims(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(archive) = q.get("is_archive").and_then(|a| a.parse::<bool>().ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"title": "Invalid query params",
                "detail": "Failed to deserialize query string: missing field `is_archive`", "requestId": "r"})),
        )
            .into_response();
    };
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(50).clamp(1, 200);
    let offset = q.get("offset").and_then(|o| o.parse::<usize>().ok()).unwrap_or(0);
    let all: Vec<Value> =
        inner.wb_claims.lock().expect("lock").iter().filter(|c| c.0 == archive).map(|c| c.1.clone()).collect();
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    axum::Json(json!({"claims": page, "total": all.len()})).into_response()
}

async fn ozon_returns(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let Some(limit) = body["limit"].as_u64().filter(|l| (1..=500).contains(l)) else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "limit must be in [1, 500]");
    };
    let window = &body["filter"]["visual_status_change_moment"];
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    };
    let (from, to) = (time(&window["time_from"]).unwrap_or(i64::MIN), time(&window["time_to"]).unwrap_or(i64::MAX));
    let last: i64 = body["last_id"].as_i64().unwrap_or(0);
    let all: Vec<Value> = inner
        .ozon_returns
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r["id"].as_str().and_then(|i| i.parse::<i64>().ok()).is_some_and(|i| i > last))
        .filter(|r| time(&r["visual"]["change_moment"]).is_some_and(|t| t >= from && t <= to))
        .cloned()
        .collect();
    let page: Vec<Value> = all.iter().take(limit as usize).cloned().collect();
    axum::Json(json!({"returns": page, "has_next": all.len() > page.len()})).into_response()
}

async fn ozon_question_list(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let unprocessed = body["filter"]["status"] == "UNPROCESSED";
    let after = body["last_id"].as_str().unwrap_or("").to_owned();
    let list: Vec<Value> = inner
        .ozon_questions
        .lock()
        .expect("lock")
        .iter()
        .filter(|q| !unprocessed || q.3.is_none())
        .filter(|q| after.is_empty() || q.0 > after)
        .map(|(id, sku, text, answer)| {
            json!({"id": id, "sku": sku, "text": text, "author_name": "Покупатель",
            "answers_count": i64::from(answer.is_some()), "product_url": "https://www.ozon.ru/product/1/",
            "question_link": "https://www.ozon.ru/product/1/questions/", "published_at": "2026-11-27T08:00:00Z",
            "status": if answer.is_some() { "PROCESSED" } else { "NEW" }})
        })
        .collect();
    let last = list.last().and_then(|q| q["id"].as_str()).unwrap_or("").to_owned();
    axum::Json(json!({"questions": list, "last_id": last})).into_response()
}

async fn ozon_question_answer(State(inner): State<Arc<Inner>>, axum::Json(body): axum::Json<Value>) -> Response {
    let (Some(id), Some(sku), Some(text)) = (body["question_id"].as_str(), body["sku"].as_i64(), body["text"].as_str())
    else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 3, "message": "question_id, sku and text are required", "details": ""})),
        )
            .into_response();
    };
    if text.chars().count() < 2 {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"code": 3, "message": "text is too short", "details": ""})),
        )
            .into_response();
    }
    let mut list = inner.ozon_questions.lock().expect("lock");
    match list.iter_mut().find(|q| q.0 == id && q.1 == sku) {
        Some(q) => {
            q.3 = Some(text.to_owned());
            axum::Json(json!({"answer_id": format!("a-{id}")})).into_response()
        }
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"code": 5, "message": "question not found", "details": ""})))
            .into_response(),
    }
}
