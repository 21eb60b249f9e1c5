//! Analytics end to end: scripted conversations through the real engine (`POST
//! /api/v1/inbound`, operator actions, a manual clock), then every figure's definition checked
//! through the API, the dashboard, the CSV and PDF exports (read back with `pdftotext`), the
//! command line, the plan's exports limit, scheduled reports mailed to a fake SMTP relay, and
//! the Prometheus business metrics.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::app::Paths;
use supportd::clock::Clock;
use supportd::store::Db;

use crate::fakes::smtp::FakeSmtp;
use crate::harness::{TestApp, error_code};

fn load_demo_kb(paths: &Paths) {
    let db = Db::open(&paths.db(), 1, 1).expect("open");
    let report = supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", 1);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}

fn long_sessions(c: &mut supportd::config::Config) {
    c.auth.session_ttl_hours = 24 * 400;
    c.engine.answers = "extractive".into();
}

async fn inbound(app: &TestApp, token: &str, id: &str, customer: &str, text: &str) {
    let body = json!({"message_id": id, "customer": customer, "name": format!("Покупатель {customer}"), "text": text});
    let resp = app.post(token, "/api/v1/inbound", &body).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED, "{}", resp.text().await.unwrap_or_default());
}

/// The conversation of `customer` once it has `n` messages.
async fn conversation(app: &TestApp, token: &str, customer: &str, n: usize) -> Value {
    for _ in 0..400 {
        let list: Value = app.get(token, "/api/v1/conversations?limit=500").await.json().await.expect("json");
        if let Some(c) = list.as_array().expect("list").iter().find(|c| c["recipient"] == customer) {
            let t: Value =
                app.get(token, &format!("/api/v1/conversations/{}", c["id"])).await.json().await.expect("json");
            if t["messages"].as_array().expect("messages").len() >= n {
                return t;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the conversation of {customer} never reached {n} messages");
}

fn rfc(ms: i64) -> String {
    supportd::clock::rfc3339(ms)
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app.get(token, path).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.expect("json")
}

struct Shop {
    app: TestApp,
    admin: String,
    operator: String,
    operator_id: i64,
    /// The scenario's range.
    range: String,
}

/// Seven buyers: four answered by the bot (a greeting, a knowledge question, an order
/// question that needs its number, a question the knowledge base cannot answer), three who ask
/// for a person. An operator answers two of them (after 90 s and 150 s), resolves the first
/// (the buyer rates it 5) and returns the second to the bot; the third still waits.
async fn scripted_shop(adjust: impl FnOnce(&mut supportd::config::Config)) -> Shop {
    let app = TestApp::spawn_prepared(load_demo_kb, |c| {
        long_sessions(c);
        adjust(c);
    })
    .await;
    let start = app.clock.now_ms();
    let admin = app.admin_token().await;
    let (operator_id, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let operator = app.login("op@shop.ru", &pw).await;
    let bot_turns = [
        ("b1", "Здравствуйте!"),
        ("b2", "как вернуть товар на вб"),
        ("b3", "где мой заказ?"),
        ("b4", "продаёте ли вы велосипеды для жирафов"),
    ];
    for (customer, text) in bot_turns {
        inbound(&app, &admin, &format!("{customer}-1"), customer, text).await;
    }
    for customer in ["h1", "h2", "h3"] {
        inbound(&app, &admin, &format!("{customer}-1"), customer, "позовите оператора, пожалуйста").await;
    }
    for (customer, _) in bot_turns {
        conversation(&app, &admin, customer, 2).await;
    }
    let mut ids = Vec::new();
    for customer in ["h1", "h2", "h3"] {
        let t = conversation(&app, &admin, customer, 2).await;
        assert_eq!(t["conversation"]["handled_by"], "operator", "{customer} was handed to a person");
        ids.push(t["conversation"]["id"].as_i64().expect("id"));
    }
    app.clock.advance(Duration::from_secs(90));
    let reply = |id: i64, text: &'static str| {
        let (app, operator) = (&app, &operator);
        async move {
            let r = app.post(operator, &format!("/api/v1/conversations/{id}/messages"), &json!({"text": text})).await;
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    };
    reply(ids[0], "Здравствуйте! Я Мария, чем помочь?").await;
    app.clock.advance(Duration::from_secs(60));
    reply(ids[1], "Здравствуйте, слушаю вас.").await;
    app.clock.advance(Duration::from_secs(30));
    let r = app.post(&operator, &format!("/api/v1/conversations/{}/release", ids[0]), &json!({"resolved": true})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.post(&operator, &format!("/api/v1/conversations/{}/release", ids[1]), &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    inbound(&app, &admin, "h1-2", "h1", "5").await;
    let t = conversation(&app, &admin, "h1", 6).await;
    assert_eq!(t["conversation"]["csat"], 5);
    let range = format!("from={}&to={}", rfc(start - 60_000), rfc(app.clock.now_ms() + 60_000));
    Shop { app, admin, operator, operator_id, range: range.replace('+', "%2B") }
}

#[tokio::test]
async fn every_figure_follows_its_one_definition() {
    let shop = scripted_shop(|_| {}).await;
    let (app, admin) = (&shop.app, &shop.admin);
    let (_, pw) = app.create_user(admin, "viewer@shop.ru", "viewer").await;
    let viewer = app.login("viewer@shop.ru", &pw).await;

    let s = json_of(app, &viewer, &format!("/api/v1/stats/summary?{}", shop.range)).await;
    assert_eq!(s["conversations"], 7, "{s}");
    assert_eq!(s["handoffs"], 3, "{s}");
    assert_eq!(s["automated"], 4, "{s}");
    assert_eq!(s["settled"], 7, "{s}");
    assert_eq!(s["automation_rate"].as_f64(), Some(4.0 / 7.0), "«Вернуть боту» does not make a handoff automated: {s}");
    assert_eq!(s["messages_operator"], 2);
    assert_eq!(s["messages_buyer"], 8);
    assert_eq!(s["messages_bot"].as_i64(), Some(8), "seven first answers and the thanks for the rating: {s}");
    assert_eq!(s["first_human_response_s_p50"].as_f64(), Some(90.0), "handoff → first operator reply: {s}");
    assert_eq!(s["first_human_response_s_p90"].as_f64(), Some(150.0));
    let bot = s["bot_answer_ms_p50"].as_i64().expect("bot answer time");
    assert!((0..5_000).contains(&bot), "the bot's answer, not a person's: {s}");
    assert_eq!(s["csat_avg"].as_f64(), Some(5.0));
    assert_eq!(s["ratings"], 1);
    assert_eq!(s["resolved"], 1);
    assert_eq!(s["resolution_s_p50"].as_f64(), Some(180.0), "first message → «Решено»: {s}");
    assert_eq!(s["previous"]["conversations"], 0);
    assert!(s["previous"]["automation_rate"].is_null());

    // The dashboard uses the same definitions for today.
    let d = json_of(app, &viewer, "/api/v1/dashboard").await;
    assert_eq!(d["automation_rate"].as_f64(), Some(4.0 / 7.0), "{d}");
    assert_eq!(d["first_human_response_s_p50"].as_f64(), Some(90.0), "{d}");
    assert_eq!(d["waiting"], 1, "the third buyer still waits for a person: {d}");

    // The whole report.
    let r = json_of(app, &viewer, &format!("/api/v1/stats/report?{}&bucket=hour", shop.range)).await;
    assert_eq!(r["summary"]["automation_rate"], s["automation_rate"]);
    assert_eq!(r["handoffs"], json!([{"reason": "requested", "conversations": 3, "previous": 0}]));
    assert_eq!(r["funnel"], json!({"inquiries": 7, "bot_answered": 7, "handed": 3, "resolved": 1, "automated": 4}));
    assert_eq!(r["csat"]["distribution"], json!([0, 0, 0, 0, 1]));
    let trend: i64 = r["trend"].as_array().expect("trend").iter().map(|p| p["conversations"].as_i64().unwrap_or(0)).sum();
    assert_eq!(trend, 7);
    let heat: i64 = r["heatmap"]["cells"].as_array().expect("rows").iter().flat_map(|row| row.as_array().expect("row").iter()).map(|n| n.as_i64().unwrap_or(0)).sum();
    assert_eq!(heat, 8, "every buyer message in its weekday and hour");
    let intents: Vec<&str> = r["intents"].as_array().expect("intents").iter().filter_map(|i| i["intent"].as_str()).collect();
    assert!(intents.contains(&"human_request") && intents.contains(&"order_status"), "{intents:?}");
    assert_eq!(r["channels"][0]["source"], "api");
    assert_eq!(r["channels"][0]["conversations"], 7);
    let op = r["operators"].as_array().expect("operators").iter().find(|o| o["user_id"] == shop.operator_id).expect("the operator");
    assert_eq!((op["replies"].as_i64(), op["conversations"].as_i64(), op["first_responses"].as_i64()), (Some(2), Some(2), Some(2)));
    assert_eq!(op["first_response_s_p50"].as_f64(), Some(90.0));
    let articles = r["articles"].as_array().expect("articles");
    assert!(!articles.is_empty() && articles[0]["title"].as_str().is_some_and(|t| !t.is_empty()), "{articles:?}");
    let gaps = r["gaps"].as_array().expect("gaps");
    assert!(
        gaps.iter().any(|g| g["example"].as_str().is_some_and(|e| e.contains("велосипеды"))),
        "the question the knowledge base could not answer is a gap: {gaps:?}"
    );
    // Each figure also has its own route.
    for route in ["trend", "handoffs", "intents", "gaps", "articles", "operators", "channels", "funnel", "heatmap", "csat"] {
        json_of(app, &viewer, &format!("/api/v1/stats/{route}?{}", shop.range)).await;
    }
    assert_eq!(json_of(app, &viewer, &format!("/api/v1/stats/funnel?{}", shop.range)).await, r["funnel"]);

    // Bad periods get the error shape, naming the parameter.
    for (q, field) in [
        ("from=2026-13-01", "from"),
        ("from=2026-11-02&to=2026-11-01", "to"),
        ("period=fortnight", "period"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("period=30d&bucket=hour", "bucket"),
    ] {
        let resp = app.get(&viewer, &format!("/api/v1/stats/report?{q}")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{q}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"]["code"], "invalid_body");
        assert!(body["error"]["message"].as_str().expect("message").starts_with(field), "{q}: {body}");
    }
    let anonymous = app.client.get(app.url("/api/v1/stats/summary")).send().await.expect("get");
    assert_eq!(error_code(anonymous, StatusCode::UNAUTHORIZED).await, "unauthenticated");

    // A day later "today" is empty and yesterday is the previous period.
    app.clock.advance(Duration::from_secs(86_400));
    let later = json_of(app, &viewer, "/api/v1/stats/summary?period=today").await;
    assert_eq!(later["conversations"], 0);
    let week = json_of(app, &viewer, "/api/v1/stats/summary?period=7d").await;
    assert_eq!(week["conversations"], 7);
    assert_eq!(week["automation_rate"].as_f64(), Some(4.0 / 7.0));

    // The OpenAPI document lists the routes.
    let doc = json_of(app, &viewer, "/api/openapi.json").await;
    for path in ["/api/v1/stats/summary", "/api/v1/stats/report", "/api/v1/stats/export.csv", "/api/v1/stats/report.pdf"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing");
    }
    let _ = &shop.operator;
}
