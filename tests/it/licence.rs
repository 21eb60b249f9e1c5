//! Plans and licences against the real server and the real binary: licences verified offline
//! (valid, tampered, wrong key, expired, future-dated, malformed, older), the trial and the free
//! tier, seat and channel limits, the grace period and the pause with a manual clock (every
//! buyer message still stored, operators still answer), renewal without a restart, expiry
//! warnings e-mailed once, the usage statement, and the CLI's exit codes.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::{Clock, Millis};
use supportd::licence::DAY_MS;
use supportd::licence::plans::{self, ChannelKind, Limits};
use supportd::licence::token::{self, Licence, SigningKey};

use crate::fakes::llm::{Behavior, FakeLlm};
use crate::fakes::smtp::FakeSmtp;
use crate::harness::{TestApp, error_code, eventually, run_cli, run_cli_env, stderr, stdout, temp_data_dir};

const DAY: Duration = Duration::from_secs(86_400);

/// The vendor of these tests: its own key pair, trusted by the debug build through
/// `licence.public_key`.
struct Vendor {
    key: SigningKey,
}

impl Vendor {
    fn new() -> Self {
        Self { key: SigningKey::generate().expect("key") }
    }

    fn public(&self) -> String {
        self.key.public_key().to_base64()
    }

    fn licence(&self, id: &str, plan: &str, issued: Millis, days: i64, grace_days: u32) -> Licence {
        Licence {
            id: id.into(),
            customer: "ООО «Ладья»".into(),
            plan: plan.into(),
            issued,
            valid_until: issued + days * DAY_MS,
            grace_days,
            limits: plans::find(plan).expect("plan").limits(),
            key_id: String::new(),
        }
    }

    fn sign(&self, l: &Licence) -> String {
        token::issue(&self.key, l).expect("issue")
    }
}

/// Sessions outlive the months these tests move the clock through.
fn long_sessions(c: &mut supportd::config::Config) {
    c.auth.session_ttl_hours = 24 * 365;
}

async fn licensed(v: &Vendor) -> TestApp {
    let key = v.public();
    TestApp::spawn_with(move |c| {
        long_sessions(c);
        c.licence.public_key = key;
    })
    .await
}

async fn install(app: &TestApp, token: &str, licence: &str) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/licence"))
        .bearer_auth(token)
        .json(&json!({ "token": licence }))
        .send()
        .await
        .expect("put licence")
}

async fn licence(app: &TestApp, token: &str) -> Value {
    let resp = app.get(token, "/api/v1/licence").await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

async fn create(app: &TestApp, admin: &str, email: &str, role: &str) -> reqwest::Response {
    app.post(admin, "/api/v1/users", &json!({"email": email, "role": role, "password": "long enough password"})).await
}

async fn patch_user(app: &TestApp, admin: &str, id: i64, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .expect("patch")
}

async fn put_key(app: &TestApp, admin: &str, name: &str, value: &str) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/settings/credentials/{name}")))
        .bearer_auth(admin)
        .json(&json!({ "value": value }))
        .send()
        .await
        .expect("put credential")
}

async fn inbound(app: &TestApp, token: &str, id: &str, customer: &str, text: &str) -> reqwest::Response {
    app.post(token, "/api/v1/inbound", &json!({"message_id": id, "customer": customer, "name": "Анна", "text": text}))
        .await
}

/// Waits until every inbox item is processed.
async fn settled(app: &TestApp) {
    eventually(10, "the inbox processed", async || {
        let pending: i64 =
            app.db().query_row("SELECT COUNT(*) FROM inbox WHERE status = 'pending'", [], |r| r.get(0)).expect("count");
        (pending == 0).then_some(())
    })
    .await;
}

async fn thread_of(app: &TestApp, token: &str, customer: &str) -> Value {
    let list: Value = app.get(token, "/api/v1/conversations").await.json().await.expect("json");
    let c = list.as_array().expect("list").iter().find(|c| c["recipient"] == customer).expect("conversation").clone();
    app.get(token, &format!("/api/v1/conversations/{}", c["id"])).await.json().await.expect("json")
}

fn authors(thread: &Value) -> Vec<String> {
    thread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["author"].as_str().expect("a").to_owned())
        .collect()
}

