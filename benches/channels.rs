//! Channel throughput and memory, against the real `supportd serve` process:
//!
//! 1. Telegram webhook ingest: N updates posted to `/telegram/webhook` (C in flight), each a
//!    question answered from a template ("где мой заказ 4102938475" with the demo orders), and
//!    the time from posting each update to the `sendMessage` call reaching a Bot API sink on
//!    loopback (the send rate limit raised so Telegram's 30/s does not hide the engine's speed).
//! 2. S widget WebSocket sessions held open at once: the server's resident memory.
//!
//! `cargo bench --bench channels -- [--messages N] [--rate R] [--concurrency C] [--sessions S] [--json]`
//! With `--rate R` updates are posted at R per second (a sustained load, for the latency);
//! without it, as fast as C connections allow (the capacity).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

const TOKEN: &str = "42:bench-token";

#[derive(Default)]
struct Sink {
    sent: Mutex<HashMap<i64, Instant>>,
    secret: Mutex<Option<String>>,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn bot_api(
    State(sink): State<Arc<Sink>>,
    Path((_bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let ok = |r: Value| axum::Json(json!({"ok": true, "result": r}));
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => {
            let p: Value = serde_json::from_slice(&body).unwrap_or_default();
            let chat = p["chat_id"].as_i64().unwrap_or(0);
            sink.sent.lock().expect("lock").entry(chat).or_insert_with(Instant::now);
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

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let (n, concurrency, sessions) = (arg("--messages", 5000), arg("--concurrency", 32), arg("--sessions", 1000));
    let rate = arg("--rate", 0);
    let json_out = std::env::args().any(|a| a == "--json");
    let sink = Arc::new(Sink::default());
    let app = Router::new().route("/{bot}/{method}", post(bot_api)).with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("sink") });

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_supportd");
    let init = Command::new(bin).args(["init", "--demo"]).env("SUPPORTD_DATA_DIR", &data).output().expect("init");
    assert!(init.status.success(), "init --demo failed");
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SUPPORTD_DATA_DIR", &data)
        .env("SUPPORTD_LOG", "error")
        .env("SUPPORTD_TELEGRAM_API_URL", &api)
        .env("SUPPORTD_TELEGRAM_TOKEN", TOKEN)
        .env("SUPPORTD_TELEGRAM_MODE", "webhook")
        .env("SUPPORTD_TELEGRAM_MESSAGES_PER_SECOND", "100000")
        .env("SUPPORTD_WIDGET_ALLOWED_ORIGINS", "*")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let base = {
        use std::io::{BufRead, BufReader};
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).expect("read") > 0, "supportd exited");
            if let Some(u) = line.trim().strip_prefix("supportd listening on ") {
                std::thread::spawn(move || {
                    let mut s = String::new();
                    while reader.read_line(&mut s).is_ok_and(|n| n > 0) {
                        s.clear();
                    }
                });
                break u.to_owned();
            }
        }
    };
    let secret = loop {
        if let Some(s) = sink.secret.lock().expect("lock").clone() {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let pid = child.id();
    let idle_rss = rss_kb(pid);

    // 1. Webhook ingest → template reply → sendMessage.
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let posted: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let acked = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, posted, acked, next, secret, url) = (
            client.clone(),
            posted.clone(),
            acked.clone(),
            next.clone(),
            secret.clone(),
            format!("{base}/telegram/webhook"),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                if rate > 0 {
                    tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate as f64)).into()).await;
                }
                let chat = 10_000 + i as i64;
                let update = json!({"update_id": i + 1, "message": {"message_id": i + 1, "date": 1_795_000_000,
                    "chat": {"id": chat, "type": "private", "first_name": "B"},
                    "from": {"id": chat, "is_bot": false, "first_name": "B"}, "text": "где мой заказ 4102938475"}});
                let t = Instant::now();
                posted.lock().expect("lock").insert(chat, t);
                let resp = client
                    .post(&url)
                    .header("X-Telegram-Bot-Api-Secret-Token", &secret)
                    .json(&update)
                    .send()
                    .await
                    .expect("post");
                assert!(resp.status().is_success(), "webhook answered {}", resp.status());
                acked.lock().expect("lock").push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(300);
    while sink.sent.lock().expect("lock").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_s = started.elapsed().as_secs_f64();
    let mut e2e: Vec<f64> = {
        let sent = sink.sent.lock().expect("lock");
        let posted = posted.lock().expect("lock");
        posted.iter().filter_map(|(c, t)| sent.get(c).map(|s| s.duration_since(*t).as_secs_f64() * 1000.0)).collect()
    };
    e2e.sort_by(f64::total_cmp);
    let mut ack: Vec<f64> = acked.lock().expect("lock").clone();
    ack.sort_by(f64::total_cmp);
    let busy_rss = rss_kb(pid);

    // 2. Widget sessions held open.
    let before_ws = rss_kb(pid);
    let mut sockets = Vec::with_capacity(sessions);
    let ws_base = base.replace("http://", "ws://");
    for i in 0..sessions {
        let url = format!("{ws_base}/widget/ws?visitor=bench-visitor-{i:06}");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("ws connect");
        sockets.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_ws = rss_kb(pid);
    drop(sockets);
    let _ = child.kill();
    let _ = child.wait();

    let report = json!({
        "messages": n,
        "concurrency": concurrency,
        "offered_rate_per_s": rate,
        "ingest_per_s": (n as f64 / ingest_s).round(),
        "webhook_ack_p50_ms": percentile(&ack, 0.5),
        "webhook_ack_p95_ms": percentile(&ack, 0.95),
        "answered": e2e.len(),
        "end_to_end_per_s": (e2e.len() as f64 / all_s).round(),
        "receipt_to_send_p50_ms": percentile(&e2e, 0.5),
        "receipt_to_send_p95_ms": percentile(&e2e, 0.95),
        "rss_idle_mb": idle_rss / 1024,
        "rss_after_messages_mb": busy_rss / 1024,
        "widget_sessions": sessions,
        "rss_before_sessions_mb": before_ws / 1024,
        "rss_with_sessions_mb": with_ws / 1024,
    });
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    }
}
