//! Order sync against fake WB and Ozon servers: 10,000 orders full and incremental, a status
//! change that notifies the linked buyer once, a 429 storm waited out, a 401 that stops the
//! job, a malformed page that corrupts nothing, and a restart in the middle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use supportd::clock::{Clock, ManualClock, SharedClock};
use supportd::config::{NotificationsConfig, Secret};
use supportd::marketplace::sync::{Kind, Syncer};
use supportd::marketplace::{Market, MarketError, OrderStatus};
use supportd::net::KeyRef;
use supportd::store::{Db, messaging as msgs, orders as rows};

use crate::fakes::marketplace::{FakeMarketplace, Fault, OZON_API_KEY, OZON_CLIENT_ID, WB_TOKEN};
use crate::harness::{eventually, run_cli_env, stderr, stdout, temp_data_dir};

const DAY: i64 = 86_400_000;

pub(crate) struct Setup {
    _dir: tempfile::TempDir,
    pub db: Db,
    pub clock: Arc<ManualClock>,
    pub syncer: Syncer,
}

pub(crate) fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::starting_now());
    let db = Db::open(&dir.path().join("s.db"), 2, clock.now_ms()).expect("open");
    let shared: SharedClock = clock.clone();
    let notifier = supportd::engine::notify::notifier(&NotificationsConfig::default(), 180);
    let syncer = Syncer::new(db.clone(), shared, 90, notifier);
    Setup { _dir: dir, db, clock, syncer }
}

/// The WB adapter against the fake's per-host listeners (so each group's host is checked too),
/// with the fake's time scale for the documented limits.
pub(crate) fn wb(market: &FakeMarketplace, token: &str) -> supportd::marketplace::wb::Wb {
    supportd::marketplace::wb::Wb::new("", KeyRef::Fixed(Secret::new(token)))
        .with_hosts(market.wb_hosts())
        .with_limit_scale(market.scale())
}

pub(crate) fn ozon(market: &FakeMarketplace) -> supportd::marketplace::ozon::Ozon {
    supportd::marketplace::ozon::Ozon::new(
        &market.url(),
        KeyRef::Fixed(Secret::new(OZON_CLIENT_ID)),
        KeyRef::Fixed(Secret::new(OZON_API_KEY)),
    )
}

pub(crate) fn count(db: &Db, market: Market) -> i64 {
    db.with_conn(|c| rows::count(c, Some(market))).expect("count")
}

