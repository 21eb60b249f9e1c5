//! Fake marketplace APIs on loopback, following the official documents:
//! - Ozon Seller API (`shared/specs/ozon/seller-api.swagger.json`): `POST /v3/posting/fbs/get`
//!   and `POST /v2/posting/fbo/get` with `{"posting_number"}`, headers `Client-Id` and
//!   `Api-Key`; `{"result": {...posting}}`; errors as `rpcStatus` `{"code", "message", "details"}`
//!   (403 for a wrong key, 404 for an unknown posting).
//! - Wildberries FBS orders: `POST /api/v3/orders/status` with `{"orders": [id]}` and the
//!   token in `Authorization`; `{"orders": [{"id", "supplierStatus", "wbStatus"}]}`; errors as
//!   `{"title", "detail", "code", "requestId", "origin", "status", "statusText", "timestamp"}`.
//!
//! Tests set postings and statuses, and can make the server hang to test deadlines.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const OZON_CLIENT_ID: &str = "836412";
pub const OZON_API_KEY: &str = "ozon-test-key-7f3a";
pub const WB_TOKEN: &str = "wb-test-token-91c2";

#[derive(Default)]
struct Inner {
    /// Posting number → the `result` object of `/v3/posting/fbs/get`.
    postings: Mutex<HashMap<String, Value>>,
    /// WB order id → (supplierStatus, wbStatus).
    wb_statuses: Mutex<HashMap<i64, (String, String)>>,
    hang: AtomicBool,
    calls: AtomicUsize,
}

#[derive(Clone)]
pub struct FakeMarketplace {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeMarketplace {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/v3/posting/fbs/get", post(ozon_posting))
            .route("/v2/posting/fbo/get", post(ozon_posting_fbo))
            .route("/api/v3/orders/status", post(wb_status))
            .with_state(inner.clone());
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

    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }
}

fn ozon_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

async fn ozon_lookup(inner: &Inner, headers: &HeaderMap, body: &Value, fbo: bool) -> Response {
    inner.calls.fetch_add(1, Ordering::SeqCst);
    if inner.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if header("Client-Id") != OZON_CLIENT_ID || header("Api-Key") != OZON_API_KEY {
        return ozon_error(StatusCode::FORBIDDEN, 7, "Invalid Api-Key, please contact support");
    }
    let Some(number) = body["posting_number"].as_str() else {
        return ozon_error(StatusCode::BAD_REQUEST, 3, "posting_number is required");
    };
    match inner.postings.lock().expect("lock").get(number) {
        Some(p) if !fbo => axum::Json(json!({"result": p})).into_response(),
        _ => ozon_error(StatusCode::NOT_FOUND, 5, "Posting not found"),
    }
}

async fn ozon_posting(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    ozon_lookup(&inner, &headers, &body, false).await
}

async fn ozon_posting_fbo(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    ozon_lookup(&inner, &headers, &body, true).await
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
