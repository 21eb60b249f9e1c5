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

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{arg, percentile, rss_kb};
use serde_json::json;

#[tokio::main]
async fn main() {
    let (n, concurrency, sessions) = (arg("--messages", 5000), arg("--concurrency", 32), arg("--sessions", 1000));
    let rate = arg("--rate", 0);
    let json_out = std::env::args().any(|a| a == "--json");
    let (sink, api) = common::start_sink().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    common::init_demo(&data);
    let (mut child, base) = common::serve(&data, &api, "127.0.0.1:0", &[]);
    let secret = common::webhook_secret(&sink).await;
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
                let update = common::update(i + 1, chat, "где мой заказ 4102938475");
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
    while sink.first_sends().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_s = started.elapsed().as_secs_f64();
    let mut e2e: Vec<f64> = {
        let sent = sink.first_sends();
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