pub(crate) fn outbox(db: &Db) -> Vec<(String, String)> {
    db.with_conn(|c| {
        let mut stmt = c.prepare("SELECT recipient, payload FROM outbox ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    })
    .expect("outbox")
}

#[tokio::test]
async fn ten_thousand_wb_orders_then_changes_and_one_notification() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    let now = s.clock.now_ms();
    market.add_wb_orders(5_000_000_000, 10_000, now - 30 * DAY);
    let api = wb(&market, WB_TOKEN);

    let started = Instant::now();
    let r = s.syncer.run(&api, Kind::Full).await.expect("full sync");
    eprintln!(
        "full sync: {} orders in {:.2} s ({:.0}/s)",
        r.orders,
        started.elapsed().as_secs_f64(),
        r.orders as f64 / started.elapsed().as_secs_f64()
    );
    assert_eq!((r.orders, r.changed), (10_000, 0));
    // Ten pages of 1000, give or take one where the orders cross a 30-day window's edge.
    assert!((10..=11).contains(&r.pages), "{r:?}");
    assert_eq!(count(&s.db, Market::Wb), 10_000);

    // A buyer showed order 5000000042 in a chat before; they get told when it ships, once.
    s.db.with_conn(|c| {
        let cust = msgs::upsert_customer(c, "telegram", "777", "Анна", now)?;
        rows::link(c, cust, Market::Wb, "5000000042", now)
    })
    .expect("link");
    s.clock.advance(Duration::from_secs(20 * 60));
    market.set_wb_status(5_000_000_042, "complete", "sorted");
    market.set_wb_status(5_000_000_043, "cancel", "canceled");
    market.add_wb_orders(5_000_010_000, 5, s.clock.now_ms() - 60_000);
    let r = s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!(r.changed, 2, "{r:?}");
    assert_eq!(r.notified, 1);
    assert_eq!(count(&s.db, Market::Wb), 10_005);
    let o = s.db.with_conn(|c| rows::get(c, Market::Wb, "5000000042")).expect("get").expect("order");
    assert_eq!(o.status, OrderStatus::InTransit);
    let history = s.db.with_conn(|c| rows::history(c, Market::Wb, "5000000042")).expect("history");
    assert_eq!(history.len(), 2);
    let sent = outbox(&s.db);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "777");
    assert!(sent[0].1.contains("5000000042") && sent[0].1.contains("передан в доставку"), "{}", sent[0].1);

    // Nothing changed: nothing new; the same status never notifies twice.
    s.clock.advance(Duration::from_secs(20 * 60));
    let r = s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!((r.changed, r.notified), (0, 0));
    assert_eq!(outbox(&s.db).len(), 1);

    // A buyer who opted out is not told.
    s.db.with_conn(|c| {
        let cust = msgs::upsert_customer(c, "telegram", "888", "", now)?;
        rows::link(c, cust, Market::Wb, "5000000044", now)?;
        rows::set_opt_out(c, cust, true)
    })
    .expect("opt out");
    market.set_wb_status(5_000_000_044, "complete", "sorted");
    s.clock.advance(Duration::from_secs(20 * 60));
    let r = s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!((r.changed, r.notified), (1, 0));
}

#[tokio::test]
async fn ozon_postings_full_and_by_status_change() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    let now = s.clock.now_ms();
    market.add_ozon_postings("88001122", 2500, now - 10 * DAY, "awaiting_packaging");
    market.add_ozon_fbo("77001122", 1200, now - 20 * DAY, "delivering");
    let api = ozon(&market);
    let r = s.syncer.run(&api, Kind::Full).await.expect("full");
    assert_eq!((r.orders, r.pages), (3700, 5), "FBS and FBO postings");
    let fbo = s.db.with_conn(|c| rows::get(c, Market::Ozon, "77001122-0001-1")).expect("get").expect("an FBO posting");
    assert_eq!(fbo.status, OrderStatus::InTransit);
    s.db.with_conn(|c| {
        let cust = msgs::upsert_customer(c, "widget", "v-visitor-1", "", now)?;
        rows::link(c, cust, Market::Ozon, "88001122-0007-1", now)
    })
    .expect("link");
    s.clock.advance(Duration::from_secs(15 * 60));
    market.change_ozon("88001122-0007-1", "delivering", "posting_in_pickup_point", s.clock.now_ms() - 1000);
    let r = s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!((r.changed, r.notified), (1, 1), "only the changed FBS posting changed");
    assert!(r.orders < 1300, "the FBS listing holds only changed postings: {r:?}");
    let sent = outbox(&s.db);
    assert!(sent[0].1.contains("ждёт вас в пункте выдачи"), "{}", sent[0].1);
}

#[tokio::test]
async fn a_429_storm_is_waited_out_and_a_401_stops_the_job() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    market.add_wb_orders(7_000_000_000, 1500, s.clock.now_ms() - DAY);
    market.fault("/api/v3/orders", vec![Fault::TooMany { retry_after: 1 }; 3]);
    let started = Instant::now();
    let r = s.syncer.run(&wb(&market, WB_TOKEN), Kind::Full).await.expect("sync after the storm");
    assert_eq!(r.orders, 1500);
    assert!(started.elapsed() >= Duration::from_secs(3), "each 429's X-Ratelimit-Retry was honoured");

    let s2 = setup();
    let err = s2.syncer.run(&wb(&market, "wrong-token"), Kind::Full).await.expect_err("rejected");
    assert_eq!(err, MarketError::Unauthorized);
    let state = s2.db.with_conn(|c| rows::sync_state(c, Market::Wb, "full")).expect("state");
    assert_eq!(state.status, "failed");
    assert!(state.error.expect("error").contains("rejected"));
    assert_eq!(count(&s2.db, Market::Wb), 0);
}

