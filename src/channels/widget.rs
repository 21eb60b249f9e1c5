//! The web chat widget: `<script src="https://SHOP/widget.js">` on a seller's site talks to
//! `GET /widget/ws?visitor=ID` over WebSocket. The visitor id is made and kept by the browser
//! (localStorage), so a returning visitor continues the same conversation; on every (re)connect
//! the server sends the conversation so far, so nothing is missed after a network blip. Only
//! pages from `widget.allowed_origins` (and the panel's own origin) may connect.
//!
//! Protocol (JSON text frames): client → `{"type": "message", "id": "<client id>", "text"}`;
//! server → `{"type": "ack", "id"}`, `{"type": "message", "author", "text", "buttons"?}`,
//! `{"type": "history", "messages": [{"author", "text", "at"}]}`, `{"type": "error", "message"}`,
//! and, while the assistant writes a reply, `{"type": "draft", "id", "text"}` with the checked
//! sentences so far (the same `id` for one reply; the final `message` replaces it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Channel, ChannelName, Delivered, Inbound, Inbox, Outbound, SendError};
use crate::BoxFuture;
use crate::clock::SharedClock;
use crate::http::error::ApiError;
use crate::store::{Db, messaging as msgs};

pub const NAME: ChannelName = ChannelName::Widget;
/// Longest message a visitor may send, characters.
const MAX_TEXT: usize = 4000;

type Sessions = HashMap<String, Vec<(u64, mpsc::UnboundedSender<String>)>>;

pub struct Widget {
    allowed: Vec<String>,
    /// Sites allowed from the panel (the «Подключение» page), beside the config file's.
    extra: std::sync::RwLock<Vec<String>>,
    sessions: Mutex<Sessions>,
    next_id: AtomicU64,
    /// Where the names of operators who reply are read (none in unit tests).
    db: Option<Db>,
}

/// "scheme://host[:port]" of a URL.
fn origin_of(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    match u.find("://").map(|i| i + 3) {
        Some(start) => match u[start..].find('/') {
            Some(end) => u[..start + end].to_owned(),
            None => u.to_owned(),
        },
        None => u.to_owned(),
    }
}

impl Widget {
    pub fn new(allowed_origins: &[String], public_url: &str) -> Self {
        let mut allowed: Vec<String> = allowed_origins.iter().map(|o| origin_of(o).to_lowercase()).collect();
        allowed.push(origin_of(public_url).to_lowercase());
        Self {
            allowed,
            extra: std::sync::RwLock::default(),
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            db: None,
        }
    }

    /// Replies then carry the name of the operator who wrote them.
    pub fn with_db(mut self, db: Db) -> Self {
        self.db = Some(db);
        self
    }

    pub fn origin_allowed(&self, origin: &str) -> bool {
        let o = origin.trim().to_lowercase();
        self.allowed.iter().any(|a| a == "*" || *a == o) || self.extra.read().is_ok_and(|x| x.contains(&o))
    }

    /// Allowed, or the page is from this server itself (the panel's own test conversation):
    /// the origin's host is the `Host` the request came to.
    pub fn origin_allowed_for(&self, origin: &str, headers: &HeaderMap) -> bool {
        if self.origin_allowed(origin) {
            return true;
        }
        let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
        let from = origin.split_once("://").map_or("", |(_, h)| h);
        !host.is_empty() && from.eq_ignore_ascii_case(host)
    }

    /// Sets the sites allowed from the panel (takes effect for the next connection).
    pub fn set_extra_origins(&self, origins: &[String]) {
        let list = origins.iter().map(|o| origin_of(o).to_lowercase()).collect();
        match self.extra.write() {
            Ok(mut x) => *x = list,
            Err(p) => *p.into_inner() = list,
        }
    }

    /// Open connections (all visitors).
    pub fn connections(&self) -> usize {
        self.sessions.lock().map(|s| s.values().map(Vec::len).sum()).unwrap_or(0)
    }

