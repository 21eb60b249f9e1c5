//! Fake Wildberries and Ozon APIs on loopback that cannot drift from the official documents.
//!
//! Every request is matched to an operation of the documents in `../shared/specs/`
//! ([`super::spec`]) and validated mechanically: path and method, the host group for WB (the
//! `servers:` of the path, when the request came to one of the per-host listeners of
//! [`FakeMarketplace::wb_hosts`]), required parameters, types, enums, limits and the request
//! body. Every response the fake sends is validated against the document's response schema.
//! A request or response the documents reject is recorded as a violation, and a test whose
//! fake saw a violation fails when the fake is dropped ([`FakeMarketplace::assert_valid`]
//! checks earlier).
//!
//! Beyond the schemas:
//! - WB tokens are JWTs: the fake reads their kind (`acc`) and scopes (`s`, bit positions from
//!   `api-information.json`, "Token fields") and answers a method whose `x-category` the token
//!   lacks with 401, a base token on a method whose `x-token-types` excludes it with 403 (the
//!   documents' "base token is not allowed"), and a read-only token (bit 30) on a method that is
//!   not `x-readonly-method` with 401.
//! - WB request limits per token kind come from each description's limit table (parsed, see
//!   [`super::spec`]); over the limit the fake answers 429 with `X-Ratelimit-Retry`,
//!   `X-Ratelimit-Limit` and `X-Ratelimit-Reset` (`api-information.json`, "Rate Limits"), and
//!   counts it ([`FakeMarketplace::too_many`]).
//! - Ozon methods whose description says "Доступно для продавцов с подпиской [Premium Plus]"
//!   are refused with 403 for an account without it ([`FakeMarketplace::premium_plus`]).
//! - Rules the documents state only in prose are in [`PROSE`], each with the document's words;
//!   a test checks those words are still in the documents.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::spec::{self, Api, Kind, Limit, Prose, Specs};

pub const OZON_CLIENT_ID: &str = "836412";
pub const OZON_API_KEY: &str = "ozon-test-key-7f3a";
/// A WB personal token (JWT, `acc` 3, `for` "self") with every category but Promotion's
/// subcategories: `s` = 81662 (Content, Analytics, Prices, Marketplace, Statistics, Promotion,
/// Feedbacks and questions, Buyers chat, Supplies, Buyers returns, Documents, Finance, Users).
/// The signature is not checked by the fake (nor by supportd, which only reads the payload).
pub const WB_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUwMTAxdjEiLCJ0eXAiOiJKV1QifQ.eyJhY2MiOjMsImVudCI6MSwiZXhwIjoxOTI0OTA1NjAwLCJmb3IiOiJzZWxmIiwiaWQiOiIwMTkyZjRjNi03ZDFlLTdjM2EtOWI3ZS01ZjFlMmQzYzRiNWEiLCJpaWQiOjQxMjUwMzQ3LCJvaWQiOjEyMDM5NDUsInMiOjgxNjYyLCJzaWQiOiJhNWYxYzJkMy04ZTliLTRhN2MtOWQ2ZS0xZjJhM2I0YzVkNmUiLCJ0IjpmYWxzZSwidWlkIjo0MTI1MDM0N30.ZmFrZS1zaWduYXR1cmUtbm90LWNoZWNrZWQ";

/// A WB token kind, as the `acc` field of the token says (`api-information.json`, "Token
/// fields": 1 base, 2 test, 3 personal, 4 service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Base,
    Personal,
    Service,
}

/// A WB token of `kind` with the categories named (as `api-information.json` names them:
/// "Content", "Analytics", "Marketplace", "Statistics", "Feedbacks and Questions", "Buyers chat",
/// "Buyers returns", …), optionally read-only.
pub fn wb_token(kind: TokenKind, categories: &[&str], read_only: bool) -> String {
    let specs = spec::specs().expect("the documents are loaded before tokens are made");
    let bits = token_bits(specs);
    let mut s: u64 = categories.iter().map(|c| 1u64 << bits.get(*c).unwrap_or_else(|| panic!("no category {c}"))).sum();
    if read_only {
        s |= 1 << 30;
    }
    let (acc, for_) = match kind {
        TokenKind::Base => (1, None),
        TokenKind::Personal => (3, Some("self")),
        TokenKind::Service => (4, Some("asid:7f1c2e")),
    };
    let mut payload = json!({"acc": acc, "ent": 1, "exp": 1_924_905_600, "id": "0192f4c6-7d1e-7c3a-9b7e-5f1e2d3c4b5b",
        "oid": 1_203_945, "s": s, "sid": "a5f1c2d3-8e9b-4a7c-9d6e-1f2a3b4c5d6e", "t": false, "uid": 41_250_347});
    if let Some(f) = for_ {
        payload["for"] = json!(f);
    }
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!("{}.{}.{}", b64(br#"{"alg":"ES256","typ":"JWT"}"#), b64(payload.to_string().as_bytes()), b64(b"sig"))
}

/// Category name → bit position, from the "Bit values" table of `api-information.json`.
pub fn token_bits(specs: &Specs) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    let tags = specs.wb_information["tags"].as_array().cloned().unwrap_or_default();
    for t in tags {
        let text = t["description"].as_str().unwrap_or("");
        let Some(start) = text.find("**Bit values**") else { continue };
        for line in text[start..].lines().filter(|l| l.trim_start().starts_with('|')) {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
            if let [bit, what] = cells[..]
                && let Ok(bit) = bit.parse::<u32>()
                && let Some(name) = what.split("**").nth(1)
            {
                out.insert(name.to_owned(), bit);
            }
        }
    }
    out
}

/// `x-category` of WB's documents → the category of `api-information.json`'s bit table. (The
/// documents name categories in two vocabularies; this is the one hand-made table.) `all` and
/// `commonapi` need no category.
pub const CATEGORIES: [(&str, &str); 13] = [
    ("content", "Content"),
    ("contentanalytics", "Analytics"),
    ("discountsandprices", "Prices and discounts"),
    ("marketplace", "Marketplace"),
    ("statistics", "Statistics"),
    ("advert", "Promotion"),
    ("questionsandfeedback", "Feedbacks and Questions"),
    ("buyerchat", "Buyers chat"),
    ("supplies", "Supplies"),
    ("returns", "Buyers returns"),
    ("documents", "Documents"),
    ("finance", "Finance"),
    ("usermanagement", "Users"),
];

/// Rules the documents state in prose, enforced below; each quote must still be in the
/// document (`it::marketplace_specs::prose_rules_are_still_in_the_documents`).
pub const PROSE: &[Prose] = &[
    Prose {
        doc: "03-orders-fbs.yaml",
        method: "GET",
        path: "/api/v3/orders",
        quote: "Максимум 30 календарных дней одним запросом",
    },
    Prose {
        doc: "03-orders-fbs.yaml",
        method: "GET",
        path: "/api/v3/orders",
        quote: "созданных не более 3 месяцев назад",
    },
    Prose {
        doc: "09-communications.yaml",
        method: "GET",
        path: "/api/v1/questions",
        quote: "при этом сумма значений параметров `take` и `skip` не должна превышать 10 000",
    },
    Prose {
        doc: "09-communications.yaml",
        method: "GET",
        path: "/api/v1/feedbacks",
        quote: "Количество отзывов (max. 5 000)",
    },
    Prose {
        doc: "09-communications.yaml",
        method: "GET",
        path: "/api/v1/feedbacks",
        quote: "Количество отзывов для пропуска (max. 199990)",
    },
    Prose {
        doc: "12-reports.yaml",
        method: "GET",
        path: "/api/v1/supplier/orders",
        quote: "больше или равно переданному\nзначению параметра `dateFrom`",
    },
    Prose {
        doc: "12-reports.yaml",
        method: "GET",
        path: "/api/v1/supplier/orders",
        quote: "Если в ответе отдаётся пустой массив `[]`, все заказы уже выгружены.",
    },
    Prose { doc: "01-general.yaml", method: "GET", path: "/ping", quote: "Максимум 3 запроса за 30" },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v2/posting/fbo/list",
        quote: "Максимальное значение — 20000.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v2/posting/fbo/list",
        quote: "Если период больше года, вернётся ошибка `PERIOD_IS_TOO_LONG`.",
    },
    Prose {
        doc: "seller-api.swagger.json", method: "POST", path: "/v2/posting/fbo/list", quote: "максимум — 1000"
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v3/posting/fbs/list",
        quote: "он должен быть не больше одного года",
    },
    Prose {
        doc: "seller-api.swagger.json", method: "POST", path: "/v3/posting/fbs/list", quote: "максимум — 1000"
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v1/review/list",
        quote: "Минимум — 20, максимум — 100.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v3/chat/list",
        quote: "Максимальное значение — 1000.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v3/chat/history",
        quote: "Максимальное значение — 1000.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v1/chat/send/message",
        quote: "в формате plain text от 1 до 1000 символов",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v1/question/answer/create",
        quote: "Текст ответа объёмом от 2 до 3000 символов.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v1/returns/list",
        quote: "Максимальное значение — 500.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v1/returns/list",
        quote: "Используйте только один фильтр в запросе",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v3/product/list",
        quote: "Минимум — 1, максимум — 1000.",
    },
    Prose {
        doc: "seller-api.swagger.json",
        method: "POST",
        path: "/v3/product/info/list",
        quote: "В одном запросе вы можете передать не больше 1000 товаров",
    },
];

