//! Answers shown while they are written: Telegram private chats by sendMessageDraft (checked
//! against the Bot API's parameters by the fake), the widget by `draft` frames, the operators'
//! event stream by `writing` events; each sentence passes the guard before it is shown; one
//! final message per reply, also after a SIGKILL mid-stream.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use supportd::app::Paths;
use supportd::config::Secret;
use supportd::store::Db;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::fakes::llm::{Behavior, FakeLlm};
use crate::fakes::telegram::{FakeTelegram, TOKEN};
use crate::harness::{Server, TestApp, eventually_blocking, settle_blocking, temp_data_dir};

const ANSWER: &str = "Здравствуйте! Оформите возврат в личном кабинете маркетплейса. Спасибо, что выбрали наш магазин.";
const QUESTION: &str = "как вернуть товар на вб";

fn slow(text: &str, ms: u64) -> Behavior {
    let pieces = text.split_inclusive(' ').map(str::to_owned).collect();
    Behavior::Stream { pieces, delay: Duration::from_millis(ms), finish: "stop" }
}

fn demo_shop(paths: &Paths) {
    let db = Db::open(&paths.db(), 1, 1).expect("open");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_millis() as i64;
    let report = supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", now);
    assert!(report.errors.is_empty());
}

async fn app(tg: &FakeTelegram, model: &FakeLlm) -> TestApp {
    let (url, m) = (tg.url(), model.openai_url());
    TestApp::spawn_prepared(demo_shop, move |c| {
        c.telegram.api_url = url;
        c.telegram.mode = supportd::config::TelegramMode::Polling;
        c.telegram.token = Secret::new(TOKEN);
        c.llm.chain = vec![supportd::config::LlmProvider::OpenAi];
        c.llm.openai.base_url = m;
        c.llm.openai.api_key = Secret::new("sk-test");
        c.widget.allowed_origins = vec!["https://ladya-shop.ru".into()];
    })
    .await
}

/// Reads `writing` events from the operators' stream until one is `done`.
async fn writing_events(mut resp: reqwest::Response) -> Vec<Value> {
    let mut buf = String::new();
    let mut events = Vec::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(15), resp.chunk()).await.expect("in time") {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: writing") {
                let data = block.lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
                let v: Value = serde_json::from_str(data).expect("json");
                let done = v["done"] == true;
                events.push(v);
                if done {
                    return events;
                }
            }
        }
    }
    events
}

#[tokio::test]
async fn a_telegram_buyer_sees_the_answer_written_then_one_final_message() {
    let tg = FakeTelegram::start().await;
    let model = FakeLlm::start(vec![slow(ANSWER, 40)]).await;
    let app = app(&tg, &model).await;
    let admin = app.login("admin@localhost", &app.admin_password).await;
    let feed = app.get(&admin, "/api/v1/events/stream").await;
    assert!(feed.status().is_success());
    let watch = tokio::spawn(writing_events(feed));

    tg.push(FakeTelegram::text_update(1, 601, QUESTION));
    let sent = tg.wait_sent(601, 1).await;
    app.settle().await;
    assert_eq!(tg.sent_to(601).len(), 1, "one final message: {:?}", tg.sent_to(601));
    assert_eq!(sent[0], ANSWER);
    let drafts = tg.drafts_to(601);
    assert!(tg.bad_drafts().is_empty(), "{:?}", tg.bad_drafts());
    // Sentence by sentence, each a prefix of the final text, one draft id for the reply.
    let texts: Vec<&str> = drafts.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, vec!["Здравствуйте!", "Здравствуйте! Оформите возврат в личном кабинете маркетплейса."]);
    assert!(drafts.iter().all(|d| d.draft_id != 0 && d.draft_id == drafts[0].draft_id));

    // The operators saw it being written, and when it was done.
    let events = watch.await.expect("feed");
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events[0]["text"], "Здравствуйте!");
    assert_eq!(events[0]["channel"], "telegram");
    assert_eq!(events.last().expect("done")["done"], true);
}

