//! Shared by the benchmarks: a Telegram Bot API sink on loopback that records every
//! `sendMessage`, and the real `supportd serve` process pointed at it.

#![expect(dead_code, reason = "shared by several benchmarks, each uses part of it")]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

pub const TOKEN: &str = "42:bench-token";

/// One `sendMessage` the sink answered.
#[derive(Debug, Clone)]
pub struct Sent {
    pub chat: i64,
    pub text: String,
    pub at: Instant,
    /// Wall-clock milliseconds when it was answered (to compare with the database's times).
    pub unix_ms: i64,
}

#[derive(Default)]
pub struct Sink {
    pub sent: Mutex<Vec<Sent>>,
    pub secret: Mutex<Option<String>>,
}

impl Sink {
    /// Messages sent per chat.
    pub fn per_chat(&self) -> HashMap<i64, usize> {
        let mut m = HashMap::new();
        for s in self.sent.lock().expect("lock").iter() {
            *m.entry(s.chat).or_insert(0) += 1;
        }
        m
    }

    /// The first send to each chat.
    pub fn first_sends(&self) -> HashMap<i64, Instant> {
        let mut m = HashMap::new();
        for s in self.sent.lock().expect("lock").iter() {
            m.entry(s.chat).or_insert(s.at);
        }
        m
    }
}

pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub fn unix_ms() -> i64 {
    use supportd::clock::Clock;
    supportd::clock::SystemClock.now_ms()
}

async fn bot_api(
    State(sink): State<Arc<Sink>>,
    UrlPath((_bot, method)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let ok = |r: Value| axum::Json(json!({"ok": true, "result": r}));
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => {
            let p: Value = serde_json::from_slice(&body).unwrap_or_default();
            let chat = p["chat_id"].as_i64().unwrap_or(0);
            let text = p["text"].as_str().unwrap_or_default().to_owned();
            sink.sent.lock().expect("lock").push(Sent { chat, text, at: Instant::now(), unix_ms: unix_ms() });
            ok(
                json!({"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private", "first_name": "B"}, "text": "ok"}),
            )
        }
        "setwebhook" => {
            let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
            let text = String::from_utf8_lossy(&body);
            if let Some(b) = ct.split("boundary=").nth(1) {
                for part in text.split(&format!("--{}", b.trim_matches('"'))) {
                    if part.contains("name=\"secret_token\"")
                        && let Some((_, v)) = part.split_once("\r\n\r\n")
                    {
                        *sink.secret.lock().expect("lock") = Some(v.trim_end_matches("\r\n").to_owned());
                    }
                }
            }
            ok(json!(true))
        }
        "getme" => ok(
            json!({"id": 42, "is_bot": true, "first_name": "Bench", "username": "bench_bot", "can_join_groups": false,
            "can_read_all_group_messages": false, "supports_inline_queries": false, "has_main_web_app": false}),
        ),
        _ => ok(json!(true)),
    }
}

/// Starts the sink; returns it and its base URL.
pub async fn start_sink() -> (Arc<Sink>, String) {
    let sink = Arc::new(Sink::default());
    let app = Router::new().route("/{bot}/{method}", post(bot_api)).with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("sink") });
    (sink, api)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_supportd")
}

/// `supportd init --demo` into `data`.
pub fn init_demo(data: &Path) {
    let init = Command::new(bin()).args(["init", "--demo"]).env("SUPPORTD_DATA_DIR", data).output().expect("init");
    assert!(init.status.success(), "init --demo failed");
}

/// `supportd serve` in webhook mode against the sink at `api`; returns the process and its URL.
pub fn serve(data: &Path, api: &str, listen: &str, extra: &[(&str, &str)]) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(bin())
        .args(["serve", "--listen", listen])
        .env("SUPPORTD_DATA_DIR", data)
        .env("SUPPORTD_LOG", "error")
        .env("SUPPORTD_TELEGRAM_API_URL", api)
        .env("SUPPORTD_TELEGRAM_TOKEN", TOKEN)
        .env("SUPPORTD_TELEGRAM_MODE", "webhook")
        .env("SUPPORTD_TELEGRAM_MESSAGES_PER_SECOND", "100000")
        .env("SUPPORTD_WIDGET_ALLOWED_ORIGINS", "*")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no stdout");
    };
    let mut reader = BufReader::new(out);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.wait();
            panic!("supportd exited before listening");
        }
        if let Some(u) = line.trim().strip_prefix("supportd listening on ") {
            std::thread::spawn(move || {
                let mut s = String::new();
                while reader.read_line(&mut s).is_ok_and(|n| n > 0) {
                    s.clear();
                }
            });
            return (child, u.to_owned());
        }
    }
}

/// Waits until the server has registered its webhook with the sink; returns the secret.
pub async fn webhook_secret(sink: &Sink) -> String {
    loop {
        if let Some(s) = sink.secret.lock().expect("lock").clone() {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Telegram update with one text message from chat `chat`.
pub fn update(update_id: usize, chat: i64, text: &str) -> Value {
    json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1_795_000_000,
        "chat": {"id": chat, "type": "private", "first_name": "B"},
        "from": {"id": chat, "is_bot": false, "first_name": "B"}, "text": text}})
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
