//! A fake Telegram Bot API server on loopback, with the official shapes (as teloxide's types
//! encode them): `POST /bot<token>/<method>` with a JSON body answers
//! `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description", "parameters"?}`;
//! files are served from `GET /file/bot<token>/<path>`. Methods: getMe, getUpdates (long
//! polling with `offset`), setWebhook, deleteWebhook, sendMessage, sendMessageDraft,
//! sendChatAction, answerCallbackQuery, getFile. sendMessageDraft's parameters are checked as
//! the Bot API documents them: `chat_id` an Integer naming a private chat (positive),
//! `draft_id` a non-zero Integer, `text` 1–4096 characters, optional `message_thread_id`
//! (Integer), `parse_mode` and `entities` (Array), nothing else; anything off is a 400. Tests inject updates, script 429s with `retry_after` and cut
//! connections, and read what the bot sent.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const TOKEN: &str = "123456:TEST-token_for-fake";

#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub chat: i64,
    /// The text, or a photo's or document's caption.
    pub text: String,
    /// "photo:NAME" or "document:NAME" for files.
    pub file: Option<String>,
    pub parse_mode: Option<String>,
    pub buttons: Vec<String>,
    /// Sent on behalf of a business account (`business_connection_id`).
    pub business: Option<String>,
}

/// One sendMessageDraft the bot made.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub chat: i64,
    pub draft_id: i64,
    pub text: String,
}

/// What the next sendMessage calls get instead of success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    TooMany { retry_after: u64 },
    Cut,
}

#[derive(Default)]
struct Inner {
    updates: Mutex<Vec<Value>>,
    sent: Mutex<Vec<Sent>>,
    actions: Mutex<Vec<(i64, String)>>,
    callbacks_answered: Mutex<Vec<String>>,
    webhook: Mutex<Option<(String, String)>>,
    faults: Mutex<VecDeque<Fault>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    calls: Mutex<Vec<String>>,
    drafts: Mutex<Vec<Draft>>,
    /// sendMessageDraft calls refused with 400 (a test fails on any).
    bad_drafts: Mutex<Vec<String>>,
    next_message_id: AtomicI64,
}

#[derive(Clone)]
pub struct FakeTelegram {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{path}", get(file))
            .with_state(inner.clone());
        let (addr, _task) = super::serve(app).await;
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues an update for getUpdates and returns it (to post to a webhook as well).
    pub fn push(&self, update: Value) -> Value {
        self.inner.updates.lock().expect("lock").push(update.clone());
        update
    }

