//! The WhatsApp channel against a fake Cloud API built from Meta's document: webhook
//! verification and signatures, a conversation from webhook to reply, duplicates, statuses,
//! files both ways, the 24-hour window with templates, error classes, and a SIGKILL with
//! replies queued.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::Clock;
use supportd::config::Secret;
use supportd::paths::Paths;
use supportd::store::Db;

use crate::fakes::whatsapp::{APP_SECRET, FakeWhatsApp, PHONE_ID, TOKEN, VERIFY_TOKEN, WABA_ID};
use crate::harness::{
    Server, TestApp, error_code, eventually, eventually_blocking, settle_blocking, temp_data_dir, tick,
};

const BUYER: &str = "79161112233";

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

async fn app_with(wa: &FakeWhatsApp) -> TestApp {
    let url = wa.url();
    TestApp::spawn_prepared(demo_shop, move |c| {
        c.whatsapp.api_url = url;
        c.whatsapp.token = Secret::new(TOKEN);
        c.whatsapp.phone_number_id = PHONE_ID.into();
        c.whatsapp.business_account_id = WABA_ID.into();
        c.whatsapp.verify_token = Secret::new(VERIFY_TOKEN);
        c.whatsapp.app_secret = Secret::new(APP_SECRET);
        c.engine.answers = supportd::config::AnswerMode::Extractive;
    })
    .await
}

