//! WhatsApp Business through Meta's Cloud API (Graph API `v23.0`, as in the official OpenAPI
//! document). Meta verifies the webhook with `GET /whatsapp/webhook?hub.mode=subscribe&
//! hub.verify_token=…&hub.challenge=…` (answered with the challenge when the token matches) and
//! then POSTs every event signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with
//! the app secret): a wrong signature gets 401 and nothing is stored. Each buyer message is
//! stored in the inbox keyed by its WhatsApp message id (`wamid…`, so Meta's redeliveries are
//! recognised) before the 200; its images and documents are fetched through the media
//! endpoints within `whatsapp.max_file_bytes`. The sender's number is verified by WhatsApp
//! itself, so every message links the buyer to the orders placed with that phone.
//!
//! Replies leave through the outbox: text (split at 4096), quick-reply buttons (at most 3, or a
//! list of at most 10) for ratings and choices, images and documents uploaded through
//! `/{phone}/media`. Status webhooks (sent, delivered, read, failed) are recorded on the outbox
//! row and shown in the inbox. Outside the 24-hour customer-service window only approved
//! templates may go: an order status notification becomes the template chosen for that status
//! in the settings (synced from the account), anything else is parked until the buyer writes
//! again. Graph API errors are classified ([`classify`]) into retry, park and give up.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Attachment, Channel, ChannelName, Delivered, Inbound, Inbox, OutFile, Outbound, SendError};
use crate::BoxFuture;
use crate::clock::SharedClock;
use crate::crypto::Cipher;
use crate::files::Files;
use crate::http::error::ApiError;
use crate::net::{HttpClient, KeyRef, RetryPolicy};
use crate::store::{Db, credentials, messaging as msgs};

pub const NAME: ChannelName = ChannelName::WhatsApp;
/// The Graph API version of the official document this adapter follows.
pub const GRAPH_VERSION: &str = "v23.0";
pub const WEBHOOK_PATH: &str = "/whatsapp/webhook";
/// Stored credentials (encrypted).
pub const TOKEN: &str = "whatsapp.token";
pub const APP_SECRET: &str = "whatsapp.app_secret";
pub const VERIFY_TOKEN: &str = "whatsapp.verify_token";
/// Stored settings.
pub const PHONE_NUMBER_ID: &str = "whatsapp.phone_number_id";
pub const BUSINESS_ACCOUNT_ID: &str = "whatsapp.business_account_id";
pub const TEMPLATES: &str = "whatsapp.templates";
pub const SYNCED_TEMPLATES: &str = "whatsapp.synced_templates";
/// Longest text message.
const MAX_TEXT: usize = 4096;
/// Longest body of an interactive message and caption of a file.
const MAX_BODY: usize = 1024;
/// The customer-service window.
pub const WINDOW_MS: i64 = 24 * 3600 * 1000;

/// The template sent for one order status outside the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateChoice {
    pub name: String,
    /// The template's language code, e.g. "ru".
    pub language: String,
}

/// One of the account's message templates, as synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncedTemplate {
    pub name: String,
    pub language: String,
    /// "APPROVED", "PENDING", "REJECTED", …
    pub status: String,
    pub category: String,
    /// `{{n}}` placeholders in its body: filled with the order number, then the status words.
    pub parameters: usize,
}

/// What the settings page may change; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub token: Option<String>,
    pub phone_number_id: Option<String>,
    pub business_account_id: Option<String>,
    pub verify_token: Option<String>,
    pub app_secret: Option<String>,
    /// Per order status ("in_transit", "ready_for_pickup", "cancelled"): the template to send
    /// outside the 24-hour window.
    pub templates: Option<BTreeMap<String, TemplateChoice>>,
}

pub struct WhatsApp {
    db: Db,
    cipher: Cipher,
    clock: SharedClock,
    http: HttpClient,
    api_url: String,
    token: KeyRef,
    app_secret: KeyRef,
    verify_token: KeyRef,
    phone_number_id: String,
    business_account_id: String,
    files: Files,
    max_file_bytes: u64,
}

