//! VK community messages, following VK's JSON schema (API 5.199). Two ways in:
//! - the Callback API: VK POSTs events to `/vk/callback`. `confirmation` is answered with the
//!   community's confirmation string; every event's `secret` must match the configured one
//!   (403 otherwise); a `message_new` is stored in the inbox (keyed by the message id, so a
//!   redelivered event is recognised) before VK gets its `ok`;
//! - Bots Long Poll, for hosts without public HTTPS (`vk.mode = "longpoll"`):
//!   `groups.getLongPollServer`, then long requests to that server; each event is stored before
//!   the stored `ts` moves past it.
//!
//! Photos and documents in are fetched from their URLs within `vk.max_file_bytes`. Replies go
//! out with `messages.send`, whose `random_id` is derived from the outbox row (VK's own
//! idempotency key: a repeated send after a crash is dropped by VK), with inline keyboards for
//! quick choices. VK answers errors with HTTP 200 and `{"error": {"error_code", "error_msg"}}`;
//! [`classify`] sorts them into retry, wait for the seller, and give up.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Attachment, Channel, ChannelName, Delivered, Inbound, Inbox, Outbound, SendError};
use crate::BoxFuture;
use crate::clock::SharedClock;
use crate::crypto::Cipher;
use crate::files::Files;
use crate::http::error::ApiError;
use crate::net::{HttpClient, KeyRef, RetryPolicy};
use crate::store::{Db, credentials};

pub const NAME: ChannelName = ChannelName::Vk;
/// The API version of the schema this adapter follows.
pub const API_VERSION: &str = "5.199";
pub const CALLBACK_PATH: &str = "/vk/callback";
/// Stored credentials (encrypted) and settings.
pub const TOKEN: &str = "vk.token";
pub const SECRET: &str = "vk.secret";
pub const GROUP_SETTING: &str = "vk.group_id";
pub const CONFIRMATION_SETTING: &str = "vk.confirmation";
pub const MODE_SETTING: &str = "vk.mode";
const TS_SETTING: &str = "vk.longpoll_ts";
/// Longest message VK takes (`messages.send`'s `message`: 9000 in the schema; VK's clients
/// show 4096 per message).
const MAX_TEXT: usize = 4096;

/// The mode set in the config file (`VkMode`); the stored setting may override it.
pub use crate::config::VkMode as Mode;

/// A VK API error: `{"error": {"error_code", "error_msg"}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct VkError {
    pub code: i64,
    pub message: String,
}

impl std::fmt::Display for VkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (error {})", self.message, self.code)
    }
}

/// VK's error codes (errors.json) in the dispatcher's terms:
/// - retry: 6 too many requests per second (after 1 s), 9 flood control (after a minute), 1
///   unknown and 10 internal errors, transport failures (code 0);
/// - retry after 10 minutes, for the seller to fix: 5 authorization failed, 7 permission
///   denied, 15 access denied, 27 the group token is invalid, 29 rate limit reached;
/// - give up: 901 the user denied messages from the community, 902 their privacy settings,
///   900 the user is blacklisted, 914 the message is too long, 100 a parameter is wrong, and
///   anything else.
pub fn classify(e: &VkError) -> SendError {
    let reason = e.to_string();
    let retry = |secs: u64| SendError::Retry { after: Some(Duration::from_secs(secs)), reason: reason.clone() };
    match e.code {
        6 => retry(1),
        9 => retry(60),
        0 | 1 | 10 => SendError::Retry { after: None, reason },
        5 | 7 | 15 | 27 | 29 => retry(600),
        _ => SendError::Permanent(reason),
    }
}

/// `random_id` of part `part` of outbox row `outbox_id`: the same for every try of that row,
/// different for every row (within VK's int32).
pub fn random_id(outbox_id: i64, part: usize) -> i64 {
    (outbox_id * 16 + part as i64).rem_euclid(i64::from(i32::MAX)) + 1
}

pub struct Vk {
    db: Db,
    cipher: Cipher,
    clock: SharedClock,
    http: HttpClient,
    api_url: String,
    token: KeyRef,
    secret: KeyRef,
    group_id: u64,
    confirmation: String,
    default_mode: Mode,
    files: Files,
    max_file_bytes: u64,
}

// The parts of a `message_new` object (callback_message_object → messages_message) used here.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    group_id: Option<i64>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    object: Option<Value>,
}