#[tokio::test]
async fn a_malformed_page_or_a_restart_resumes_without_corrupting_the_cache() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    market.add_wb_orders(9_000_000_000, 5000, s.clock.now_ms() - DAY);
    // Pages 1 and 2 arrive, page 3 is garbage.
    // A full sync lists 90 days in windows of at most 30: two empty windows, then pages 1 and 2
    // of the last one arrive and page 3 is garbage.
    market.fault("/api/v3/orders", vec![Fault::Pass, Fault::Pass, Fault::Pass, Fault::Pass, Fault::Malformed]);
    let api = wb(&market, WB_TOKEN);
    let err = s.syncer.run(&api, Kind::Full).await.expect_err("malformed");
    assert!(matches!(err, MarketError::Shape(_)), "reported as a changed API: {err:?}");
    assert_eq!(count(&s.db, Market::Wb), 2000, "whole pages only");
    let state = s.db.with_conn(|c| rows::sync_state(c, Market::Wb, "full")).expect("state");
    assert_eq!((state.status.as_str(), state.fetched), ("failed", 2000));
    assert!(state.cursor.is_some());

    // A new process (a restart) continues from page 3.
    let dir_db = s.db.clone();
    let restarted = Syncer::new(dir_db, s.clock.clone(), 90, None);
    let calls = market.list_calls();
    let r = restarted.run(&api, Kind::Full).await.expect("resumed");
    assert!(r.resumed);
    assert_eq!(r.orders, 3000);
    assert_eq!(market.list_calls() - calls, 4, "pages 3, 4 and 5 only (and the empty one that ends a WB listing)");
    assert_eq!(count(&s.db, Market::Wb), 5000);
}