/// Ozon's answers to a wrong key, from the document's "Частые ошибки" table.
pub const OZON_WRONG_KEY: &str = "Invalid Api-Key, please check the key and try again";

/// Tests run WB's documented limits this many times faster (a minute is a second); a client
/// built with [`FakeMarketplace::scale`] keeps to them, one without it is only slower. Tests of
/// the limits themselves set 1.
pub const DEFAULT_SCALE: f64 = 60.0;

/// The words that mark a Premium Plus method in Ozon's descriptions.
const PREMIUM_PLUS: &str = "Доступно для продавцов с подпиской [Premium Plus]";

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
    /// A 4xx error body in the API group's own shape (WB: `title`/`detail`, `errorText` or
    /// `errors`, by group; Ozon: `code`/`message`) with this text.
    Rejected(&'static str),
}

/// A WB question: (id, text, the seller's answer, created ms).
type WbQuestion = (String, String, Option<String>, i64);

/// A review: (id, text, stars, the seller's answer, created ms).
type Review = (String, String, i64, Option<String>, i64);

/// An Ozon chat message: (message id, from the customer, text, read, created ms).
type ChatMessage = (u64, bool, String, bool, i64);

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

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub api: Api,
    pub method: String,
    /// The operation's path as the document writes it.
    pub template: String,
    /// The host group it was sent to (per-host listeners only).
    pub host: Option<String>,
    pub status: u16,
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
    faults: Mutex<HashMap<String, VecDeque<Fault>>>,
    wb_questions: Mutex<Vec<WbQuestion>>,
    wb_feedbacks: Mutex<Vec<Review>>,
    ozon_reviews: Mutex<Vec<Review>>,
    /// Ozon chats: chat id → messages.
    ozon_chats: Mutex<Vec<(String, Vec<ChatMessage>)>>,
    list_calls: AtomicUsize,
    /// Posting number → the `result` object of `/v3/posting/fbs/get`.
    postings: Mutex<HashMap<String, Value>>,
    /// WB order id → (supplierStatus, wbStatus).
    wb_statuses: Mutex<HashMap<i64, (String, String)>>,
    hang: AtomicBool,
    calls: AtomicUsize,
    wb_report_orders: Mutex<Vec<Value>>,
    wb_report_sales: Mutex<Vec<Value>>,
    /// WB-warehouse stock rows (`/api/analytics/v1/stocks-report/wb-warehouses` items).
    wb_warehouse_stock: Mutex<Vec<Value>>,
    /// WB seller-warehouse stock: chrtId → amount (one warehouse).
    wb_fbs_stock: Mutex<HashMap<i64, i64>>,
    wb_claims: Mutex<Vec<(bool, Value)>>,
    ozon_returns: Mutex<Vec<Value>>,
    wb_cards: Mutex<Vec<Value>>,
    ozon_questions: Mutex<Vec<OzonQuestion>>,
    /// Ozon FBS listings answer `has_next: true` for ever (a broken paginator).
    ozon_endless: AtomicBool,
    /// The Ozon account has Premium Plus.
    no_premium_plus: AtomicBool,
    violations: Mutex<Vec<String>>,
    log: Mutex<Vec<Logged>>,
    /// Token buckets: (token, group) → (tokens, last refill).
    buckets: Mutex<HashMap<(String, String), (f64, Instant)>>,
    too_many: AtomicUsize,
    /// Documented limits run this many times faster (tests; 1 = as documented).
    scale: Mutex<f64>,
}

/// Fails the test that used the fake when a request or response broke the documents.
struct Guard(Arc<Inner>);

impl Drop for Guard {
    fn drop(&mut self) {
        let v = self.0.violations.lock().map(|v| v.clone()).unwrap_or_default();
        if !v.is_empty() && !std::thread::panicking() {
            panic!("the fake marketplace saw requests or responses the official documents reject:\n{}", v.join("\n"));
        }
    }
}

#[derive(Clone)]
pub struct FakeMarketplace {
    /// WB (every group) and Ozon on one address, as `SUPPORTD_WB_BASE_URL` /
    /// `SUPPORTD_OZON_BASE_URL` use it.
    pub addr: SocketAddr,
    /// One address per WB host group (the request's host is then checked too).
    hosts: HashMap<String, SocketAddr>,
    inner: Arc<Inner>,
    _guard: Arc<Guard>,
}

#[derive(Clone)]
struct Ctx {
    inner: Arc<Inner>,
    host: Option<String>,
}