#[tokio::test]
async fn a_fresh_installation_runs_a_trial_then_the_free_tier() {
    let app = TestApp::spawn_with(long_sessions).await;
    let admin = app.admin_token().await;
    let v = licence(&app, &admin).await;
    assert_eq!(v["status"], "trial");
    assert_eq!(v["plan"], "trial");
    assert_eq!(v["limits"]["seats"], "unlimited");
    assert_eq!(v["limits"]["channels"], json!(["telegram", "widget", "api", "whatsapp", "vk"]));
    assert_eq!(v["limits"]["marketplaces"], 2);
    assert_eq!(v["days_left"], 14);
    assert_eq!(v["automation"], true);
    assert_eq!(v["key_source"], "vendor", "without a test key the build trusts the vendor");
    assert!(v["warning"]["message"].as_str().expect("banner").contains("Пробный период"));
    assert!(!v.to_string().contains("SUPPORTD-LIC"), "no token in the view");

    app.clock.advance(14 * DAY);
    let v = licence(&app, &admin).await;
    assert_eq!(v["status"], "free");
    assert_eq!(v["plan"], "free");
    assert_eq!(
        v["limits"],
        json!({"seats": 1, "channels": ["telegram", "widget"], "marketplaces": 0, "models": "local", "exports": false})
    );
    assert_eq!(v["valid_until"], Value::Null);
    assert_eq!(v["usage"]["seats"], 1);
    // The bot still answers on the free tier.
    assert_eq!(v["automation"], true);
}

