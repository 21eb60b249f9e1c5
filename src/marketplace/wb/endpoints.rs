//! The WB methods the adapter uses: each one's host group, the token category it needs, the
//! part of the account it belongs to, and the request limit it shares, per token kind.
//!
//! The limits are the tables of each method's description in WB's documents
//! (`<div class="description_limit">`); `it::marketplace_specs::the_wb_client_limits_are_the_documented_ones`
//! parses those tables and compares them with [`Bucket::limit`].

use crate::marketplace::Part;
use crate::net::Rate;

use super::token::TokenKind;

/// A WB API group: its own host, and the token category its methods need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Common,
    Marketplace,
    Statistics,
    Content,
    Feedbacks,
    Chat,
    Returns,
    Analytics,
}

impl Group {
    /// The group's host (the `servers:` of its paths).
    pub fn host(self) -> &'static str {
        match self {
            Group::Common => "https://common-api.wildberries.ru",
            Group::Marketplace => "https://marketplace-api.wildberries.ru",
            Group::Statistics => "https://statistics-api.wildberries.ru",
            Group::Content => "https://content-api.wildberries.ru",
            Group::Feedbacks => "https://feedbacks-api.wildberries.ru",
            Group::Chat => "https://buyer-chat-api.wildberries.ru",
            Group::Returns => "https://returns-api.wildberries.ru",
            Group::Analytics => "https://seller-analytics-api.wildberries.ru",
        }
    }

    /// The `x-category` of its methods (the token category they need).
    pub fn category(self) -> &'static str {
        match self {
            Group::Common => "all",
            Group::Marketplace => "marketplace",
            Group::Statistics => "statistics",
            Group::Content => "content",
            Group::Feedbacks => "questionsandfeedback",
            Group::Chat => "buyerchat",
            Group::Returns => "returns",
            Group::Analytics => "contentanalytics",
        }
    }

    /// The category's name in WB's token settings (for messages).
    pub fn category_title(self) -> &'static str {
        match self {
            Group::Common => "any",
            Group::Marketplace => "Marketplace",
            Group::Statistics => "Statistics",
            Group::Content => "Content",
            Group::Feedbacks => "Feedbacks and Questions",
            Group::Chat => "Buyers chat",
            Group::Returns => "Buyers returns",
            Group::Analytics => "Analytics",
        }
    }
}

/// Methods that share one request limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// "методов сборочных заданий, поставок, пропусков и настроек автовозврата FBS"
    /// (03-orders-fbs.yaml).
    Fbs,
    /// "всех методов складов продавца" (02-items.yaml, `GET /api/v3/warehouses`).
    SellerWarehouses,
    /// "всех методов остатков на складах продавца" (02-items.yaml, `/api/v3/stocks/{warehouseId}`).
    SellerStocks,
    /// `POST /content/v2/get/cards/list` (02-items.yaml).
    Cards,
    /// "всех методов категории Вопросы и отзывы" (09-communications.yaml).
    Feedbacks,
    /// Buyer chat methods (09-communications.yaml).
    Chats,
    /// `GET /api/v1/supplier/orders` (12-reports.yaml).
    ReportOrders,
    /// `GET /api/v1/supplier/sales` (12-reports.yaml).
    ReportSales,
    /// `GET /api/v1/claims` (09-communications.yaml).
    Claims,
    /// `POST /api/analytics/v1/stocks-report/wb-warehouses` (11-analytics.yaml).
    WbStocks,
    /// `GET /ping`: "Максимум 3 запроса за 30 секунд" (01-general.yaml).
    Ping,
}

impl Bucket {
    pub const ALL: [Bucket; 11] = [
        Bucket::Fbs,
        Bucket::SellerWarehouses,
        Bucket::SellerStocks,
        Bucket::Cards,
        Bucket::Feedbacks,
        Bucket::Chats,
        Bucket::ReportOrders,
        Bucket::ReportSales,
        Bucket::Claims,
        Bucket::WbStocks,
        Bucket::Ping,
    ];

    /// The documented limit for a token kind: one request every `interval` on average, in
    /// bursts of `burst` (the tables' "Интервал" and "Всплеск"). Test tokens are limited like
    /// basic ones (they work only in the sandbox).
    pub fn limit(self, kind: TokenKind) -> Rate {
        let basic = matches!(kind, TokenKind::Base | TokenKind::Test);
        const MINUTE: f64 = 60_000.0;
        const HOUR: f64 = 3_600_000.0;
        let (interval_ms, burst) = match self {
            Bucket::Fbs | Bucket::SellerWarehouses | Bucket::SellerStocks => (200.0, 20),
            Bucket::Cards => (600.0, 5),
            Bucket::Feedbacks if basic => (12.0 * MINUTE, 1),
            Bucket::Feedbacks => (333.0, 6),
            Bucket::Chats if basic => (HOUR, 1),
            Bucket::Chats => (1000.0, 10),
            Bucket::ReportOrders if basic => (3.0 * HOUR, 1),
            Bucket::ReportOrders => (MINUTE, 10),
            Bucket::ReportSales if basic => (2.0 * HOUR, 1),
            Bucket::ReportSales => (MINUTE, 1),
            Bucket::Claims if basic => (HOUR, 1),
            Bucket::Claims => (3000.0, 10),
            Bucket::WbStocks => (20_000.0, 1),
            Bucket::Ping => (10_000.0, 3),
        };
        Rate { per_second: 1000.0 / interval_ms, burst }
    }
}