impl FakeMarketplace {
    /// Starts the fake, or `None` when the documents are missing (the caller skips its test).
    pub async fn start() -> Option<Self> {
        let specs = spec::specs()?;
        let inner = Arc::new(Inner { scale: Mutex::new(DEFAULT_SCALE), ..Inner::default() });
        let app = Router::new().fallback(dispatch).with_state(Ctx { inner: inner.clone(), host: None });
        let (addr, _task) = super::serve(app).await;
        let mut wb_hosts: Vec<String> = specs.wb.operations.iter().flat_map(|o| o.hosts.iter().cloned()).collect();
        wb_hosts.sort();
        wb_hosts.dedup();
        let mut hosts = HashMap::new();
        for h in wb_hosts.into_iter().filter(|h| !h.contains("sandbox")) {
            let app = Router::new().fallback(dispatch).with_state(Ctx { inner: inner.clone(), host: Some(h.clone()) });
            let (a, _task) = super::serve(app).await;
            hosts.insert(h, a);
        }
        Some(Self { addr, hosts, _guard: Arc::new(Guard(inner.clone())), inner })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// WB's real origins (`https://marketplace-api.wildberries.ru`) → this fake's listener for
    /// that host, for `Wb::with_hosts`.
    pub fn wb_hosts(&self) -> HashMap<String, String> {
        self.hosts.iter().map(|(h, a)| (format!("https://{h}"), format!("http://{a}"))).collect()
    }

    /// Runs the documented request limits `k` times faster (the client must use the same).
    pub fn set_scale(&self, k: f64) {
        *self.inner.scale.lock().expect("lock") = k;
    }

    pub fn scale(&self) -> f64 {
        *self.inner.scale.lock().expect("lock")
    }

    /// Whether the Ozon account has Premium Plus (default: yes).
    pub fn premium_plus(&self, on: bool) {
        self.inner.no_premium_plus.store(!on, Ordering::SeqCst);
    }

    /// Ozon FBS listings keep saying `has_next: true` with the same page.
    pub fn endless_ozon_listing(&self, on: bool) {
        self.inner.ozon_endless.store(on, Ordering::SeqCst);
    }

    /// What the documents rejected so far (and forgets it: for tests that send invalid requests
    /// on purpose).
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.violations.lock().expect("lock"))
    }

    /// Panics now if anything broke the documents.
    pub fn assert_valid(&self) {
        let v = self.take_violations();
        assert!(v.is_empty(), "requests or responses the official documents reject:\n{}", v.join("\n"));
    }

    /// Every request answered so far.
    pub fn log(&self) -> Vec<Logged> {
        self.inner.log.lock().expect("lock").clone()
    }

    /// How many requests of `method template` were answered.
    pub fn requests(&self, method: &str, template: &str) -> usize {
        self.inner.log.lock().expect("lock").iter().filter(|l| l.method == method && l.template == template).count()
    }

    /// 429 answers given for going over a documented limit.
    pub fn too_many(&self) -> usize {
        self.inner.too_many.load(Ordering::SeqCst)
    }

    /// An FBS posting as `/v3/posting/fbs/get` returns it (shipped from a seller's warehouse by
    /// "Ozon Логистика"; no buyer data).
    pub fn set_posting(&self, number: &str, status: &str, substatus: &str) {
        let posting = json!({
            "posting_number": number,
            "order_id": 438764970,
            "order_number": number.rsplit_once('-').map_or(number, |(o, _)| o),
            "status": status,
            "substatus": substatus,
            "delivery_method": {"id": 18114520187000i64, "name": "Ozon Логистика самостоятельно, Екатеринбург",
                "warehouse_id": 18114520187000i64, "warehouse": "Екатеринбург", "tpl_provider_id": 24, "tpl_provider": "Ozon Логистика"},
            "tracking_number": "OZ1234567890RU",
            "tpl_integration_type": "ozon",
            "in_process_at": "2026-11-24T09:14:16Z",
            "shipment_date": "2026-11-25T10:00:00Z",
            "cancellation": {"cancel_reason_id": 0, "cancel_reason": "", "cancellation_type": "", "cancelled_after_ship": false,
                "affect_cancellation_rating": false, "cancellation_initiator": ""},
            "products": [{"currency_code": "RUB", "price": "1290.0000", "offer_id": "LD-TS-001",
                "name": "Футболка женская оверсайз из хлопка", "sku": 1784523910i64, "quantity": 1}],
            "is_express": false,
        });
        self.inner.postings.lock().expect("lock").insert(number.to_owned(), posting);
    }

    /// The buyer's delivery address of an FBS posting (`customer.address`): a pick-up point
    /// (`pvz_code`) with its address.
    pub fn set_posting_pickup(&self, number: &str, pvz_code: i64, address: &str) {
        if let Some(p) = self.inner.postings.lock().expect("lock").get_mut(number) {
            p["customer"] = json!({"customer_id": 1, "name": "", "phone": "",
                "address": {"address_tail": address, "city": "Екатеринбург", "comment": "", "country": "Россия",
                    "district": "", "latitude": 56.8, "longitude": 60.6, "provider_pvz_code": "", "pvz_code": pvz_code,
                    "region": "Свердловская область", "zip_code": "620000"}});
        }
    }

    pub fn set_wb_status(&self, id: i64, supplier: &str, wb: &str) {
        self.inner.wb_statuses.lock().expect("lock").insert(id, (supplier.to_owned(), wb.to_owned()));
    }

    /// Accept requests and never answer (until set back).
    pub fn hang(&self, on: bool) {
        self.inner.hang.store(on, Ordering::SeqCst);
    }

    /// `n` WB orders with ids from `first`, placed at `created` and a second apart, all new.
    pub fn add_wb_orders(&self, first: i64, n: usize, created: i64) {
        self.add_wb_orders_every(first, n, created, 1000);
    }

    /// `n` WB orders with ids from `first`, placed from `created` every `step_ms`.
    pub fn add_wb_orders_every(&self, first: i64, n: usize, created: i64, step_ms: i64) {
        let mut list = self.inner.wb_orders.lock().expect("lock");
        let mut statuses = self.inner.wb_statuses.lock().expect("lock");
        for i in 0..n as i64 {
            let id = first + i;
            list.push(WbOrder {
                id,
                created: created + i * step_ms,
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
                "delivery_method": {"name": "Ozon Логистика самостоятельно, Екатеринбург"},
                "products": [{"price": "990.0000", "offer_id": "LD-TS-002", "name": "Футболка", "sku": 1, "quantity": 1}]});
            list.push((created + i as i64 * 1000, created, p));
        }
    }

    /// `n` FBO postings `PREFIX-0001-1`…, placed from `created` a second apart.
    pub fn add_ozon_fbo(&self, prefix: &str, n: usize, created: i64, status: &str) {
        let mut list = self.inner.ozon_fbo.lock().expect("lock");
        for i in 0..n {
            let t = created + i as i64 * 1000;
            list.push((t, json!({"order_id": i, "order_number": format!("{prefix}-{:04}", i + 1),
                "posting_number": format!("{prefix}-{:04}-1", i + 1), "status": status, "cancel_reason_id": 0,
                "created_at": rfc3339(t), "in_process_at": rfc3339(t),
                "products": [{"sku": 1, "name": "Худи женское оверсайз с капюшоном", "quantity": 1, "offer_id": "LD-HD-011",
                    "price": "3490.00", "currency_code": "RUB"}]})));
        }
        list.sort_by_key(|(t, _)| *t);
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
        self.add_wb_question_at(id, text, now_ms());
    }

    pub fn add_wb_question_at(&self, id: &str, text: &str, created: i64) {
        self.inner.wb_questions.lock().expect("lock").push((id.into(), text.into(), None, created));
    }

    /// The answer published to a WB question.
    pub fn wb_answer(&self, id: &str) -> Option<String> {
        self.inner.wb_questions.lock().expect("lock").iter().find(|q| q.0 == id).and_then(|q| q.2.clone())
    }

    pub fn add_wb_feedback(&self, id: &str, text: &str, stars: i64) {
        self.add_wb_feedback_at(id, text, stars, now_ms());
    }

    pub fn add_wb_feedback_at(&self, id: &str, text: &str, stars: i64, created: i64) {
        self.inner.wb_feedbacks.lock().expect("lock").push((id.into(), text.into(), stars, None, created));
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
            "replySign": format!("{chat}:sign"), "sender": "client", "clientName": "Алёна"}),
        ));
        events.sort_by_key(|(t, _)| *t);
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
        self.inner.ozon_reviews.lock().expect("lock").push((id.into(), text.into(), rating, None, now_ms()));
    }

    pub fn ozon_review_comment(&self, id: &str) -> Option<String> {
        self.inner.ozon_reviews.lock().expect("lock").iter().find(|r| r.0 == id).and_then(|r| r.3.clone())
    }

    pub fn add_ozon_chat_message(&self, chat: &str, message_id: u64, text: &str) {
        self.add_ozon_chat_message_at(chat, message_id, text, now_ms());
    }

    pub fn add_ozon_chat_message_at(&self, chat: &str, message_id: u64, text: &str, at: i64) {
        let mut chats = self.inner.ozon_chats.lock().expect("lock");
        let m = (message_id, true, text.to_owned(), false, at);
        match chats.iter_mut().find(|c| c.0 == chat) {
            Some(c) => c.1.push(m),
            None => chats.push((chat.into(), vec![m])),
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

    /// Stock of `nm` on WB's warehouses (analytics stock report) and of size `chrt` on the
    /// seller's warehouse.
    pub fn set_wb_stock(&self, nm: i64, on_wb: i64, chrt: i64, fbs: i64) {
        self.inner.wb_warehouse_stock.lock().expect("lock").push(json!({
            "nmId": nm, "chrtId": chrt, "warehouseId": -999999, "warehouseName": "Склад WB", "regionName": "Склад WB",
            "quantity": on_wb, "inWayToClient": 0, "inWayFromClient": 0}));
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
                "createdAt": "2026-11-01T10:00:00Z",
                "updatedAt": format!("2026-11-20T{:02}:{:02}:{:02}Z", i / 3600, (i / 60) % 60, i % 60)}));
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
            "id": id, "company_id": 3058, "return_reason_name": "Не подошёл размер",
            "type": "ClientReturn", "schema": "Fbs", "order_id": 24540784250i64, "order_number": "58544282-0057",
            "posting_number": posting, "exemplars": [{"id": 1019562967545956i64}],
            "product": {"sku": 1100526203, "offer_id": "LD-HD-011", "name": "Худи оверсайз",
                "price": {"currency_code": "RUB", "price": 3318}, "quantity": 1},
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

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A decoded WB token.
struct WbToken {
    kind: Kind,
    scopes: u64,
    read_only: bool,
}

fn decode_wb(token: &str) -> Option<WbToken> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let kind = match v["acc"].as_i64()? {
        3 => Kind::Personal,
        4 => Kind::Service,
        _ => Kind::Base,
    };
    let s = v["s"].as_u64()?;
    Some(WbToken { kind, scopes: s, read_only: s & (1 << 30) != 0 })
}

/// What a handler answers.
enum Reply {
    Json(StatusCode, Value),
    Empty(StatusCode),
    /// Not JSON (a broken answer).
    Raw(StatusCode, &'static str),
}

struct Call<'a> {
    inner: &'a Inner,
    query: HashMap<String, String>,
    body: Value,
    path: HashMap<String, String>,
}

