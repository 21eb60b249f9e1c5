//! The VK channel against a fake VK API built from VK's JSON schema: the Callback API
//! (confirmation, secret, stored before `ok`, redeliveries), replies with `random_id` and inline
//! keyboards, photos in, Bots Long Poll, error classes, and a SIGKILL in the middle of a send.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::config::Secret;
use supportd::paths::Paths;
use supportd::store::Db;

use crate::fakes::vk::{CONFIRMATION, FakeVk, Fault, GROUP, SECRET, TOKEN};
use crate::harness::{Server, TestApp, error_code, eventually, eventually_blocking, temp_data_dir, tick};

const BUYER: i64 = 501_234;

fn demo_shop(paths: &Paths) {
    let db = Db::open(&paths.db(), 1, 1).expect("open");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let report = supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", now);
    assert!(report.errors.is_empty());
    db.with_conn(|c| {
        supportd::marketplace::demo::load(c, now).map_err(|e| supportd::store::StoreError::Conflict(e.to_string()))
    })
    .expect("demo orders");
}

async fn app_with(vk: &FakeVk, mode: &str) -> TestApp {
    let (url, mode) = (vk.url(), mode.to_owned());
    TestApp::spawn_prepared(demo_shop, move |c| {
        c.vk.api_url = url;
        c.vk.token = Secret::new(TOKEN);
        c.vk.group_id = GROUP;
        c.vk.confirmation = CONFIRMATION.into();
        c.vk.secret = Secret::new(SECRET);
        c.vk.mode = supportd::config::VkMode::parse(&mode).expect("a vk mode");
        c.engine.answers = supportd::config::AnswerMode::Extractive;
    })
    .await
}

async fn callback(app: &TestApp, event: &Value) -> reqwest::Response {
    app.client.post(app.url("/vk/callback")).json(event).send().await.expect("post")
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.db().query_row(sql, [], |r| r.get(0)).expect("count")
}