#[tokio::test]
async fn licences_are_verified_offline_and_refused_with_the_reason() {
    let vendor = Vendor::new();
    let app = licensed(&vendor).await;
    let admin = app.admin_token().await;
    let now = app.clock.now_ms();
    let good = vendor.sign(&vendor.licence("LIC-1", "business", now - DAY_MS, 365, 7));

    // Tampered: one more year written into the signed data.
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let data = String::from_utf8(b64.decode(parts[1]).expect("b64")).expect("utf-8");
    let longer = data.replacen("\"valid_until\":\"20", "\"valid_until\":\"21", 1);
    assert_ne!(longer, data);
    let tampered = format!("{}.{}.{}", parts[0], b64.encode(longer), parts[2]);
    let other = Vendor::new();
    let cases = [
        (tampered, "licence_bad_signature", "подпись не сходится"),
        (other.sign(&other.licence("LIC-2", "pro", now, 30, 7)), "licence_wrong_key", "другим ключом"),
        (vendor.sign(&vendor.licence("LIC-3", "pro", now - 60 * DAY_MS, 30, 7)), "licence_expired", "закончился"),
        (
            vendor.sign(&vendor.licence("LIC-4", "pro", now + 3 * DAY_MS, 30, 7)),
            "licence_issued_in_future",
            "часы сервера",
        ),
        ("SUPPORTD-LIC.bm90IGpzb24.c2ln".into(), "licence_malformed", "не лицензия supportd"),
        ("hello".into(), "licence_malformed", "не лицензия supportd"),
    ];
    for (token, code, words) in &cases {
        let resp = install(&app, &admin, token).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], *code);
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(words), "{code}: {message}");
    }
    assert_eq!(licence(&app, &admin).await["status"], "trial", "nothing refused was installed");

    // A viewer reads the plan but cannot install one.
    let (_, pw) = app.create_user(&admin, "viewer@shop.ru", "viewer").await;
    let viewer = app.login("viewer@shop.ru", &pw).await;
    assert_eq!(licence(&app, &viewer).await["status"], "trial");
    assert_eq!(error_code(install(&app, &viewer, &good).await, StatusCode::FORBIDDEN).await, "forbidden");

    // A licence file with comments around the token installs; in force at once.
    let file = format!("# supportd licence LIC-1\n{good}\n");
    let resp = install(&app, &admin, &file).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["status"], "active");
    assert_eq!(v["plan"], "business");
    assert_eq!(v["plan_title"], "Бизнес");
    assert_eq!(v["licence"]["id"], "LIC-1");
    assert_eq!(v["licence"]["customer"], "ООО «Ладья»");
    assert_eq!(v["limits"]["seats"], 10);
    assert_eq!(v["key_source"], "test");
    assert_eq!(v["warning"], Value::Null);
    assert!(!v.to_string().contains(&good[20..60]), "the token is never shown back");
    assert_eq!(install(&app, &admin, &good).await.status(), StatusCode::OK, "installing it again changes nothing");

    // An older licence does not replace a newer one.
    let older = vendor.sign(&vendor.licence("LIC-0", "pro", now - 2 * DAY_MS, 365, 7));
    assert_eq!(
        error_code(install(&app, &admin, &older).await, StatusCode::UNPROCESSABLE_ENTITY).await,
        "licence_older"
    );

    let audited: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM audit_log WHERE action = 'licence.install' AND target = 'LIC-1'", [], |r| {
            r.get(0)
        })
        .expect("audit");
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn seats_are_limited_by_the_plan_on_the_api() {
    let vendor = Vendor::new();
    let app = licensed(&vendor).await;
    let admin = app.admin_token().await;
    app.clock.advance(15 * DAY);
    let create = |email: &'static str, role: &'static str| create(&app, &admin, email, role);

    // Free: the first admin is the one seat; viewers take none.
    let resp = create("op1@shop.ru", "operator").await;
    assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "plan_limit");
    let m = body["error"]["message"].as_str().expect("message");
    assert!(m.contains("«Бесплатный»") && m.contains("«Старт» (до 3 операторов)"), "{m}");
    assert_eq!(create("viewer@shop.ru", "viewer").await.status(), StatusCode::CREATED);
    let viewer_id: i64 =
        app.db().query_row("SELECT id FROM users WHERE email = 'viewer@shop.ru'", [], |r| r.get(0)).expect("id");
    let promote = patch_user(&app, &admin, viewer_id, json!({"role": "operator"})).await;
    assert_eq!(error_code(promote, StatusCode::PAYMENT_REQUIRED).await, "plan_limit");

    // «Старт»: three seats, then «Бизнес» is named.
    let now = app.clock.now_ms();
    assert_eq!(
        install(&app, &admin, &vendor.sign(&vendor.licence("S-1", "start", now, 30, 7))).await.status(),
        StatusCode::OK
    );
    assert_eq!(create("op1@shop.ru", "operator").await.status(), StatusCode::CREATED);
    assert_eq!(create("op2@shop.ru", "admin").await.status(), StatusCode::CREATED);
    let resp = create("op3@shop.ru", "operator").await;
    assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("m").contains("«Бизнес» (до 10 операторов)"), "{body}");
    assert_eq!(licence(&app, &admin).await["usage"]["seats"], 3);

    // Disabling frees a seat; enabling again needs one.
    let op1: i64 =
        app.db().query_row("SELECT id FROM users WHERE email = 'op1@shop.ru'", [], |r| r.get(0)).expect("id");
    assert_eq!(patch_user(&app, &admin, op1, json!({"disabled": true})).await.status(), StatusCode::OK);
    assert_eq!(create("op3@shop.ru", "operator").await.status(), StatusCode::CREATED);
    let again = patch_user(&app, &admin, op1, json!({"disabled": false})).await;
    assert_eq!(error_code(again, StatusCode::PAYMENT_REQUIRED).await, "plan_limit");
    let disabled: bool =
        app.db().query_row("SELECT disabled FROM users WHERE id = ?1", [op1], |r| r.get(0)).expect("row");
    assert!(disabled, "the refused change was rolled back");
    // A change that takes no new seat goes through.
    assert_eq!(patch_user(&app, &admin, op1, json!({"name": "Оля"})).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn channels_marketplaces_models_and_exports_follow_the_plan() {
    let model = FakeLlm::start(vec![Behavior::answer("работаю")]).await;
    let vendor = Vendor::new();
    let (key, model_url) = (vendor.public(), model.openai_url());
    let app = TestApp::spawn_with(move |c| {
        long_sessions(c);
        c.licence.public_key = key;
        c.llm.chain = vec![supportd::config::LlmProvider::OpenAi];
        c.llm.openai.base_url = model_url;
        c.llm.openai.api_key = supportd::config::Secret::new("sk-test");
    })
    .await;
    let admin = app.admin_token().await;
    let put_key = |name: &'static str, value: &'static str| put_key(&app, &admin, name, value);
    // The trial has everything: the API channel, the cloud model, exports.
    assert_eq!(inbound(&app, &admin, "t1", "api-1", "привет").await.status(), StatusCode::ACCEPTED);
    let ask = json!({"question": "работаешь?", "max_tokens": 8, "cache": false});
    assert_eq!(app.post(&admin, "/api/v1/llm/ask", &ask).await.status(), StatusCode::OK);
    assert_eq!(model.requests().len(), 1);
    assert_eq!(app.get(&admin, "/api/v1/usage/statement.csv").await.status(), StatusCode::OK);
    assert_eq!(put_key("wb.token", "wb-secret").await.status(), StatusCode::NO_CONTENT);

    // Free: no API channel, no marketplace keys, no cloud model (not even called), no CSV.
    app.clock.advance(15 * DAY);
    let resp = inbound(&app, &admin, "t2", "api-1", "привет").await;
    assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "plan_limit");
    assert!(body["error"]["message"].as_str().expect("m").contains("«Бизнес»"), "{body}");
    let refused = put_key("wb.token", "wb-secret").await;
    assert_eq!(refused.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = refused.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("m").contains("«Старт» (1 маркетплейс)"), "{body}");
    assert_eq!(error_code(put_key("openai.api_key", "sk-x").await, StatusCode::PAYMENT_REQUIRED).await, "plan_limit");
    let resp = app.post(&admin, "/api/v1/llm/ask", &ask).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("m").contains("Облачные модели"), "{body}");
    assert_eq!(model.requests().len(), 1, "the cloud provider was not called");
    assert_eq!(
        error_code(app.get(&admin, "/api/v1/usage/statement.csv").await, StatusCode::PAYMENT_REQUIRED).await,
        "plan_limit"
    );
    assert_eq!(app.get(&admin, "/api/v1/usage/statement").await.status(), StatusCode::OK, "the statement itself stays");
    let stored: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM credentials WHERE name = 'openai.api_key'", [], |r| r.get(0))
        .expect("n");
    assert_eq!(stored, 0);
    // The WB key from the trial stays, unused: no sync, and the panel says why.
    let v = licence(&app, &admin).await;
    assert_eq!(
        (v["usage"]["marketplaces_connected"].clone(), v["usage"]["marketplaces_synced"].clone()),
        (json!(["wb"]), json!([]))
    );
    let t: Value = app.post(&admin, "/api/v1/marketplaces/wb/test", &json!({})).await.json().await.expect("json");
    assert_eq!(t["result"], "plan_limit");
    assert_eq!(
        error_code(app.post(&admin, "/api/v1/marketplaces/wb/sync", &json!({})).await, StatusCode::PAYMENT_REQUIRED)
            .await,
        "plan_limit"
    );
    let listed: Value = app.get(&admin, "/api/v1/marketplaces").await.json().await.expect("json");
    assert_eq!(listed[0]["market"], "wb");
    assert_eq!(listed[0]["connected"], false, "past the plan a marketplace is not synced, polled or asked");

    // «Старт» syncs one marketplace: WB connects, Ozon is refused while WB is connected.
    let now = app.clock.now_ms();
    assert_eq!(
        install(&app, &admin, &vendor.sign(&vendor.licence("S-2", "start", now, 30, 7))).await.status(),
        StatusCode::OK
    );
    assert_eq!(put_key("wb.token", "wb-secret").await.status(), StatusCode::NO_CONTENT);
    let resp = put_key("ozon.client_id", "123").await;
    assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = resp.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("m").contains("«Бизнес» (2 маркетплейса)"), "{body}");
    let v = licence(&app, &admin).await;
    assert_eq!(v["usage"]["marketplaces_connected"], json!(["wb"]));
    assert_eq!(v["usage"]["marketplaces_synced"], json!(["wb"]));

    // A licence without the widget: the chat widget's socket is refused before it opens.
    let mut custom = vendor.licence("C-1", "business", now + 1000, 30, 7);
    custom.limits = Limits { channels: vec![ChannelKind::Telegram, ChannelKind::Api], ..custom.limits };
    assert_eq!(install(&app, &admin, &vendor.sign(&custom)).await.status(), StatusCode::OK);
    let ws = app
        .client
        .get(app.url("/widget/ws?visitor=visitor-0001"))
        .header("Origin", "http://127.0.0.1:8080")
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("upgrade");
    assert_eq!(error_code(ws, StatusCode::PAYMENT_REQUIRED).await, "plan_limit");
    // …and the Telegram token is refused for a licence without Telegram.
    custom.id = "C-2".into();
    custom.issued += 1000;
    custom.limits.channels = vec![ChannelKind::Widget];
    assert_eq!(install(&app, &admin, &vendor.sign(&custom)).await.status(), StatusCode::OK);
    let tg = app
        .client
        .put(app.url("/api/v1/channels/telegram"))
        .bearer_auth(&admin)
        .json(&json!({"token": "123456:ABCDEF"}))
        .send()
        .await
        .expect("put");
    assert_eq!(tg.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = tg.json().await.expect("json");
    assert!(body["error"]["message"].as_str().expect("m").contains("Telegram"), "{body}");
}