impl Call<'_> {
    fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    fn qi(&self, k: &str) -> Option<i64> {
        self.q(k).and_then(|v| v.parse().ok())
    }
}

async fn dispatch(
    axum::extract::State(ctx): axum::extract::State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(specs) = spec::specs() else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let inner = &ctx.inner;
    let path = uri.path().to_owned();
    let api = if ctx.host.is_some() || !path.starts_with("/v") { Api::Wb } else { Api::Ozon };
    let spec = if api == Api::Wb { &specs.wb } else { &specs.ozon };
    let query: Vec<(String, String)> =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let req = spec::Request {
        host: ctx.host.as_deref(),
        method: method.as_str(),
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let matched = match spec.check_request(&req) {
        Ok(m) => m,
        Err(errors) => {
            let not_found = errors.iter().any(|e| e.contains("is in none of") || e.contains("is not served by"));
            inner.violations.lock().expect("lock").extend(errors.iter().cloned());
            let status = if not_found { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
            return error_reply(api, status, &errors.join("; ")).into_response();
        }
    };
    let op = matched.op;
    let log = |status: u16| {
        inner.log.lock().expect("lock").push(Logged {
            api,
            method: op.method.clone(),
            template: op.template.clone(),
            host: ctx.host.clone(),
            status,
        });
    };
    // Credentials first, as the real services check them.
    if let Some(refusal) = authorize(specs, api, op, &headers, inner) {
        log(refusal.0.as_u16());
        return refusal.into_response();
    }
    // Request limits of the token's kind (WB).
    if api == Api::Wb
        && let Some(r) = limit(inner, op, &headers)
    {
        log(429);
        return r;
    }
    let call = Call { inner, query: query.iter().cloned().collect(), body: matched.body, path: matched.path_params };
    if let Some(problem) = prose_rules(&op.method, &op.template, &call) {
        inner.violations.lock().expect("lock").push(format!("{} {}: {problem}", op.method, op.template));
        log(400);
        return error_reply(api, StatusCode::BAD_REQUEST, &problem).into_response();
    }
    if let Some(f) = take_fault(inner, &path).filter(|f| *f != Fault::Pass) {
        log(0);
        return fault_response(api, op, f);
    }
    if matches!(op.template.as_str(), "/v3/posting/fbs/get" | "/v2/posting/fbo/get" | "/api/v3/orders/status") {
        inner.calls.fetch_add(1, Ordering::SeqCst);
        if inner.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
    if matches!(op.template.as_str(), "/api/v3/orders" | "/v3/posting/fbs/list" | "/v2/posting/fbo/list") {
        inner.list_calls.fetch_add(1, Ordering::SeqCst);
    }
    let reply = handle(api, &op.method, &op.template, &call);
    match reply {
        Reply::Json(status, body) => {
            let errors = spec.check_response(op, status.as_u16(), &body);
            inner.violations.lock().expect("lock").extend(errors);
            log(status.as_u16());
            (status, axum::Json(body)).into_response()
        }
        Reply::Empty(status) => {
            log(status.as_u16());
            status.into_response()
        }
        Reply::Raw(status, text) => {
            log(status.as_u16());
            (status, [("content-type", "application/json")], text).into_response()
        }
    }
}

/// A refusal (status and body) for credentials, scopes and subscriptions.
struct Refusal(StatusCode, Value);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

fn wb_problem(status: StatusCode, title: &str, detail: &str) -> Value {
    json!({"title": title, "detail": detail, "code": "07e4668e-ac2242c5c8c5", "requestId": "7b80742415072fe8b6b7f7761f1d1211",
        "origin": "s2s-api-auth", "status": status.as_u16(), "statusText": status.canonical_reason().unwrap_or(""),
        "timestamp": "2026-11-27T10:00:00Z"})
}

fn authorize(specs: &Specs, api: Api, op: &spec::Operation, headers: &HeaderMap, inner: &Inner) -> Option<Refusal> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    match api {
        Api::Ozon => {
            if header("Client-Id") != OZON_CLIENT_ID || header("Api-Key") != OZON_API_KEY {
                return Some(Refusal(
                    StatusCode::FORBIDDEN,
                    json!({"code": 7, "message": OZON_WRONG_KEY, "details": []}),
                ));
            }
            if inner.no_premium_plus.load(Ordering::SeqCst) && op.description().contains(PREMIUM_PLUS) {
                return Some(Refusal(
                    StatusCode::FORBIDDEN,
                    json!({"code": 7, "message": "This method is available only with the Premium Plus subscription", "details": []}),
                ));
            }
            None
        }
        Api::Wb => {
            let unauthorized = |detail: &str| {
                Some(Refusal(StatusCode::UNAUTHORIZED, wb_problem(StatusCode::UNAUTHORIZED, "unauthorized", detail)))
            };
            let Some(token) = decode_wb(header("Authorization")) else {
                return unauthorized(
                    "token problem; token is malformed: could not base64 decode signature: illegal base64 data at input byte 84",
                );
            };
            let category = op.category.as_deref().unwrap_or("all");
            if !matches!(category, "all" | "commonapi") {
                let name = CATEGORIES.iter().find(|(c, _)| *c == category).map(|(_, n)| *n);
                let bit = name.and_then(|n| token_bits(specs).get(n).copied());
                if bit.is_none_or(|b| token.scopes & (1 << b) == 0) {
                    return unauthorized("token scope not allowed");
                }
            }
            if token.read_only && !op.read_only {
                return unauthorized("read-only token scope not allowed");
            }
            if let Some(types) = &op.token_types {
                let kind = match token.kind {
                    Kind::Personal => "personal",
                    Kind::Service => "service",
                    Kind::BaseWithSecret => "base-with-secret",
                    Kind::Base => "base",
                };
                if !types.iter().any(|t| t == kind) {
                    return Some(Refusal(
                        StatusCode::FORBIDDEN,
                        wb_problem(StatusCode::FORBIDDEN, "forbidden", "base token is not allowed"),
                    ));
                }
            }
            None
        }
    }
}

/// The documented limit of `op` for the token's kind, as a token bucket shared by the methods
/// the table names together; `Some(429)` when it is spent.
fn limit(inner: &Inner, op: &spec::Operation, headers: &HeaderMap) -> Option<Response> {
    let token = headers.get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let kind = decode_wb(&token).map_or(Kind::Base, |t| t.kind);
    // `/ping`: "Максимум 3 запроса за 30 секунд" (01-general.yaml), a limit in prose.
    let l = if op.template == "/ping" {
        Limit { period_ms: 30_000.0, limit: 3.0, interval_ms: 10_000.0, burst: 3.0 }
    } else {
        op.limit_for(kind)?
    };
    let scale = *inner.scale.lock().expect("lock");
    let rate = l.rate() * scale;
    let key = (
        format!("{token}/{kind:?}"),
        format!("{}/{}/{}", op.category.as_deref().unwrap_or(""), op.limit_group, op.doc),
    );
    let mut buckets = inner.buckets.lock().expect("lock");
    let now = Instant::now();
    let b = buckets.entry(key).or_insert((l.burst, now));
    b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * rate).min(l.burst);
    b.1 = now;
    // A little slack for the time between the client's send and this check.
    if b.0 >= 0.9 {
        b.0 -= 1.0;
        return None;
    }
    inner.too_many.fetch_add(1, Ordering::SeqCst);
    let retry = ((1.0 - b.0) / rate).ceil().max(1.0) as u64;
    let reset = ((l.burst - b.0) / rate).ceil() as u64;
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(wb_problem(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests",
            "limited by c122a060-a7fb-4bb4-abb0-32fd4e18d489",
        )),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert("X-Ratelimit-Retry", retry.to_string().parse().expect("header"));
    h.insert("X-Ratelimit-Limit", (l.burst as u64).to_string().parse().expect("header"));
    h.insert("X-Ratelimit-Reset", reset.to_string().parse().expect("header"));
    Some(r)
}

const DAY: i64 = 86_400_000;

fn parse_time(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Three calendar months before `ms` (UTC).
fn three_months_before(ms: i64) -> i64 {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).expect("time");
    let (mut y, mut m) = (t.year(), u8::from(t.month()) as i32 - 3);
    if m < 1 {
        m += 12;
        y -= 1;
    }
    let month = time::Month::try_from(m as u8).expect("month");
    let day = t.day().min(month.length(y));
    let d = time::Date::from_calendar_date(y, month, day).expect("date");
    d.with_time(t.time()).assume_utc().unix_timestamp() * 1000
}

/// The prose rules of [`PROSE`] (and those that need the request's values together).
fn prose_rules(method: &str, template: &str, c: &Call<'_>) -> Option<String> {
    match (method, template) {
        ("GET", "/api/v3/orders") => {
            let now = now_ms();
            let from = c.qi("dateFrom").map_or(now - 30 * DAY, |s| s * 1000);
            let to = c.qi("dateTo").map_or(now, |s| s * 1000);
            if to - from > 30 * DAY {
                return Some("«Максимум 30 календарных дней одним запросом»: the window is longer".into());
            }
            if from < three_months_before(now) {
                return Some("orders are returned «созданных не более 3 месяцев назад»: dateFrom is older".into());
            }
            None
        }
        ("GET", "/api/v1/questions") => {
            let (take, skip) = (c.qi("take").unwrap_or(0), c.qi("skip").unwrap_or(0));
            (take > 10_000 || skip > 10_000 || take + skip > 10_000)
                .then(|| "take and skip: at most 10 000 each, and together".into())
        }
        ("GET", "/api/v1/feedbacks") => (c.qi("take").unwrap_or(0) > 5_000 || c.qi("skip").unwrap_or(0) > 199_990)
            .then(|| "take: max. 5 000; skip: max. 199990".into()),
        ("POST", "/v2/posting/fbo/list" | "/v3/posting/fbs/list") => {
            let f = &c.body["filter"];
            let limit = c.body["limit"].as_i64().unwrap_or(0);
            if !(1..=1000).contains(&limit) {
                return Some("limit: «максимум — 1000, минимум — 1»".into());
            }
            if template == "/v2/posting/fbo/list" && c.body["offset"].as_i64().unwrap_or(0) > 20_000 {
                return Some("offset: «Максимальное значение — 20000.»".into());
            }
            match (parse_time(&f["since"]), parse_time(&f["to"])) {
                (Some(a), Some(b)) if b - a > 366 * DAY => {
                    Some("PERIOD_IS_TOO_LONG: the period is longer than a year".into())
                }
                (Some(_), Some(_)) => None,
                _ => Some("filter.since and filter.to must be dates".into()),
            }
        }
        ("POST", "/v1/review/list") => (!(20..=100).contains(&c.body["limit"].as_i64().unwrap_or(0)))
            .then(|| "limit: «Минимум — 20, максимум — 100.»".into()),
        ("POST", "/v3/chat/list" | "/v3/chat/history") => {
            (c.body["limit"].as_i64().unwrap_or(1) > 1000).then(|| "limit: «Максимальное значение — 1000.»".into())
        }
        ("POST", "/v1/chat/send/message") => {
            let n = c.body["text"].as_str().map_or(0, |t| t.chars().count());
            (!(1..=1000).contains(&n)).then(|| format!("text: «от 1 до 1000 символов», got {n}"))
        }
        ("POST", "/v1/question/answer/create") => {
            let n = c.body["text"].as_str().map_or(0, |t| t.chars().count());
            (!(2..=3000).contains(&n)).then(|| format!("text: «от 2 до 3000 символов», got {n}"))
        }
        ("POST", "/v1/returns/list") => {
            if c.body["limit"].as_i64().unwrap_or(0) > 500 {
                return Some("limit: «Максимальное значение — 500.»".into());
            }
            let f = &c.body["filter"];
            let dates = ["logistic_return_date", "storage_tariffication_start_date", "visual_status_change_moment"]
                .iter()
                .filter(|k| !f[**k].is_null())
                .count();
            (dates > 1).then(|| "«Используйте только один фильтр в запросе»".into())
        }
        ("POST", "/v3/product/list") => {
            let l = c.body["limit"].as_i64().unwrap_or(1);
            (!(1..=1000).contains(&l)).then(|| "limit: «Минимум — 1, максимум — 1000.»".into())
        }
        ("POST", "/v3/product/info/list") => {
            let n: usize =
                ["offer_id", "product_id", "sku"].iter().map(|k| c.body[*k].as_array().map_or(0, Vec::len)).sum();
            (n > 1000).then(|| "«не больше 1000 товаров»".into())
        }
        _ => None,
    }
}

fn take_fault(inner: &Inner, path: &str) -> Option<Fault> {
    inner.faults.lock().expect("lock").get_mut(path).and_then(|q| q.pop_front())
}

/// An error body in the shape the API group uses.
fn error_reply(api: Api, status: StatusCode, message: &str) -> Refusal {
    match api {
        Api::Ozon => Refusal(status, json!({"code": 3, "message": message, "details": []})),
        Api::Wb => Refusal(status, wb_problem(status, "bad request", message)),
    }
}

/// The fault's answer in the marketplace's own error shape.
fn fault_response(api: Api, op: &spec::Operation, fault: Fault) -> Response {
    match (fault, api) {
        (Fault::Pass, _) => unreachable!("passed faults are answered normally"),
        (Fault::TooMany { retry_after }, Api::Wb) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(wb_problem(StatusCode::TOO_MANY_REQUESTS, "too many requests", "limited by c122a060")),
            )
                .into_response();
            r.headers_mut().insert("X-Ratelimit-Retry", retry_after.to_string().parse().expect("header"));
            r.headers_mut().insert("X-Ratelimit-Limit", "20".parse().expect("header"));
            r.headers_mut().insert("X-Ratelimit-Reset", retry_after.to_string().parse().expect("header"));
            r
        }
        (Fault::TooMany { retry_after }, Api::Ozon) => {
            let mut r = Refusal(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code": 8, "message": "You have reached request rate limit per second", "details": []}),
            )
            .into_response();
            r.headers_mut().insert("Retry-After", retry_after.to_string().parse().expect("header"));
            r
        }
        (Fault::Unauthorized, Api::Wb) => Refusal(
            StatusCode::UNAUTHORIZED,
            wb_problem(StatusCode::UNAUTHORIZED, "unauthorized", "token is malformed or expired"),
        )
        .into_response(),
        (Fault::Unauthorized, Api::Ozon) => {
            Refusal(StatusCode::FORBIDDEN, json!({"code": 7, "message": OZON_WRONG_KEY, "details": []})).into_response()
        }
        (Fault::Malformed, Api::Wb) => {
            (StatusCode::OK, [("content-type", "application/json")], "{\"next\": 1, \"orders\": [{\"id\": \"оops\"")
                .into_response()
        }
        (Fault::Malformed, Api::Ozon) => {
            (StatusCode::OK, axum::Json(json!({"result": {"postings": "not a list"}}))).into_response()
        }
        (Fault::Rejected(text), Api::Ozon) => {
            Refusal(StatusCode::BAD_REQUEST, json!({"code": 3, "message": text, "details": []})).into_response()
        }
        (Fault::Rejected(text), Api::Wb) => {
            // Each WB group has its own error body.
            let body = match op.category.as_deref() {
                Some("questionsandfeedback") => {
                    json!({"data": null, "error": true, "errorText": text, "additionalErrors": ["Something went wrong"]})
                }
                Some("statistics") => json!({"errors": [text]}),
                Some("marketplace") => json!({"code": "IncorrectParameter", "message": text}),
                _ => wb_problem(StatusCode::BAD_REQUEST, "bad request", text),
            };
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
    }
}

