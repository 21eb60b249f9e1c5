//! Ozon's answers, as `seller-api.swagger.json` names their fields, for the fields the adapter
//! reads. The document lists few fields as required; the adapter requires what it cannot do
//! without (ids, statuses) and takes the rest as `Option` (or an empty list).

use serde::Deserialize;

/// `{"result": …}`, the envelope of the posting methods.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub result: T,
}

/// A posting (`/v3/posting/fbs/get`, `/v3/posting/fbs/list`, `/v2/posting/fbo/get`,
/// `/v2/posting/fbo/list`).
#[derive(Debug, Deserialize)]
pub struct Posting {
    pub posting_number: String,
    pub status: String,
    pub substatus: Option<String>,
    #[serde(default)]
    pub products: Vec<PostingProduct>,
    pub in_process_at: Option<String>,
    pub created_at: Option<String>,
    pub delivering_date: Option<String>,
    pub shipment_date: Option<String>,
    pub tracking_number: Option<String>,
    pub customer: Option<Customer>,
}

#[derive(Debug, Deserialize)]
pub struct PostingProduct {
    pub offer_id: Option<String>,
    pub sku: Option<i64>,
    pub name: Option<String>,
    pub quantity: Option<i64>,
    /// A decimal in a string ("1290.0000").
    pub price: Option<String>,
}

/// "Данные о покупателе" of an FBS posting.
#[derive(Debug, Deserialize)]
pub struct Customer {
    pub address: Option<Address>,
}

/// "Информация об адресе доставки".
#[derive(Debug, Deserialize)]
pub struct Address {
    /// "Адрес в текстовом формате".
    pub address_tail: Option<String>,
    /// "Код пункта выдачи заказов": set when the posting goes to a pick-up point.
    pub pvz_code: Option<i64>,
}

/// `/v3/posting/fbs/list`.
#[derive(Debug, Deserialize)]
pub struct FbsList {
    pub postings: Vec<Posting>,
    #[serde(default)]
    pub has_next: bool,
}

/// `/v3/chat/list`.
#[derive(Debug, Deserialize)]
pub struct ChatList {
    #[serde(default)]
    pub chats: Vec<ChatItem>,
    pub cursor: Option<String>,
    #[serde(default)]
    pub has_next: bool,
}

#[derive(Debug, Deserialize)]
pub struct ChatItem {
    pub chat: Chat,
    #[serde(default)]
    pub unread_count: i64,
}

#[derive(Debug, Deserialize)]
pub struct Chat {
    pub chat_id: String,
    pub chat_type: Option<String>,
}

/// `/v3/chat/history`.
#[derive(Debug, Deserialize)]
pub struct ChatHistory {
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    pub message_id: u64,
    pub created_at: Option<String>,
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub is_read: bool,
    pub user: ChatUser,
    pub context: Option<ChatContext>,
}

#[derive(Debug, Deserialize)]
pub struct ChatUser {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub struct ChatContext {
    pub sku: Option<String>,
}

/// `/v1/chat/send/message`.
#[derive(Debug, Deserialize)]
pub struct SendResult {
    pub result: String,
}

/// `/v1/review/list`.
#[derive(Debug, Deserialize)]
pub struct ReviewList {
    #[serde(default)]
    pub reviews: Vec<Review>,
    #[serde(default)]
    pub has_next: bool,
    pub last_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Review {
    pub id: String,
    pub text: Option<String>,
    pub rating: Option<i64>,
    pub sku: Option<i64>,
    pub published_at: Option<String>,
}

/// `/v1/review/comment/create`.
#[derive(Debug, Deserialize)]
pub struct CommentCreated {
    pub comment_id: String,
}

/// `/v1/question/list`.
#[derive(Debug, Deserialize)]
pub struct QuestionList {
    #[serde(default)]
    pub questions: Vec<ProductQuestion>,
    pub last_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ProductQuestion {
    pub id: String,
    pub sku: i64,
    pub text: Option<String>,
    pub published_at: Option<String>,
}

/// `/v1/question/answer/create`.
#[derive(Debug, Deserialize)]
pub struct AnswerCreated {
    pub answer_id: String,
}

/// `/v3/product/list`.
#[derive(Debug, Deserialize)]
pub struct ProductList {
    #[serde(default)]
    pub items: Vec<ProductListItem>,
    pub last_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ProductListItem {
    pub product_id: i64,
}

/// `/v3/product/info/list`.
#[derive(Debug, Deserialize)]
pub struct ProductInfoList {
    #[serde(default)]
    pub items: Vec<ProductInfo>,
}

#[derive(Debug, Deserialize)]
pub struct ProductInfo {
    pub id: i64,
    pub offer_id: String,
    pub name: Option<String>,
    /// A decimal in a string.
    pub price: Option<String>,
    pub sku: Option<i64>,
    pub stocks: Option<ProductStocks>,
}

#[derive(Debug, Deserialize)]
pub struct ProductStocks {
    #[serde(default)]
    pub stocks: Vec<ProductStock>,
}

#[derive(Debug, Deserialize)]
pub struct ProductStock {
    #[serde(default)]
    pub present: i64,
    #[serde(default)]
    pub reserved: i64,
}

/// `/v1/returns/list`.
#[derive(Debug, Deserialize)]
pub struct Returns {
    #[serde(default)]
    pub returns: Vec<ReturnItem>,
    #[serde(default)]
    pub has_next: bool,
}

#[derive(Debug, Deserialize)]
pub struct ReturnItem {
    pub id: i64,
    pub posting_number: String,
    pub visual: Visual,
    pub logistic: Option<Logistic>,
    pub return_reason_name: Option<String>,
    pub product: Option<ReturnProduct>,
}

#[derive(Debug, Deserialize)]
pub struct Visual {
    pub status: VisualStatus,
    pub change_moment: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct VisualStatus {
    pub sys_name: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Logistic {
    pub return_date: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ReturnProduct {
    pub name: Option<String>,
}
