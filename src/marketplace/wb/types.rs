//! WB's answers, as the documents name their fields, for the fields the adapter reads.
//!
//! A field the adapter cannot do without is required (a missing one is an error naming the
//! method and the field); a field the documents mark `nullable`, or that the adapter only
//! shows when present, is an `Option`; lists the documents describe as possibly empty default
//! to empty.

use serde::Deserialize;

/// `GET /api/v3/orders` (03-orders-fbs.yaml).
#[derive(Debug, Deserialize)]
pub struct OrderList {
    pub next: i64,
    pub orders: Vec<FbsOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FbsOrder {
    pub id: i64,
    /// The order's `srid` in the claims and the statistics reports.
    pub rid: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub article: String,
    pub nm_id: i64,
    /// ×100, in the currency of sale.
    pub price: i64,
    /// ×100, in the seller's currency.
    pub converted_price: Option<i64>,
}

/// `POST /api/v3/orders/status`.
#[derive(Debug, Deserialize)]
pub struct OrderStatuses {
    pub orders: Vec<OrderStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    pub id: i64,
    pub supplier_status: String,
    pub wb_status: String,
}

/// `GET /api/v3/warehouses` (02-items.yaml).
#[derive(Debug, Deserialize)]
pub struct Warehouse {
    pub id: i64,
}

/// `POST /api/v3/stocks/{warehouseId}`.
#[derive(Debug, Deserialize)]
pub struct Stocks {
    pub stocks: Vec<Stock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stock {
    pub chrt_id: i64,
    pub amount: i64,
}

/// `POST /api/analytics/v1/stocks-report/wb-warehouses` (11-analytics.yaml; its fields are
/// `required` there).
#[derive(Debug, Deserialize)]
pub struct WbStocks {
    pub data: WbStocksData,
}

#[derive(Debug, Deserialize)]
pub struct WbStocksData {
    pub items: Vec<WbStock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WbStock {
    pub nm_id: i64,
    pub quantity: i64,
}

/// `POST /content/v2/get/cards/list` (02-items.yaml).
#[derive(Debug, Deserialize)]
pub struct Cards {
    pub cards: Vec<Card>,
    pub cursor: CardsCursor,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardsCursor {
    pub updated_at: Option<String>,
    #[serde(rename = "nmID")]
    pub nm_id: Option<i64>,
    pub total: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(rename = "nmID")]
    pub nm_id: i64,
    pub vendor_code: Option<String>,
    pub title: Option<String>,
    pub subject_name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub characteristics: Vec<Characteristic>,
    #[serde(default)]
    pub sizes: Vec<Size>,
}

#[derive(Debug, Deserialize)]
pub struct Characteristic {
    pub name: Option<String>,
    /// "Тип значения зависит от типа характеристики": a string, a number or a list of them.
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Size {
    #[serde(rename = "chrtID")]
    pub chrt_id: Option<i64>,
    pub tech_size: Option<String>,
}

/// `GET /api/v1/questions` (09-communications.yaml).
#[derive(Debug, Deserialize)]
pub struct Questions {
    pub data: QuestionsData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionsData {
    pub count_unanswered: Option<i64>,
    pub questions: Vec<Question>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub id: String,
    pub text: String,
    pub created_date: String,
    pub product_details: Option<ProductDetails>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    pub product_name: Option<String>,
}

/// `GET /api/v1/feedbacks`.
#[derive(Debug, Deserialize)]
pub struct Feedbacks {
    pub data: FeedbacksData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbacksData {
    pub count_unanswered: Option<i64>,
    pub feedbacks: Vec<Feedback>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    pub id: String,
    pub text: String,
    pub pros: String,
    pub cons: String,
    pub product_valuation: i64,
    pub created_date: String,
    pub product_details: Option<ProductDetails>,
}

/// The body of the questions and feedbacks group's answers (`PATCH /api/v1/questions`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FqResult {
    pub error: bool,
    pub error_text: Option<String>,
}

/// `GET /api/v1/seller/chats`.
#[derive(Debug, Deserialize)]
pub struct Chats {
    pub result: Vec<Chat>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    pub reply_sign: String,
}

/// `GET /api/v1/seller/events`.
#[derive(Debug, Deserialize)]
pub struct Events {
    pub result: EventsResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsResult {
    pub next: Option<i64>,
    pub total_events: i64,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub message: Option<EventMessage>,
    pub sender: String,
    /// "Формат Unix timestamp" (milliseconds, as the examples show).
    pub add_timestamp: Option<i64>,
    /// Given with `isNewChat: true`.
    pub reply_sign: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct EventMessage {
    pub text: Option<String>,
    pub attachments: Option<Attachments>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachments {
    pub good_card: Option<GoodCard>,
}

#[derive(Debug, Deserialize)]
pub struct GoodCard {
    #[serde(rename = "nmID")]
    pub nm_id: Option<i64>,
}

/// A row of `GET /api/v1/supplier/orders` (12-reports.yaml, `OrdersItem`) or of
/// `GET /api/v1/supplier/sales` (`SalesItem`, which adds `saleID`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub date: String,
    pub last_change_date: String,
    pub warehouse_type: Option<String>,
    pub supplier_article: Option<String>,
    pub nm_id: Option<i64>,
    pub tech_size: Option<String>,
    pub finished_price: Option<f64>,
    pub price_with_disc: Option<f64>,
    #[serde(default)]
    pub is_cancel: bool,
    pub cancel_date: Option<String>,
    #[serde(rename = "saleID")]
    pub sale_id: Option<String>,
    pub srid: String,
}

/// `GET /api/v1/claims`.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub claims: Vec<Claim>,
    pub total: i64,
}

#[derive(Debug, Deserialize)]
pub struct Claim {
    pub id: String,
    pub status: i64,
    pub status_ex: i64,
    pub srid: String,
    pub dt: String,
    pub dt_update: Option<String>,
    pub user_comment: Option<String>,
    pub wb_comment: Option<String>,
    pub imt_name: Option<String>,
}

/// `GET /ping`.
#[derive(Debug, Deserialize)]
pub struct Ping {
    #[serde(rename = "Status")]
    pub status: String,
}
