//! A fake VK API (5.199) on loopback, built from VK's official JSON schema
//! (`../shared/specs/vk/*.json`, read at test time): every `POST /method/<name>` supportd makes
//! is checked against the method's parameter list in `messages_methods.json` /
//! `groups_methods.json` — each parameter known, of its type, within its enum and bounds, the
//! required ones present; `keyboard` against `messages_keyboard` — and what does not match is
//! recorded as a violation (the tests assert none). Errors come as VK sends them: HTTP 200 with
//! `{"error": {"error_code", "error_msg"}}`, the message from `errors.json`. `messages.send`
//! keeps VK's promise about `random_id`: a repeated id is not sent again.
//!
//! The schema is draft-03 flavoured in places (`"required": true` inside a property) and
//! refers to documents that are not in `shared/specs` (`../photos/objects.json`, …): the first
//! become `required` lists, the second accept anything.
//!
//! Also: Bots Long Poll (`groups.getLongPollServer`, then `GET /longpoll?act=a_check`), and
//! the buyers' photos at `GET /files/<name>`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub const TOKEN: &str = "vk1.a.test-community-token";
pub const GROUP: u64 = 229_000_001;
pub const CONFIRMATION: &str = "a1b2c3d4";
pub const SECRET: &str = "s3cr3t-callback-key";

/// The schema, normalized once.
pub struct Schema {
    methods: HashMap<String, Value>,
    definitions: Value,
    errors: HashMap<i64, String>,
}

fn load(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/vk").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `"required": true` in a property → the parent's `required` list; refs into the loaded
/// documents → local; refs elsewhere → `{}`.
fn normalize(v: &mut Value, known: &std::collections::HashSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.rsplit('/').next().unwrap_or("").to_owned();
                if known.contains(&name) {
                    map.insert("$ref".into(), json!(format!("#/definitions/{name}")));
                } else {
                    map.clear();
                    return;
                }
            }
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                let mut required = Vec::new();
                for (k, p) in props.iter_mut() {
                    if let Value::Object(pm) = p
                        && pm.remove("required") == Some(Value::Bool(true))
                    {
                        required.push(json!(k));
                    }
                }
                if !required.is_empty() {
                    map.insert("required".into(), Value::Array(required));
                }
            }
            if map.get("required").is_some_and(Value::is_boolean) {
                map.remove("required");
            }
            for (_, child) in map.iter_mut() {
                normalize(child, known);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| normalize(i, known)),
        _ => {}
    }
}

pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut definitions = serde_json::Map::new();
        for file in ["messages_objects.json", "base_objects.json", "callback_objects.json"] {
            if let Value::Object(d) = load(file)["definitions"].clone() {
                definitions.extend(d);
            }
        }
        let known: std::collections::HashSet<String> = definitions.keys().cloned().collect();
        let mut definitions = Value::Object(definitions);
        normalize(&mut definitions, &known);
        let mut methods = HashMap::new();
        for file in ["messages_methods.json", "groups_methods.json"] {
            for m in load(file)["methods"].as_array().into_iter().flatten() {
                methods.insert(m["name"].as_str().unwrap_or("").to_owned(), m.clone());
            }
        }
        let errors = load("errors.json")["errors"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, e)| Some((e["code"].as_i64()?, e["description"].as_str()?.to_owned())))
            .collect();
        Schema { methods, definitions, errors }
    })
}

