//! Crash soak: buyers keep writing through the Telegram webhook while the real `supportd serve`
//! process is killed with SIGKILL again and again and restarted on the same data directory.
//! A fake Bot API on loopback counts every `sendMessage`: each buyer (chat) asks one question
//! and must get exactly one reply. Reports replies lost, replies sent twice, and the window in
//! which a crash can repeat a send (Telegram has no idempotency key: from the Bot API's answer
//! to the outbox row being marked sent).
//!
//! `cargo bench --bench soak -- [--messages N] [--kills K] [--rate R] [--term] [--json]`
//! With `--term` each stop is a graceful SIGTERM instead of SIGKILL.
//! Updates are posted at R per second (default 100); the server is killed K times, spread over
//! the posting. Like Telegram, the poster resends an update until the webhook answers 200.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{arg, percentile};
use serde_json::json;
use tokio::sync::Mutex;

#[tokio::main]
async fn main() {
    let (n, kills, rate) = (arg("--messages", 2000), arg("--kills", 10), arg("--rate", 100).max(1));
    let json_out = std::env::args().any(|a| a == "--json");
    let term = std::env::args().any(|a| a == "--term");
    let (sink, api) = common::start_sink().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    common::init_demo(&data);
    // A fixed port, so that the poster reaches every incarnation of the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let (child, base) = common::serve(&data, &api, &listen, &[]);
    let secret = common::webhook_secret(&sink).await;
    let server = Arc::new(Mutex::new(child));
    let url = format!("{base}/telegram/webhook");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let resent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut posters = Vec::new();
    for _ in 0..16 {
        let (client, next, resent, secret, url) =
            (client.clone(), next.clone(), resent.clone(), secret.clone(), url.clone());
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                tokio::time::sleep_until((started + Duration::from_secs_f64(i as f64 / rate as f64)).into()).await;
                let update = common::update(i + 1, 10_000 + i as i64, "где мой заказ 4102938475");
                loop {
                    let r =
                        client.post(&url).header("X-Telegram-Bot-Api-Secret-Token", &secret).json(&update).send().await;
                    if r.is_ok_and(|r| r.status().is_success()) {
                        break;
                    }
                    resent.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // The killer: K SIGKILLs spread over the posting time, each followed by a restart.
    let posting = Duration::from_secs_f64(n as f64 / rate as f64);
    let killer = {
        let (server, data, api, listen) = (server.clone(), data.clone(), api.clone(), listen.clone());
        tokio::spawn(async move {
            for k in 0..kills {
                let at = started + posting.mul_f64((k as f64 + 0.5) / kills as f64);
                tokio::time::sleep_until(at.into()).await;
                let mut child = server.lock().await;
                if term {
                    let pid = child.id().to_string();
                    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
                } else {
                    let _ = child.kill();
                }
                let _ = child.wait();
                let (fresh, _) = common::serve(&data, &api, &listen, &[]);
                *child = fresh;
            }
        })
    };
    for p in posters {
        p.await.expect("poster");
    }
    killer.await.expect("killer");
    let posted_s = started.elapsed().as_secs_f64();
    // Let the last incarnation answer everything that is left.
    let deadline = Instant::now() + Duration::from_secs(120);
    while sink.per_chat().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_chat = sink.per_chat();
    let lost = n - per_chat.len();
    let duplicates: usize = per_chat.values().map(|c| c - 1).sum();
    // The window: from the Bot API's answer to the row marked sent, per message.
    let mut windows: Vec<f64> = {
        let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
        let sent = sink.sent.lock().expect("lock");
        let mut first: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for s in sent.iter() {
            first.entry(s.chat.to_string()).or_insert(s.unix_ms);
        }
        #[expect(clippy::disallowed_methods, reason = "the benchmark reads when the server marked each reply sent")]
        let mut stmt = db
            .prepare("SELECT recipient, sent_at FROM outbox WHERE channel = 'telegram' AND status = 'sent'")
            .expect("query");
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .expect("rows")
            .filter_map(Result::ok)
            .filter_map(|(chat, at)| first.get(&chat).map(|answered| (at - answered).max(0) as f64))
            .collect()
    };
    windows.sort_by(f64::total_cmp);
    {
        let mut child = server.lock().await;
        let _ = child.kill();
        let _ = child.wait();
    }
    let report = json!({
        "messages": n,
        "kills": kills,
        "signal": if term { "SIGTERM" } else { "SIGKILL" },
        "offered_rate_per_s": rate,
        "posting_s": (posted_s * 10.0).round() / 10.0,
        "webhook_retries": resent.load(Ordering::Relaxed),
        "answered": per_chat.len(),
        "lost": lost,
        "duplicates": duplicates,
        "send_to_recorded_p50_ms": percentile(&windows, 0.5),
        "send_to_recorded_p99_ms": percentile(&windows, 0.99),
        "send_to_recorded_max_ms": windows.last().copied().unwrap_or(0.0),
    });
    if json_out {
        println!("{report}");
    } else {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    }
}