#[tokio::test]
async fn after_the_grace_period_the_bot_pauses_and_nothing_is_lost() {
    let vendor = Vendor::new();
    let app = licensed(&vendor).await;
    let admin = app.admin_token().await;
    let (op_id, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let operator = app.login("op@shop.ru", &pw).await;
    let start = app.clock.now_ms();
    assert_eq!(
        install(&app, &admin, &vendor.sign(&vendor.licence("G-1", "business", start, 30, 7))).await.status(),
        StatusCode::OK
    );

    assert_eq!(inbound(&app, &admin, "g1", "buyer-1", "привет").await.status(), StatusCode::ACCEPTED);
    settled(&app).await;
    assert_eq!(authors(&thread_of(&app, &admin, "buyer-1").await), ["buyer", "bot"]);

    // Day 31: the licence ended a day ago; within the grace period everything works, with a warning.
    app.clock.advance(31 * DAY);
    let v = licence(&app, &admin).await;
    assert_eq!(v["status"], "grace");
    assert_eq!(v["automation"], true);
    assert_eq!(v["warning"]["level"], "danger");
    assert!(v["warning"]["message"].as_str().expect("m").contains("перестанет отвечать"), "{v}");
    inbound(&app, &admin, "g2", "buyer-1", "спасибо").await;
    settled(&app).await;
    assert_eq!(authors(&thread_of(&app, &admin, "buyer-1").await).last().map(String::as_str), Some("bot"));

    // Day 38: past the grace period. Automation pauses; every buyer message is still stored.
    app.clock.advance(7 * DAY);
    let v = licence(&app, &admin).await;
    assert_eq!(v["status"], "expired");
    assert_eq!(v["automation"], false);
    let bot_before: i64 =
        app.db().query_row("SELECT COUNT(*) FROM messages WHERE author = 'bot'", [], |r| r.get(0)).expect("n");
    let sent = [
        ("p1", "buyer-1", "где мой заказ?"),
        ("p2", "buyer-2", "привет"),
        ("p3", "buyer-3", "хочу вернуть"),
        ("p4", "buyer-2", "ау"),
        ("p5", "buyer-3", "оператор"),
    ];
    for (id, customer, text) in sent {
        assert_eq!(inbound(&app, &admin, id, customer, text).await.status(), StatusCode::ACCEPTED, "{id}");
    }
    settled(&app).await;
    let db = app.db();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM messages m JOIN inbox i ON i.id = m.inbox_id WHERE i.external_id LIKE 'p%' AND m.author = 'buyer'", [], |r| r.get(0))
        .expect("n");
    assert_eq!(stored, 5, "every message was stored");
    let failed: i64 = db.query_row("SELECT COUNT(*) FROM inbox WHERE status != 'done'", [], |r| r.get(0)).expect("n");
    assert_eq!(failed, 0);
    let bot_after: i64 =
        db.query_row("SELECT COUNT(*) FROM messages WHERE author = 'bot'", [], |r| r.get(0)).expect("n");
    assert_eq!(bot_after, bot_before, "the bot said nothing");
    for customer in ["buyer-1", "buyer-2", "buyer-3"] {
        let t = thread_of(&app, &operator, customer).await;
        assert_eq!(t["conversation"]["handled_by"], "operator", "{customer}");
        assert_eq!(t["conversation"]["handoff_reason"], "licence", "{customer}");
        assert_eq!(authors(&t).last().map(String::as_str), Some("buyer"), "shown in the inbox: {customer}");
    }

    // An operator answers as usual: stored and queued to the buyer's channel.
    let t = thread_of(&app, &operator, "buyer-2").await;
    let conv = t["conversation"]["id"].as_i64().expect("id");
    let reply = app
        .post(
            &operator,
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"text": "Здравствуйте! Сейчас посмотрю."}),
        )
        .await;
    assert_eq!(reply.status(), StatusCode::CREATED);
    let queued: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.author = 'operator' AND m.author_user_id = ?1 AND o.channel = 'api'",
            [op_id],
            |r| r.get(0),
        )
        .expect("n");
    assert_eq!(queued, 1);

    // Renewal takes effect at once, without a restart: the next message gets the bot again.
    let now = app.clock.now_ms();
    let resp = install(&app, &admin, &vendor.sign(&vendor.licence("G-2", "business", now, 30, 7))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.expect("json")["status"], "active");
    inbound(&app, &admin, "r1", "buyer-4", "привет").await;
    settled(&app).await;
    assert_eq!(authors(&thread_of(&app, &admin, "buyer-4").await), ["buyer", "bot"]);
}