#[tokio::test]
async fn a_sentence_the_guard_refuses_is_never_shown() {
    let tg = FakeTelegram::start().await;
    let model = FakeLlm::start(vec![slow(
        "Здравствуйте! Позвоните нам по номеру +7 999 888-77-66, и мы всё решим. Хорошего дня!",
        20,
    )])
    .await;
    let app = app(&tg, &model).await;
    tg.push(FakeTelegram::text_update(1, 602, QUESTION));
    let sent = tg.wait_sent(602, 1).await;
    app.settle().await;
    let drafts: Vec<String> = tg.drafts_to(602).into_iter().map(|d| d.text).collect();
    assert_eq!(drafts, vec!["Здравствуйте!"]);
    // The final message leaves the refused sentence out too.
    assert_eq!(tg.sent_to(602).len(), 1);
    assert!(!sent[0].contains("999"), "{sent:?}");
    assert!(tg.bad_drafts().is_empty(), "{:?}", tg.bad_drafts());
}

#[tokio::test]
async fn the_widget_shows_the_answer_as_it_arrives() {
    let tg = FakeTelegram::start().await;
    let model = FakeLlm::start(vec![slow(ANSWER, 20)]).await;
    let app = app(&tg, &model).await;
    let mut req = format!("ws://{}/widget/ws?visitor=v-stream-0001", app.addr).into_client_request().expect("request");
    req.headers_mut().insert("Origin", "https://ladya-shop.ru".parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    ws.send(Message::text(json!({"type": "message", "id": "c1", "text": QUESTION}).to_string())).await.expect("send");
    let mut frames = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next()).await.expect("a frame in time");
        let Some(Ok(Message::Text(t))) = frame else { continue };
        let v: Value = serde_json::from_str(t.as_str()).expect("json");
        let last = v["type"] == "message";
        frames.push(v);
        if last {
            break;
        }
    }
    let drafts: Vec<&Value> = frames.iter().filter(|f| f["type"] == "draft").collect();
    assert_eq!(drafts.len(), 2, "{frames:?}");
    assert_eq!(drafts[0]["text"], "Здравствуйте!");
    assert!(drafts.windows(2).all(|w| w[0]["id"] == w[1]["id"]));
    assert_eq!(frames.last().expect("final")["text"], ANSWER);
}

/// The real server process, killed while the answer streams: after the restart the buyer
/// gets exactly one final reply.
#[test]
fn a_sigkill_mid_stream_still_sends_exactly_one_final_reply() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tg = rt.block_on(FakeTelegram::start());
    let model = rt.block_on(FakeLlm::start(vec![slow(ANSWER, 250)]));
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init", "--demo"], None).status.success());
    let (tg_url, llm_url) = (tg.url(), model.openai_url());
    let env = [
        ("SUPPORTD_TELEGRAM_API_URL", tg_url.as_str()),
        ("SUPPORTD_TELEGRAM_TOKEN", TOKEN),
        ("SUPPORTD_LLM_CHAIN", "openai"),
        ("SUPPORTD_OPENAI_BASE_URL", llm_url.as_str()),
        ("SUPPORTD_OPENAI_API_KEY", "sk-test"),
        ("SUPPORTD_ENGINE_ANSWERS", "auto"),
    ];
    let server = Server::start_env(&data, &env);
    tg.push(FakeTelegram::text_update(1, 604, QUESTION));
    // Wait for the first sentence to be previewed, then kill the process mid-stream.
    eventually_blocking(10, "a preview before the kill", || (!tg.drafts_to(604).is_empty()).then_some(()));
    server.kill();
    assert!(tg.sent_to(604).is_empty(), "nothing final before the kill");
    let before = tg.drafts_to(604).len();

    let _server = Server::start_env(&data, &env);
    let got = rt.block_on(tg.wait_sent(604, 1));
    settle_blocking(&data.join("supportd.db"));
    assert_eq!(tg.sent_to(604).len(), 1, "exactly one final reply: {:?}", tg.sent_to(604));
    assert_eq!(got[0], ANSWER);
    assert!(tg.drafts_to(604).len() > before, "written again after the restart");
    assert!(tg.bad_drafts().is_empty(), "{:?}", tg.bad_drafts());
}