impl Schema {
    fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut root = schema.clone();
        let known: std::collections::HashSet<String> =
            self.definitions.as_object().map(|d| d.keys().cloned().collect()).unwrap_or_default();
        normalize(&mut root, &known);
        if let Value::Object(m) = &mut root {
            m.insert("$schema".into(), json!("http://json-schema.org/draft-07/schema#"));
            m.insert("definitions".into(), self.definitions.clone());
        }
        match jsonschema::validator_for(&root) {
            Ok(v) => v.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect(),
            Err(e) => vec![format!("the schema does not compile: {e}")],
        }
    }

    /// Everything wrong with a call of `method` with `params` (form fields).
    pub fn check(&self, method: &str, params: &HashMap<String, String>) -> Vec<String> {
        let Some(def) = self.methods.get(method) else { return vec![format!("{method} is not a VK method")] };
        let mut problems = Vec::new();
        let declared = def["parameters"].as_array().cloned().unwrap_or_default();
        for (name, raw) in params {
            if name == "access_token" || name == "v" {
                continue;
            }
            let Some(p) = declared.iter().find(|p| p["name"] == name.as_str()) else {
                problems.push(format!("{method}: parameter {name:?} is not declared"));
                continue;
            };
            let value = match p["type"].as_str() {
                Some("integer") => match raw.parse::<i64>() {
                    Ok(n) => json!(n),
                    Err(_) => {
                        problems.push(format!("{method}: {name}={raw:?} is not an integer"));
                        continue;
                    }
                },
                Some("number") => raw.parse::<f64>().map(|n| json!(n)).unwrap_or(json!(raw)),
                Some("boolean") => json!(matches!(raw.as_str(), "1" | "true")),
                Some("array") => json!(
                    raw.split(',').map(|s| s.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(s))).collect::<Vec<_>>()
                ),
                _ => json!(raw),
            };
            let mut schema = p.clone();
            if let Value::Object(m) = &mut schema {
                for k in ["name", "description", "required", "entity", "$ref"] {
                    m.remove(k);
                }
            }
            problems.extend(self.validate(&schema, &value).into_iter().map(|e| format!("{method}: {name}: {e}")));
            // A JSON-encoded parameter (`keyboard`) against its object's definition.
            if let Some(r) = p["$ref"].as_str() {
                match serde_json::from_str::<Value>(raw) {
                    Ok(decoded) => {
                        let def = json!({"$ref": r});
                        problems.extend(
                            self.validate(&def, &decoded).into_iter().map(|e| format!("{method}: {name}: {e}")),
                        );
                    }
                    Err(e) => problems.push(format!("{method}: {name} is not JSON: {e}")),
                }
            }
        }
        for p in declared.iter().filter(|p| p["required"] == true) {
            let name = p["name"].as_str().unwrap_or("");
            if !params.contains_key(name) {
                problems.push(format!("{method}: required parameter {name:?} missing"));
            }
        }
        if method == "messages.send" {
            // "Unique identifier to avoid resending the message": VK refuses sends without it.
            if !params.contains_key("random_id") {
                problems.push("messages.send without random_id".into());
            }
            if !params.contains_key("message") && !params.contains_key("attachment") {
                problems.push("messages.send needs message or attachment".into());
            }
        }
        problems
    }

    /// Checks an event the tests post (against `callback_base` and, for `message_new`, the
    /// message against `messages_message`).
    pub fn check_event(&self, ev: &Value) -> Vec<String> {
        let mut problems = self.validate(&json!({"$ref": "#/definitions/callback_base"}), ev);
        if ev["type"] == "message_new" {
            problems
                .extend(self.validate(&json!({"$ref": "#/definitions/messages_message"}), &ev["object"]["message"]));
        }
        problems
    }

    fn error_text(&self, code: i64) -> String {
        self.errors.get(&code).cloned().unwrap_or_else(|| "Unknown error".into())
    }
}

/// One `messages.send` VK delivered (repeats of a `random_id` are not).
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub peer: i64,
    pub text: String,
    pub random_id: i64,
    /// Button labels of the keyboard.
    pub buttons: Vec<String>,
}

/// What the next `messages.send` calls get instead of success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// VK's error code.
    Error(i64),
    /// Delivered, but the answer comes after this long (a crash can fall in between).
    Slow(Duration),
}

