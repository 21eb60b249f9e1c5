//! Poison messages: a buyer message whose processing panics, or crashes or hangs the whole
//! process, is tried a bounded number of times, then handed to a person with a note, and the
//! rest of the inbox goes on. The server always starts again.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use supportd::clock::{Clock, ManualClock, SharedClock};
use supportd::engine::{Engine, Inbound, MAX_ATTEMPTS, Settings};
use supportd::llm::chain::{Budget, ChainSettings, Llm};
use supportd::llm::{BoxFuture, Completion, GenerateRequest, LlmError, Provider, TokenSink};
use supportd::marketplace::Orders;
use supportd::store::Db;

use crate::fakes::llm::{Behavior, FakeLlm};
use crate::harness::{Server, eventually, printed_password, run_cli, stderr, stdout, temp_data_dir};

/// A model provider with a bug: it panics on every request.
struct Panicking;

impl Provider for Panicking {
    fn name(&self) -> &str {
        "openai"
    }
    fn model(&self) -> String {
        "panics".into()
    }
    fn generate<'a>(
        &'a self,
        _req: &'a GenerateRequest,
        _sink: &'a TokenSink,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(async { panic!("a provider bug") })
    }
}

fn message(customer: &str, id: &str, text: &str) -> Inbound {
    Inbound {
        channel: supportd::channels::ChannelName::Telegram,
        message_id: id.into(),
        customer: customer.into(),
        name: String::new(),
        text: text.into(),
        attachments: Vec::new(),
        verified_phone: None,
        from_seller: false,
    }
}

fn inbox_status(db: &rusqlite::Connection, external_id: &str) -> (String, i64) {
    db.query_row("SELECT status, attempts FROM inbox WHERE external_id = ?1", [external_id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .expect("inbox row")
}

/// The poisoned buyer's conversation: waiting for a person, with the buyer's message, a
/// system note, and the hand-over reply queued for the buyer.
fn assert_handed_over(db: &rusqlite::Connection, text: &str) {
    let (conv, status, reason): (i64, String, String) = db
        .query_row(
            "SELECT c.id, c.status, c.handoff_reason FROM conversations c JOIN messages m ON m.conversation_id = c.id
             WHERE m.body = ?1",
            [text],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the buyer's message is in a conversation");
    assert_eq!((status.as_str(), reason.as_str()), ("pending", "processing_failed"));
    let notes: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM messages WHERE author = 'system' AND internal = 1 AND conversation_id = ?1",
            [conv],
            |r| r.get(0),
        )
        .expect("notes");
    assert_eq!(notes, 1, "one note for the operators");
    let queued: String = db
        .query_row("SELECT payload FROM outbox WHERE conversation_id = ?1 ORDER BY id LIMIT 1", [conv], |r| r.get(0))
        .expect("a reply to the buyer");
    assert!(queued.contains("оператор"), "{queued}");
}

#[tokio::test]
async fn a_message_that_panics_the_worker_is_parked_and_the_others_are_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::starting_now());
    let shared: SharedClock = clock.clone();
    let db = Db::open(&dir.path().join("e.db"), 2, clock.now_ms()).expect("open");
    supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", clock.now_ms());
    let kb =
        supportd::kb::Kb::open_with(db.clone(), &dir.path().join("idx"), shared.clone(), None, dir.path().join("none"))
            .expect("kb");
    let llm = Arc::new(Llm::new(
        vec![(Arc::new(Panicking) as Arc<dyn Provider>, Budget { monthly_rub: 0.0 })],
        ChainSettings { cache_ttl: Duration::ZERO, ..ChainSettings::default() },
        db.clone(),
        shared.clone(),
    ));
    let mut config = supportd::config::Config::default();
    config.engine.answers = supportd::config::AnswerMode::Auto;
    let orders = Orders::new(db.clone(), shared.clone(), Duration::from_secs(600), Duration::from_secs(2));
    let engine =
        Arc::new(Engine::new(db.clone(), shared, Arc::new(kb), llm, Arc::new(orders), Settings::from_config(&config)));
    let worker = tokio::spawn(engine.clone().run());

    // A knowledge question: the model is asked, and the provider panics.
    let poison = "как вернуть товар на вб если не подошёл размер";
    engine.accept(&message("1", "p-1", poison)).await.expect("accept");
    engine.accept(&message("2", "ok-1", "привет")).await.expect("accept");
    let file = rusqlite::Connection::open(dir.path().join("e.db")).expect("db");
    let tries = eventually(30, "the poisoned item parked and the other one answered", async || {
        let (poisoned, tries) = inbox_status(&file, "p-1");
        (poisoned == "failed" && inbox_status(&file, "ok-1").0 == "done").then_some(tries)
    })
    .await;
    assert_eq!(tries, MAX_ATTEMPTS + 1, "three starts, and the fourth parks it");
    assert_handed_over(&file, poison);
    // A later message of the same buyer goes to the person too (the conversation is theirs).
    engine.accept(&message("1", "p-2", "ау")).await.expect("accept");
    eventually(10, "the next message processed", async || (inbox_status(&file, "p-2").0 == "done").then_some(())).await;
    worker.abort();
}

/// Kills the server while it processes one message (the model never answers), three times;
/// the fourth start hands the message to a person and answers the next buyer.
#[tokio::test]
async fn a_message_that_crashes_the_process_does_not_crash_loop_the_server() {
    let llm = FakeLlm::start(vec![Behavior::Hang]).await;
    let (_dir, data) = temp_data_dir();
    let init = run_cli(&data, &["init", "--demo"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let password = printed_password(&stdout(&init)).expect("password");
    let url = llm.openai_url();
    let env = [
        ("SUPPORTD_LLM_CHAIN", "openai"),
        ("SUPPORTD_OPENAI_BASE_URL", url.as_str()),
        ("SUPPORTD_OPENAI_API_KEY", "sk-test"),
        ("SUPPORTD_ENGINE_ANSWERS", "auto"),
        ("SUPPORTD_LLM_TIMEOUT_SECS", "300"),
        ("SUPPORTD_LLM_CACHE_TTL_SECS", "0"),
    ];
    let client = reqwest::Client::new();
    let poison = "как вернуть товар на вб если не подошёл размер";
    let mut server = Server::start_env(&data, &env);
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
    let resp = client
        .post(server.url("/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"message_id": "m-1", "customer": "b-1", "text": poison}))
        .send()
        .await
        .expect("inbound");
    assert_eq!(resp.status(), 202);
    let db = rusqlite::Connection::open(data.join("supportd.db")).expect("db");
    for start in 1..=MAX_ATTEMPTS {
        // Wait until this start is counted (the worker is inside the model call), then crash.
        eventually(30, &format!("start {start} counted"), async || (inbox_status(&db, "m-1").1 >= start).then_some(()))
            .await;
        server.kill();
        server = Server::start_env(&data, &env);
    }
    // The fourth start parks it at once; another buyer is answered.
    let resp = client
        .post(server.url("/api/v1/inbound"))
        .bearer_auth(&token)
        .json(&json!({"message_id": "m-2", "customer": "b-2", "text": "привет"}))
        .send()
        .await
        .expect("inbound");
    assert_eq!(resp.status(), 202);
    eventually(30, "m-1 parked and m-2 answered", async || {
        (inbox_status(&db, "m-1").0 == "failed" && inbox_status(&db, "m-2").0 == "done").then_some(())
    })
    .await;
    assert_handed_over(&db, poison);
    let health = client.get(server.url("/healthz")).send().await.expect("health");
    assert!(health.status().is_success());
    drop(server);
}