#[test]
fn sync_and_orders_commands() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let Some(market) = rt.block_on(FakeMarketplace::start()) else { return };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("t").as_millis() as i64;
    market.add_wb_orders(4_200_000_000, 1200, now - DAY);
    market.set_posting("57195475-0050-3", "delivering", "");
    let (_d, data) = temp_data_dir();
    assert!(crate::harness::run_cli(&data, &["init"], None).status.success());
    let url = market.url();
    let env = [("SUPPORTD_WB_BASE_URL", url.as_str()), ("SUPPORTD_WB_TOKEN", "wrong")];
    let out = run_cli_env(&data, &["sync", "wb"], &env, None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("rejected the key"), "{}", stderr(&out));
    let out = run_cli_env(&data, &["doctor"], &env, None);
    assert!(stdout(&out).contains("FAIL  sync: Wildberries: the last sync stopped"), "{}", stdout(&out));
    let env = [
        ("SUPPORTD_WB_BASE_URL", url.as_str()),
        ("SUPPORTD_WB_TOKEN", WB_TOKEN),
        ("SUPPORTD_OZON_BASE_URL", url.as_str()),
        ("SUPPORTD_OZON_CLIENT_ID", OZON_CLIENT_ID),
        ("SUPPORTD_OZON_API_KEY", OZON_API_KEY),
    ];
    let out = run_cli_env(&data, &["sync", "wb", "--full"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Wildberries: full sync: 1200 orders in 2 pages"), "{}", stdout(&out));
    let out = run_cli_env(&data, &["orders", "show", "4200000005"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Заказ 4200000005 (Wildberries) оформлен и ждёт сборки"), "{}", stdout(&out));
    // Not in the cache: asked live.
    let out = run_cli_env(&data, &["orders", "show", "57195475-0050-3", "--json"], &env, None);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!((v["source"].as_str(), v["order"]["status"].as_str()), (Some("live"), Some("in_transit")));
    let out = run_cli_env(&data, &["orders", "show", "1"], &env, None);
    assert!(!out.status.success());

    // Product cards from both marketplaces land in the knowledge base and are searchable.
    let out = run_cli_env(&data, &["sync", "--products"], &env, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Wildberries: products: 2 created or updated"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Ozon: products: 1 created or updated"), "{}", stdout(&out));
    let out = run_cli_env(&data, &["kb", "search", "платье льняное", "--json"], &env, None);
    assert!(stdout(&out).contains("Платье льняное миди с поясом"), "{}", stdout(&out));
    let out = run_cli_env(&data, &["sync", "ozon", "--products"], &env, None);
    assert!(stdout(&out).contains("Ozon: products: 0 created or updated, 1 unchanged"), "{}", stdout(&out));
}

#[tokio::test]
async fn marketplace_questions_are_answered_and_published() {
    let Some(market) = FakeMarketplace::start().await else { return };
    market.add_wb_question("q-1001", "Как вернуть футболку если не подошел размер?");
    market.add_ozon_chat_message(
        "chat-7",
        3000000000118021931,
        "Здравствуйте! Можно ли вернуть товар, если он не подошёл?",
    );
    market.add_wb_feedback("fb-1", "Хорошая футболка. Подскажите, при какой температуре её стирать?", 5);
    market.add_wb_feedback("fb-2", "Пришла с дыркой, вы мошенники, напишу жалобу", 1);
    market.add_ozon_review("rv-1", "Подскажите, как вернуть, если размер не подошёл?", 4);
    market.add_wb_chat_message("1:chat-wb-1", "Здравствуйте! Как вернуть товар на вб?", 1_795_000_000_000);
    let url = market.url();
    let app = crate::harness::TestApp::spawn_prepared(
        |paths| {
            let db = Db::open(&paths.db(), 1, 1).expect("open");
            supportd::kb::import::apply(&db, supportd::kb::import::demo(), None, "demo", 1);
        },
        move |c| {
            c.marketplaces.wb.base_url = url.clone();
            c.marketplaces.wb.token = Secret::new(WB_TOKEN);
            c.marketplaces.wb.questions = supportd::config::QaMode::Auto;
            c.marketplaces.ozon.base_url = url;
            c.marketplaces.ozon.client_id = Secret::new(OZON_CLIENT_ID);
            c.marketplaces.ozon.api_key = Secret::new(OZON_API_KEY);
            c.marketplaces.ozon.chats = supportd::config::QaMode::Draft;
            c.marketplaces.questions_every_secs = 1;
        },
    )
    .await;
    // WB, "auto": the bot's answer from the knowledge base is published on the question.
    let answer = eventually(10, "the WB question answered", async || market.wb_answer("q-1001")).await;
    assert!(answer.to_lowercase().contains("верн"), "answered from the returns articles: {answer}");
    // A review with a question is answered publicly; an angry one waits for a person (a
    // handoff text is never published on the marketplace).
    eventually(10, "the feedback with a question answered", async || market.wb_feedback_answer("fb-1")).await;
    assert_eq!(market.wb_feedback_answer("fb-2"), None);
    // A WB buyer chat is answered in the chat (multipart with the chat's replySign).
    eventually(10, "the WB chat answered", async || (!market.wb_chat_sent("1:chat-wb-1").is_empty()).then_some(()))
        .await;
    assert_eq!(market.wb_chat_sent("1:chat-wb-1").len(), 1, "answered once in the WB chat");

    // Ozon, "draft": the bot drafts, nothing is sent until a person approves.
    let admin = app.admin_token().await;
    let conv = eventually(10, "the Ozon chat message in the inbox", async || {
        let list: serde_json::Value =
            app.get(&admin, "/api/v1/conversations?status=pending").await.json().await.expect("json");
        list.as_array()
            .expect("list")
            .iter()
            .find(|c| c["recipient"] == "chat-7")
            .map(|c| c["id"].as_i64().expect("id"))
    })
    .await;
    let thread: serde_json::Value =
        app.get(&admin, &format!("/api/v1/conversations/{conv}")).await.json().await.expect("json");
    assert_eq!(thread["conversation"]["handoff_reason"], "approval");
    let draft = thread["messages"].as_array().expect("m").last().expect("draft").clone();
    assert_eq!(draft["provenance"]["draft"], true);
    assert!(market.ozon_sent("chat-7").is_empty(), "nothing sent before approval");
    let text = format!("{} С уважением, Ладья.", draft["body"].as_str().expect("body"));
    let resp =
        app.post(&admin, &format!("/api/v1/conversations/{conv}/messages"), &serde_json::json!({"text": text})).await;
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
    eventually(10, "the approved reply sent on Ozon", async || (!market.ozon_sent("chat-7").is_empty()).then_some(()))
        .await;
    let rows: Vec<(String, String, String, Option<String>)> = {
        let db = app.db();
        let mut st = db.prepare("SELECT channel, recipient || '/conv' || conversation_id || '/msg' || message_id, status, last_error FROM outbox").expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("q")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert_eq!(market.ozon_sent("chat-7"), vec![text], "conv {conv}: {rows:?}");
    // Ozon reviews come in as drafts too ("draft" mode for Ozon), nothing is posted by itself.
    assert_eq!(market.ozon_review_comment("rv-1"), None);
    let held: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM conversations WHERE handoff_reason IN ('approval', 'negative')", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert!(held >= 3, "the Ozon chat, the Ozon review and the angry WB feedback wait for a person: {held}");
    // The same question fetched again is not answered twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let n: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM inbox WHERE channel = 'wb_questions'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 4, "one question, two feedbacks and a chat message, each stored once");
}

#[tokio::test]
async fn settings_test_the_connection_and_sync_now() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("t").as_millis() as i64;
    market.add_ozon_postings("55501234", 40, now - 5 * DAY, "awaiting_packaging");
    let url = market.url();
    let app = crate::harness::TestApp::spawn_with(move |c| {
        c.marketplaces.wb.base_url = url.clone();
        c.marketplaces.wb.token = Secret::new("revoked-token");
        c.marketplaces.ozon.base_url = url;
        c.marketplaces.ozon.client_id = Secret::new(OZON_CLIENT_ID);
        c.marketplaces.ozon.api_key = Secret::new(OZON_API_KEY);
        c.marketplaces.wb.questions = supportd::config::QaMode::Off;
        c.marketplaces.ozon.chats = supportd::config::QaMode::Off;
    })
    .await;
    let admin = app.admin_token().await;
    let wb: serde_json::Value =
        app.post(&admin, "/api/v1/marketplaces/wb/test", &serde_json::json!({})).await.json().await.expect("json");
    assert_eq!((wb["ok"].as_bool(), wb["result"].as_str()), (Some(false), Some("wrong_token")), "{wb}");
    let oz: serde_json::Value =
        app.post(&admin, "/api/v1/marketplaces/ozon/test", &serde_json::json!({})).await.json().await.expect("json");
    assert_eq!(oz["result"], "valid", "{oz}");
    assert_eq!(
        app.post(&admin, "/api/v1/marketplaces/amazon/test", &serde_json::json!({})).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );

    let resp = app.post(&admin, "/api/v1/marketplaces/ozon/sync?full=true", &serde_json::json!({})).await;
    assert_eq!(resp.status(), reqwest::StatusCode::ACCEPTED);
    let list = eventually(10, "the full Ozon sync done", async || {
        let list: serde_json::Value = app.get(&admin, "/api/v1/marketplaces").await.json().await.expect("json");
        (list[1]["orders_cached"] == 40 && list[1]["full_sync"]["status"] == "idle").then_some(list)
    })
    .await;
    assert_eq!(list[1]["market"], "ozon");
    assert_eq!(list[1]["orders_cached"], 40, "{list}");
    assert_eq!(list[0]["connected"], true);
    // Operators may not see or change integrations.
    let (_, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let op = app.login("op@shop.ru", &pw).await;
    assert_eq!(app.get(&op, "/api/v1/marketplaces").await.status(), reqwest::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn wb_fbo_orders_sales_stocks_and_claims() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    let now = s.clock.now_ms();
    market.add_wb_orders(5_000_000_000, 3, now - 2 * DAY);
    // FBO: one order sold, one cancelled; the report's FBS row is left to the FBS API.
    market.add_wb_report_order("fbo-1.a1b2", "LD-DR-101", 190011223, now - 3 * DAY, now - 3 * DAY, false);
    market.add_wb_report_order("fbo-2.c3d4", "LD-TS-001", 190011224, now - 3 * DAY, now - 2 * DAY, true);
    market.add_wb_report_fbs_row("r5000000001", now - 2 * DAY);
    market.add_wb_sale("fbo-1.a1b2", "S9993700024", 190011223, now - DAY);
    market.add_wb_claim("11111111-aaaa-4bbb-8ccc-000000000001", "r5000000001", 0, 0, false, now - 3_600_000);
    market.add_wb_claim("11111111-aaaa-4bbb-8ccc-000000000002", "fbo-1.a1b2", 2, 10, true, now - 7_200_000);
    market.set_wb_stock(190011223, 7, 1, 3);
    let api = wb(&market, WB_TOKEN);

    // Cards with stock: the seller's warehouse (size 1: 3) plus WB's warehouses (7).
    s.syncer.products(&api).await.expect("products");
    let stock: i64 =
        s.db.with_conn(|c| {
            Ok(c.query_row(
                "SELECT stock FROM products WHERE marketplace = 'wb' AND offer_id = 'LD-DR-101'",
                [],
                |r| r.get(0),
            )?)
        })
        .expect("stock");
    assert_eq!(stock, 10);

    let r = s.syncer.run(&api, Kind::Full).await.expect("full sync");
    assert_eq!((r.returns, r.returns_error.as_deref()), (2, None), "{r:?}");
    assert_eq!(
        count(&s.db, Market::Wb),
        3 + 2,
        "three FBS orders and two FBO ones (the report's FBS row is not copied)"
    );
    // Each report is read until it answers an empty page (or repeats only its last moment).
    assert_eq!(market.requests("GET", "/api/v1/supplier/orders"), 2);
    assert_eq!(market.requests("GET", "/api/v1/supplier/sales"), 2);
    let get = |n: &str| s.db.with_conn(|c| rows::get(c, Market::Wb, n)).expect("get");
    let sold = get("fbo-1.a1b2").expect("the FBO order is cached");
    assert_eq!((sold.status, sold.status_raw.as_str()), (OrderStatus::Delivered, "fbo/sold"));
    assert_eq!(sold.items[0].name, "Платье льняное миди с поясом", "named from the product card");
    assert_eq!(sold.items[0].size.as_deref(), Some("M"));
    let cancelled = get("fbo-2.c3d4").expect("cached");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert!(get("r5000000001").is_none(), "FBS rows of the report are not copied twice");
    let fbs = get("5000000001").expect("FBS order");
    assert_eq!(fbs.reference.as_deref(), Some("r5000000001"));
    // Claims are found by the order's srid (an FBS order's rid), whichever number is asked.
    let claims = s.db.with_conn(|c| rows::returns_of(c, &fbs)).expect("returns");
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].status, supportd::marketplace::ReturnStatus::Review);
    // Status 2 with status_ex 10: "товар возвращается продавцу" — on its way, not done yet.
    let back = s.db.with_conn(|c| rows::returns_of(c, &sold)).expect("returns");
    assert_eq!(back[0].status, supportd::marketplace::ReturnStatus::InTransit);

    // Incremental: only what changed since; a return (R…) of the sold order is picked up.
    s.clock.advance(Duration::from_secs(3600));
    market.add_wb_sale("fbo-1.a1b2", "R9993700025", 190011223, s.clock.now_ms() - 60_000);
    let r = s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!(r.changed, 1, "only the returned order changed: {r:?}");
    let returned = get("fbo-1.a1b2").expect("cached");
    assert_eq!((returned.status, returned.status_raw.as_str()), (OrderStatus::Cancelled, "fbo/returned"));
    // The orders report repeating that order's row later does not move it back.
    s.clock.advance(Duration::from_secs(3600));
    let t = s.clock.now_ms();
    market.add_wb_report_order("fbo-1.a1b2", "LD-DR-101", 190011223, now - 3 * DAY, t - 60_000, false);
    s.syncer.run(&api, Kind::Incremental).await.expect("incremental");
    assert_eq!(get("fbo-1.a1b2").expect("cached").status_raw, "fbo/returned");
}

#[tokio::test]
async fn ozon_returns_are_synced_and_its_questions_answered() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let s = setup();
    let now = s.clock.now_ms();
    market.add_ozon_postings("57195475", 2, now - 5 * DAY, "delivered");
    market.add_ozon_return(1000015552, "57195475-0001-1", "ArrivedAtReturnPlace", "В пункте выдачи", now - DAY);
    market.add_ozon_return(1000015553, "57195475-0002-1", "MoneyReturned", "Деньги возвращены", now - 2 * DAY);
    market.add_ozon_return(1000015554, "57195475-0002-1", "Rejected", "Отклонён", now - 60 * DAY);
    let api = ozon(&market);
    let r = s.syncer.run(&api, Kind::Full).await.expect("full sync");
    assert_eq!(r.returns, 2, "only returns changed in the last 30 days: {r:?}");
    let order = s.db.with_conn(|c| rows::get(c, Market::Ozon, "57195475-0001-1")).expect("get").expect("posting");
    let returns = s.db.with_conn(|c| rows::returns_of(c, &order)).expect("returns");
    assert_eq!(returns.len(), 1);
    assert_eq!(returns[0].status, supportd::marketplace::ReturnStatus::InTransit);
    assert_eq!(returns[0].status_text, "В пункте выдачи");

    // Product questions come in with the chats and reviews; an answer goes to the question.
    market.add_ozon_question("019294ff-6888-7009-89d8-26569e4e450d", 1784523910, "Какой состав у футболки?");
    use supportd::marketplace::MarketplaceApi;
    let questions = api.questions().await.expect("questions").questions;
    let q = questions.iter().find(|q| q.id.starts_with("question:")).expect("the question is polled");
    assert_eq!(q.thread, "question:019294ff-6888-7009-89d8-26569e4e450d:1784523910");
    api.answer(&q.thread, "Хлопок 100%.").await.expect("published");
    assert_eq!(market.ozon_question_answer("019294ff-6888-7009-89d8-26569e4e450d").as_deref(), Some("Хлопок 100%."));
    let again = api.questions().await.expect("questions").questions;
    assert!(!again.iter().any(|q| q.id.starts_with("question:")), "an answered question is not polled again");
}

#[tokio::test]
async fn twelve_hundred_wb_product_cards_page_by_cursor() {
    let Some(market) = FakeMarketplace::start().await else { return };
    market.add_wb_cards(1_200);
    let s = setup();
    let api = wb(&market, WB_TOKEN);
    let started = Instant::now();
    let (changed, same) = s.syncer.products(&api).await.expect("products");
    eprintln!("1,200 cards in {:.1} s (content API: 100 requests a minute)", started.elapsed().as_secs_f64());
    assert_eq!((changed, same), (1_200, 0));
    let (changed, same) = s.syncer.products(&api).await.expect("again");
    assert_eq!((changed, same), (0, 1_200), "an unchanged catalogue writes nothing");
}