    fn register(&self, visitor: &str) -> (u64, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.sessions.lock() {
            s.entry(visitor.to_owned()).or_default().push((id, tx));
        }
        (id, rx)
    }

    fn unregister(&self, visitor: &str, id: u64) {
        if let Ok(mut s) = self.sessions.lock()
            && let Some(list) = s.get_mut(visitor)
        {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                s.remove(visitor);
            }
        }
    }

    /// Shows the reply being written (`draft` frames; best effort, nothing is stored).
    pub fn draft(&self, visitor: &str, id: i64, text: &str) {
        let frame = json!({"type": "draft", "id": id, "text": text});
        self.push(visitor, &frame.to_string());
    }

    /// Pushes a frame to every open tab of the visitor; false when none is open.
    fn push(&self, visitor: &str, frame: &str) -> bool {
        let Ok(mut s) = self.sessions.lock() else { return false };
        let Some(list) = s.get_mut(visitor) else { return false };
        list.retain(|(_, tx)| tx.send(frame.to_owned()).is_ok());
        !list.is_empty()
    }
}

impl Channel for Widget {
    fn name(&self) -> ChannelName {
        NAME
    }

    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let mut text = message.text.clone();
            for name in message.attachments.iter().filter_map(|f| f.name.as_deref()) {
                text = format!("{text}\n📎 {name}").trim().to_owned();
            }
            // Who answers: the bot, or the operator by name.
            let sender = match (&self.db, message.outbox_id) {
                (Some(db), Some(id)) => {
                    db.call(move |c| crate::store::panel::sender_of_outbox(c, id)).await.ok().flatten()
                }
                _ => None,
            };
            let (author, name) = sender.unwrap_or_else(|| ("bot".to_owned(), None));
            let name =
                name.map(|n| if n.trim().is_empty() { crate::texts::panel::WIDGET_OPERATOR.to_owned() } else { n });
            let mut frame = json!({"type": "message", "author": author, "text": text});
            if let Some(name) = name {
                frame["name"] = json!(name);
            }
            if !message.buttons.is_empty() {
                frame["buttons"] = json!(message.buttons);
            }
            if self.push(recipient, &frame.to_string()) {
                Ok(Delivered { external_id: None })
            } else {
                // The visitor's page is closed: deliver when they come back (they also get the
                // whole conversation on reconnect).
                Err(SendError::Retry { after: Some(Duration::from_secs(15)), reason: "the visitor is offline".into() })
            }
        })
    }
}

#[derive(Deserialize)]
pub struct Connect {
    visitor: String,
}