/// A Graph API error: `{"error": {"message", "type", "code", "error_subcode"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: Option<i64>,
    pub message: String,
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(c) => write!(f, "{} (code {c}, HTTP {})", self.message, self.status),
            None => write!(f, "{} (HTTP {})", self.message, self.status),
        }
    }
}

/// Meta's error codes in the dispatcher's terms:
/// - retry: throttling (4 application, 80007 account, 130429 throughput, 131056 pair rate —
///   after 6 s, 131048 spam rate — after an hour), temporary errors (1, 2, 131000, 131016) and
///   any 5xx or transport failure;
/// - retry after 10 minutes: configuration the seller must fix (190 token, 10 and 200
///   permissions, 3 capability, 131005 access denied, 133010 number not registered);
/// - park until the buyer writes again: 131047 (more than 24 hours since the buyer's last
///   message) and its older form 470;
/// - give up: everything else (100 invalid parameter, 131008/131009 parameters, 131021 the
///   recipient is the sender, 131026 undeliverable, 131051 unsupported type, 131052/131053
///   media, 132000/132001/132005/132007/132012 templates, 368 blocked for policy, any 4xx).
pub fn classify(e: &GraphError) -> SendError {
    let reason = e.to_string();
    let retry = |secs: u64| SendError::Retry { after: Some(Duration::from_secs(secs)), reason: reason.clone() };
    match e.code {
        Some(4 | 80007 | 130429) => retry(60),
        Some(131056) => retry(6),
        Some(131048) => retry(3600),
        Some(1 | 2 | 131000 | 131016) => SendError::Retry { after: None, reason },
        Some(190 | 10 | 200 | 3 | 131005 | 133010) => retry(600),
        Some(131047 | 470) => SendError::Park(reason),
        _ if e.status >= 500 || e.status == 429 => SendError::Retry { after: None, reason },
        _ => SendError::Permanent(reason),
    }
}

fn key(fixed: &crate::config::Secret, db: &Db, cipher: &Cipher, name: &'static str) -> KeyRef {
    if fixed.is_empty() {
        KeyRef::Stored { db: db.clone(), cipher: cipher.clone(), name }
    } else {
        KeyRef::Fixed(fixed.clone())
    }
}

/// `sha256=<hex>` → the bytes.
fn signature_bytes(header: &str) -> Option<Vec<u8>> {
    let hex = header.trim().strip_prefix("sha256=")?;
    if hex.len() != 64 {
        return None;
    }
    (0..32).map(|i| u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()).collect()
}

/// The hex HMAC-SHA256 of `body` with `secret`, as Meta writes it (`sha256=…`).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` is the signature of `body` with `secret` (checked in constant time).
pub fn signature_valid(secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(tag) = header.and_then(signature_bytes) else { return false };
    if secret.is_empty() {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, body, &tag).is_ok()
}

// The webhook payload (`WebhookPayload` in the document), only the fields used.
#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    value: ChangeValue,
}

#[derive(Deserialize)]
struct ChangeValue {
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    profile: Option<Profile>,
    #[serde(default)]
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<WaText>,
    #[serde(default)]
    image: Option<WaMedia>,
    #[serde(default)]
    document: Option<WaMedia>,
    #[serde(default)]
    interactive: Option<WaInteractive>,
    #[serde(default)]
    button: Option<WaButton>,
}

#[derive(Deserialize)]
struct WaText {
    body: String,
}

#[derive(Deserialize)]
struct WaMedia {
    id: String,
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    filename: Option<String>,
}

#[derive(Deserialize)]
struct WaInteractive {
    #[serde(default)]
    button_reply: Option<WaReply>,
    #[serde(default)]
    list_reply: Option<WaReply>,
}

