//! The Telegram channel against a fake Bot API server: polling and webhook conversations,
//! duplicates, the webhook secret, 429 storms, files, and a SIGKILL with messages queued.

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::app::Paths;
use supportd::config::Secret;
use supportd::store::Db;

use crate::fakes::llm::{Behavior, FakeLlm};
use crate::fakes::telegram::{FakeTelegram, Fault, TOKEN};
use crate::harness::{
    Server, TestApp, error_code, eventually, eventually_blocking, run_cli_env, settle_blocking, stdout, temp_data_dir,
    tick,
};

/// The demo shop's knowledge base and orders.
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

async fn app_with(tg: &FakeTelegram, mode: &str) -> TestApp {
    app_with_model(tg, mode, None).await
}

/// With `model`: an OpenAI-compatible server that writes knowledge answers.
async fn app_with_model(tg: &FakeTelegram, mode: &str, model: Option<String>) -> TestApp {
    let (url, mode) = (tg.url(), mode.to_owned());
    TestApp::spawn_prepared(demo_shop, move |c| {
        c.telegram.api_url = url;
        c.telegram.mode = supportd::config::TelegramMode::parse(&mode).expect("a telegram mode");
        c.telegram.token = Secret::new(TOKEN);
        if let Some(m) = model {
            c.llm.chain = vec![supportd::config::LlmProvider::OpenAi];
            c.llm.openai.base_url = m;
            c.llm.openai.api_key = Secret::new("sk-test");
        }
    })
    .await
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.db().query_row(sql, [], |r| r.get(0)).expect("count")
}

#[tokio::test]
async fn a_conversation_over_long_polling() {
    let tg = FakeTelegram::start().await;
    let model =
        FakeLlm::start(vec![Behavior::answer("Такие товары отмечены <особой> пометкой в карточке & описании.")]).await;
    let app = app_with_model(&tg, "polling", Some(model.openai_url())).await;
    tg.push(FakeTelegram::text_update(1, 501, "где мой заказ 4102938475?"));
    let got = tg.wait_sent(501, 1).await;
    assert!(got[0].contains("4102938475") && got[0].contains("в пути"), "{got:?}");
    assert_eq!(tg.sent()[0].parse_mode.as_deref(), Some("HTML"));
    assert!(tg.calls("deleteWebhook") >= 1, "polling mode removes a webhook first");

    // The same update delivered twice is stored once; a deep link opens with the order.
    let start = FakeTelegram::text_update(2, 502, "/start 57195475-0050-3");
    tg.push(start.clone());
    tg.push(start);
    let got = tg.wait_sent(502, 1).await;
    assert!(got[0].contains("57195475-0050-3"), "{got:?}");
    app.settle().await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox WHERE channel = 'telegram'"), 2);
    assert_eq!(tg.sent_to(502).len(), 1, "nothing answered twice");

    // A model-written answer: "typing…" while it is written, and HTML escaped.
    tg.push(FakeTelegram::text_update(3, 503, "как вернуть товар на вб"));
    let got = tg.wait_sent(503, 1).await;
    assert!(tg.actions().contains(&(503, "typing".into())), "typing shown while the model wrote");
    // The model's sentence (grounded: no number, verdict or place the facts lack) goes out escaped.
    assert!(got[0].contains("&lt;особой&gt; пометкой в карточке &amp; описании"), "{got:?}");

    // "Спасибо" asks for a rating with buttons; pressing one is a callback query.
    tg.push(FakeTelegram::text_update(4, 501, "спасибо!"));
    let _ = tg.wait_sent(501, 2).await;
    let ask = tg.sent().into_iter().rfind(|s| s.chat == 501).expect("sent");
    assert!(ask.text.contains("от 1 до 5"));
    assert_eq!(ask.buttons, vec!["1", "2", "3", "4", "5"]);
    tg.push(FakeTelegram::callback_update(5, 501, "5"));
    let got = tg.wait_sent(501, 3).await;
    assert!(got[2].contains("Спасибо за оценку"), "{got:?}");
    assert!(tg.callbacks_answered().contains(&"cb5".to_owned()));
    assert_eq!(count(&app, "SELECT csat FROM conversations WHERE csat IS NOT NULL"), 5);
    // The offset moved past everything stored.
    let offset: String = app
        .db()
        .query_row("SELECT value FROM settings WHERE key = 'telegram.offset'", [], |r| r.get(0))
        .expect("offset");
    assert_eq!(offset, "6");
}