#[tokio::test]
async fn expiry_warnings_are_mailed_once_each() {
    let smtp = FakeSmtp::start().await;
    let vendor = Vendor::new();
    let (key, port) = (vendor.public(), smtp.port);
    let app = TestApp::spawn_with(move |c| {
        long_sessions(c);
        c.licence.public_key = key;
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.tls = supportd::config::SmtpTls::None;
        c.smtp.from = "supportd <robot@shop.ru>".into();
        c.server.public_url = "https://support.shop.ru".into();
    })
    .await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "owner@shop.ru", "admin").await;
    app.create_user(&admin, "op@shop.ru", "operator").await;
    let start = app.clock.now_ms();
    assert_eq!(
        install(&app, &admin, &vendor.sign(&vendor.licence("W-1", "business", start, 30, 7))).await.status(),
        StatusCode::OK
    );
    let tick = || app.state.licensing.tick(app.state.mailer.as_ref());
    tick().await;
    assert!(smtp.mails().is_empty(), "nothing is due a month ahead");

    let mut expected = 0;
    for (advance, kind, words) in [
        (16 * DAY, "ahead", "через 14 дней"),
        (7 * DAY, "ahead", "через 7 дней"),
        (6 * DAY, "ahead", "через 1 день"),
        (DAY, "grace", "Бот продолжит отвечать"),
        (7 * DAY, "paused", "бот больше не отвечает"),
    ] {
        app.clock.advance(advance);
        tick().await;
        tick().await; // a second run, as after a restart, repeats nothing
        expected += 2; // both active admins get it; the operator does not
        let mails = smtp.wait_for(expected).await;
        assert_eq!(mails.len(), expected, "{kind}: one warning, once");
        let last = &mails[expected - 1];
        let text = last.text();
        assert!(text.contains(words) && text.contains("https://support.shop.ru/#/settings"), "{kind}: {text}");
        let mut to: Vec<String> = mails[expected - 2..].iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, vec!["<admin@localhost>".to_owned(), "<owner@shop.ru>".to_owned()]);
    }
    let states: Vec<(String, String)> = app
        .db()
        .prepare("SELECT kind, state FROM licence_notices ORDER BY due_at")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(states.len(), 5);
    assert!(states.iter().all(|(_, s)| s == "sent"), "{states:?}");

    // A renewal installed with five days left (the server was off for the 14- and 7-day marks):
    // only the latest due warning is sent, the earlier one is recorded as superseded.
    let now = app.clock.now_ms();
    let renewal = vendor.licence("W-2", "business", now - 25 * DAY_MS, 30, 7);
    assert_eq!(install(&app, &admin, &vendor.sign(&renewal)).await.status(), StatusCode::OK);
    tick().await;
    let mails = smtp.wait_for(expected + 2).await;
    assert_eq!(mails.len(), expected + 2);
    assert!(mails[expected].text().contains("через 5 дней"), "{}", mails[expected].text());
    let superseded: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM licence_notices WHERE key LIKE 'licence:W-2:%' AND state = 'superseded'",
            [],
            |r| r.get(0),
        )
        .expect("n");
    assert_eq!(superseded, 1);
}

