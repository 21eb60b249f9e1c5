//! A fake WhatsApp Cloud API (Graph API v23.0) on loopback, built from Meta's official OpenAPI
//! document (`../shared/specs/whatsapp/business-messaging-api_v23.0.yaml`, read at test time):
//! every request supportd makes is checked against the document's operation for its path and
//! method (declared query parameters, the JSON or multipart body against the request schema);
//! what does not match is recorded as a violation, which the tests assert to be empty. The
//! webhook payloads the tests post are built here and checked against `WebhookPayload`.
//!
//! Served: `GET /{Version}/{Phone-Number-ID}` (the live check), `POST …/messages`,
//! `POST …/media` (upload), `GET /{Version}/{Media-ID}` (the media URL) and that URL,
//! `GET /{Version}/{WABA-ID}/message_templates`. Errors are Meta's shape,
//! `{"error": {"message", "type", "code"}}`; tests script them by code.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::openapi::Spec;

pub const TOKEN: &str = "EAAG-test-token";
pub const PHONE_ID: &str = "106540352242922";
pub const WABA_ID: &str = "419561257915477";
pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "verify-me-please";

/// The document, parsed once for all tests (it is a megabyte of YAML).
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("whatsapp/business-messaging-api_v23.0.yaml"))
}

/// One message supportd sent (`POST /{phone}/messages`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub to: String,
    /// "text", "interactive", "image", "document", "template".
    pub kind: String,
    pub body: Value,
    pub id: String,
}

impl Sent {
    /// The text a buyer reads: a text body, an interactive body, a caption, or a template name.
    pub fn text(&self) -> String {
        let b = &self.body;
        [
            &b["text"]["body"],
            &b["interactive"]["body"]["text"],
            &b["image"]["caption"],
            &b["document"]["caption"],
            &b["template"]["name"],
        ]
        .iter()
        .find_map(|v| v.as_str())
        .unwrap_or("")
        .to_owned()
    }

    /// Button or list row titles.
    pub fn choices(&self) -> Vec<String> {
        let a = &self.body["interactive"]["action"];
        let buttons = a["buttons"].as_array().into_iter().flatten().filter_map(|b| b["reply"]["title"].as_str());
        let rows = a["sections"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["rows"].as_array().into_iter().flatten())
            .filter_map(|r| r["title"].as_str());
        buttons.chain(rows).map(str::to_owned).collect()
    }
}

#[derive(Default)]
struct Inner {
    base: Mutex<String>,
    sent: Mutex<Vec<Sent>>,
    uploads: Mutex<Vec<(String, String)>>,
    media: Mutex<HashMap<String, (Vec<u8>, String)>>,
    /// (HTTP status, Meta error code) for the next sends.
    faults: Mutex<VecDeque<(u16, i64)>>,
    violations: Mutex<Vec<String>>,
    calls: Mutex<Vec<String>>,
    next: AtomicI64,
}

#[derive(Clone)]
pub struct FakeWhatsApp {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

fn meta_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": "OAuthException", "code": code}}))).into_response()
}