/// One WB method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Endpoint {
    pub method: &'static str,
    /// As the document writes it (`{warehouseId}` is filled in per request).
    pub path: &'static str,
    pub group: Group,
    pub bucket: Bucket,
    pub part: Part,
    /// Only these kinds may call it (`x-token-types`); empty: every kind.
    pub kinds: &'static [TokenKind],
    /// It changes something (not `x-readonly-method`): a read-only token may not call it.
    pub writes: bool,
}

const fn ep(method: &'static str, path: &'static str, group: Group, bucket: Bucket, part: Part) -> Endpoint {
    Endpoint { method, path, group, bucket, part, kinds: &[], writes: false }
}

pub const PING: Endpoint = ep("GET", "/ping", Group::Common, Bucket::Ping, Part::Orders);
pub const ORDERS: Endpoint = ep("GET", "/api/v3/orders", Group::Marketplace, Bucket::Fbs, Part::Orders);
pub const ORDER_STATUS: Endpoint = ep("POST", "/api/v3/orders/status", Group::Marketplace, Bucket::Fbs, Part::Orders);
pub const WAREHOUSES: Endpoint =
    ep("GET", "/api/v3/warehouses", Group::Marketplace, Bucket::SellerWarehouses, Part::Stocks);
pub const STOCKS: Endpoint =
    ep("POST", "/api/v3/stocks/{warehouseId}", Group::Marketplace, Bucket::SellerStocks, Part::Stocks);
/// Stock on WB's warehouses: the current documents replace the removed
/// `GET /api/v1/supplier/stocks` with this report (personal, service and basic-with-secret
/// tokens only).
pub const WB_STOCKS: Endpoint = Endpoint {
    kinds: &[TokenKind::Personal, TokenKind::Service],
    ..ep("POST", "/api/analytics/v1/stocks-report/wb-warehouses", Group::Analytics, Bucket::WbStocks, Part::Stocks)
};
pub const CARDS: Endpoint = ep("POST", "/content/v2/get/cards/list", Group::Content, Bucket::Cards, Part::Content);
pub const QUESTIONS: Endpoint = ep("GET", "/api/v1/questions", Group::Feedbacks, Bucket::Feedbacks, Part::Questions);
pub const ANSWER_QUESTION: Endpoint =
    Endpoint { writes: true, ..ep("PATCH", "/api/v1/questions", Group::Feedbacks, Bucket::Feedbacks, Part::Questions) };
pub const FEEDBACKS: Endpoint = ep("GET", "/api/v1/feedbacks", Group::Feedbacks, Bucket::Feedbacks, Part::Questions);
pub const ANSWER_FEEDBACK: Endpoint = Endpoint {
    writes: true,
    ..ep("POST", "/api/v1/feedbacks/answer", Group::Feedbacks, Bucket::Feedbacks, Part::Questions)
};
pub const CHATS: Endpoint = ep("GET", "/api/v1/seller/chats", Group::Chat, Bucket::Chats, Part::Chats);
pub const EVENTS: Endpoint = ep("GET", "/api/v1/seller/events", Group::Chat, Bucket::Chats, Part::Chats);
pub const MESSAGE: Endpoint =
    Endpoint { writes: true, ..ep("POST", "/api/v1/seller/message", Group::Chat, Bucket::Chats, Part::Chats) };
pub const REPORT_ORDERS: Endpoint =
    ep("GET", "/api/v1/supplier/orders", Group::Statistics, Bucket::ReportOrders, Part::Statistics);
pub const REPORT_SALES: Endpoint =
    ep("GET", "/api/v1/supplier/sales", Group::Statistics, Bucket::ReportSales, Part::Statistics);
pub const CLAIMS: Endpoint = ep("GET", "/api/v1/claims", Group::Returns, Bucket::Claims, Part::Returns);

/// Every method the adapter calls.
pub const ENDPOINTS: [Endpoint; 17] = [
    PING,
    ORDERS,
    ORDER_STATUS,
    WAREHOUSES,
    STOCKS,
    WB_STOCKS,
    CARDS,
    QUESTIONS,
    ANSWER_QUESTION,
    FEEDBACKS,
    ANSWER_FEEDBACK,
    CHATS,
    EVENTS,
    MESSAGE,
    REPORT_ORDERS,
    REPORT_SALES,
    CLAIMS,
];

impl Endpoint {
    /// "GET /api/v3/orders", for messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}