    pub fn text_update(update_id: i64, chat: i64, text: &str) -> Value {
        json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_795_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Анна"},
            "from": {"id": chat, "is_bot": false, "first_name": "Анна", "last_name": "К.", "language_code": "ru"},
            "text": text}})
    }

    pub fn photo_update(update_id: i64, chat: i64, file_id: &str, size: u64, caption: Option<&str>) -> Value {
        let mut u = json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_795_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Анна"},
            "from": {"id": chat, "is_bot": false, "first_name": "Анна"},
            "photo": [{"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
                      {"file_id": file_id, "file_unique_id": "u", "width": 1280, "height": 960, "file_size": size}]}});
        if let Some(c) = caption {
            u["message"]["caption"] = json!(c);
        }
        u
    }

    /// A shared contact; `own` makes it the sender's own (Telegram sets `user_id`).
    pub fn contact_update(update_id: i64, chat: i64, phone: &str, own: bool) -> Value {
        let user_id = if own { chat } else { chat + 1 };
        json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_795_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "Анна"},
            "from": {"id": chat, "is_bot": false, "first_name": "Анна"},
            "contact": {"phone_number": phone, "first_name": "Анна", "user_id": user_id}}})
    }

    pub fn callback_update(update_id: i64, chat: i64, data: &str) -> Value {
        json!({"update_id": update_id, "callback_query": {"id": format!("cb{update_id}"), "chat_instance": "ci",
            "from": {"id": chat, "is_bot": false, "first_name": "Анна"}, "data": data,
            "message": {"message_id": 1, "date": 1_795_000_000, "chat": {"id": chat, "type": "private", "first_name": "Анна"},
                "from": {"id": 1, "is_bot": true, "first_name": "Ладья", "username": "ladya_shop_bot"}, "text": "Оцените"}}})
    }

    /// The seller connected the bot to their Telegram Business account (`can_reply`: the bot
    /// may answer in their chats).
    pub fn business_connection_update(update_id: i64, id: &str, seller: i64, can_reply: bool) -> Value {
        json!({"update_id": update_id, "business_connection": {"id": id, "user_chat_id": seller, "date": 1_795_000_000,
            "user": {"id": seller, "is_bot": false, "first_name": "Продавец"},
            "rights": {"can_reply": can_reply, "can_read_messages": true}, "is_enabled": true}})
    }

    /// A message in a private chat of the seller's business account, from `from`.
    pub fn business_message_update(update_id: i64, connection: &str, chat: i64, from: i64, text: &str) -> Value {
        json!({"update_id": update_id, "business_message": {"message_id": update_id, "date": 1_795_000_000,
            "business_connection_id": connection,
            "chat": {"id": chat, "type": "private", "first_name": "Покупатель"},
            "from": {"id": from, "is_bot": false, "first_name": if from == chat { "Покупатель" } else { "Продавец" }},
            "text": text}})
    }

    /// A file the bot can fetch with getFile.
    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>) {
        self.inner.files.lock().expect("lock").insert(file_id.to_owned(), bytes);
    }

    pub fn fault(&self, faults: Vec<Fault>) {
        *self.inner.faults.lock().expect("lock") = faults.into();
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.inner.sent.lock().expect("lock").clone()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<String> {
        self.sent().into_iter().filter(|s| s.chat == chat).map(|s| s.text).collect()
    }

    pub fn drafts(&self) -> Vec<Draft> {
        self.inner.drafts.lock().expect("lock").clone()
    }

    pub fn drafts_to(&self, chat: i64) -> Vec<Draft> {
        self.drafts().into_iter().filter(|d| d.chat == chat).collect()
    }

    /// sendMessageDraft requests that broke the Bot API's rules, with the reason.
    pub fn bad_drafts(&self) -> Vec<String> {
        self.inner.bad_drafts.lock().expect("lock").clone()
    }

    pub fn actions(&self) -> Vec<(i64, String)> {
        self.inner.actions.lock().expect("lock").clone()
    }

    pub fn callbacks_answered(&self) -> Vec<String> {
        self.inner.callbacks_answered.lock().expect("lock").clone()
    }

    pub fn webhook(&self) -> Option<(String, String)> {
        self.inner.webhook.lock().expect("lock").clone()
    }

    pub fn calls(&self, method: &str) -> usize {
        self.inner.calls.lock().expect("lock").iter().filter(|m| m.eq_ignore_ascii_case(method)).count()
    }

    /// Waits until `chat` has received `n` messages (up to 30 s: a restarted server on a busy
    /// 2-core machine recovers and re-streams before it sends).
    pub async fn wait_sent(&self, chat: i64, n: usize) -> Vec<String> {
        for _ in 0..1200 {
            let got = self.sent_to(chat);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("chat {chat} got {:?}, expected {n} messages", self.sent_to(chat));
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn error(status: StatusCode, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (status, axum::Json(body)).into_response()
}

async fn method(
    State(inner): State<Arc<Inner>>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    inner.calls.lock().expect("lock").push(method.clone());
    if bot != format!("bot{TOKEN}") {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let p: Value = if body.is_empty() {
        json!({})
    } else if content_type.starts_with("multipart/form-data") {
        super::form_fields(content_type, &body)
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(json!({"id": 1, "is_bot": true, "first_name": "Ладья", "username": "ladya_shop_bot",
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false})),
        "getupdates" => {
            let offset = p["offset"].as_i64().unwrap_or(0);
            // Long polling, kept short so tests move quickly.
            for _ in 0..20 {
                let ready: Vec<Value> = inner
                    .updates
                    .lock()
                    .expect("lock")
                    .iter()
                    .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
                    .cloned()
                    .collect();
                if !ready.is_empty() {
                    return ok(Value::Array(ready));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            ok(json!([]))
        }
        "setwebhook" => {
            let url = p["url"].as_str().unwrap_or("").to_owned();
            let secret = p["secret_token"].as_str().unwrap_or("").to_owned();
            *inner.webhook.lock().expect("lock") = Some((url, secret));
            ok(json!(true))
        }
        "deletewebhook" => {
            *inner.webhook.lock().expect("lock") = None;
            ok(json!(true))
        }
        "sendchataction" => {
            inner
                .actions
                .lock()
                .expect("lock")
                .push((p["chat_id"].as_i64().unwrap_or(0), p["action"].as_str().unwrap_or("").into()));
            ok(json!(true))
        }
        "sendmessagedraft" => match check_draft(&p) {
            Ok(d) => {
                inner.drafts.lock().expect("lock").push(d);
                ok(json!(true))
            }
            Err(why) => {
                inner.bad_drafts.lock().expect("lock").push(format!("{why}: {p}"));
                error(StatusCode::BAD_REQUEST, &format!("Bad Request: {why}"), None)
            }
        },
        "answercallbackquery" => {
            inner.callbacks_answered.lock().expect("lock").push(p["callback_query_id"].as_str().unwrap_or("").into());
            ok(json!(true))
        }
        "getfile" => {
            let id = p["file_id"].as_str().unwrap_or("");
            match inner.files.lock().expect("lock").get(id) {
                Some(bytes) => ok(json!({"file_id": id, "file_unique_id": format!("u-{id}"), "file_size": bytes.len(),
                    "file_path": format!("{id}.jpg")})),
                None => error(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id", None),
            }
        }
        kind @ ("sendphoto" | "senddocument") => {
            let field = if kind == "sendphoto" { "photo" } else { "document" };
            let chat = p["chat_id"].as_str().and_then(|c| c.parse().ok()).or(p["chat_id"].as_i64()).unwrap_or(0);
            // The file travels as its own part (the field may say "attach://…").
            let file = p
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.ends_with(".filename")).and_then(|(_, v)| v.as_str()))
                .unwrap_or("")
                .to_owned();
            inner.sent.lock().expect("lock").push(Sent {
                chat,
                text: p["caption"].as_str().unwrap_or("").to_owned(),
                file: Some(format!("{field}:{file}")),
                parse_mode: p["parse_mode"].as_str().map(str::to_owned),
                buttons: Vec::new(),
                business: p["business_connection_id"].as_str().map(str::to_owned),
            });
            ok(
                json!({"message_id": 77, "date": 1_795_000_000, "chat": {"id": chat, "type": "private", "first_name": "Анна"},
                "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1, "file_size": 1}]}),
            )
        }
        "sendmessage" => {
            let fault = inner.faults.lock().expect("lock").pop_front();
            match fault {
                Some(Fault::TooMany { retry_after }) => {
                    return error(
                        StatusCode::TOO_MANY_REQUESTS,
                        &format!("Too Many Requests: retry after {retry_after}"),
                        Some(json!({"retry_after": retry_after})),
                    );
                }
                // Cuts the connection without an answer.
                Some(Fault::Cut) => panic!("fake telegram: connection cut on purpose"),
                None => {}
            }
            let chat = p["chat_id"].as_i64().unwrap_or(0);
            let text = p["text"].as_str().unwrap_or("").to_owned();
            if text.chars().count() > 4096 {
                return error(StatusCode::BAD_REQUEST, "Bad Request: message is too long", None);
            }
            let keyboard = p["reply_markup"]["inline_keyboard"].as_array().or(p["reply_markup"]["keyboard"].as_array());
            let buttons = keyboard
                .map(|rows| {
                    rows.iter()
                        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                        .filter_map(|b| {
                            let contact = b["request_contact"] == true;
                            b["callback_data"].as_str().or(b["text"].as_str().filter(|_| contact)).map(str::to_owned)
                        })
                        .collect()
                })
                .unwrap_or_default();
            inner.sent.lock().expect("lock").push(Sent {
                chat,
                text: text.clone(),
                file: None,
                parse_mode: p["parse_mode"].as_str().map(str::to_owned),
                buttons,
                business: p["business_connection_id"].as_str().map(str::to_owned),
            });
            let id = inner.next_message_id.fetch_add(1, Ordering::SeqCst) + 1000;
            ok(json!({"message_id": id, "date": 1_795_000_000, "text": text,
                "chat": {"id": chat, "type": "private", "first_name": "Анна"},
                "from": {"id": 1, "is_bot": true, "first_name": "Ладья", "username": "ladya_shop_bot"}}))
        }
        other => error(StatusCode::NOT_FOUND, &format!("Not Found: method {other} is not faked"), None),
    }
}

/// sendMessageDraft's parameters as the Bot API documents them.
fn check_draft(p: &Value) -> Result<Draft, String> {
    let obj = p.as_object().ok_or("parameters must be an object")?;
    for key in obj.keys() {
        if !["chat_id", "message_thread_id", "draft_id", "text", "parse_mode", "entities"].contains(&key.as_str()) {
            return Err(format!("unknown parameter {key}"));
        }
    }
    // An Integer: the private chat's id (a user's id, positive); no @username here.
    let chat = p["chat_id"].as_i64().ok_or("chat_id must be an Integer")?;
    if chat <= 0 {
        return Err("chat_id must be a private chat".into());
    }
    let draft_id = p["draft_id"].as_i64().ok_or("draft_id must be an Integer")?;
    if draft_id == 0 {
        return Err("draft_id must be non-zero".into());
    }
    let text = p["text"].as_str().ok_or("text must be a String")?;
    let n = text.chars().count();
    if !(1..=4096).contains(&n) {
        return Err(format!("text must be 1-4096 characters, not {n}"));
    }
    if !p["message_thread_id"].is_null() && p["message_thread_id"].as_i64().is_none() {
        return Err("message_thread_id must be an Integer".into());
    }
    if let Some(m) = p.get("parse_mode")
        && !["HTML", "Markdown", "MarkdownV2"].contains(&m.as_str().unwrap_or(""))
    {
        return Err("unsupported parse_mode".into());
    }
    if p.get("entities").is_some_and(|e| !e.is_array()) {
        return Err("entities must be an Array".into());
    }
    Ok(Draft { chat, draft_id, text: text.to_owned() })
}

async fn file(State(inner): State<Arc<Inner>>, Path((bot, path)): Path<(String, String)>) -> Response {
    if bot != format!("bot{TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let id = path.trim_end_matches(".jpg");
    match inner.files.lock().expect("lock").get(id) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