#[derive(Deserialize)]
struct VkMessage {
    id: i64,
    from_id: i64,
    peer_id: i64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    attachments: Vec<Value>,
    #[serde(default)]
    out: Option<i64>,
}

impl Vk {
    pub fn new(
        db: Db,
        cipher: Cipher,
        clock: SharedClock,
        config: &crate::config::VkConfig,
        data_dir: &std::path::Path,
    ) -> Self {
        let key = |fixed: &crate::config::Secret, name: &'static str| {
            if fixed.is_empty() {
                KeyRef::Stored { db: db.clone(), cipher: cipher.clone(), name }
            } else {
                KeyRef::Fixed(fixed.clone())
            }
        };
        Self {
            token: key(&config.token, TOKEN),
            secret: key(&config.secret, SECRET),
            group_id: config.group_id,
            confirmation: config.confirmation.clone(),
            default_mode: config.mode,
            // Each send is one try; the outbox retries by the classified error.
            http: HttpClient::new(Duration::from_secs(35), RetryPolicy { attempts: 1, ..RetryPolicy::default() }, None),
            api_url: config.api_url.trim_end_matches('/').to_owned(),
            files: Files::new(data_dir),
            max_file_bytes: config.max_file_bytes,
            db,
            cipher,
            clock,
        }
    }

    async fn setting(&self, name: &'static str) -> Option<Value> {
        self.db.call(move |c| credentials::setting(c, name)).await.ok().flatten()
    }

    pub async fn group_id(&self) -> u64 {
        if self.group_id != 0 {
            return self.group_id;
        }
        self.setting(GROUP_SETTING).await.and_then(|v| v.as_u64()).unwrap_or(0)
    }

    pub async fn confirmation(&self) -> String {
        if !self.confirmation.is_empty() {
            return self.confirmation.clone();
        }
        self.setting(CONFIRMATION_SETTING).await.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub async fn mode(&self) -> Mode {
        self.setting(MODE_SETTING).await.and_then(|v| v.as_str().and_then(Mode::parse)).unwrap_or(self.default_mode)
    }

    /// Whether the token and the secret are set (never their values).
    pub async fn secrets_set(&self) -> (bool, bool) {
        (!self.token.get().await.is_empty(), !self.secret.get().await.is_empty())
    }

    /// Stores what the settings page sent: the token and secret encrypted, the rest as settings.
    pub async fn configure(
        &self,
        token: Option<String>,
        secret: Option<String>,
        group_id: Option<u64>,
        confirmation: Option<String>,
        mode: Option<Mode>,
        by: Option<i64>,
    ) -> anyhow::Result<()> {
        let (cipher, now) = (self.cipher.clone(), self.clock.now_ms());
        self.db
            .call(move |c| {
                for (name, v) in [(TOKEN, &token), (SECRET, &secret)] {
                    if let Some(v) = v {
                        credentials::put(c, &cipher, name, v.trim(), by, now)?;
                    }
                }
                if let Some(g) = group_id {
                    credentials::set_setting(c, GROUP_SETTING, &json!(g), now)?;
                }
                if let Some(s) = &confirmation {
                    credentials::set_setting(c, CONFIRMATION_SETTING, &json!(s.trim()), now)?;
                }
                if let Some(m) = mode {
                    credentials::set_setting(c, MODE_SETTING, &json!(m.as_str()), now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// One API method with `token`: its `response`, or VK's error (HTTP 200 with `error`).
    async fn call(&self, token: &str, method: &str, params: &[(&str, String)]) -> Result<Value, VkError> {
        let url = format!("{}/method/{method}", self.api_url);
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("access_token", token.to_owned()));
        form.push(("v", API_VERSION.to_owned()));
        let resp = self
            .http
            .exchange(|c| c.post(url).form(&form))
            .await
            .map_err(|e| VkError { code: 0, message: e.to_string() })?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if let Some(e) = body.get("error") {
            return Err(VkError {
                code: e["error_code"].as_i64().unwrap_or(0),
                message: e["error_msg"].as_str().unwrap_or("no details").chars().take(300).collect(),
            });
        }
        if !(200..300).contains(&status) {
            return Err(VkError { code: 0, message: format!("HTTP {status}") });
        }
        Ok(body["response"].clone())
    }

    /// A live check: the community's name (`groups.getById`) with the stored token.
    pub async fn check(&self) -> Result<String, String> {
        let token = self.token.get().await;
        self.check_with(token.expose(), self.group_id().await).await
    }

    pub async fn check_with(&self, token: &str, group_id: u64) -> Result<String, String> {
        if token.is_empty() || group_id == 0 {
            return Err("the community token and id are needed".into());
        }
        let r = self
            .call(token, "groups.getById", &[("group_id", group_id.to_string())])
            .await
            .map_err(|e| e.to_string())?;
        // 5.199: {"groups": [...]}; older: [...].
        let group = r["groups"].get(0).or(r.get(0)).cloned().unwrap_or(Value::Null);
        Ok(group["name"].as_str().unwrap_or("").to_owned())
    }

    /// Whether `given` is the configured secret (constant time). With no secret configured
    /// every event passes.
    async fn secret_ok(&self, given: Option<&str>) -> bool {
        let expected = self.secret.get().await;
        match given {
            _ if expected.is_empty() => true,
            Some(g) => crate::crypto::constant_time_eq(g.as_bytes(), expected.expose().as_bytes()),
            None => false,
        }
    }

    /// One event (from the Callback API or Long Poll): stores a buyer's message in the inbox.
    async fn store_event(&self, ev: &Event, inbox: &dyn Inbox) -> Result<(), ApiError> {
        if ev.kind != "message_new" {
            return Ok(());
        }
        let Some(object) = &ev.object else { return Ok(()) };
        // 5.199 wraps the message: {"message": {...}, "client_info": {...}}.
        let raw = object.get("message").unwrap_or(object);
        let m: VkMessage = serde_json::from_value(raw.clone())
            .map_err(|e| ApiError::invalid(format!("message_new: not a message ({e})")))?;
        if m.out == Some(1) || m.from_id <= 0 {
            return Ok(());
        }
        let mut attachments = Vec::new();
        for a in &m.attachments {
            if let Some(att) = self.attachment(a).await {
                attachments.push(att);
            }
        }
        let text = m.text.trim().to_owned();
        if text.is_empty() && attachments.is_empty() {
            return Ok(());
        }
        let inbound = Inbound {
            channel: NAME,
            message_id: format!(
                "msg:{}",
                if m.id > 0 { m.id.to_string() } else { ev.event_id.clone().unwrap_or_default() }
            ),
            customer: m.peer_id.to_string(),
            name: String::new(),
            text,
            attachments,
            verified_phone: None,
            from_seller: false,
        };
        inbox.accept(&inbound).await?;
        Ok(())
    }

    /// A photo (its largest size) or document, fetched within the size limit.
    async fn attachment(&self, a: &Value) -> Option<Attachment> {
        let (kind, url, name, size, mime) = match a["type"].as_str()? {
            "photo" => {
                let best = a["photo"]["sizes"]
                    .as_array()?
                    .iter()
                    .max_by_key(|s| s["width"].as_u64().unwrap_or(0) * s["height"].as_u64().unwrap_or(0))?;
                ("photo", best["url"].as_str()?.to_owned(), None, 0, Some("image/jpeg".to_owned()))
            }
            "doc" => {
                let d = &a["doc"];
                let title = d["title"].as_str().map(str::to_owned);
                ("document", d["url"].as_str()?.to_owned(), title, d["size"].as_u64().unwrap_or(0), None)
            }
            _ => return None,
        };
        let mut att = Attachment { kind: kind.into(), name, mime, size, path: None, error: None };
        if size > self.max_file_bytes {
            att.error = Some(format!("too large: {size} bytes (limit {})", self.max_file_bytes));
            return Some(att);
        }
        let result: Result<String, String> = async {
            let mut resp = self.http.exchange(|c| c.get(url)).await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("download failed: HTTP {}", resp.status().as_u16()));
            }
            let ext = if kind == "photo" {
                "jpg".to_owned()
            } else {
                let e = att.name.as_deref().and_then(|n| std::path::Path::new(n).extension()).and_then(|e| e.to_str());
                let e: String = e.unwrap_or("bin").chars().filter(char::is_ascii_alphanumeric).take(8).collect();
                if e.is_empty() { "bin".into() } else { e }
            };
            let local = self.files.create(NAME.as_str(), &ext).await.map_err(|e| e.to_string())?;
            let tmp = local.partial();
            let mut out = tokio::fs::File::create(&tmp).await.map_err(|e| e.to_string())?;
            let mut written: u64 = 0;
            use tokio::io::AsyncWriteExt as _;
            while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
                written += chunk.len() as u64;
                if written > self.max_file_bytes {
                    drop(out);
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(format!("too large: over {} bytes", self.max_file_bytes));
                }
                out.write_all(&chunk).await.map_err(|e| e.to_string())?;
            }
            out.flush().await.map_err(|e| e.to_string())?;
            drop(out);
            att.size = written;
            local.finish().await.map_err(|e| e.to_string())?;
            Ok(local.reference)
        }
        .await;
        match result {
            Ok(reference) => att.path = Some(reference),
            Err(e) => att.error = Some(e),
        }
        Some(att)
    }

    /// Bots Long Poll while the mode is `longpoll`: each event is stored before the stored `ts`
    /// moves past it, so a crash neither drops nor repeats one.
    pub async fn run(self: Arc<Self>, inbox: Arc<dyn Inbox>) {
        let mut server: Option<(String, String)> = None;
        loop {
            let token = self.token.get().await;
            let group = self.group_id().await;
            if self.mode().await != Mode::LongPoll || token.is_empty() || group == 0 {
                server = None;
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            if server.is_none() {
                match self.call(token.expose(), "groups.getLongPollServer", &[("group_id", group.to_string())]).await {
                    Ok(r) => {
                        let (Some(s), Some(k)) = (r["server"].as_str(), r["key"].as_str()) else {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            continue;
                        };
                        if self.setting(TS_SETTING).await.is_none() {
                            let ts = r["ts"].as_str().map(str::to_owned).or(r["ts"].as_i64().map(|t| t.to_string()));
                            self.save_ts(ts.unwrap_or_default()).await;
                        }
                        server = Some((s.to_owned(), k.to_owned()));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "vk long poll server is unavailable; retrying");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        continue;
                    }
                }
            }
            let Some((url, key)) = server.clone() else { continue };
            match self.poll_once(&url, &key, inbox.as_ref()).await {
                Ok(true) => {}
                Ok(false) => server = None,
                Err(e) => {
                    tracing::warn!(error = %e, "vk long poll failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    async fn save_ts(&self, ts: String) {
        let now = self.clock.now_ms();
        if let Err(e) = self.db.call(move |c| credentials::set_setting(c, TS_SETTING, &json!(ts), now)).await {
            tracing::error!(error = %e, "cannot store the vk long poll position");
        }
    }

    /// One long request; false when the key must be fetched again.
    async fn poll_once(&self, server: &str, key: &str, inbox: &dyn Inbox) -> anyhow::Result<bool> {
        let ts = self.setting(TS_SETTING).await.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let url = format!("{server}?act=a_check&key={key}&ts={ts}&wait=25");
        let resp = self.http.exchange(|c| c.get(url)).await?;
        let body: Value = resp.json().await?;
        if let Some(failed) = body["failed"].as_i64() {
            if failed == 1 {
                let ts = body["ts"].as_str().map(str::to_owned).or(body["ts"].as_i64().map(|t| t.to_string()));
                self.save_ts(ts.unwrap_or_default()).await;
                return Ok(true);
            }
            return Ok(false);
        }
        for u in body["updates"].as_array().into_iter().flatten() {
            let ev: Event = serde_json::from_value(u.clone())?;
            self.store_event(&ev, inbox).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let next = body["ts"].as_str().map(str::to_owned).or(body["ts"].as_i64().map(|t| t.to_string()));
        if let Some(ts) = next {
            self.save_ts(ts).await;
        }
        Ok(true)
    }
}

impl Channel for Vk {
    fn name(&self) -> ChannelName {
        NAME
    }

    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let token = self.token.get().await;
            if token.is_empty() {
                return Err(SendError::Retry {
                    after: Some(Duration::from_secs(30)),
                    reason: "no VK token is set".into(),
                });
            }
            let peer: i64 =
                recipient.parse().map_err(|_| SendError::Permanent(format!("not a peer id: {recipient}")))?;
            let Some(outbox_id) = message.outbox_id else {
                return Err(SendError::Permanent("no outbox row to derive random_id from".into()));
            };
            let caps = super::registry::of(NAME);
            let keyboard = (!message.buttons.is_empty() && caps.fits_buttons(&message.buttons)).then(|| {
                let rows: Vec<Vec<Value>> = message
                    .buttons
                    .iter()
                    .flat_map(|row| row.chunks(5))
                    .map(|row| {
                        row.iter()
                            .map(|l| json!({"action": {"type": "text", "label": l, "payload": json!({"b": l}).to_string()}}))
                            .collect()
                    })
                    .collect();
                json!({"one_time": false, "inline": true, "buttons": rows}).to_string()
            });
            let mut text = if keyboard.is_none() { message.text_with_choices() } else { message.text.clone() };
            // VK's community uploads need more than this token may do: files go as their names.
            for name in message.attachments.iter().filter_map(|f| f.name.as_deref()) {
                text = format!("{text}\n📎 {name}").trim().to_owned();
            }
            if text.trim().is_empty() {
                return Err(SendError::Permanent("empty message".into()));
            }
            let parts = super::split_text(&text, MAX_TEXT);
            let last = parts.len() - 1;
            let group = self.group_id().await;
            let mut external = None;
            for (i, part) in parts.iter().enumerate() {
                let mut params = vec![
                    ("peer_id", peer.to_string()),
                    ("random_id", random_id(outbox_id, i).to_string()),
                    ("message", part.clone()),
                ];
                if group != 0 {
                    params.push(("group_id", group.to_string()));
                }
                if i == last
                    && let Some(k) = &keyboard
                {
                    params.push(("keyboard", k.clone()));
                }
                let r = self.call(token.expose(), "messages.send", &params).await.map_err(|e| classify(&e))?;
                external = r.as_i64().map(|id| id.to_string()).or(r["message_id"].as_i64().map(|id| id.to_string()));
            }
            Ok(Delivered { external_id: external })
        })
    }

    fn typing<'a>(&'a self, recipient: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let token = self.token.get().await;
            if token.is_empty() {
                return;
            }
            let mut params = vec![("peer_id", recipient.to_owned()), ("type", "typing".to_owned())];
            let group = self.group_id().await;
            if group != 0 {
                params.push(("group_id", group.to_string()));
            }
            let _ = self.call(token.expose(), "messages.setActivity", &params).await;
        })
    }
}