#[derive(Default)]
struct Inner {
    base: Mutex<String>,
    sent: Mutex<Vec<Sent>>,
    by_random: Mutex<HashMap<i64, i64>>,
    attempts: Mutex<Vec<i64>>,
    faults: Mutex<VecDeque<Fault>>,
    violations: Mutex<Vec<String>>,
    events: Mutex<Vec<Value>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    activity: Mutex<Vec<i64>>,
    long_poll: AtomicI64,
    next: AtomicI64,
}

#[derive(Clone)]
pub struct FakeVk {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeVk {
    pub async fn start() -> Self {
        let _ = schema();
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/method/{name}", post(method))
            .route("/longpoll", get(longpoll))
            .route("/files/{name}", get(file))
            .with_state(inner.clone());
        let (addr, _task) = super::serve(app).await;
        *inner.base.lock().expect("lock") = format!("http://{addr}");
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn fault(&self, faults: Vec<Fault>) {
        *self.inner.faults.lock().expect("lock") = faults.into();
    }

    pub fn add_file(&self, name: &str, bytes: Vec<u8>) -> String {
        self.inner.files.lock().expect("lock").insert(name.to_owned(), bytes);
        format!("{}/files/{name}", self.url())
    }

    /// Queues an event for Bots Long Poll.
    pub fn push(&self, ev: Value) {
        self.inner.events.lock().expect("lock").push(ev);
    }

    pub fn sent_to(&self, peer: i64) -> Vec<Sent> {
        self.inner.sent.lock().expect("lock").iter().filter(|s| s.peer == peer).cloned().collect()
    }

    /// Every `random_id` a `messages.send` carried, repeats included.
    pub fn attempts(&self) -> Vec<i64> {
        self.inner.attempts.lock().expect("lock").clone()
    }

    /// Whether supportd has asked for the Long Poll server (events pushed after it are read).
    pub fn long_poll_connected(&self) -> bool {
        self.inner.long_poll.load(Ordering::SeqCst) > 0
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner.violations.lock().expect("lock").clone()
    }

    pub async fn wait_sent(&self, peer: i64, n: usize) -> Vec<Sent> {
        for _ in 0..400 {
            let got = self.sent_to(peer);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{peer} got {:?}, expected {n}; violations {:?}", self.sent_to(peer), self.violations());
    }

    /// A `message_new` event (Callback API and Long Poll share it), checked against the schema.
    pub fn message_new(
        event_id: &str,
        id: i64,
        from: i64,
        text: &str,
        attachments: Value,
        secret: Option<&str>,
    ) -> Value {
        let mut ev = json!({"type": "message_new", "event_id": event_id, "v": "5.199", "group_id": GROUP,
            "object": {"message": {"id": id, "date": 1_795_000_000, "from_id": from, "peer_id": from, "out": 0,
                "text": text, "conversation_message_id": id, "version": 1, "attachments": attachments,
                "fwd_messages": [], "important": false, "is_hidden": false},
                "client_info": {"button_actions": ["text", "callback"], "keyboard": true, "inline_keyboard": true,
                    "carousel": true, "lang_id": 0}}});
        if let Some(s) = secret {
            ev["secret"] = json!(s);
        }
        let problems = schema().check_event(&ev);
        assert!(problems.is_empty(), "the test's event is not per VK's schema: {problems:?}");
        ev
    }

    pub fn photo(url: &str) -> Value {
        json!([{"type": "photo", "photo": {"id": 1, "owner_id": 1, "album_id": -3, "date": 1_795_000_000,
            "sizes": [{"type": "s", "url": format!("{url}?s"), "width": 75, "height": 56},
                      {"type": "x", "url": url, "width": 604, "height": 453}]}}])
    }
}

fn vk_ok(v: Value) -> Response {
    axum::Json(json!({"response": v})).into_response()
}

fn vk_error(code: i64) -> Response {
    axum::Json(json!({"error": {"error_code": code, "error_msg": schema().error_text(code), "request_params": []}}))
        .into_response()
}

async fn method(State(inner): State<Arc<Inner>>, Path(name): Path<String>, body: Bytes) -> Response {
    let params: HashMap<String, String> = url_form(&body);
    if params.get("access_token").map(String::as_str) != Some(TOKEN) {
        return vk_error(5);
    }
    if params.get("v").map(String::as_str) != Some("5.199") {
        inner.violations.lock().expect("lock").push(format!("{name}: v={:?}, not 5.199", params.get("v")));
    }
    let problems = schema().check(&name, &params);
    inner.violations.lock().expect("lock").extend(problems);
    let base = inner.base.lock().expect("lock").clone();
    match name.as_str() {
        "groups.getById" => vk_ok(
            json!({"groups": [{"id": GROUP, "name": "Ладья", "screen_name": "ladya", "type": "group"}], "profiles": []}),
        ),
        "groups.getLongPollServer" => {
            inner.long_poll.fetch_add(1, Ordering::SeqCst);
            let ts = inner.events.lock().expect("lock").len() + 1;
            vk_ok(json!({"key": "lp-key", "server": format!("{base}/longpoll"), "ts": ts.to_string()}))
        }
        "messages.setActivity" => {
            inner.activity.lock().expect("lock").push(params.get("peer_id").and_then(|p| p.parse().ok()).unwrap_or(0));
            vk_ok(json!(1))
        }
        "messages.send" => {
            let random_id: i64 = params.get("random_id").and_then(|r| r.parse().ok()).unwrap_or(0);
            inner.attempts.lock().expect("lock").push(random_id);
            let fault = inner.faults.lock().expect("lock").pop_front();
            if let Some(Fault::Error(code)) = fault {
                return vk_error(code);
            }
            // VK's idempotency: a random_id seen before is not sent again.
            let known = inner.by_random.lock().expect("lock").get(&random_id).copied();
            let id = match known {
                Some(id) => id,
                None => {
                    let id = inner.next.fetch_add(1, Ordering::SeqCst) + 1;
                    inner.by_random.lock().expect("lock").insert(random_id, id);
                    let buttons = params
                        .get("keyboard")
                        .and_then(|k| serde_json::from_str::<Value>(k).ok())
                        .map(|k| {
                            k["buttons"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                                .filter_map(|b| b["action"]["label"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    inner.sent.lock().expect("lock").push(Sent {
                        peer: params.get("peer_id").and_then(|p| p.parse().ok()).unwrap_or(0),
                        text: params.get("message").cloned().unwrap_or_default(),
                        random_id,
                        buttons,
                    });
                    id
                }
            };
            if let Some(Fault::Slow(d)) = fault {
                tokio::time::sleep(d).await;
            }
            vk_ok(json!(id))
        }
        other => {
            inner.violations.lock().expect("lock").push(format!("{other} is not faked"));
            vk_error(3)
        }
    }
}

#[derive(serde::Deserialize)]
struct Check {
    act: String,
    key: String,
    ts: String,
    #[serde(default)]
    wait: u64,
}

async fn longpoll(State(inner): State<Arc<Inner>>, Query(q): Query<Check>) -> Response {
    if q.act != "a_check" || q.key != "lp-key" {
        return axum::Json(json!({"failed": 2})).into_response();
    }
    let from: usize = q.ts.parse().unwrap_or(1).max(1);
    for _ in 0..(q.wait.min(1) * 20).max(1) {
        let events = inner.events.lock().expect("lock").clone();
        if events.len() >= from {
            let updates: Vec<Value> = events[from - 1..].to_vec();
            return axum::Json(json!({"ts": (events.len() + 1).to_string(), "updates": updates})).into_response();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    axum::Json(json!({"ts": from.to_string(), "updates": []})).into_response()
}

async fn file(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    match inner.files.lock().expect("lock").get(&name) {
        Some(b) => b.clone().into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// An `application/x-www-form-urlencoded` body.
fn url_form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}