impl FakeWhatsApp {
    pub async fn start() -> Self {
        let _ = spec();
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let (addr, _task) = super::serve(app).await;
        *inner.base.lock().expect("lock") = format!("http://{addr}");
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A buyer's file the webhook can refer to by `media_id`.
    pub fn add_media(&self, media_id: &str, bytes: Vec<u8>, mime: &str) {
        self.inner.media.lock().expect("lock").insert(media_id.to_owned(), (bytes, mime.to_owned()));
    }

    /// The next sends fail with these (HTTP status, Meta code) pairs, in order.
    pub fn fault(&self, faults: Vec<(u16, i64)>) {
        *self.inner.faults.lock().expect("lock") = faults.into();
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.inner.sent.lock().expect("lock").clone()
    }

    pub fn sent_to(&self, to: &str) -> Vec<Sent> {
        self.sent().into_iter().filter(|s| s.to == to).collect()
    }

    /// Files uploaded: (file name, MIME type).
    pub fn uploads(&self) -> Vec<(String, String)> {
        self.inner.uploads.lock().expect("lock").clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().expect("lock").clone()
    }

    pub fn calls(&self, what: &str) -> usize {
        self.inner.calls.lock().expect("lock").iter().filter(|c| c.as_str() == what).count()
    }

    /// Waits until `to` has received `n` messages.
    pub async fn wait_sent(&self, to: &str, n: usize) -> Vec<Sent> {
        for _ in 0..400 {
            let got = self.sent_to(to);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{to} got {:?}, expected {n} messages; violations {:?}", self.sent_to(to), self.violations());
    }

    /// A webhook payload around one `messages` change, checked against the document. Its
    /// `WebhookPayload` schema cannot be used whole: `IncomingMessage` refers to the outbound
    /// `TextMessage`, `ImageMessage`… (one name for two shapes in the merged document), so even
    /// the document's own examples fail it. The sound parts are validated by their schemas
    /// (`Metadata`, `ContactProfile`, `Statuses`), and each message must use only keys the
    /// document's example of the same type uses.
    fn payload(value: Value) -> Value {
        let p = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]});
        let v = &p["entry"][0]["changes"][0]["value"];
        let mut problems = spec().check_schema("Metadata", &v["metadata"]);
        for c in v["contacts"].as_array().into_iter().flatten() {
            problems.extend(spec().check_schema("ContactProfile", c));
        }
        for s in v["statuses"].as_array().into_iter().flatten() {
            problems.extend(spec().check_schema("Statuses", s));
        }
        for m in v["messages"].as_array().into_iter().flatten() {
            let examples: Vec<Value> = spec()
                .request_examples("post", "/whatsapp/webhooks")
                .into_iter()
                .map(|e| e["entry"][0]["changes"][0]["value"]["messages"][0].clone())
                .filter(|e| {
                    e["type"] == m["type"]
                        && (m["type"] != "interactive" || e["interactive"]["type"] == m["interactive"]["type"])
                })
                .collect();
            assert!(!examples.is_empty(), "the document has no example of a {} message", m["type"]);
            if examples.iter().all(|e| !super::openapi::keys_within(m, e, "").is_empty()) {
                problems.extend(super::openapi::keys_within(m, &examples[0], "message"));
            }
        }
        assert!(problems.is_empty(), "the test's webhook payload is not per the document: {problems:?}");
        p
    }

    fn incoming(from: &str, message: Value) -> Value {
        Self::payload(json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "79000000000", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": "Анна К."}, "wa_id": from}],
            "messages": [message],
        }))
    }

    pub fn text_message(from: &str, id: &str, text: &str) -> Value {
        Self::incoming(
            from,
            json!({"from": from, "id": id, "timestamp": "1795000000", "type": "text", "text": {"body": text}}),
        )
    }

    pub fn image_message(from: &str, id: &str, media_id: &str, caption: Option<&str>) -> Value {
        let mut image = json!({"id": media_id, "mime_type": "image/jpeg", "sha256": "x"});
        if let Some(c) = caption {
            image["caption"] = json!(c);
        }
        Self::incoming(
            from,
            json!({"from": from, "id": id, "timestamp": "1795000000", "type": "image", "image": image}),
        )
    }

    pub fn list_reply(from: &str, id: &str, title: &str) -> Value {
        Self::incoming(
            from,
            json!({"from": from, "id": id, "timestamp": "1795000000", "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": title, "title": title}}}),
        )
    }

    pub fn status(message_id: &str, recipient: &str, status: &str) -> Value {
        let mut s = json!({"id": message_id, "status": status, "timestamp": "1795000100", "recipient_id": recipient});
        if status == "failed" {
            s["errors"] =
                json!([{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable"}]);
        }
        Self::payload(json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "79000000000", "phone_number_id": PHONE_ID},
            "statuses": [s],
        }))
    }
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_owned(), v.to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let segs: Vec<String> = uri.path().trim_matches('/').split('/').map(str::to_owned).collect();
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return meta_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token");
    }
    let violation = |v: String| inner.violations.lock().expect("lock").push(v);
    if segs.first().map(String::as_str) == Some("media-download") {
        let id = segs.get(1).cloned().unwrap_or_default();
        return match inner.media.lock().expect("lock").get(&id) {
            Some((bytes, mime)) => ([(axum::http::header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if segs.first().map(String::as_str) != Some("v23.0") {
        violation(format!("{method} {}: not Graph API v23.0", uri.path()));
        return meta_error(StatusCode::BAD_REQUEST, 100, "Unknown path components");
    }
    let query = query_pairs(&uri);
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let m = method.as_str().to_ascii_lowercase();
    let rest: Vec<&str> = segs[1..].iter().map(String::as_str).collect();
    let is_media = |id: &str| inner.media.lock().expect("lock").contains_key(id);
    let (template, what) = match (m.as_str(), rest.as_slice()) {
        ("get", [p]) if *p == PHONE_ID => ("/{Version}/{Phone-Number-ID}", "phone"),
        ("post", [p, "messages"]) if *p == PHONE_ID => ("/{Version}/{Phone-Number-ID}/messages", "send"),
        ("post", [p, "media"]) if *p == PHONE_ID => ("/{Version}/{Phone-Number-ID}/media", "upload"),
        ("get", [w, "message_templates"]) if *w == WABA_ID => ("/{Version}/{WABA-ID}/message_templates", "templates"),
        ("get", [id]) if is_media(id) => ("/{Version}/{Media-ID}", "media"),
        _ => {
            violation(format!("{method} {}: no such operation for these ids", uri.path()));
            return meta_error(StatusCode::NOT_FOUND, 100, "Unsupported request");
        }
    };
    inner.calls.lock().expect("lock").push(what.to_owned());
    let decoded: Option<Value> = match content_type.as_deref() {
        Some(ct) if ct.starts_with("application/json") => match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => {
                violation(format!("{method} {template}: not JSON: {e}"));
                return meta_error(StatusCode::BAD_REQUEST, 100, "Invalid JSON");
            }
        },
        Some(ct) if ct.starts_with("multipart/form-data") => Some(super::form_fields(ct, &body)),
        _ => None,
    };
    for p in spec().check(&m, template, &query, content_type.as_deref(), decoded.as_ref()) {
        violation(p);
    }
    let base = inner.base.lock().expect("lock").clone();
    match what {
        "phone" => {
            axum::Json(json!({"id": PHONE_ID, "display_phone_number": "+7 900 000-00-00", "verified_name": "Ладья"}))
                .into_response()
        }
        "templates" => axum::Json(json!({"data": [
            {"name": "order_status", "language": "ru", "status": "APPROVED", "category": "UTILITY", "id": "1",
             "components": [{"type": "BODY", "text": "Заказ {{1}}: {{2}}."}]},
            {"name": "promo_spring", "language": "ru", "status": "REJECTED", "category": "MARKETING", "id": "2",
             "components": [{"type": "BODY", "text": "Скидки!"}]}],
            "paging": {"cursors": {"before": "a", "after": "b"}}}))
        .into_response(),
        "media" => {
            let id = rest[0].to_owned();
            let (len, mime) =
                inner.media.lock().expect("lock").get(&id).map(|(b, m)| (b.len(), m.clone())).unwrap_or_default();
            axum::Json(json!({"messaging_product": "whatsapp", "url": format!("{base}/media-download/{id}"),
                "mime_type": mime, "sha256": "x", "file_size": len.to_string(), "id": id}))
            .into_response()
        }
        "upload" => {
            let fields = decoded.unwrap_or_default();
            let name = fields["file.filename"].as_str().unwrap_or("").to_owned();
            if fields["messaging_product"] != "whatsapp" || name.is_empty() {
                violation(format!("upload without messaging_product or a file: {fields}"));
            }
            inner.uploads.lock().expect("lock").push((name, fields["type"].as_str().unwrap_or("").to_owned()));
            let id = inner.next.fetch_add(1, Ordering::SeqCst) + 9000;
            axum::Json(json!({"id": id.to_string()})).into_response()
        }
        _ => {
            if let Some((status, code)) = inner.faults.lock().expect("lock").pop_front() {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                return meta_error(status, code, "scripted failure");
            }
            let b = decoded.unwrap_or_default();
            let id = format!("wamid.out.{}", inner.next.fetch_add(1, Ordering::SeqCst) + 1);
            let to = b["to"].as_str().unwrap_or("").to_owned();
            inner.sent.lock().expect("lock").push(Sent {
                to: to.clone(),
                kind: b["type"].as_str().unwrap_or("").to_owned(),
                body: b.clone(),
                id: id.clone(),
            });
            axum::Json(json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": id}]}))
                .into_response()
        }
    }
}