#[tokio::test]
async fn webhook_mode_checks_the_secret_and_ignores_redeliveries() {
    let tg = FakeTelegram::start().await;
    let app = app_with(&tg, "webhook").await;
    let (url, secret) = eventually(10, "setWebhook called", async || tg.webhook()).await;
    assert!(url.ends_with("/telegram/webhook"), "{url}");
    assert!(secret.len() >= 32);
    let post = |body: Value, secret: &str| {
        app.client
            .post(app.url("/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&body)
            .send()
    };
    // Wrong or missing secret: 401, nothing stored.
    let update = FakeTelegram::text_update(10, 601, "как вернуть товар на вб");
    let resp = post(update.clone(), "wrong").await.expect("post");
    assert_eq!(error_code(resp, StatusCode::UNAUTHORIZED).await, "invalid_secret");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox"), 0);
    // The right one, twice (Telegram redelivers when unsure): one message, one reply.
    assert_eq!(post(update.clone(), &secret).await.expect("post").status(), StatusCode::OK);
    assert_eq!(post(update, &secret).await.expect("post").status(), StatusCode::OK);
    let got = tg.wait_sent(601, 1).await;
    assert!(!got[0].is_empty());
    app.settle().await;
    assert_eq!(tg.sent_to(601).len(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE author = 'buyer'"), 1);
    // Not an update: 400.
    let resp = app
        .client
        .post(app.url("/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", &secret)
        .body("{]")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // Switching to polling at run time removes the webhook.
    let admin = app.admin_token().await;
    let resp = app
        .client
        .put(app.url("/api/v1/channels/telegram"))
        .bearer_auth(&admin)
        .json(&json!({"mode": "polling"}))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), StatusCode::OK);
    let status: Value = resp.json().await.expect("json");
    assert_eq!((status["mode"].as_str(), status["username"].as_str()), (Some("polling"), Some("ladya_shop_bot")));
    eventually(10, "the webhook removed", async || tg.webhook().is_none().then_some(())).await;
    assert!(tg.webhook().is_none());
}

#[tokio::test]
async fn a_429_storm_delivers_everything_once_and_in_order() {
    let tg = FakeTelegram::start().await;
    let app = app_with(&tg, "polling").await;
    let ticker = tick(app.clock.clone());
    tg.fault(vec![
        Fault::TooMany { retry_after: 1 },
        Fault::TooMany { retry_after: 1 },
        Fault::Cut,
        Fault::TooMany { retry_after: 2 },
        Fault::TooMany { retry_after: 1 },
    ]);
    let admin = app.admin_token().await;
    tg.push(FakeTelegram::text_update(1, 700, "позовите оператора"));
    let _ = tg.wait_sent(700, 1).await;
    // An operator sends five replies quickly: they arrive in order, none twice.
    let list: Value = app.get(&admin, "/api/v1/conversations").await.json().await.expect("json");
    let conv = list[0]["id"].as_i64().expect("id");
    for i in 1..=5 {
        let resp = app
            .post(&admin, &format!("/api/v1/conversations/{conv}/messages"), &json!({"text": format!("Ответ {i}")}))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let got = tg.wait_sent(700, 6).await;
    assert_eq!(&got[1..], &["Ответ 1", "Ответ 2", "Ответ 3", "Ответ 4", "Ответ 5"], "{got:?}");
    app.settle().await;
    assert_eq!(tg.sent_to(700).len(), 6);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE status = 'sent'"), 6);

    // Files go out too: an image as a photo with its caption.
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode([0xFFu8, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
    let resp = app
        .post(&admin, &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"text": "Этикетка для возврата", "file": {"name": "label.jpg", "mime": "image/jpeg", "data": data}}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let _ = tg.wait_sent(700, 7).await;
    let last = tg.sent().into_iter().rfind(|s| s.chat == 700).expect("sent");
    assert_eq!((last.file.as_deref(), last.text.as_str()), (Some("photo:label.jpg"), "Этикетка для возврата"));
    let resp = app
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"file": {"name": "x", "mime": "bad", "data": "@@"}}),
        )
        .await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    ticker.abort();
}

#[tokio::test]
async fn photos_are_kept_and_oversized_files_are_noted() {
    let tg = FakeTelegram::start().await;
    let app = app_with(&tg, "polling").await;
    tg.add_file("photo-10mb", vec![7u8; 10_000_000]);
    tg.add_file("photo-25mb", vec![1u8; 25_000_000]);
    tg.push(FakeTelegram::photo_update(1, 801, "photo-10mb", 10_000_000, Some("пришла с дыркой, заказ 4102938478")));
    tg.push(FakeTelegram::photo_update(2, 802, "photo-25mb", 25_000_000, None));
    let _ = tg.wait_sent(801, 1).await;
    let got = tg.wait_sent(802, 1).await;
    assert!(got[0].contains("файл получили"), "{got:?}");
    let rows: Vec<String> = {
        let db = app.db();
        let mut stmt =
            // By arrival (the two buyers' messages are processed concurrently, in either order).
            db.prepare("SELECT attachments FROM messages WHERE author = 'buyer' ORDER BY inbox_id").expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    };
    let first: Value = serde_json::from_str(&rows[0]).expect("json");
    let path = first[0]["path"].as_str().unwrap_or_else(|| panic!("no stored path: {first}"));
    assert_eq!(std::fs::metadata(app.paths.data_dir.join(path)).expect("file").len(), 10_000_000);
    // Staff see it in the panel; nothing outside files/ is served.
    let admin = app.admin_token().await;
    let resp = app.get(&admin, &format!("/api/v1/{path}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.expect("bytes").len(), 10_000_000);
    for bad in
        ["/api/v1/files/../secret.key", "/api/v1/files/telegram/..%2F..%2Fsecret.key", "/api/v1/files/secret.key"]
    {
        assert_eq!(app.get(&admin, bad).await.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    assert_eq!(
        app.client.get(app.url(&format!("/api/v1/{path}"))).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );
    let second: Value = serde_json::from_str(&rows[1]).expect("json");
    assert!(second[0]["path"].is_null());
    assert!(second[0]["error"].as_str().expect("error").contains("too large"), "{second}");
}

#[test]
fn set_token_checks_it_with_telegram() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tg = rt.block_on(FakeTelegram::start());
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init"], None).status.success());
    let env = [("SUPPORTD_TELEGRAM_API_URL", tg.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_cli_env(&data, &["channel", "telegram", "set-token", "999:wrong", "--mode", "webhook"], &env, None);
    assert!(!out.status.success());
    assert!(crate::harness::stderr(&out).contains("rejected"), "{}", crate::harness::stderr(&out));
    let out = run_cli_env(&data, &["channel", "telegram", "set-token", TOKEN, "--mode", "webhook"], &env, None);
    assert!(out.status.success(), "{}", crate::harness::stderr(&out));
    assert!(stdout(&out).contains("@ladya_shop_bot"), "{}", stdout(&out));
    let out = run_cli_env(&data, &["channel", "telegram", "status"], &env, None);
    assert!(stdout(&out).contains("mode: webhook") && stdout(&out).contains("@ladya_shop_bot"), "{}", stdout(&out));
    // The token is stored encrypted, never in clear.
    let db = std::fs::read(data.join("supportd.db")).expect("db");
    assert!(!String::from_utf8_lossy(&db).contains("TEST-token_for-fake"));
}

#[test]
fn a_sigkill_with_replies_queued_loses_and_repeats_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tg = rt.block_on(FakeTelegram::start());
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init", "--demo"], None).status.success());
    let url = tg.url();
    let env = [("SUPPORTD_TELEGRAM_API_URL", url.as_str()), ("SUPPORTD_TELEGRAM_TOKEN", TOKEN)];
    // Telegram refuses sends for a while: replies pile up in the outbox.
    tg.fault(vec![Fault::TooMany { retry_after: 3 }; 3]);
    let server = Server::start_env(&data, &env);
    for (i, text) in ["привет", "как вернуть товар на вб", "где мой заказ 4102938475"].iter().enumerate()
    {
        tg.push(FakeTelegram::text_update(i as i64 + 1, 900, text));
    }
    let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    let queued = |db: &rusqlite::Connection| -> i64 {
        db.query_row("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')", [], |r| r.get(0)).unwrap_or(0)
    };
    eventually_blocking(10, "three replies waiting", || (queued(&db) == 3).then_some(()));
    server.kill();
    assert!(tg.sent_to(900).len() <= 1);
    let before = tg.sent_to(900).len();
    tg.fault(vec![]);
    let server = Server::start_env(&data, &env);
    let got = rt.block_on(tg.wait_sent(900, 3));
    settle_blocking(&data.join("supportd.db"));
    let got_after = tg.sent_to(900);
    assert_eq!(got_after.len(), 3, "each reply once: {got_after:?} (before the kill: {before})");
    assert!(got[0].contains("Здравствуйте") && got[2].contains("4102938475"), "in order: {got:?}");
    drop(server);
}

#[tokio::test]
async fn a_shared_phone_number_links_the_buyers_orders() {
    let tg = FakeTelegram::start().await;
    let app = app_with(&tg, "polling").await;
    tg.push(FakeTelegram::text_update(1, 950, "где мой заказ?"));
    let _ = tg.wait_sent(950, 1).await;
    let ask = tg.sent().into_iter().rfind(|s| s.chat == 950).expect("sent");
    assert!(ask.text.contains("номер заказа") && ask.text.contains("Поделиться номером"), "{}", ask.text);
    assert_eq!(ask.buttons, vec!["📱 Поделиться номером"], "a request_contact button");
    // Someone else's contact proves nothing.
    tg.push(FakeTelegram::contact_update(2, 950, "+7 916 111-22-33", false));
    // It is read (the polling offset moves past it) and not even stored: there is nothing in it.
    eventually(20, "the contact read", async || {
        (count(&app, "SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'telegram.offset'") >= 3).then_some(())
    })
    .await;
    app.settle().await;
    assert_eq!(tg.sent_to(950).len(), 1);
    // The buyer's own number: the orders placed with it are theirs.
    tg.push(FakeTelegram::contact_update(3, 950, "79161112233", true));
    let got = tg.wait_sent(950, 2).await;
    assert!(
        got[1].contains("номер подтверждён") && got[1].contains("4102938475") && got[1].contains("4102938476"),
        "{got:?}"
    );
    assert!(!got[1].contains("4102938477"), "another buyer's order is not shown");
    tg.push(FakeTelegram::text_update(4, 950, "а 4102938476 когда забрать до какого числа?"));
    let got = tg.wait_sent(950, 3).await;
    assert!(got[2].contains("ждёт вас в пункте выдачи"), "{got:?}");
}

#[tokio::test]
async fn telegram_business_chats_come_in_and_the_sellers_own_reply_hands_the_chat_to_them() {
    let tg = FakeTelegram::start().await;
    let app = app_with(&tg, "polling").await;
    let (seller, buyer) = (7000, 8100);
    tg.push(FakeTelegram::business_connection_update(1, "bc-1", seller, true));
    tg.push(FakeTelegram::business_message_update(2, "bc-1", buyer, buyer, "как вернуть товар на вб"));
    let _ = tg.wait_sent(buyer, 1).await;
    let reply = tg.sent().into_iter().rfind(|s| s.chat == buyer).expect("sent");
    assert_eq!(reply.business.as_deref(), Some("bc-1"), "sent on the seller's behalf");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM inbox WHERE channel = 'telegram_business'"), 1);
    let recipient: String = app
        .db()
        .query_row("SELECT recipient FROM outbox WHERE channel = 'telegram_business'", [], |r| r.get(0))
        .expect("row");
    assert_eq!(recipient, "bc-1:8100");
    // The seller answers from their own account: the conversation is theirs, the bot is silent.
    tg.push(FakeTelegram::business_message_update(3, "bc-1", buyer, seller, "Добрый день! Сейчас помогу сам."));
    eventually(10, "the seller's message stored", async || {
        (count(&app, "SELECT COUNT(*) FROM conversations WHERE handled_by = 'operator' AND handoff_reason = 'seller'")
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE author = 'operator'"), 1);
    tg.push(FakeTelegram::business_message_update(4, "bc-1", buyer, buyer, "спасибо, жду"));
    eventually(10, "the buyer's message stored", async || {
        (count(&app, "SELECT COUNT(*) FROM inbox WHERE status = 'done'") == 3).then_some(())
    })
    .await;
    assert_eq!(tg.sent_to(buyer).len(), 1, "no bot reply over the seller");
    // A connection that may not reply: nothing is sent, the row says why.
    tg.push(FakeTelegram::business_connection_update(5, "bc-2", seller, false));
    tg.push(FakeTelegram::business_message_update(6, "bc-2", 8200, 8200, "как вернуть товар на вб"));
    eventually(10, "the reply refused", async || {
        let failed: Option<String> = app
            .db()
            .query_row("SELECT last_error FROM outbox WHERE recipient = 'bc-2:8200' AND status = 'failed'", [], |r| {
                r.get(0)
            })
            .ok();
        failed.filter(|e| e.contains("does not allow"))
    })
    .await;
    assert!(tg.sent_to(8200).is_empty());
}
