//! The panel as a seller's daily tool (issue 18): the set-up checklist, the widget's settings
//! and refusal, model installation through the API, the inbox's triage facts, and each
//! operator's alerts through the fake Telegram and SMTP servers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::Clock;
use supportd::config::Secret;

use crate::fakes::smtp::FakeSmtp;
use crate::fakes::telegram::{FakeTelegram, TOKEN};
use crate::harness::{TestApp, error_code};

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(token).json(body).send().await.expect("put")
}

async fn inbound(app: &TestApp, token: &str, id: &str, customer: &str, name: &str, text: &str) {
    let r = app
        .post(token, "/api/v1/inbound", &json!({"message_id": id, "customer": customer, "name": name, "text": text}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// The inbox list until `check` holds for it.
async fn list_until(app: &TestApp, token: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    crate::harness::eventually(20, "the inbox list", async || {
        let list: Vec<Value> = app.get(token, "/api/v1/conversations").await.json().await.expect("json");
        check(&list).then_some(list)
    })
    .await
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps.iter().find(|s| s["step"] == name).unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

#[tokio::test]
async fn the_setup_checklist_follows_what_the_shop_has_done() {
    let tg = FakeTelegram::start().await;
    let url = tg.url();
    let app = TestApp::spawn_with(move |c| {
        c.telegram.api_url = url;
        c.telegram.token = Secret::new(TOKEN);
    })
    .await;
    let admin = app.admin_token().await;
    let resp = app.get(&admin, "/api/v1/setup").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let steps: Vec<Value> = resp.json().await.expect("json");
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().expect("step")).collect();
    assert_eq!(names, ["model", "embeddings", "telegram", "marketplaces", "widget", "test_conversation"]);
    for s in &steps {
        assert!(s["done"].is_boolean() && !s["detail"].as_str().expect("detail").is_empty(), "{s}");
    }
    assert_eq!(step(&steps, "telegram")["done"], true, "{steps:?}");
    assert!(step(&steps, "telegram")["detail"].as_str().expect("d").contains('@'));
    for s in ["model", "embeddings", "marketplaces", "widget", "test_conversation"] {
        assert_eq!(step(&steps, s)["done"], false, "{s}: {steps:?}");
    }
    // The details say what to do, in Russian, without server paths.
    let model = step(&steps, "model")["detail"].as_str().expect("d");
    assert!(model.contains("Установите") && !model.contains('/'), "{model}");
    assert!(step(&steps, "marketplaces")["detail"].as_str().expect("d").contains("Вопросы и отзывы"));

    // Only admins see it.
    let (_, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let op = app.login("op@shop.ru", &pw).await;
    assert_eq!(error_code(app.get(&op, "/api/v1/setup").await, StatusCode::FORBIDDEN).await, "forbidden");

    // The widget: a site allowed from the panel may show the chat, another is told why not.
    let refused =
        app.client.get(app.url("/widget/config")).header("Origin", "https://shop.example").send().await.expect("get");
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
    let refused: Value = refused.json().await.expect("json");
    assert_eq!(refused["allowed"], false);
    assert!(refused["message"].as_str().expect("message").contains("Подключение"), "{refused}");
    let bad = put(&app, &admin, "/api/v1/settings/widget", &json!({"allowed_origins": ["shop.example"]})).await;
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let saved = put(
        &app,
        &admin,
        "/api/v1/settings/widget",
        &json!({"allowed_origins": ["https://Shop.example/catalog"], "colour": "#AA3300", "greeting": "Добрый день!", "title": "Ладья"}),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    let saved: Value = saved.json().await.expect("json");
    assert_eq!(saved["settings"]["allowed_origins"], json!(["https://shop.example"]));
    assert_eq!(
        saved["embed_code"],
        format!("<script src=\"{}/widget.js\" defer></script>", app.state.config.server.public_url)
    );
    let allowed: Value = app
        .client
        .get(app.url("/widget/config"))
        .header("Origin", "https://shop.example")
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        allowed,
        json!({"allowed": true, "title": "Ладья", "colour": "#aa3300", "greeting": "Добрый день!", "message": null})
    );
    // The site check: allowed, but the page cannot be fetched (nothing listens there).
    let check: Value = app
        .post(&admin, "/api/v1/settings/widget/check", &json!({"url": "http://127.0.0.1:9/"}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (check["allowed"].clone(), check["reachable"].clone(), check["ok"].clone()),
        (json!(false), json!(false), json!(false))
    );
    // …and a page that loads but is not allowed, then allowed but without the widget on it.
    let check = |app: &TestApp, admin: &str| {
        let (url, req) = (app.url("/"), app.client.post(app.url("/api/v1/settings/widget/check")).bearer_auth(admin));
        async move { req.json(&json!({ "url": url })).send().await.expect("post").json::<Value>().await.expect("json") }
    };
    let own = check(&app, &admin).await;
    assert_eq!((own["allowed"].clone(), own["reachable"].clone()), (json!(false), json!(true)), "{own}");
    assert!(own["message"].as_str().expect("m").contains("не в списке разрешённых"), "{own}");
    let both = json!({"allowed_origins": ["https://shop.example", app.base.clone()], "colour": "#aa3300", "greeting": "Добрый день!", "title": "Ладья"});
    assert_eq!(put(&app, &admin, "/api/v1/settings/widget", &both).await.status(), StatusCode::OK);
    let own = check(&app, &admin).await;
    assert_eq!(
        (own["allowed"].clone(), own["reachable"].clone(), own["script_found"].clone()),
        (json!(true), json!(true), json!(false)),
        "{own}"
    );
    assert!(own["message"].as_str().expect("m").contains("нет кода виджета"), "{own}");

    // A first conversation answered by the bot completes the last step.
    inbound(&app, &admin, "s-1", "setup-test", "", "здравствуйте").await;
    list_until(&app, &admin, |l| l.iter().any(|c| c["triage"]["last_author"] == "bot")).await;
    let steps: Vec<Value> = app.get(&admin, "/api/v1/setup").await.json().await.expect("json");
    assert_eq!(step(&steps, "widget")["done"], true);
    assert_eq!(step(&steps, "test_conversation")["done"], true, "{steps:?}");
}

#[tokio::test]
async fn models_are_installed_and_checked_from_the_panel() {
    let model = std::env::var("SUPPORTD_TEST_SMOLLM").ok().filter(|p| std::path::Path::new(p).exists());
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let view: Value = app.get(&admin, "/api/v1/setup/models").await.json().await.expect("json");
    let ids: Vec<&str> =
        view["models"].as_array().expect("models").iter().map(|m| m["id"].as_str().expect("id")).collect();
    assert!(ids.contains(&"qwen2.5-coder-1.5b") && ids.contains(&"e5-small"), "{ids:?}");
    let default =
        view["models"].as_array().expect("m").iter().find(|m| m["id"] == "qwen2.5-coder-1.5b").expect("default");
    assert_eq!((default["configured"].clone(), default["installed"].clone()), (json!(true), json!(false)));
    assert_eq!(default["memory_mb"], 1150);
    let missing: Value =
        app.post(&admin, "/api/v1/setup/models/smollm2-135m/verify", &json!({})).await.json().await.expect("json");
    assert_eq!(missing["ok"], false);
    assert_eq!(
        error_code(app.post(&admin, "/api/v1/setup/models/nope/install", &json!({})).await, StatusCode::NOT_FOUND)
            .await,
        "not_found"
    );
    // The model settings of the panel are checked against the config's rules.
    let mut s: Value = app.get(&admin, "/api/v1/settings/models").await.json().await.expect("json");
    s["settings"]["chain"] = json!(["local", "gpt"]);
    assert_eq!(
        error_code(
            put(&app, &admin, "/api/v1/settings/models", &s["settings"]).await,
            StatusCode::UNPROCESSABLE_ENTITY
        )
        .await,
        "invalid_body"
    );
    s["settings"]["chain"] = json!(["local", "yandexgpt"]);
    s["settings"]["yandexgpt_folder_id"] = json!("b1gfolder");
    let saved: Value = put(&app, &admin, "/api/v1/settings/models", &s["settings"]).await.json().await.expect("json");
    assert_eq!(saved["settings"]["yandexgpt_folder_id"], "b1gfolder");
    assert_eq!(saved["running"]["chain"], json!(["local"]), "applied at the next start");

    let Some(model) = model else {
        assert!(std::env::var("SUPPORTD_REQUIRE_TEST_MODELS").is_err(), "SUPPORTD_TEST_SMOLLM is required");
        return;
    };
    // A copy in place: the installer checks it and keeps it (the sources are the same as `model pull`'s).
    let dir = app.paths.data_dir.join("models");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::copy(&model, dir.join("SmolLM2-135M-Instruct.Q4_1.gguf")).expect("copy");
    let started = app.post(&admin, "/api/v1/setup/models/smollm2-135m/install", &json!({})).await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let last = crate::harness::eventually(60, "the installation to end", async || {
        let last: Value = app.get(&admin, "/api/v1/setup/models").await.json().await.expect("json");
        (last["install"]["state"] != "running").then_some(last)
    })
    .await;
    assert_eq!(last["install"]["state"], "done", "{last}");
    assert_eq!(last["install"]["bytes"], last["install"]["total"]);
    let ok: Value =
        app.post(&admin, "/api/v1/setup/models/smollm2-135m/verify", &json!({})).await.json().await.expect("json");
    assert_eq!(ok["ok"], true, "{ok}");
}

#[tokio::test]
async fn the_inbox_list_carries_triage_facts_and_waiting_counts_until_a_person_answers() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    inbound(&app, &admin, "t-1", "buyer-t", "", "позовите оператора, это безобразие, срочно!").await;
    let list = list_until(&app, &admin, |l| l.iter().any(|c| c["handled_by"] == "operator")).await;
    let c = &list[0];
    let t = &c["triage"];
    assert_eq!(c["customer_name"], "");
    // Handed to people: the bot's "passing you on" answers nothing, the buyer still waits.
    assert!(t["waiting_since"].as_i64().is_some(), "{c}");
    assert!(t["last_text"].as_str().is_some(), "{c}");
    let id = c["id"].as_i64().expect("id");
    let r = app
        .post(&admin, &format!("/api/v1/conversations/{id}/messages"), &json!({"text": "Здравствуйте, разбираемся."}))
        .await;
    assert!(r.status().is_success());
    let list = list_until(&app, &admin, |l| l[0]["triage"]["last_author"] == "operator").await;
    assert!(list[0]["triage"]["waiting_since"].is_null(), "{}", list[0]);
}

/// "HH:MM" in the shop's time (UTC+3) `minutes` from now.
fn shop_time(now_ms: i64, minutes: i64) -> String {
    let m = (now_ms / 60_000 + 180 + minutes).rem_euclid(1440);
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[tokio::test]
async fn alerts_reach_the_operator_by_telegram_and_email_once_and_never_in_quiet_hours() {
    let tg = FakeTelegram::start().await;
    let smtp = FakeSmtp::start().await;
    let (url, port) = (tg.url(), smtp.port);
    let app = TestApp::spawn_with(move |c| {
        c.telegram.api_url = url;
        c.telegram.token = Secret::new(TOKEN);
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.tls = supportd::config::SmtpTls::None;
        c.smtp.from = "Ладья <shop@example.ru>".into();
    })
    .await;
    let admin = app.admin_token().await;
    let view: Value = app.get(&admin, "/api/v1/profile/alerts").await.json().await.expect("json");
    assert_eq!((view["telegram_ready"].clone(), view["email_ready"].clone()), (json!(true), json!(true)));
    assert_eq!(view["prefs"]["on_handoff"], true);
    let bad = put(
        &app,
        &admin,
        "/api/v1/profile/alerts",
        &json!({"telegram_chat_id": "@me", "email": null, "on_handoff": true,
        "on_overdue": true, "on_failed": true, "overdue_minutes": 60, "quiet": null}),
    )
    .await;
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let prefs = json!({"telegram_chat_id": "777001", "email": "owner@shop.ru", "on_handoff": true, "on_overdue": true,
        "on_failed": true, "overdue_minutes": 60, "quiet": null});
    assert_eq!(put(&app, &admin, "/api/v1/profile/alerts", &prefs).await.status(), StatusCode::OK);
    // A first round starts at the newest events: nothing from before is announced. (The
    // server's own rounds run too, every 10 s: the counts below are what arrived, not who sent it.)
    supportd::alerts::tick(&app.state).await.expect("tick");
    assert!(tg.sent_to(777_001).is_empty());

    inbound(&app, &admin, "a-1", "buyer-a", "Анна Петрова", "позовите оператора").await;
    list_until(&app, &admin, |l| l.iter().any(|c| c["handled_by"] == "operator")).await;
    supportd::alerts::tick(&app.state).await.expect("tick");
    let sent = tg.sent_to(777_001);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("Нужен человек: Анна Петрова") && sent[0].contains("покупатель попросил человека"),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains("/#/inbox/"), "a link to the conversation: {}", sent[0]);
    let mails = smtp.wait_for(1).await;
    assert!(mails[0].text().contains("Анна Петрова"));
    // Once each: another round sends nothing again.
    supportd::alerts::tick(&app.state).await.expect("tick");
    assert_eq!(tg.sent_to(777_001).len(), 1);
    assert_eq!(smtp.mails().len(), 1);

    // In quiet hours nothing goes out, and it is not sent later either.
    let now = app.clock.now_ms();
    let mut quiet = prefs.clone();
    quiet["quiet"] = json!({"from": shop_time(now, -60), "to": shop_time(now, 60)});
    assert_eq!(put(&app, &admin, "/api/v1/profile/alerts", &quiet).await.status(), StatusCode::OK);
    inbound(&app, &admin, "a-2", "buyer-b", "", "позовите оператора").await;
    list_until(&app, &admin, |l| l.iter().filter(|c| c["handled_by"] == "operator").count() == 2).await;
    supportd::alerts::tick(&app.state).await.expect("tick");
    app.clock.advance(Duration::from_secs(3 * 3600));
    supportd::alerts::tick(&app.state).await.expect("tick");
    assert_eq!(tg.sent_to(777_001).len(), 1);
    assert_eq!(smtp.mails().len(), 1);
    let view: Value = app.get(&admin, "/api/v1/profile/alerts").await.json().await.expect("json");
    let statuses: Vec<&str> =
        view["recent"].as_array().expect("recent").iter().map(|r| r["status"].as_str().expect("s")).collect();
    assert_eq!(statuses, ["quiet", "quiet", "sent", "sent"], "{view}");

    // A test alert by both routes.
    let test: Vec<Value> =
        app.post(&admin, "/api/v1/profile/alerts/test", &json!({})).await.json().await.expect("json");
    assert_eq!(test.len(), 2);
    assert!(test.iter().all(|r| r["ok"] == true), "{test:?}");
    assert!(tg.sent_to(777_001).last().expect("test").contains("Проверка оповещений"));
}