/// Meta's signature: HMAC-SHA256 of the raw body with the app secret, `sha256=<hex>`.
fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let hex: String = ring::hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn post(app: &TestApp, payload: &Value, secret: &str) -> reqwest::Response {
    let body = serde_json::to_vec(payload).expect("json");
    app.client
        .post(app.url("/whatsapp/webhook"))
        .header("X-Hub-Signature-256", signature(secret, &body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post")
}

async fn deliver(app: &TestApp, payload: Value) {
    assert_eq!(post(app, &payload, APP_SECRET).await.status(), StatusCode::OK);
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.db().query_row(sql, [], |r| r.get(0)).expect("count")
}

async fn last_messages(app: &TestApp, admin: &str) -> Vec<Value> {
    let list: Value = app.get(admin, "/api/v1/conversations").await.json().await.expect("json");
    let conv = list[0]["id"].as_i64().expect("conversation");
    let c: Value = app.get(admin, &format!("/api/v1/conversations/{conv}")).await.json().await.expect("json");
    c["messages"].as_array().expect("messages").clone()
}

#[tokio::test]
async fn the_webhook_is_verified_and_unsigned_posts_are_refused() {
    let wa = FakeWhatsApp::start().await;
    let app = app_with(&wa).await;
    let verify =
        |token: &str, mode: &str| {
            app.client
                .get(app.url(&format!(
                    "/whatsapp/webhook?hub.mode={mode}&hub.verify_token={token}&hub.challenge=1158201444"
                )))
                .send()
        };
    let ok = verify(VERIFY_TOKEN, "subscribe").await.expect("get");
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.headers()["content-type"].to_str().expect("type").starts_with("text/plain"));
    assert_eq!(ok.text().await.expect("text"), "1158201444");
    assert_eq!(verify("wrong", "subscribe").await.expect("get").status(), StatusCode::FORBIDDEN);
    assert_eq!(verify(VERIFY_TOKEN, "unsubscribe").await.expect("get").status(), StatusCode::FORBIDDEN);

    let message = FakeWhatsApp::text_message(BUYER, "wamid.in.1", "как вернуть товар на вб");
    let resp = post(&app, &message, "not-the-app-secret").await;
    assert_eq!(error_code(resp, StatusCode::UNAUTHORIZED).await, "invalid_signature");
    let unsigned = app.client.post(app.url("/whatsapp/webhook")).json(&message).send().await.expect("post");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox"), 0, "nothing stored from unsigned posts");
    deliver(&app, message).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox WHERE channel = 'whatsapp'"), 1);
    let got = wa.wait_sent(BUYER, 1).await;
    assert!(!got[0].text().is_empty());
    assert!(wa.violations().is_empty(), "{:?}", wa.violations());
}

#[tokio::test]
async fn a_conversation_from_webhook_to_reply_with_statuses_files_and_duplicates() {
    let wa = FakeWhatsApp::start().await;
    let app = app_with(&wa).await;
    let admin = app.admin_token().await;
    // Meta delivers the same message three times: stored once, answered once.
    let m = FakeWhatsApp::text_message(BUYER, "wamid.in.10", "где мой заказ 4102938475?");
    for _ in 0..3 {
        deliver(&app, m.clone()).await;
    }
    let got = wa.wait_sent(BUYER, 1).await;
    assert!(got[0].text().contains("4102938475"), "{:?}", got[0]);
    assert_eq!(got[0].kind, "text");
    app.settle().await;
    assert_eq!(wa.sent_to(BUYER).len(), 1, "one reply");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE author = 'buyer'"), 1);
    // The sender's number is WhatsApp's proof: the orders placed with it are linked.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers WHERE channel = 'whatsapp' AND phone = '+79161112233'"), 1);
    assert!(count(&app, "SELECT COUNT(*) FROM customer_orders") >= 2);

    // Status webhooks land on the reply's row and in the thread; a late one never goes back.
    let reply_id = got[0].id.clone();
    for s in ["sent", "delivered", "read", "delivered"] {
        deliver(&app, FakeWhatsApp::status(&reply_id, BUYER, s)).await;
    }
    let messages = last_messages(&app, &admin).await;
    let bot = messages.iter().rfind(|m| m["author"] == "bot").expect("bot reply");
    assert_eq!(bot["delivery"], "read", "{bot}");

    // Thanks → a 1–5 rating as an interactive list (five choices are more than 3 buttons).
    deliver(&app, FakeWhatsApp::text_message(BUYER, "wamid.in.11", "спасибо!")).await;
    let got = wa.wait_sent(BUYER, 2).await;
    assert_eq!(got[1].kind, "interactive");
    assert_eq!(got[1].body["interactive"]["type"], "list");
    assert_eq!(got[1].choices(), vec!["1", "2", "3", "4", "5"]);
    deliver(&app, FakeWhatsApp::list_reply(BUYER, "wamid.in.12", "5")).await;
    let got = wa.wait_sent(BUYER, 3).await;
    assert!(got[2].text().contains("Спасибо за оценку"), "{:?}", got[2]);
    assert_eq!(count(&app, "SELECT csat FROM conversations WHERE csat IS NOT NULL"), 5);

    // A photo in: fetched through the media endpoints; one over the limit is noted.
    wa.add_media("media-1", vec![0xFF, 0xD8, 0xFF, 0xE0, 7, 7, 7, 7], "image/jpeg");
    wa.add_media("media-big", vec![1u8; 11 * 1024 * 1024], "image/jpeg");
    deliver(&app, FakeWhatsApp::image_message(BUYER, "wamid.in.13", "media-1", Some("пришла с дыркой"))).await;
    deliver(&app, FakeWhatsApp::image_message(BUYER, "wamid.in.14", "media-big", None)).await;
    let _ = wa.wait_sent(BUYER, 5).await;
    let rows: Vec<String> = {
        let db = app.db();
        let mut stmt = db
            .prepare(
                "SELECT attachments FROM messages WHERE author = 'buyer' AND attachments <> '[]' ORDER BY inbox_id",
            )
            .expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    };
    let first: Value = serde_json::from_str(&rows[0]).expect("json");
    let path = first[0]["path"].as_str().unwrap_or_else(|| panic!("no stored path: {first}"));
    assert!(path.starts_with("files/whatsapp/"));
    assert_eq!(std::fs::read(app.paths.data_dir.join(path)).expect("file"), vec![0xFF, 0xD8, 0xFF, 0xE0, 7, 7, 7, 7]);
    // The panel opens it through the file route, as it links every attachment.
    let served = app.get(&admin, &format!("/api/v1/{path}")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes().await.expect("bytes").as_ref(), [0xFF, 0xD8, 0xFF, 0xE0, 7, 7, 7, 7]);
    let second: Value = serde_json::from_str(&rows[1]).expect("json");
    assert!(second[0]["error"].as_str().expect("error").contains("too large"), "{second}");

    // A file out: uploaded through /media, then sent as an image with its caption.
    use base64::Engine as _;
    let list: Value = app.get(&admin, "/api/v1/conversations").await.json().await.expect("json");
    let conv = list[0]["id"].as_i64().expect("id");
    let data = base64::engine::general_purpose::STANDARD.encode([0xFFu8, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
    let resp = app
        .post(&admin, &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"text": "Этикетка для возврата", "file": {"name": "label.jpg", "mime": "image/jpeg", "data": data}}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = wa.wait_sent(BUYER, 6).await;
    let last = got.last().expect("sent");
    assert_eq!((last.kind.as_str(), last.text().as_str()), ("image", "Этикетка для возврата"));
    assert_eq!(wa.uploads(), vec![("label.jpg".to_owned(), "image/jpeg".to_owned())]);
    assert_eq!(wa.calls("media"), 2, "each buyer file's URL asked for once");
    assert!(wa.violations().is_empty(), "{:?}", wa.violations());
}

#[tokio::test]
async fn outside_the_window_replies_wait_and_notices_use_the_approved_template() {
    let wa = FakeWhatsApp::start().await;
    let app = app_with(&wa).await;
    let admin = app.admin_token().await;
    // The settings card: a live check, the webhook address, secrets never shown.
    let status: Value = app.get(&admin, "/api/v1/channels/whatsapp").await.json().await.expect("json");
    assert_eq!(status["phone"], "+7 900 000-00-00 (Ладья)", "{status}");
    assert!(status["webhook_url"].as_str().expect("url").ends_with("/whatsapp/webhook"));
    assert_eq!((status["token_set"].as_bool(), status["app_secret_set"].as_bool()), (Some(true), Some(true)));
    assert!(!status.to_string().contains(TOKEN));
    // Templates synced from the account, one chosen for "in transit".
    let synced: Value =
        app.post(&admin, "/api/v1/channels/whatsapp/templates", &json!({})).await.json().await.expect("json");
    assert_eq!(synced[0]["name"], "order_status");
    assert_eq!(synced[0]["parameters"], 2);
    let put = app
        .client
        .put(app.url("/api/v1/channels/whatsapp"))
        .bearer_auth(&admin)
        .json(&json!({"templates": {"in_transit": {"name": "order_status", "language": "ru"}}}))
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
    let bad = app
        .client
        .put(app.url("/api/v1/channels/whatsapp"))
        .bearer_auth(&admin)
        .json(&json!({"phone_number_id": "+7 900 000-00-00"}))
        .send()
        .await
        .expect("put");
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");

    deliver(&app, FakeWhatsApp::text_message(BUYER, "wamid.in.20", "привет")).await;
    let _ = wa.wait_sent(BUYER, 1).await;
    // A day and an hour later the window is closed.
    app.clock.advance(Duration::from_secs(25 * 3600));
    let list: Value = app.get(&admin, "/api/v1/conversations").await.json().await.expect("json");
    let conv = list[0]["id"].as_i64().expect("id");
    let resp = app
        .post(&admin, &format!("/api/v1/conversations/{conv}/messages"), &json!({"text": "Мы проверили заказ"}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    eventually(10, "the reply parked", async || {
        (count(&app, "SELECT COUNT(*) FROM outbox WHERE delivery = 'parked'") == 1).then_some(())
    })
    .await;
    let messages = last_messages(&app, &admin).await;
    assert_eq!(messages.last().expect("reply")["delivery"], "parked");
    assert_eq!(wa.sent_to(BUYER).len(), 1, "nothing free-form outside the window");
    // An order status notification still goes, as the approved template.
    let mut notice = supportd::channels::Outbound::text("Заказ 4102938475 (Wildberries) передан в доставку.");
    notice.notice = Some(supportd::channels::OrderNotice {
        order: "4102938475".into(),
        status: "in_transit".into(),
        status_text: "в пути".into(),
    });
    let now = app.clock.now_ms();
    app.db()
        .execute(
            "INSERT INTO outbox (channel, recipient, payload, idempotency_key, next_attempt_at, created_at, updated_at)
             VALUES ('whatsapp', ?1, ?2, 'notify:test', ?3, ?3, ?3)",
            rusqlite::params![BUYER, notice.to_json(), now],
        )
        .expect("notice queued");
    let got = wa.wait_sent(BUYER, 2).await;
    assert_eq!(got[1].kind, "template");
    assert_eq!(got[1].body["template"]["name"], "order_status");
    assert_eq!(got[1].body["template"]["language"], json!({"policy": "deterministic", "code": "ru"}));
    assert_eq!(
        got[1].body["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "4102938475"}, {"type": "text", "text": "в пути"}])
    );
    // The buyer writes again: the window is open and the parked reply goes (the operator has
    // the conversation, so the bot stays silent).
    deliver(&app, FakeWhatsApp::text_message(BUYER, "wamid.in.21", "спасибо, жду")).await;
    let got = wa.wait_sent(BUYER, 3).await;
    assert_eq!(got[2].text(), "Мы проверили заказ");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE delivery = 'parked'"), 0);
    assert!(wa.violations().is_empty(), "{:?}", wa.violations());
}

#[tokio::test]
async fn graph_errors_are_retried_parked_or_given_up() {
    let wa = FakeWhatsApp::start().await;
    let app = app_with(&wa).await;
    let ticker = tick(app.clock.clone());
    // Pair rate limit, then throughput: retried until sent, once.
    wa.fault(vec![(400, 131056), (400, 130429)]);
    deliver(&app, FakeWhatsApp::text_message(BUYER, "wamid.in.30", "как вернуть товар на вб")).await;
    let got = wa.wait_sent(BUYER, 1).await;
    assert_eq!(got.len(), 1);
    // Undeliverable: given up, shown as failed.
    wa.fault(vec![(400, 131026)]);
    deliver(&app, FakeWhatsApp::text_message("79005554433", "wamid.in.31", "как вернуть товар на вб")).await;
    eventually(10, "the send given up", async || {
        (count(&app, "SELECT COUNT(*) FROM outbox WHERE status = 'failed'") == 1).then_some(())
    })
    .await;
    // Re-engagement (more than 24 hours): parked for the buyer's next message.
    wa.fault(vec![(400, 131047)]);
    deliver(&app, FakeWhatsApp::text_message("79005554434", "wamid.in.32", "как вернуть товар на вб")).await;
    eventually(10, "the send parked", async || {
        (count(&app, "SELECT COUNT(*) FROM outbox WHERE delivery = 'parked'") == 1).then_some(())
    })
    .await;
    ticker.abort();
    assert!(wa.violations().is_empty(), "{:?}", wa.violations());
}

#[test]
fn a_sigkill_with_replies_queued_loses_and_repeats_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let wa = rt.block_on(FakeWhatsApp::start());
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init", "--demo"], None).status.success());
    let url = wa.url();
    let env = [
        ("SUPPORTD_WHATSAPP_API_URL", url.as_str()),
        ("SUPPORTD_WHATSAPP_TOKEN", TOKEN),
        ("SUPPORTD_WHATSAPP_PHONE_NUMBER_ID", PHONE_ID),
        ("SUPPORTD_WHATSAPP_APP_SECRET", APP_SECRET),
        ("SUPPORTD_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
        ("SUPPORTD_ENGINE_ANSWERS", "extractive"),
    ];
    // Meta throttles for a while: replies pile up in the outbox.
    wa.fault(vec![(400, 131056); 3]);
    let server = Server::start_env(&data, &env);
    let client = reqwest::Client::new();
    let send = |server: &Server, payload: &Value| {
        let body = serde_json::to_vec(payload).expect("json");
        let req = client
            .post(server.url("/whatsapp/webhook"))
            .header("X-Hub-Signature-256", signature(APP_SECRET, &body))
            .header("content-type", "application/json")
            .body(body);
        rt.block_on(async move { req.send().await.expect("post").status() })
    };
    for (i, text) in ["привет", "как вернуть товар на вб", "где мой заказ 4102938475"].iter().enumerate()
    {
        let m = FakeWhatsApp::text_message(BUYER, &format!("wamid.kill.{i}"), text);
        assert_eq!(send(&server, &m), reqwest::StatusCode::OK);
    }
    let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    let queued = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')", [], |r| r.get(0)).unwrap_or(0)
    };
    eventually_blocking(10, "three replies waiting", || (queued(&db) == 3).then_some(()));
    server.kill();
    wa.fault(vec![]);
    let server = Server::start_env(&data, &env);
    // Meta redelivers one of them after the crash: recognised, not answered again.
    let again = FakeWhatsApp::text_message(BUYER, "wamid.kill.1", "как вернуть товар на вб");
    assert_eq!(send(&server, &again), reqwest::StatusCode::OK);
    let got = rt.block_on(wa.wait_sent(BUYER, 3));
    settle_blocking(&data.join("supportd.db"));
    assert_eq!(wa.sent_to(BUYER).len(), 3, "each reply once: {:?}", wa.sent_to(BUYER));
    assert!(got[0].text().contains("Здравствуйте") && got[2].text().contains("4102938475"), "in order: {got:?}");
    assert!(wa.violations().is_empty(), "{:?}", wa.violations());
    drop(server);
}