#[derive(Deserialize)]
struct WaReply {
    #[serde(default)]
    id: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct WaButton {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct WaStatus {
    id: String,
    status: String,
    #[serde(default)]
    errors: Vec<WaStatusError>,
}

#[derive(Deserialize)]
struct WaStatusError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What one webhook delivery held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Received {
    pub messages: usize,
    pub statuses: usize,
}

impl WhatsApp {
    pub fn new(
        db: Db,
        cipher: Cipher,
        clock: SharedClock,
        config: &crate::config::WhatsAppConfig,
        data_dir: &std::path::Path,
    ) -> Self {
        // Each send is one try: the outbox retries by the classified error.
        let policy = RetryPolicy { attempts: 1, ..RetryPolicy::default() };
        Self {
            token: key(&config.token, &db, &cipher, TOKEN),
            app_secret: key(&config.app_secret, &db, &cipher, APP_SECRET),
            verify_token: key(&config.verify_token, &db, &cipher, VERIFY_TOKEN),
            phone_number_id: config.phone_number_id.clone(),
            business_account_id: config.business_account_id.clone(),
            http: HttpClient::new(Duration::from_secs(30), policy, None),
            api_url: config.api_url.trim_end_matches('/').to_owned(),
            files: Files::new(data_dir),
            max_file_bytes: config.max_file_bytes,
            db,
            cipher,
            clock,
        }
    }

    async fn setting(&self, fixed: &str, name: &'static str) -> String {
        if !fixed.is_empty() {
            return fixed.to_owned();
        }
        let v = self.db.call(move |c| credentials::setting(c, name)).await.ok().flatten();
        v.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    pub async fn phone_number_id(&self) -> String {
        self.setting(&self.phone_number_id, PHONE_NUMBER_ID).await
    }

    pub async fn business_account_id(&self) -> String {
        self.setting(&self.business_account_id, BUSINESS_ACCOUNT_ID).await
    }

    /// Which secrets are set (never their values).
    pub async fn secrets_set(&self) -> (bool, bool, bool) {
        (
            !self.token.get().await.is_empty(),
            !self.app_secret.get().await.is_empty(),
            !self.verify_token.get().await.is_empty(),
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{GRAPH_VERSION}/{path}", self.api_url)
    }

    /// One Graph API call with `token`; the JSON body of a 2xx, or the error.
    async fn call(
        &self,
        token: &str,
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Value, GraphError> {
        let resp = self.http.exchange(|c| build(c).bearer_auth(token)).await.map_err(|e| GraphError {
            status: 503,
            code: None,
            message: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let e = &body["error"];
        Err(GraphError {
            status,
            code: e["code"].as_i64(),
            message: e["message"].as_str().unwrap_or("no details").chars().take(300).collect(),
        })
    }

    /// A live check: the phone number's display number and verified name with the stored
    /// token (`GET /{Phone-Number-ID}`).
    pub async fn check(&self) -> Result<String, String> {
        let (token, phone) = (self.token.get().await, self.phone_number_id().await);
        self.check_with(token.expose(), &phone).await
    }

    /// The same with values not stored yet.
    pub async fn check_with(&self, token: &str, phone_number_id: &str) -> Result<String, String> {
        if token.is_empty() || phone_number_id.is_empty() {
            return Err("the access token and the phone number id are needed".into());
        }
        let url = format!("{}?fields=display_phone_number,verified_name", self.url(phone_number_id));
        let v = self.call(token, |c| c.get(url)).await.map_err(|e| e.to_string())?;
        let number = v["display_phone_number"].as_str().unwrap_or("");
        Ok(match v["verified_name"].as_str() {
            Some(n) if !n.is_empty() => format!("{number} ({n})"),
            _ => number.to_owned(),
        })
    }

    /// Stores what the settings page sent: secrets encrypted, ids and templates as settings.
    pub async fn configure(&self, u: Update, by: Option<i64>) -> anyhow::Result<()> {
        let (cipher, now) = (self.cipher.clone(), self.clock.now_ms());
        self.db
            .call(move |c| {
                for (name, v) in [(TOKEN, &u.token), (APP_SECRET, &u.app_secret), (VERIFY_TOKEN, &u.verify_token)] {
                    if let Some(v) = v {
                        credentials::put(c, &cipher, name, v.trim(), by, now)?;
                    }
                }
                for (name, v) in [(PHONE_NUMBER_ID, &u.phone_number_id), (BUSINESS_ACCOUNT_ID, &u.business_account_id)]
                {
                    if let Some(v) = v {
                        credentials::set_setting(c, name, &json!(v.trim()), now)?;
                    }
                }
                if let Some(t) = &u.templates {
                    credentials::set_setting(c, TEMPLATES, &json!(t), now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// The templates chosen per order status, and the account's templates as last synced.
    pub async fn templates(&self) -> (BTreeMap<String, TemplateChoice>, Vec<SyncedTemplate>) {
        let (chosen, synced) = self
            .db
            .call(|c| Ok((credentials::setting(c, TEMPLATES)?, credentials::setting(c, SYNCED_TEMPLATES)?)))
            .await
            .unwrap_or((None, None));
        (
            chosen.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            synced.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
        )
    }

    /// Fetches the account's message templates (`GET /{WABA-ID}/message_templates`, every page)
    /// and stores them.
    pub async fn sync_templates(&self) -> Result<Vec<SyncedTemplate>, String> {
        let (token, waba) = (self.token.get().await, self.business_account_id().await);
        if token.is_empty() || waba.is_empty() {
            return Err("the access token and the business account id are needed".into());
        }
        let mut out = Vec::new();
        let mut url = format!(
            "{}?fields=name,language,status,category,components&limit=100",
            self.url(&format!("{waba}/message_templates"))
        );
        for _ in 0..50 {
            let page = self.call(token.expose(), |c| c.get(url.clone())).await.map_err(|e| e.to_string())?;
            for t in page["data"].as_array().into_iter().flatten() {
                let body = t["components"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"].as_str().is_some_and(|k| k.eq_ignore_ascii_case("body")))
                    .and_then(|c| c["text"].as_str())
                    .unwrap_or("");
                out.push(SyncedTemplate {
                    name: t["name"].as_str().unwrap_or_default().to_owned(),
                    language: t["language"].as_str().unwrap_or_default().to_owned(),
                    status: t["status"].as_str().unwrap_or_default().to_owned(),
                    category: t["category"].as_str().unwrap_or_default().to_owned(),
                    parameters: body.matches("{{").count(),
                });
            }
            match page["paging"]["next"].as_str() {
                Some(next) if next.starts_with(&self.api_url) => url = next.to_owned(),
                _ => break,
            }
        }
        let (stored, now) = (json!(out), self.clock.now_ms());
        self.db
            .call(move |c| credentials::set_setting(c, SYNCED_TEMPLATES, &stored, now))
            .await
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// Whether `given` is the configured verify token (constant time; false when none is set).
    pub async fn verify_token_matches(&self, given: &str) -> bool {
        let expected = self.verify_token.get().await;
        !expected.is_empty() && crate::crypto::constant_time_eq(given.as_bytes(), expected.expose().as_bytes())
    }

    pub async fn signature_ok(&self, header: Option<&str>, body: &[u8]) -> bool {
        signature_valid(self.app_secret.get().await.expose(), header, body)
    }

    /// Stores what one webhook delivery holds: each buyer message in the inbox (then the
    /// buyer's parked sends are due again), each status on its outbox row. Returns once all of
    /// it is stored.
    pub async fn receive(&self, body: &[u8], inbox: &dyn Inbox) -> Result<Received, ApiError> {
        let payload: Payload = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("not a WhatsApp webhook: {e}"))
        })?;
        let mut got = Received::default();
        for change in payload.entry.iter().flat_map(|e| &e.changes).filter(|c| c.field == "messages") {
            for s in &change.value.statuses {
                self.record_status(s).await?;
                got.statuses += 1;
            }
            for m in &change.value.messages {
                let name = change
                    .value
                    .contacts
                    .iter()
                    .find(|c| c.wa_id.as_deref() == Some(m.from.as_str()))
                    .or(change.value.contacts.first())
                    .and_then(|c| c.profile.as_ref())
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                let Some(inbound) = self.inbound(m, name).await else { continue };
                inbox.accept(&inbound).await?;
                let (recipient, now) = (m.from.clone(), self.clock.now_ms());
                self.db.call(move |c| msgs::outbox_unpark(c, NAME.as_str(), &recipient, now)).await?;
                got.messages += 1;
            }
        }
        Ok(got)
    }

    async fn record_status(&self, s: &WaStatus) -> Result<(), ApiError> {
        if !["sent", "delivered", "read", "failed"].contains(&s.status.as_str()) {
            return Ok(());
        }
        let error = s.errors.first().map(|e| {
            let text = e.message.clone().or(e.title.clone()).unwrap_or_default();
            match e.code {
                Some(c) => format!("{text} (code {c})"),
                None => text,
            }
        });
        let (id, status, now) = (s.id.clone(), s.status.clone(), self.clock.now_ms());
        self.db
            .call(move |c| {
                let changed = msgs::outbox_delivery(c, NAME.as_str(), &id, &status, error.as_deref(), now)?;
                if let Some(conversation) = changed {
                    msgs::add_event(c, "delivery", conversation, &json!({"status": status}), now)?;
                }
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// One buyer message as an inbound message (files fetched), or `None` for kinds the
    /// assistant does not handle (reactions, stickers, locations, unsupported).
    async fn inbound(&self, m: &WaMessage, name: String) -> Option<Inbound> {
        let text: String;
        let mut attachments = Vec::new();
        match m.kind.as_str() {
            "text" => text = m.text.as_ref().map(|t| t.body.clone()).unwrap_or_default(),
            "interactive" => {
                let reply = m.interactive.as_ref().and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()));
                // Our buttons carry their label as the id; the title is what the buyer saw.
                text =
                    reply.map(|r| if r.title.is_empty() { r.id.clone() } else { r.title.clone() }).unwrap_or_default();
            }
            "button" => text = m.button.as_ref().map(|b| b.text.clone()).unwrap_or_default(),
            kind @ ("image" | "document") => {
                let media = if kind == "image" { m.image.as_ref() } else { m.document.as_ref() }?;
                text = media.caption.clone().unwrap_or_default();
                let kind = if kind == "image" { "photo" } else { "document" };
                attachments.push(self.download(&media.id, kind, media.filename.clone(), media.mime_type.clone()).await);
            }
            _ => return None,
        }
        let text = text.trim().to_owned();
        if text.is_empty() && attachments.is_empty() {
            return None;
        }
        let digits: String = m.from.chars().filter(char::is_ascii_digit).collect();
        Some(Inbound {
            channel: NAME,
            message_id: m.id.clone(),
            customer: m.from.clone(),
            name,
            text,
            attachments,
            // WhatsApp proves the sender's number on every message.
            verified_phone: (digits.len() >= 10).then(|| format!("+{digits}")),
            from_seller: false,
        })
    }

    /// Fetches a buyer's file (`GET /{Media-ID}` for its URL and size, then the URL) into the
    /// data directory within the size limit; otherwise the attachment records why not.
    async fn download(&self, media_id: &str, kind: &str, name: Option<String>, mime: Option<String>) -> Attachment {
        let mut a = Attachment { kind: kind.into(), name, mime, size: 0, path: None, error: None };
        let token = self.token.get().await;
        let result: Result<String, String> = async {
            let meta = self.call(token.expose(), |c| c.get(self.url(media_id))).await.map_err(|e| e.to_string())?;
            let size = meta["file_size"].as_u64().or_else(|| meta["file_size"].as_str()?.parse().ok()).unwrap_or(0);
            a.size = size;
            if a.mime.is_none() {
                a.mime = meta["mime_type"].as_str().map(str::to_owned);
            }
            if size > self.max_file_bytes {
                return Err(format!("too large: {size} bytes (limit {})", self.max_file_bytes));
            }
            let url = meta["url"].as_str().ok_or("the media has no URL")?.to_owned();
            let mut resp =
                self.http.exchange(|c| c.get(url).bearer_auth(token.expose())).await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("download failed: HTTP {}", resp.status().as_u16()));
            }
            let ext = extension(a.mime.as_deref(), a.name.as_deref());
            let local = self.files.create(NAME.as_str(), &ext).await.map_err(|e| e.to_string())?;
            let tmp = local.partial();
            let mut written: u64 = 0;
            let mut out = tokio::fs::File::create(&tmp).await.map_err(|e| e.to_string())?;
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
            a.size = written;
            local.finish().await.map_err(|e| e.to_string())?;
            Ok(local.reference)
        }
        .await;
        match result {
            Ok(reference) => a.path = Some(reference),
            Err(e) => a.error = Some(e),
        }
        a
    }

    /// Whether the buyer wrote within the last 24 hours.
    async fn window_open(&self, recipient: &str) -> Result<bool, SendError> {
        let (r, now) = (recipient.to_owned(), self.clock.now_ms());
        let last = self
            .db
            .call(move |c| msgs::last_buyer_message_at(c, NAME.as_str(), &r))
            .await
            .map_err(|e| SendError::Retry { after: None, reason: e.to_string() })?;
        Ok(last.is_some_and(|t| now - t < WINDOW_MS))
    }

    async fn post_message(&self, token: &str, phone: &str, body: Value) -> Result<Delivered, SendError> {
        let url = self.url(&format!("{phone}/messages"));
        let v = self.call(token, |c| c.post(url).json(&body)).await.map_err(|e| classify(&e))?;
        Ok(Delivered { external_id: v["messages"][0]["id"].as_str().map(str::to_owned) })
    }

    /// Uploads a file (`POST /{Phone-Number-ID}/media`, multipart) and returns its media id.
    async fn upload(&self, token: &str, phone: &str, file: &OutFile) -> Result<String, SendError> {
        let rel = file.path.as_deref().unwrap_or("");
        let Some(path) = self.files.resolve(rel) else {
            return Err(SendError::Permanent("the file is missing".into()));
        };
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| SendError::Permanent(format!("the file {rel} cannot be read: {e}")))?;
        let limit = super::registry::of(NAME).max_file_bytes;
        if bytes.len() as u64 > limit {
            return Err(SendError::Permanent(format!("the file is larger than WhatsApp's {limit} bytes")));
        }
        let mime = file.mime.clone().unwrap_or_else(|| "application/octet-stream".into());
        let name = file.name.clone().unwrap_or_else(|| "file".into());
        let url = self.url(&format!("{phone}/media"));
        let v = self
            .call(token, |c| {
                let part = reqwest::multipart::Part::bytes(bytes).file_name(name).mime_str(&mime);
                let form =
                    reqwest::multipart::Form::new().text("messaging_product", "whatsapp").text("type", mime.clone());
                let form = match part {
                    Ok(p) => form.part("file", p),
                    Err(_) => form,
                };
                c.post(url).multipart(form)
            })
            .await
            .map_err(|e| classify(&e))?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Retry { after: None, reason: "upload: no media id".into() })
    }

    async fn deliver(&self, recipient: &str, message: &Outbound) -> Result<Delivered, SendError> {
        let token = self.token.get().await;
        let phone = self.phone_number_id().await;
        if token.is_empty() || phone.is_empty() {
            return Err(SendError::Retry {
                after: Some(Duration::from_secs(30)),
                reason: "WhatsApp is not configured (token, phone number id)".into(),
            });
        }
        let token = token.expose();
        let base = |kind: &str| {
            let mut b =
                json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient, "type": kind});
            if let Some(id) = &message.reply_to {
                b["context"] = json!({"message_id": id});
            }
            b
        };
        if !self.window_open(recipient).await? {
            let (chosen, synced) = self.templates().await;
            let template = message.notice.as_ref().and_then(|n| chosen.get(&n.status).map(|t| (n, t)));
            let Some((notice, t)) = template else {
                return Err(SendError::Park(
                    "outside WhatsApp's 24-hour window: waits for the buyer's next message".into(),
                ));
            };
            let count =
                synced.iter().find(|s| s.name == t.name && s.language == t.language).map_or(1, |s| s.parameters);
            let values = [notice.order.as_str(), notice.status_text.as_str()];
            let parameters: Vec<Value> =
                values.iter().take(count.min(2)).map(|v| json!({"type": "text", "text": v})).collect();
            let mut body = base("template");
            body["template"] = json!({"name": t.name, "language": {"policy": "deterministic", "code": t.language}});
            if !parameters.is_empty() {
                body["template"]["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            return self.post_message(token, &phone, body).await;
        }
        let text = message.text.trim();
        if let Some(file) = message.attachments.first() {
            let id = self.upload(token, &phone, file).await?;
            let caption = (!text.is_empty() && text.chars().count() <= MAX_BODY).then_some(text);
            if !text.is_empty() && caption.is_none() {
                for part in super::split_text(text, MAX_TEXT) {
                    let mut b = base("text");
                    b["text"] = json!({"body": part, "preview_url": false});
                    self.post_message(token, &phone, b).await?;
                }
            }
            let kind = if file.is_image() { "image" } else { "document" };
            let mut media = json!({"id": id});
            if let Some(c) = caption {
                media["caption"] = json!(c);
            }
            if kind == "document" {
                media["filename"] = json!(file.name.clone().unwrap_or_else(|| "file".into()));
            }
            let mut b = base(kind);
            b[kind] = media;
            return self.post_message(token, &phone, b).await;
        }
        if text.is_empty() {
            return Err(SendError::Permanent("empty message".into()));
        }
        let labels: Vec<&str> = message.labels().collect();
        if !labels.is_empty() && text.chars().count() <= MAX_BODY {
            let interactive = if labels.len() <= 3 && labels.iter().all(|l| l.chars().count() <= 20) {
                let buttons: Vec<Value> =
                    labels.iter().map(|l| json!({"type": "reply", "reply": {"id": l, "title": l}})).collect();
                Some(json!({"type": "button", "body": {"text": text}, "action": {"buttons": buttons}}))
            } else if labels.len() <= 10 && labels.iter().all(|l| l.chars().count() <= 24) {
                let rows: Vec<Value> = labels.iter().map(|l| json!({"id": l, "title": l})).collect();
                Some(json!({"type": "list", "body": {"text": text},
                    "action": {"button": crate::texts::bot::CHOOSE_BUTTON, "sections": [{"rows": rows}]}}))
            } else {
                None
            };
            if let Some(i) = interactive {
                let mut b = base("interactive");
                b["interactive"] = i;
                return self.post_message(token, &phone, b).await;
            }
        }
        // Buttons WhatsApp cannot show are written out as choices.
        let full = if labels.is_empty() { text.to_owned() } else { message.text_with_choices() };
        let mut last = Delivered { external_id: None };
        for part in super::split_text(&full, MAX_TEXT) {
            let mut b = base("text");
            b["text"] = json!({"body": part, "preview_url": false});
            last = self.post_message(token, &phone, b).await?;
        }
        Ok(last)
    }
}

/// A file extension from the MIME type or the buyer's file name.
fn extension(mime: Option<&str>, name: Option<&str>) -> String {
    let from_mime = match mime.unwrap_or("") {
        "image/jpeg" => Some("jpg"),
        "image/png" => Some("png"),
        "image/webp" => Some("webp"),
        "application/pdf" => Some("pdf"),
        _ => None,
    };
    let from_name = name.and_then(|n| std::path::Path::new(n).extension()).and_then(|e| e.to_str());
    let ext = from_mime.or(from_name).unwrap_or("bin");
    let ext: String = ext.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
    if ext.is_empty() { "bin".into() } else { ext }
}

impl Channel for WhatsApp {
    fn name(&self) -> ChannelName {
        NAME
    }

    fn send<'a>(&'a self, recipient: &'a str, message: &'a Outbound) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(self.deliver(recipient, message))
    }
}

/// What the webhook handlers need: the adapter and the inbox.
#[derive(Clone)]
pub struct Hook {
    pub whatsapp: std::sync::Arc<WhatsApp>,
    pub inbox: std::sync::Arc<dyn Inbox>,
}

#[derive(Deserialize)]
pub struct Verify {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET /whatsapp/webhook`: Meta's verification request. The challenge comes back as plain
/// text when the mode is `subscribe` and the verify token matches; otherwise 403.
pub async fn verify(State(hook): State<Hook>, Query(q): Query<Verify>) -> Result<Response, ApiError> {
    let token = q.verify_token.unwrap_or_default();
    if q.mode.as_deref() == Some("subscribe") && hook.whatsapp.verify_token_matches(&token).await {
        let challenge: String = q.challenge.unwrap_or_default().chars().take(1000).collect();
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response());
    }
    Err(ApiError::new(StatusCode::FORBIDDEN, "invalid_verify_token", "wrong hub.mode or hub.verify_token"))
}

/// `POST /whatsapp/webhook`: checks the signature over the raw body, stores every message and
/// status, then answers 200 (Meta delivers again otherwise).
pub async fn webhook(
    State(hook): State<Hook>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    if !hook.whatsapp.signature_ok(signature, &body).await {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "wrong or missing X-Hub-Signature-256",
        ));
    }
    hook.whatsapp.receive(&body, hook.inbox.as_ref()).await?;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let good = sign("app-secret", body);
        assert!(good.starts_with("sha256=") && good.len() == 71);
        assert!(signature_valid("app-secret", Some(&good), body));
        assert!(!signature_valid("other-secret", Some(&good), body));
        assert!(!signature_valid("app-secret", Some(&good), b"{}"));
        assert!(!signature_valid("app-secret", None, body));
        assert!(!signature_valid("app-secret", Some("sha256=zz"), body));
        assert!(!signature_valid("", Some(&sign("", body)), body), "no secret configured: nothing passes");
    }

    #[test]
    fn graph_errors_are_retried_parked_or_given_up() {
        let e = |status, code| GraphError { status, code: Some(code), message: "x".into() };
        assert!(matches!(classify(&e(400, 130429)), SendError::Retry { after: Some(_), .. }));
        assert!(
            matches!(classify(&e(400, 131056)), SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(6))
        );
        assert!(matches!(classify(&e(400, 4)), SendError::Retry { .. }));
        assert!(
            matches!(classify(&e(401, 190)), SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(600))
        );
        assert!(matches!(classify(&e(400, 131047)), SendError::Park(_)));
        assert!(matches!(classify(&e(400, 131026)), SendError::Permanent(_)));
        assert!(matches!(classify(&e(404, 132001)), SendError::Permanent(_)));
        assert!(matches!(
            classify(&GraphError { status: 502, code: None, message: "x".into() }),
            SendError::Retry { .. }
        ));
    }

    #[test]
    fn extensions_come_from_the_type_or_the_name() {
        assert_eq!(extension(Some("image/jpeg"), None), "jpg");
        assert_eq!(extension(None, Some("чек.PDF")), "PDF");
        assert_eq!(extension(Some("x/y"), Some("../../etc/passwd")), "bin");
    }
}
