//! Bounded work per input, against the real `supportd serve` process: a 1 MB word and a
//! 100,000-term query to the knowledge-base search, and a 100,000-character buyer message.
//! The server's peak resident memory (`VmHWM` in /proc) must stay under the stated bounds.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Server, eventually, printed_password, run_cli, stderr, stdout, temp_data_dir};

/// Peak resident memory of a process, in MB.
fn peak_rss_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    kb / 1024
}

/// 100,000 distinct made-up words: every one is unknown to the index.
fn many_terms(n: usize) -> String {
    let letters: Vec<char> = "абвгдежзиклмнопрстуфхцчшщэюя".chars().collect();
    (0..n)
        .map(|mut i| {
            let mut w = String::from("сл");
            loop {
                w.push(letters[i % letters.len()]);
                i /= letters.len();
                if i == 0 {
                    break;
                }
            }
            w
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn huge_words_queries_and_messages_keep_memory_and_time_bounded() {
    let (_dir, data) = temp_data_dir();
    let init = run_cli(&data, &["init", "--demo"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let password = printed_password(&stdout(&init)).expect("admin password");
    let server = Server::start(&data);
    let pid = server.child.id();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let login: Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": "admin@localhost", "password": password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["token"].as_str().expect("token").to_owned();
    let base = peak_rss_mb(pid);

    // One very long unknown word (1 MB of letters in the body limit's reach, and just under it).
    let word_1mb = "щ".repeat(512 * 1024);
    let word_under = "q".repeat(900 * 1024);
    let terms = many_terms(100_000);
    for (name, query) in [("1 MB word", &word_1mb), ("900 KB word", &word_under), ("100,000 terms", &terms)] {
        for path in ["/api/v1/kb/retrieve", "/api/v1/kb/search"] {
            let started = Instant::now();
            let resp = client
                .post(server.url(path))
                .bearer_auth(&token)
                .json(&json!({"query": query}))
                .send()
                .await
                .expect("request");
            let took = started.elapsed();
            let status = resp.status();
            assert!(status.is_success() || status.is_client_error(), "{name} {path}: {status}");
            if status.is_client_error() {
                let body: Value = resp.json().await.expect("the error shape");
                assert!(body["error"]["code"].is_string(), "{body}");
            }
            assert!(took < Duration::from_secs(2), "{name} {path} took {took:?}");
        }
    }
    let after_search = peak_rss_mb(pid);
    assert!(after_search < 300, "peak RSS {after_search} MB after the long queries (started at {base} MB)");

    // A buyer message of 100,000 characters is stored and answered (or handed over).
    let long: String = "Здравствуйте где мой заказ и как вернуть товар ".repeat(2200).chars().take(100_000).collect();
    let resp = client
        .post(server.url("/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"message_id": "long-1", "customer": "buyer-long", "text": long}))
        .send()
        .await
        .expect("inbound");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    let (stored, replies) = eventually(30, "the long message processed", async || {
        let done: String =
            db.query_row("SELECT status FROM inbox WHERE external_id = 'long-1'", [], |r| r.get(0)).expect("inbox row");
        (done == "done").then(|| {
            let stored: i64 = db
                .query_row(
                    "SELECT length(body) FROM messages WHERE author = 'buyer' ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .expect("stored message");
            let replies: i64 =
                db.query_row("SELECT count(*) FROM messages WHERE author = 'bot'", [], |r| r.get(0)).expect("replies");
            (stored, replies)
        })
    })
    .await;
    assert_eq!(stored, 100_000, "the whole message is stored");
    assert_eq!(replies, 1, "the buyer got an answer or a hand-over");
    let after_message = peak_rss_mb(pid);
    assert!(after_message < 500, "peak RSS {after_message} MB after the long message");
    drop(server);
}