fn valid_visitor(v: &str) -> bool {
    (8..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What the widget's connections need: the sessions, the inbox, the store for the history,
/// the plan check and the stop signal, nothing else of the server.
#[derive(Clone)]
pub struct Hook {
    pub widget: Arc<Widget>,
    pub inbox: Arc<dyn Inbox>,
    pub db: Db,
    pub clock: SharedClock,
    /// Whether the plan includes the widget now (the licence's answer, as an API error).
    pub admit: Arc<dyn Fn() -> Result<(), ApiError> + Send + Sync>,
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// `GET /widget/ws?visitor=ID`: the widget's connection.
pub async fn connect(
    State(state): State<Hook>,
    Query(q): Query<Connect>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let widget = state.widget.clone();
    let origin = headers.get("origin").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !widget.origin_allowed_for(origin, &headers) {
        tracing::warn!(
            origin,
            "the chat widget was refused: this site is not among the allowed ones (add it on the panel's «Подключение» page or to widget.allowed_origins)"
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this site may not use the chat widget",
        ));
    }
    if !valid_visitor(&q.visitor) {
        return Err(ApiError::invalid("visitor: 8 to 64 letters, digits, '-' or '_'"));
    }
    (state.admit)()?;
    // Small buffers: a thousand idle visitors must not cost a thousand times 256 KiB.
    Ok(ws
        .max_message_size(64 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| session(state, q.visitor, socket))
        .into_response())
}

/// The conversation so far; replies still queued for this visitor are in it, so they count as
/// delivered (they are not pushed again).
async fn history(state: &Hook, visitor: &str) -> Value {
    let (v, now) = (visitor.to_owned(), state.clock.now_ms());
    let messages = state
        .db
        .call(move |c| {
            msgs::outbox_delivered_all(c, NAME.as_str(), &v, now)?;
            match msgs::latest_conversation(c, NAME.as_str(), &v)? {
                Some(id) => msgs::recent_messages(c, id, 50),
                None => Ok(Vec::new()),
            }
        })
        .await
        .unwrap_or_default();
    let users: Vec<i64> = messages.iter().filter_map(|m| m.author_user_id).collect();
    let names = state.db.call(move |c| crate::store::panel::user_names(c, &users)).await.unwrap_or_default();
    let list: Vec<Value> = messages
        .iter()
        .filter(|m| !m.internal)
        .map(|m| {
            let mut v = json!({"author": m.author, "text": m.body, "at": crate::clock::rfc3339(m.created_at)});
            if m.author == "operator" {
                let name = m.author_user_id.and_then(|u| names.get(&u)).filter(|n| !n.trim().is_empty());
                v["name"] = json!(name.map_or(crate::texts::panel::WIDGET_OPERATOR, String::as_str));
            }
            v
        })
        .collect();
    json!({"type": "history", "messages": list})
}

async fn session(state: Hook, visitor: String, mut socket: WebSocket) {
    let widget = state.widget.clone();
    let (id, mut rx) = widget.register(&visitor);
    let mut ok = socket.send(WsMessage::text(history(&state, &visitor).await.to_string())).await.is_ok();
    let mut stopping = state.stopping.clone();
    while ok && !*stopping.borrow() {
        tokio::select! {
            // The server is stopping: close, and the widget reconnects to the next one.
            _ = stopping.changed() => break,
            incoming = socket.recv() => {
                let Some(Ok(frame)) = incoming else { break };
                let WsMessage::Text(text) = frame else { continue };
                let reply = handle_frame(&state, &visitor, text.as_str()).await;
                ok = socket.send(WsMessage::text(reply.to_string())).await.is_ok();
            }
            outgoing = rx.recv() => {
                let Some(frame) = outgoing else { break };
                ok = socket.send(WsMessage::text(frame)).await.is_ok();
            }
        }
    }
    widget.unregister(&visitor, id);
}

async fn handle_frame(state: &Hook, visitor: &str, frame: &str) -> Value {
    let Ok(v) = serde_json::from_str::<Value>(frame) else {
        return json!({"type": "error", "message": "not JSON"});
    };
    let (Some("message"), Some(id), Some(text)) = (v["type"].as_str(), v["id"].as_str(), v["text"].as_str()) else {
        return json!({"type": "error", "message": "expected {\"type\": \"message\", \"id\", \"text\"}"});
    };
    let n = text.trim().chars().count();
    if n == 0 || n > MAX_TEXT || id.is_empty() || id.len() > 64 {
        return json!({"type": "error", "id": id, "message": "text: 1 to 4000 characters; id: 1 to 64"});
    }
    let m = Inbound::text(NAME, format!("{visitor}:{id}"), visitor.to_owned(), text.trim().to_owned());
    match state.inbox.accept(&m).await {
        Ok(_) => json!({"type": "ack", "id": id}),
        Err(e) => {
            tracing::error!(error = %e, "cannot store a widget message");
            json!({"type": "error", "id": id, "message": "could not store the message; please send it again"})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_visitors() {
        let w = Widget::new(&["https://ladya-shop.ru/".into()], "http://127.0.0.1:8080");
        assert!(w.origin_allowed("https://ladya-shop.ru"));
        assert!(w.origin_allowed("http://127.0.0.1:8080"));
        assert!(!w.origin_allowed("https://evil.example"));
        assert!(!w.origin_allowed(""));
        assert!(valid_visitor("v-3f2a9c1d0b"));
        assert!(!valid_visitor("x"));
        assert!(!valid_visitor("../../etc/passwd"));
    }
}