#[tokio::test]
async fn the_callback_api_confirms_checks_the_secret_and_stores_before_ok() {
    let vk = FakeVk::start().await;
    let app = app_with(&vk, "callback").await;
    let resp = callback(&app, &json!({"type": "confirmation", "group_id": GROUP})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.expect("text"), CONFIRMATION);
    let other = callback(&app, &json!({"type": "confirmation", "group_id": 1})).await;
    assert_eq!(error_code(other, StatusCode::FORBIDDEN).await, "wrong_group");

    let question = FakeVk::message_new("ev-1", 101, BUYER, "как вернуть товар на вб", json!([]), Some("wrong"));
    assert_eq!(error_code(callback(&app, &question).await, StatusCode::FORBIDDEN).await, "invalid_secret");
    let unsigned = FakeVk::message_new("ev-1", 101, BUYER, "как вернуть товар на вб", json!([]), None);
    assert_eq!(callback(&app, &unsigned).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox"), 0, "nothing stored from refused events");

    // VK repeats an event it got no `ok` for: stored once, answered once, `ok` each time.
    let event = FakeVk::message_new("ev-1", 101, BUYER, "как вернуть товар на вб", json!([]), Some(SECRET));
    for _ in 0..3 {
        let resp = callback(&app, &event).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.text().await.expect("text"), "ok");
        assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox WHERE channel = 'vk'"), 1, "stored before the ok");
    }
    let got = vk.wait_sent(BUYER, 1).await;
    assert!(!got[0].text.is_empty());
    app.settle().await;
    assert_eq!(vk.sent_to(BUYER).len(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE author = 'buyer'"), 1);
    // random_id is derived from the outbox row.
    let outbox_id = count(&app, "SELECT id FROM outbox WHERE channel = 'vk'");
    assert_eq!(got[0].random_id, supportd::channels::vk::random_id(outbox_id, 0));

    // Other events are acknowledged and ignored.
    let typing = json!({"type": "message_typing_state", "group_id": GROUP, "event_id": "ev-2", "v": "5.199", "secret": SECRET,
        "object": {"state": "typing", "from_id": BUYER, "to_id": -(GROUP as i64)}});
    assert_eq!(callback(&app, &typing).await.text().await.expect("text"), "ok");

    // The settings card.
    let admin = app.admin_token().await;
    let status: Value = app.get(&admin, "/api/v1/channels/vk").await.json().await.expect("json");
    assert_eq!(status["group_name"], "Ладья", "{status}");
    assert!(status["callback_url"].as_str().expect("url").ends_with("/vk/callback"));
    assert!(!status.to_string().contains(TOKEN) && !status.to_string().contains(SECRET));
    assert!(vk.violations().is_empty(), "{:?}", vk.violations());
}

#[tokio::test]
async fn ratings_use_an_inline_keyboard_and_photos_come_in() {
    let vk = FakeVk::start().await;
    let app = app_with(&vk, "callback").await;
    let send = |event: Value| {
        let app = &app;
        async move {
            let resp = callback(app, &event).await;
            assert_eq!(resp.text().await.expect("text"), "ok");
        }
    };
    send(FakeVk::message_new("e1", 1, BUYER, "где мой заказ 4102938475", json!([]), Some(SECRET))).await;
    let got = vk.wait_sent(BUYER, 1).await;
    assert!(got[0].text.contains("4102938475"), "{got:?}");
    send(FakeVk::message_new("e2", 2, BUYER, "спасибо!", json!([]), Some(SECRET))).await;
    let got = vk.wait_sent(BUYER, 2).await;
    assert_eq!(got[1].buttons, vec!["1", "2", "3", "4", "5"], "an inline keyboard");
    // Pressing a text button sends its label.
    send(FakeVk::message_new("e3", 3, BUYER, "5", json!([]), Some(SECRET))).await;
    let got = vk.wait_sent(BUYER, 3).await;
    assert!(got[2].text.contains("Спасибо за оценку"), "{got:?}");
    assert_eq!(count(&app, "SELECT csat FROM conversations WHERE csat IS NOT NULL"), 5);

    let url = vk.add_file("p1.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9]);
    send(FakeVk::message_new("e4", 4, BUYER, "пришла с дыркой", FakeVk::photo(&url), Some(SECRET))).await;
    let _ = vk.wait_sent(BUYER, 4).await;
    let stored: String = app
        .db()
        .query_row("SELECT attachments FROM messages WHERE author = 'buyer' AND attachments <> '[]'", [], |r| r.get(0))
        .expect("attachment");
    let a: Value = serde_json::from_str(&stored).expect("json");
    let path = a[0]["path"].as_str().unwrap_or_else(|| panic!("not stored: {a}"));
    assert!(path.starts_with("files/vk/"));
    assert_eq!(std::fs::read(app.paths.data_dir.join(path)).expect("file"), vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9]);
    assert!(vk.violations().is_empty(), "{:?}", vk.violations());
}

#[tokio::test]
async fn long_poll_delivers_and_errors_are_retried_or_given_up() {
    let vk = FakeVk::start().await;
    let app = app_with(&vk, "longpoll").await;
    let ticker = tick(app.clock.clone());
    eventually(10, "the long poll server fetched", async || vk.long_poll_connected().then_some(())).await;
    // Too many requests per second, then internal: retried with the same random_id, sent once.
    vk.fault(vec![Fault::Error(6), Fault::Error(10)]);
    vk.push(FakeVk::message_new("lp1", 11, BUYER, "как вернуть товар на вб", json!([]), None));
    let got = vk.wait_sent(BUYER, 1).await;
    assert_eq!(got.len(), 1);
    let attempts = vk.attempts();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts.iter().all(|r| *r == attempts[0]), "one random_id for every try: {attempts:?}");
    // The user denied messages from the community: given up, shown as failed.
    vk.fault(vec![Fault::Error(901)]);
    vk.push(FakeVk::message_new("lp2", 12, BUYER + 1, "как вернуть товар на вб", json!([]), None));
    eventually(10, "the send given up", async || {
        (count(&app, "SELECT COUNT(*) FROM outbox WHERE channel = 'vk' AND status = 'failed'") == 1).then_some(())
    })
    .await;
    // The position is kept: a restart would not read the events again.
    let ts: String =
        app.db().query_row("SELECT value FROM settings WHERE key = 'vk.longpoll_ts'", [], |r| r.get(0)).expect("ts");
    assert_eq!(ts, "\"3\"");
    ticker.abort();
    assert!(vk.violations().is_empty(), "{:?}", vk.violations());
}

#[test]
fn a_sigkill_in_the_middle_of_a_send_loses_and_repeats_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let vk = rt.block_on(FakeVk::start());
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init", "--demo"], None).status.success());
    let url = vk.url();
    let group = GROUP.to_string();
    let env = [
        ("SUPPORTD_VK_API_URL", url.as_str()),
        ("SUPPORTD_VK_TOKEN", TOKEN),
        ("SUPPORTD_VK_GROUP_ID", group.as_str()),
        ("SUPPORTD_VK_CONFIRMATION", CONFIRMATION),
        ("SUPPORTD_VK_SECRET", SECRET),
        ("SUPPORTD_ENGINE_ANSWERS", "extractive"),
    ];
    // VK takes the first send and answers late: the process dies after VK delivered it and
    // before the outbox row says so.
    vk.fault(vec![Fault::Slow(Duration::from_secs(30))]);
    let server = Server::start_env(&data, &env);
    let client = reqwest::Client::new();
    let post = |server: &Server, ev: Value| {
        let req = client.post(server.url("/vk/callback")).json(&ev);
        rt.block_on(async move { req.send().await.expect("post").text().await.expect("text") })
    };
    let ev = FakeVk::message_new("k1", 21, BUYER, "где мой заказ 4102938475", json!([]), Some(SECRET));
    assert_eq!(post(&server, ev), "ok");
    let _ = rt.block_on(vk.wait_sent(BUYER, 1));
    server.kill();
    // The row was left `sending`; the next start sends it again with the same random_id.
    let server = Server::start_env(&data, &env);
    let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    eventually_blocking(10, "the reply sent after the restart", || {
        let sent: i64 =
            db.query_row("SELECT COUNT(*) FROM outbox WHERE status = 'sent'", [], |r| r.get(0)).unwrap_or(0);
        (sent == 1).then_some(())
    });
    let attempts = vk.attempts();
    assert_eq!(attempts.len(), 2, "sent again after the crash: {attempts:?}");
    assert_eq!(attempts[0], attempts[1], "with the same random_id");
    assert_eq!(vk.sent_to(BUYER).len(), 1, "so the buyer got it once");
    assert!(vk.violations().is_empty(), "{:?}", vk.violations());
    drop(server);
}