fn ok(v: Value) -> Reply {
    Reply::Json(StatusCode::OK, v)
}

fn handle(api: Api, method: &str, template: &str, c: &Call<'_>) -> Reply {
    let inner = c.inner;
    match (api, method, template) {
        (Api::Wb, "GET", "/ping") => ok(json!({"TS": rfc3339(now_ms()), "Status": "OK"})),
        (Api::Wb, "GET", "/api/v3/orders") => {
            let (limit, next) = (c.qi("limit").unwrap_or(1000) as usize, c.qi("next").unwrap_or(0));
            let now = now_ms();
            let from = c.qi("dateFrom").map_or(now - 30 * DAY, |s| s * 1000);
            let to = c.qi("dateTo").map_or(i64::MAX, |t| t * 1000 + 999);
            let list = inner.wb_orders.lock().expect("lock");
            let page: Vec<Value> = list
                .iter()
                .filter(|o| o.id > next && o.created >= from && o.created <= to)
                .take(limit)
                .map(|o| {
                    json!({"id": o.id, "rid": format!("r{}", o.id), "orderUid": format!("u{}", o.id),
                    "createdAt": rfc3339(o.created), "warehouseId": 1, "officeId": 15, "nmId": 178452391, "chrtId": 1,
                    "article": o.article, "colorCode": "", "price": o.price, "convertedPrice": o.price,
                    "currencyCode": 643, "convertedCurrencyCode": 643, "skus": ["2000000000001"],
                    "offices": ["Москва"], "deliveryType": "fbs", "cargoType": 1, "crossBorderType": 0,
                    "comment": "", "isZeroOrder": false, "address": null, "scanPrice": null})
                })
                .collect();
            let last = page.last().and_then(|o| o["id"].as_i64()).unwrap_or(next);
            ok(json!({"next": last, "orders": page}))
        }
        (Api::Wb, "POST", "/api/v3/orders/status") => {
            let statuses = inner.wb_statuses.lock().expect("lock");
            let orders: Vec<Value> = c.body["orders"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .filter_map(|id| {
                    statuses.get(&id).map(
                        |(s, w)| json!({"id": id, "supplierStatus": s, "wbStatus": w, "isCancellable": s == "new"}),
                    )
                })
                .collect();
            ok(json!({"orders": orders}))
        }
        (Api::Wb, "GET", "/api/v3/warehouses") => ok(json!([{"name": "Склад Подольск", "officeId": 15, "id": 507,
            "cargoType": 1, "deliveryType": 1, "isDeleting": false, "isProcessing": false}])),
        (Api::Wb, "POST", "/api/v3/stocks/{warehouseId}") => {
            if c.path.get("warehouseId").map(String::as_str) != Some("507") {
                return Reply::Json(StatusCode::NOT_FOUND, json!({"code": "NotFound", "message": "Не найдено"}));
            }
            let stock = inner.wb_fbs_stock.lock().expect("lock");
            let list: Vec<Value> = c.body["chrtIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .map(|ch| json!({"chrtId": ch, "amount": stock.get(&ch).copied().unwrap_or(0)}))
                .collect();
            ok(json!({"stocks": list}))
        }
        (Api::Wb, "POST", "/api/analytics/v1/stocks-report/wb-warehouses") => {
            let rows = inner.wb_warehouse_stock.lock().expect("lock");
            let nm: Vec<i64> = c.body["nmIds"].as_array().into_iter().flatten().filter_map(Value::as_i64).collect();
            let (limit, offset) =
                (c.body["limit"].as_u64().unwrap_or(250_000) as usize, c.body["offset"].as_u64().unwrap_or(0) as usize);
            let items: Vec<Value> = rows
                .iter()
                .filter(|r| nm.is_empty() || r["nmId"].as_i64().is_some_and(|n| nm.contains(&n)))
                .skip(offset)
                .take(limit)
                .cloned()
                .collect();
            ok(json!({"data": {"items": items}}))
        }
        (Api::Wb, "POST", "/content/v2/get/cards/list") => wb_cards(inner, &c.body),
        (Api::Wb, "GET", "/api/v1/questions") => {
            let answered = c.q("isAnswered") == Some("true");
            let (take, skip) = (c.qi("take").unwrap_or(0) as usize, c.qi("skip").unwrap_or(0) as usize);
            let all = inner.wb_questions.lock().expect("lock");
            let mut matching: Vec<&(String, String, Option<String>, i64)> =
                all.iter().filter(|q| q.2.is_some() == answered).collect();
            if c.q("order") == Some("dateDesc") {
                matching.reverse();
            }
            let list: Vec<Value> = matching
                .iter()
                .skip(skip)
                .take(take)
                .map(|(id, text, a, at)| {
                    json!({"id": id, "text": text, "createdDate": rfc3339(*at),
                    "state": if a.is_some() { "wbRu" } else { "suppliersPortalSynch" },
                    "answer": a.as_ref().map(|t| json!({"text": t, "editable": true, "createDate": "2026-11-27T09:00:00Z"})),
                    "productDetails": {"imtId": 1, "nmId": 178452391, "productName": "Футболка женская оверсайз из хлопка",
                        "supplierArticle": "LD-TS-001", "supplierName": "Ладья", "brandName": "Ладья"},
                    "wasViewed": false, "isWarned": false})
                })
                .collect();
            let unanswered = all.iter().filter(|q| q.2.is_none()).count();
            ok(
                json!({"data": {"countUnanswered": unanswered, "countArchive": all.len() - unanswered, "questions": list},
                "error": false, "errorText": "", "additionalErrors": null}),
            )
        }
        (Api::Wb, "PATCH", "/api/v1/questions") => {
            let (Some(id), Some(text)) = (c.body["id"].as_str(), c.body["answer"]["text"].as_str()) else {
                return ok(json!({"data": null, "error": false, "errorText": "", "additionalErrors": null}));
            };
            let mut list = inner.wb_questions.lock().expect("lock");
            match list.iter_mut().find(|q| q.0 == id) {
                Some(q) => {
                    q.2 = Some(text.to_owned());
                    ok(json!({"data": null, "error": false, "errorText": "", "additionalErrors": null}))
                }
                None => Reply::Json(
                    StatusCode::NOT_FOUND,
                    json!({"data": null, "error": true, "errorText": "Не найден вопрос", "additionalErrors": null}),
                ),
            }
        }
        (Api::Wb, "GET", "/api/v1/feedbacks") => {
            let answered = c.q("isAnswered") == Some("true");
            let (take, skip) = (c.qi("take").unwrap_or(0) as usize, c.qi("skip").unwrap_or(0) as usize);
            let all = inner.wb_feedbacks.lock().expect("lock");
            let list: Vec<Value> = all
                .iter()
                .filter(|f| f.3.is_some() == answered)
                .skip(skip)
                .take(take)
                .map(|(id, text, stars, answer, at)| json!({"id": id, "text": text, "pros": "", "cons": "", "productValuation": stars,
                    "createdDate": rfc3339(*at), "answer": answer.as_ref().map(|t| json!({"text": t, "state": "wbRu", "editable": true})),
                    "state": "none", "productDetails": {"imtId": 1, "nmId": 178452391, "productName": "Футболка женская оверсайз из хлопка",
                        "supplierArticle": "LD-TS-001", "brandName": "Ладья", "supplierName": "Ладья", "size": "M"},
                    "userName": "Анна", "wasViewed": false, "photoLinks": null, "video": null, "bables": null,
                    "parentFeedbackId": null, "childFeedbackId": null, "returnProductOrdersDate": null}))
                .collect();
            let unanswered = all.iter().filter(|f| f.3.is_none()).count();
            ok(
                json!({"data": {"countUnanswered": unanswered, "countArchive": all.len() - unanswered, "feedbacks": list},
                "error": false, "errorText": "", "additionalErrors": null}),
            )
        }
        (Api::Wb, "POST", "/api/v1/feedbacks/answer") => {
            let (id, text) = (c.body["id"].as_str().unwrap_or(""), c.body["text"].as_str().unwrap_or(""));
            let mut list = inner.wb_feedbacks.lock().expect("lock");
            // "ID отзыва не валидируется": an unknown id is not an error.
            if let Some(f) = list.iter_mut().find(|f| f.0 == id) {
                f.3 = Some(text.to_owned());
            }
            Reply::Empty(StatusCode::NO_CONTENT)
        }
        (Api::Wb, "GET", "/api/v1/seller/chats") => {
            let chats: Vec<Value> = inner
                .wb_chats
                .lock()
                .expect("lock")
                .iter()
                .map(|(id, sign)| {
                    json!({"chatID": id, "replySign": sign, "clientName": "Алёна",
                    "goodCard": {"nmID": 178452391, "price": 1290, "priceCurrency": "RUB", "rid": "r1", "size": "46"},
                    "lastMessage": {"text": "", "addTimestamp": 0}})
                })
                .collect();
            ok(json!({"result": chats, "errors": null}))
        }
        (Api::Wb, "GET", "/api/v1/seller/events") => {
            let next = c.qi("next").unwrap_or(0);
            let events = inner.wb_chat_events.lock().expect("lock");
            let page: Vec<&(i64, Value)> = events.iter().filter(|(t, _)| *t >= next).take(100).collect();
            let new_next = page.last().map_or(next, |(t, _)| t + 1);
            let list: Vec<Value> = page.iter().map(|(_, e)| e.clone()).collect();
            let (oldest, newest) =
                (page.first().map_or(now_ms(), |(t, _)| *t), page.last().map_or(now_ms(), |(t, _)| *t));
            ok(
                json!({"result": {"next": new_next, "newestEventTime": rfc3339(newest), "oldestEventTime": rfc3339(oldest),
                "totalEvents": list.len(), "events": list}, "errors": null}),
            )
        }
        (Api::Wb, "POST", "/api/v1/seller/message") => {
            let (sign, text) = (c.body["replySign"].as_str().unwrap_or(""), c.body["message"].as_str().unwrap_or(""));
            let chat = inner.wb_chats.lock().expect("lock").iter().find(|ch| ch.1 == sign).map(|ch| ch.0.clone());
            let Some(chat) = chat else {
                return Reply::Json(
                    StatusCode::BAD_REQUEST,
                    json!({"status": 400, "title": "Bad Request", "detail": "Invalid signature", "requestId": "r", "origin": "proxy-chats"}),
                );
            };
            let mut events = inner.wb_chat_events.lock().expect("lock");
            let at = events.last().map_or(1, |(t, _)| t + 1).max(now_ms());
            let n = events.len();
            events.push((
                at,
                json!({"chatID": chat, "eventID": format!("ev-{n}"), "eventType": "message", "message": {"text": text},
                "source": "seller-public-api", "addTimestamp": at, "addTime": rfc3339(at), "sender": "seller"}),
            ));
            ok(json!({"result": {"addTime": at, "chatID": chat}, "errors": []}))
        }
        (Api::Wb, "GET", "/api/v1/supplier/orders" | "/api/v1/supplier/sales") => {
            let rows = if template.ends_with("orders") { &inner.wb_report_orders } else { &inner.wb_report_sales };
            let from = c.q("dateFrom").unwrap_or("");
            // flag=0: rows whose lastChangeDate is at or after dateFrom («больше или равно»);
            // string order is time order in this format.
            let mut list: Vec<Value> = rows
                .lock()
                .expect("lock")
                .iter()
                .filter(|r| r["lastChangeDate"].as_str().is_some_and(|d| d >= from))
                .cloned()
                .collect();
            list.sort_by(|a, b| a["lastChangeDate"].as_str().cmp(&b["lastChangeDate"].as_str()));
            ok(Value::Array(list))
        }
        (Api::Wb, "GET", "/api/v1/claims") => {
            let archive = c.q("is_archive") == Some("true");
            let limit = c.qi("limit").unwrap_or(50) as usize;
            let offset = c.qi("offset").unwrap_or(0) as usize;
            let all: Vec<Value> = inner
                .wb_claims
                .lock()
                .expect("lock")
                .iter()
                .filter(|cl| cl.0 == archive)
                .map(|cl| cl.1.clone())
                .collect();
            let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
            ok(json!({"claims": page, "total": all.len()}))
        }
        (Api::Ozon, "POST", "/v3/posting/fbs/get" | "/v2/posting/fbo/get") => {
            let number = c.body["posting_number"].as_str().unwrap_or("");
            match inner.postings.lock().expect("lock").get(number) {
                Some(p) if template == "/v3/posting/fbs/get" => ok(json!({"result": p})),
                _ => Reply::Json(
                    StatusCode::NOT_FOUND,
                    json!({"code": 5, "message": "Posting not found", "details": []}),
                ),
            }
        }
        (Api::Ozon, "POST", "/v3/posting/fbs/list") => ozon_fbs_list(inner, &c.body),
        (Api::Ozon, "POST", "/v2/posting/fbo/list") => {
            let f = &c.body["filter"];
            let (from, to) = (parse_time(&f["since"]).unwrap_or(0), parse_time(&f["to"]).unwrap_or(i64::MAX));
            let limit = c.body["limit"].as_u64().unwrap_or(100) as usize;
            let offset = c.body["offset"].as_u64().unwrap_or(0) as usize;
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
            ok(json!({"result": page}))
        }
        (Api::Ozon, "POST", "/v1/review/list") => {
            let unprocessed = c.body["status"] == "UNPROCESSED";
            let after = c.body["last_id"].as_str().unwrap_or("").to_owned();
            let limit = c.body["limit"].as_u64().unwrap_or(20) as usize;
            let all = inner.ozon_reviews.lock().expect("lock");
            // After `last_id` in the listing's order (ids are not ordered by themselves).
            let start = all.iter().position(|r| r.0 == after).map_or(0, |i| i + 1);
            let matching: Vec<&Review> = all.iter().skip(start).filter(|r| !unprocessed || r.3.is_none()).collect();
            let list: Vec<Value> = matching
                .iter()
                .take(limit)
                .map(|(id, text, rating, comment, at)| {
                    json!({"id": id, "sku": 1784523911, "text": text, "rating": rating,
                    "published_at": rfc3339(*at), "status": if comment.is_some() { "PROCESSED" } else { "UNPROCESSED" },
                    "comments_amount": i32::from(comment.is_some()), "photos_amount": 0, "videos_amount": 0,
                    "order_status": "DELIVERED", "is_rating_participant": true})
                })
                .collect();
            let last = list.last().and_then(|r| r["id"].as_str()).unwrap_or("").to_owned();
            ok(json!({"reviews": list, "has_next": matching.len() > limit, "last_id": last}))
        }
        (Api::Ozon, "POST", "/v1/review/comment/create") => {
            let (id, text) = (c.body["review_id"].as_str().unwrap_or(""), c.body["text"].as_str().unwrap_or(""));
            let mut list = inner.ozon_reviews.lock().expect("lock");
            match list.iter_mut().find(|r| r.0 == id) {
                Some(r) => {
                    r.3 = Some(text.to_owned());
                    ok(json!({"comment_id": format!("c-{id}")}))
                }
                None => {
                    Reply::Json(StatusCode::NOT_FOUND, json!({"code": 5, "message": "review not found", "details": []}))
                }
            }
        }
        (Api::Ozon, "POST", "/v3/product/list") => {
            let items = if c.body["last_id"].as_str().unwrap_or("").is_empty() {
                json!([{"product_id": 223681945, "offer_id": "LD-HD-011", "archived": false, "has_fbo_stocks": true,
                    "has_fbs_stocks": true, "is_discounted": false}])
            } else {
                json!([])
            };
            ok(json!({"result": {"items": items, "total": 1, "last_id": "bnVsbA=="}}))
        }
        (Api::Ozon, "POST", "/v3/product/info/list") => ok(json!({"items": [{"id": 223681945,
            "name": "Худи женское оверсайз с капюшоном", "offer_id": "LD-HD-011", "price": "3490.0000", "old_price": "",
            "currency_code": "RUB", "sku": 1784523911, "is_archived": false,
            "stocks": {"has_stock": true, "stocks": [{"present": 17, "reserved": 2, "sku": 1784523911, "source": "fbs"}]}}]})),
        (Api::Ozon, "POST", "/v3/chat/list") => ozon_chat_list(inner, &c.body),
        (Api::Ozon, "POST", "/v3/chat/history") => {
            let chat = c.body["chat_id"].as_str().unwrap_or("");
            let limit = c.body["limit"].as_u64().unwrap_or(50) as usize;
            let chats = inner.ozon_chats.lock().expect("lock");
            let Some((_, msgs)) = chats.iter().find(|ch| ch.0 == chat) else {
                return Reply::Json(
                    StatusCode::NOT_FOUND,
                    json!({"code": 5, "message": "chat not found", "details": []}),
                );
            };
            let mut list: Vec<Value> = msgs
                .iter()
                .map(|(id, customer, text, read, at)| json!({"message_id": id, "created_at": rfc3339(*at),
                    "data": [text], "is_image": false, "is_read": read, "context": {"order_number": "", "sku": ""},
                    "user": {"id": if *customer { "115568" } else { "seller" }, "type": if *customer { "customer" } else { "seller" }}}))
                .collect();
            if c.body["direction"] != "Forward" {
                list.reverse();
            }
            let has_next = list.len() > limit;
            list.truncate(limit);
            ok(json!({"has_next": has_next, "messages": list}))
        }
        (Api::Ozon, "POST", "/v1/chat/send/message") => {
            let (chat, text) = (c.body["chat_id"].as_str().unwrap_or(""), c.body["text"].as_str().unwrap_or(""));
            let mut chats = inner.ozon_chats.lock().expect("lock");
            let Some((_, msgs)) = chats.iter_mut().find(|ch| ch.0 == chat) else {
                return Reply::Json(
                    StatusCode::NOT_FOUND,
                    json!({"code": 5, "message": "chat not found", "details": []}),
                );
            };
            for m in msgs.iter_mut() {
                m.3 = true;
            }
            let next = msgs.last().map_or(1, |m| m.0 + 1);
            msgs.push((next, false, text.to_owned(), true, now_ms()));
            ok(json!({"result": "success"}))
        }
        (Api::Ozon, "POST", "/v1/returns/list") => {
            let limit = c.body["limit"].as_u64().unwrap_or(500) as usize;
            let window = &c.body["filter"]["visual_status_change_moment"];
            let (from, to) = (
                parse_time(&window["time_from"]).unwrap_or(i64::MIN),
                parse_time(&window["time_to"]).unwrap_or(i64::MAX),
            );
            let last: i64 = c.body["last_id"].as_i64().unwrap_or(0);
            let all: Vec<Value> = inner
                .ozon_returns
                .lock()
                .expect("lock")
                .iter()
                .filter(|r| r["id"].as_i64().is_some_and(|i| i > last))
                .filter(|r| parse_time(&r["visual"]["change_moment"]).is_some_and(|t| t >= from && t <= to))
                .cloned()
                .collect();
            let page: Vec<Value> = all.iter().take(limit).cloned().collect();
            ok(json!({"returns": page, "has_next": all.len() > page.len()}))
        }
        (Api::Ozon, "POST", "/v1/question/list") => {
            let unprocessed = c.body["filter"]["status"] == "UNPROCESSED";
            let after = c.body["last_id"].as_str().unwrap_or("").to_owned();
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
            ok(json!({"questions": list, "last_id": last}))
        }
        (Api::Ozon, "POST", "/v1/question/answer/create") => {
            let (id, sku, text) = (
                c.body["question_id"].as_str().unwrap_or(""),
                c.body["sku"].as_i64().unwrap_or(0),
                c.body["text"].as_str().unwrap_or(""),
            );
            let mut list = inner.ozon_questions.lock().expect("lock");
            match list.iter_mut().find(|q| q.0 == id && q.1 == sku) {
                Some(q) => {
                    q.3 = Some(text.to_owned());
                    ok(json!({"answer_id": format!("a-{id}")}))
                }
                None => Reply::Json(
                    StatusCode::NOT_FOUND,
                    json!({"code": 5, "message": "question not found", "details": []}),
                ),
            }
        }
        _ => {
            inner.violations.lock().expect("lock").push(format!(
                "{method} {template}: a documented method this fake does not implement (add it to the fake)"
            ));
            Reply::Raw(StatusCode::NOT_IMPLEMENTED, "{}")
        }
    }
}

fn ozon_fbs_list(inner: &Inner, body: &Value) -> Reply {
    let f = &body["filter"];
    let (since, to) = (parse_time(&f["since"]).unwrap_or(0), parse_time(&f["to"]).unwrap_or(i64::MAX));
    let changed = f.get("last_changed_status_date").filter(|c| !c.is_null());
    let (cfrom, cto) = changed.map_or((i64::MIN, i64::MAX), |c| {
        (parse_time(&c["from"]).unwrap_or(i64::MIN), parse_time(&c["to"]).unwrap_or(i64::MAX))
    });
    let limit = body["limit"].as_u64().unwrap_or(100) as usize;
    let offset = body["offset"].as_u64().unwrap_or(0) as usize;
    let list = inner.ozon_list.lock().expect("lock");
    let matching: Vec<&Value> = list
        .iter()
        .filter(|(created, ch, _)| *created >= since && *created <= to && *ch >= cfrom && *ch <= cto)
        .map(|(_, _, p)| p)
        .collect();
    if inner.ozon_endless.load(Ordering::SeqCst) {
        let page: Vec<Value> = matching.iter().take(limit).map(|p| (*p).clone()).collect();
        return ok(json!({"result": {"postings": page, "has_next": true}}));
    }
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|p| (*p).clone()).collect();
    let has_next = offset + page.len() < matching.len();
    ok(json!({"result": {"postings": page, "has_next": has_next}}))
}

fn ozon_chat_list(inner: &Inner, body: &Value) -> Reply {
    let unread_only = body["filter"]["unread_only"].as_bool().unwrap_or(false);
    let limit = body["limit"].as_u64().unwrap_or(30) as usize;
    let from: usize = body["cursor"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0);
    let all: Vec<Value> = inner
        .ozon_chats
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(id, msgs)| {
            let unread = msgs.iter().filter(|m| m.1 && !m.3).count();
            (!unread_only || unread > 0).then(|| {
                json!({"chat": {"created_at": "2026-11-27T08:00:00Z", "chat_id": id, "chat_status": "Opened", "chat_type": "Buyer_Seller"},
                "first_unread_message_id": msgs.iter().find(|m| m.1 && !m.3).map_or(0, |m| m.0),
                "last_message_id": msgs.last().map_or(0, |m| m.0), "unread_count": unread})
            })
        })
        .collect();
    let page: Vec<Value> = all.iter().skip(from).take(limit).cloned().collect();
    let has_next = from + page.len() < all.len();
    let total: usize = all.iter().map(|c| c["unread_count"].as_u64().unwrap_or(0) as usize).sum();
    ok(
        json!({"chats": page, "total_unread_count": total, "cursor": (from + page.len()).to_string(), "has_next": has_next}),
    )
}