/// What the Callback API handler needs: the adapter and the inbox.
#[derive(Clone)]
pub struct Hook {
    pub vk: Arc<Vk>,
    pub inbox: Arc<dyn Inbox>,
}

fn text(body: String) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `POST /vk/callback`: the Callback API. `confirmation` → the confirmation string; an event
/// with a wrong `secret` (or none, when one is set) or for another community → 403; a
/// `message_new` is stored, then `ok`; other events → `ok`.
pub async fn callback(State(hook): State<Hook>, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let ev: Event = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("not a VK event: {e}")))?;
    let vk = &hook.vk;
    let group = vk.group_id().await;
    if group != 0 && ev.group_id.is_some_and(|g| u64::try_from(g).ok() != Some(group)) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "wrong_group", "the event is for another community"));
    }
    if ev.kind == "confirmation" {
        // VK sends the secret with the confirmation too once it is set; a wrong one is refused.
        if ev.secret.is_some() && !vk.secret_ok(ev.secret.as_deref()).await {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid_secret", "wrong secret"));
        }
        let code = vk.confirmation().await;
        if code.is_empty() {
            return Err(ApiError::not_found("vk confirmation string (vk.confirmation)"));
        }
        return Ok(text(code));
    }
    if !vk.secret_ok(ev.secret.as_deref()).await {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid_secret", "wrong or missing secret"));
    }
    vk.store_event(&ev, hook.inbox.as_ref()).await?;
    Ok(text("ok".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_and_random_ids_are_stable() {
        let e = |code| VkError { code, message: "x".into() };
        assert!(matches!(classify(&e(6)), SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(1)));
        assert!(matches!(classify(&e(9)), SendError::Retry { .. }));
        assert!(matches!(classify(&e(5)), SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(600)));
        assert!(matches!(classify(&e(901)), SendError::Permanent(_)));
        assert!(matches!(classify(&e(902)), SendError::Permanent(_)));
        assert_eq!(random_id(42, 0), random_id(42, 0));
        assert_ne!(random_id(42, 0), random_id(43, 0));
        assert_ne!(random_id(42, 0), random_id(42, 1));
        assert!(random_id(i64::MAX / 32, 3) > 0 && random_id(i64::MAX / 32, 3) <= i64::from(i32::MAX));
    }
}