#[tokio::test]
async fn the_usage_statement_counts_the_month() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (op_id, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let operator = app.login("op@shop.ru", &pw).await;
    for (id, customer, text) in [("s1", "b-1", "привет"), ("s2", "b-2", "привет"), ("s3", "b-1", "спасибо")]
    {
        inbound(&app, &admin, id, customer, text).await;
    }
    settled(&app).await;
    let conv = thread_of(&app, &admin, "b-2").await["conversation"]["id"].as_i64().expect("id");
    app.post(&operator, &format!("/api/v1/conversations/{conv}/messages"), &json!({"text": "Добрый день!"})).await;
    app.post(&operator, &format!("/api/v1/conversations/{conv}/notes"), &json!({"text": "заметка"})).await;
    let now = app.clock.now_ms();
    let db = supportd::store::Db::open(&app.paths.db(), 1, now).expect("db");
    for (provider, cost) in [("yandexgpt", 0.25), ("yandexgpt", 0.5), ("local", 0.0)] {
        let r = supportd::store::llm::CallRecord {
            at: now,
            provider: provider.into(),
            model: "m".into(),
            outcome: "ok",
            error: None,
            prompt_tokens: 100,
            cached_prompt_tokens: 0,
            completion_tokens: 10,
            cost_rub: cost,
            latency_ms: 5,
            ttft_ms: None,
            conversation_id: None,
        };
        db.with_conn(|c| supportd::store::llm::record_call(c, &r)).expect("record");
    }
    let month = supportd::store::llm::month_of(now);
    let s: Value = app.get(&admin, &format!("/api/v1/usage/statement?month={month}")).await.json().await.expect("json");
    assert_eq!(s["month"], month.as_str());
    assert_eq!(s["plan"]["plan"], "trial");
    assert_eq!(s["conversations"], 2);
    assert_eq!(s["messages"]["buyers"], 3);
    assert_eq!(s["messages"]["bot"], 3);
    assert_eq!(s["messages"]["people"], 1, "the note is not a message to anyone");
    assert_eq!(s["model_calls"], 3);
    assert_eq!(s["model_cost_rub"], 0.75);
    let yandex = s["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["provider"] == "yandexgpt")
        .expect("yandexgpt")
        .clone();
    assert_eq!((yandex["calls"].as_i64(), yandex["cost_rub"].as_f64()), (Some(2), Some(0.75)));
    assert_eq!(s["active_operators"], 1);
    assert_eq!(s["operators"][0]["user_id"], op_id);
    assert_eq!(s["operators"][0]["replies"], 1);
    assert_eq!(s["channels"], json!([{"channel": "api", "conversations": 2, "buyer_messages": 3}]));

    let resp = app.get(&admin, &format!("/api/v1/usage/statement.csv?month={month}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        resp.headers()["content-disposition"].to_str().expect("h").contains(&format!("supportd-usage-{month}.csv"))
    );
    let bytes = resp.bytes().await.expect("body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 with a byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(rows.headers().expect("header"), vec!["month", "metric", "dimension", "value", "description"]);
    let rows: Vec<csv::StringRecord> = rows.records().collect::<Result<_, _>>().expect("rows");
    let find = |metric: &str, dim: &str| {
        rows.iter().find(|r| &r[1] == metric && &r[2] == dim).map(|r| r[3].to_owned()).expect(metric)
    };
    assert_eq!(find("conversations", ""), "2");
    assert_eq!(find("messages", "operator"), "1");
    assert_eq!(find("model_cost_rub", "yandexgpt"), "0.7500");
    assert_eq!(find("operator_replies", "op@shop.ru"), "1");
    assert_eq!(find("channel_buyer_messages", "api"), "3");
    assert!(rows.iter().all(|r| &r[0] == month.as_str()));
    assert!(text.contains("Разговоры с сообщениями покупателей"));

    // Another month is empty; a bad month is refused; viewers and operators may not read it.
    let empty: Value = app.get(&admin, "/api/v1/usage/statement?month=2020-01").await.json().await.expect("json");
    assert_eq!((empty["conversations"].as_i64(), empty["model_calls"].as_i64()), (Some(0), Some(0)));
    assert_eq!(
        error_code(app.get(&admin, "/api/v1/usage/statement?month=2020-13").await, StatusCode::UNPROCESSABLE_ENTITY)
            .await,
        "invalid_body"
    );
    assert_eq!(
        error_code(app.get(&operator, "/api/v1/usage/statement").await, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_licence_routes() {
    let app = TestApp::spawn().await;
    let doc: Value =
        app.client.get(app.url("/api/openapi.json")).send().await.expect("doc").json().await.expect("json");
    for (path, method) in [
        ("/api/v1/licence", "get"),
        ("/api/v1/licence", "put"),
        ("/api/v1/usage/statement", "get"),
        ("/api/v1/usage/statement.csv", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing");
    }
    let anonymous = app.client.get(app.url("/api/v1/licence")).send().await.expect("get");
    assert_eq!(error_code(anonymous, StatusCode::UNAUTHORIZED).await, "unauthenticated");
}

fn keygen(dir: &Path) -> String {
    let out = run_cli(dir, &["licence", "keygen", "--out", dir.join("keys").to_str().expect("path")], None);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(dir.join("keys/vendor.pub.pem")).expect("public key")
}

#[test]
fn the_command_line_installs_licences_and_exits_non_zero_on_refusal() {
    let (_d, data) = temp_data_dir();
    assert!(run_cli(&data, &["init"], None).status.success());
    let public = keygen(&data);
    let key = data.join("keys/vendor.key.pem");
    let key = key.to_str().expect("path");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("keys/vendor.key.pem")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is private");
    }
    let env = [("SUPPORTD_LICENCE_PUBLIC_KEY", public.as_str())];
    let cli = |args: &[&str]| run_cli_env(&data, args, &env, None);
    let json = |args: &[&str]| -> Value {
        let o = cli(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).expect("json")
    };

    let v = json(&["licence", "show", "--json"]);
    assert_eq!(v["status"], "trial");
    for field in ["plan", "valid_until", "limits", "status"] {
        assert!(v.get(field).is_some(), "{field} missing: {v}");
    }
    let trial_end = v["valid_until"].clone();

    // The vendor tool signs; the product verifies and installs.
    let file = data.join("shop.lic");
    let issue = cli(&[
        "licence",
        "issue",
        "--key",
        key,
        "--customer",
        "ООО Ладья",
        "--plan",
        "business",
        "--days",
        "365",
        "--seats",
        "12",
        "--out",
        file.to_str().expect("path"),
    ]);
    assert!(issue.status.success(), "{}", stderr(&issue));
    let installed = cli(&["licence", "install", file.to_str().expect("path")]);
    assert!(installed.status.success(), "{}", stderr(&installed));
    assert!(stdout(&installed).contains("installed: plan business (Бизнес) for ООО Ладья"), "{}", stdout(&installed));
    let v = json(&["licence", "show", "--json"]);
    assert_eq!(v["status"], "active");
    assert_eq!(v["plan"], "business");
    assert_eq!(v["limits"]["seats"], 12);
    assert_eq!(v["limits"]["channels"], json!(["telegram", "widget", "api", "whatsapp", "vk"]));
    let human = stdout(&cli(&["licence", "show"]));
    assert!(human.contains("status: active") && human.contains("seats 12 (1 in use)"), "{human}");

    // Refusals: a message naming the reason and a non-zero exit.
    let token = |args: &[&str]| {
        let mut all = vec!["licence", "issue", "--key", key, "--customer", "X", "--plan", "start"];
        all.extend_from_slice(args);
        let o = cli(&all);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_owned()
    };
    let good = token(&["--days", "30"]);
    let mut tampered = good.clone().into_bytes();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let other = tempfile::tempdir().expect("tempdir");
    let other_public = keygen(other.path());
    assert_ne!(other_public, public);
    let foreign = {
        let k = other.path().join("keys/vendor.key.pem");
        let o = cli(&[
            "licence",
            "issue",
            "--key",
            k.to_str().expect("path"),
            "--customer",
            "X",
            "--plan",
            "pro",
            "--days",
            "30",
        ]);
        stdout(&o).trim().to_owned()
    };
    let expired = token(&["--issued", "2020-01-01", "--valid-until", "2020-02-01"]);
    let future = token(&["--issued", "2099-01-01", "--days", "30"]);
    for (licence, reason) in [
        (tampered.as_str(), "bad signature"),
        (foreign.as_str(), "wrong key"),
        (expired.as_str(), "expired"),
        (future.as_str(), "issued in the future"),
        ("SUPPORTD-LIC.e30.AAAA", "malformed"),
        (data.join("missing.lic").to_str().expect("path"), "neither a licence"),
    ] {
        let o = cli(&["licence", "install", licence]);
        assert!(!o.status.success(), "{reason} accepted");
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(reason), "{reason}: {}", stderr(&o));
    }
    assert_eq!(json(&["licence", "show", "--json"])["plan"], "business", "nothing refused replaced it");
    // Piped in, a licence installs too.
    let piped = run_cli_env(&data, &["licence", "install", "-"], &env, Some(&format!("{good}\n")));
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(json(&["licence", "show", "--json"])["plan"], "start");

    // Without the test key (as in a release) the build trusts only the vendor: the licence
    // installed above does not verify, and the trial is what is in force.
    let plain = run_cli(&data, &["licence", "show", "--json"], None);
    let v: Value = serde_json::from_str(&stdout(&plain)).expect("json");
    assert_eq!((v["status"].as_str(), v["key_source"].as_str()), (Some("trial"), Some("vendor")));
    assert_eq!(v["valid_until"], trial_end);

    // The usage statement joins the usage report; its fields stay.
    let usage = json(&["usage", "--month", "2026-11", "--json"]);
    for field in ["month", "total_cost_rub", "calls", "cache_hits", "providers"] {
        assert!(usage.get(field).is_some(), "{field} missing: {usage}");
    }
    assert_eq!(usage["statement"]["month"], "2026-11");
    assert_eq!(usage["statement"]["conversations"], 0);
    assert!(!cli(&["usage", "--month", "2026-13"]).status.success());
}

#[test]
fn the_trial_survives_a_new_config_and_the_command_line_enforces_seats() {
    let (_d, data) = temp_data_dir();
    assert!(run_cli(&data, &["init"], None).status.success());
    let first: Value =
        serde_json::from_str(&stdout(&run_cli(&data, &["licence", "show", "--json"], None))).expect("json");
    std::fs::remove_file(data.join("config.toml")).expect("remove config");
    assert!(run_cli(&data, &["init"], None).status.success(), "a new config is written");
    let again: Value =
        serde_json::from_str(&stdout(&run_cli(&data, &["licence", "show", "--json"], None))).expect("json");
    assert_eq!(again["trial_started_at"], first["trial_started_at"]);
    assert_eq!(again["valid_until"], first["valid_until"]);

    // The trial began 15 days ago: the free tier has one seat, taken by the first admin.
    let conn = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    conn.execute("UPDATE licence_state SET trial_started_at = trial_started_at - 15 * 86400000", []).expect("age");
    let v: Value = serde_json::from_str(&stdout(&run_cli(&data, &["licence", "show", "--json"], None))).expect("json");
    assert_eq!(v["status"], "free");
    assert!(stdout(&run_cli(&data, &["doctor"], None)).contains("ok    licence: no licence: the free tier"));
    let add = run_cli(&data, &["user", "add", "op@shop.ru", "--role", "operator"], Some("operator password 1\n"));
    assert_eq!(add.status.code(), Some(1));
    assert!(stderr(&add).contains("«Бесплатный»") && stderr(&add).contains("«Старт»"), "{}", stderr(&add));
    let viewer = run_cli(&data, &["user", "add", "v@shop.ru", "--role", "viewer"], Some("viewer password 1\n"));
    assert!(viewer.status.success(), "{}", stderr(&viewer));
    let promote = run_cli(&data, &["user", "role", "v@shop.ru", "operator"], None);
    assert!(!promote.status.success() && stderr(&promote).contains("«Старт»"), "{}", stderr(&promote));
    let key = run_cli(&data, &["llm", "set-key", "openai"], Some("sk-test\n"));
    assert!(!key.status.success() && stderr(&key).contains("Облачные модели"), "{}", stderr(&key));
}

#[tokio::test]
async fn a_licence_installed_from_the_command_line_applies_without_a_restart() {
    let (_d, keys) = temp_data_dir();
    std::fs::create_dir_all(&keys).expect("mkdir");
    let public = keygen(&keys);
    let key_file = keys.join("keys/vendor.key.pem");
    let k = public.clone();
    let app = TestApp::spawn_with(move |c| c.licence.public_key = k).await;
    let admin = app.admin_token().await;
    let data = app.paths.data_dir.clone();
    let env = [("SUPPORTD_LICENCE_PUBLIC_KEY", public.as_str())];
    let token = run_cli_env(
        &data,
        &[
            "licence",
            "issue",
            "--key",
            key_file.to_str().expect("path"),
            "--customer",
            "ИП Петров",
            "--plan",
            "pro",
            "--days",
            "30",
        ],
        &env,
        None,
    );
    assert!(token.status.success(), "{}", stderr(&token));
    let out = run_cli_env(&data, &["licence", "install", stdout(&token).trim()], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    // The server's own 10-second job would pick it up; run it now.
    app.state.licensing.tick(None).await;
    let v = licence(&app, &admin).await;
    assert_eq!((v["status"].as_str(), v["plan"].as_str()), (Some("active"), Some("pro")));
    assert_eq!(v["licence"]["customer"], "ИП Петров");
}