/// WB product cards: the generated catalogue paged by the cursor (`updatedAt` + `nmID` of the
/// last card, `limit` up to 100, `sort.ascending`), or else two fixed cards.
fn wb_cards(inner: &Inner, body: &Value) -> Reply {
    let cursor = &body["settings"]["cursor"];
    let limit = cursor["limit"].as_u64().unwrap_or(10) as usize;
    let generated = inner.wb_cards.lock().expect("lock");
    let fixed = json!([
        {"nmID": 190011223, "imtID": 1, "subjectID": 1, "subjectName": "Платья", "vendorCode": "LD-DR-101", "brand": "Ладья",
         "title": "Платье льняное миди с поясом", "description": "Свободное платье из 100% льна, длина миди, пояс в комплекте.",
         "characteristics": [{"id": 1, "name": "Состав", "value": ["лён 100%"]}, {"id": 2, "name": "Цвет", "value": ["бежевый"]}],
         "sizes": [{"chrtID": 1, "techSize": "S", "wbSize": "44", "skus": ["2040001"]}, {"chrtID": 2, "techSize": "M", "wbSize": "46", "skus": ["2040002"]}],
         "createdAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-20T10:00:00Z"},
        {"nmID": 190011224, "imtID": 2, "subjectID": 1, "subjectName": "Футболки", "vendorCode": "LD-TS-001", "brand": "Ладья",
         "title": "Футболка женская оверсайз из хлопка", "description": "Свободная футболка из хлопка.",
         "characteristics": [], "sizes": [{"chrtID": 3, "techSize": "M", "wbSize": "46", "skus": ["2040003"]}],
         "createdAt": "2026-11-01T10:00:00Z", "updatedAt": "2026-11-21T10:00:00Z"}]);
    let mut all: Vec<Value> =
        if generated.is_empty() { fixed.as_array().cloned().unwrap_or_default() } else { generated.clone() };
    let key = |c: &Value| (c["updatedAt"].as_str().unwrap_or("").to_owned(), c["nmID"].as_i64().unwrap_or(0));
    let ascending = body["settings"]["sort"]["ascending"].as_bool().unwrap_or(false);
    all.sort_by_key(key);
    if !ascending {
        all.reverse();
    }
    let after = (cursor["updatedAt"].as_str().map(str::to_owned), cursor["nmID"].as_i64());
    let page: Vec<Value> = all
        .iter()
        .filter(|c| match &after {
            (Some(u), Some(n)) => {
                let k = key(c);
                if ascending { k > (u.clone(), *n) } else { k < (u.clone(), *n) }
            }
            _ => true,
        })
        .take(limit)
        .cloned()
        .collect();
    let last = page.last().map_or_else(
        || json!({"total": 0}),
        |c| json!({"updatedAt": c["updatedAt"], "nmID": c["nmID"], "total": page.len()}),
    );
    ok(json!({"cards": page, "cursor": last}))
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
