//! A buyer's personal data: the export (API and CLI), the erase (API and CLI) after which
//! neither the API, nor search, nor the database file holds their phone or words, masking for
//! viewers, and the retention limits driven by the clock.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::Clock;
use supportd::marketplace::{Market, Order, OrderStatus};

use crate::harness::{TestApp, error_code, eventually, run_cli, stderr, stdout};

/// Words that exist nowhere but in this buyer's messages.
const MARKER: &str = "кенгурятина-с-брусникой";
const PHONE_TYPED: &str = "+7 916 555-44-33";
const PHONE: &str = "+79165554433";
const EMAIL: &str = "zina.petrova@mail.ru";
const NAME: &str = "Зинаида Петровна";
const FILE_BYTES: &[u8] = b"\xff\xd8\xff\xe0 JPEG-OF-THE-BUYER-PARCEL-7731";

/// A buyer who wrote (with phone, e-mail and marker), got an operator's reply with a photo,
/// has a verified phone and a linked order. Returns (customer id, conversation id).
async fn buyer(app: &TestApp, admin: &str, customer: &str, name: &str) -> (i64, i64) {
    zina_like(app, admin, customer, name, true).await
}

/// `buyer`, or (`ours` false) another buyer with other words and contacts.
async fn zina_like(app: &TestApp, admin: &str, customer: &str, name: &str, ours: bool) -> (i64, i64) {
    let (marker, typed, phone, email) = if ours {
        (MARKER, PHONE_TYPED, PHONE, EMAIL)
    } else {
        ("простой вопрос", "+7 903 111-22-00", "+79031112200", "ivan@ya.ru")
    };
    let text = format!("Здравствуйте, {marker}! Мой телефон {typed}, почта {email}. Где заказ?");
    let resp = app
        .post(
            admin,
            "/api/v1/inbound",
            &json!({"message_id": format!("{customer}-1"), "customer": customer, "name": name, "text": text}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let conv: Value = eventually(20, "the buyer's conversation", async || {
        let list: Value = app.get(admin, &format!("/api/v1/conversations?q={customer}")).await.json().await.ok()?;
        list.as_array().and_then(|l| l.first().cloned())
    })
    .await;
    let (conv_id, customer_id) = (conv["id"].as_i64().expect("id"), conv["customer_id"].as_i64().expect("customer"));
    eventually(20, "the bot's reply", async || {
        let t: Value = app.get(admin, &format!("/api/v1/conversations/{conv_id}")).await.json().await.ok()?;
        (t["messages"].as_array()?.len() >= 2).then_some(())
    })
    .await;
    let data = base64::engine::general_purpose::STANDARD.encode(FILE_BYTES);
    let resp = app
        .post(
            admin,
            &format!("/api/v1/conversations/{conv_id}/messages"),
            &json!({"text": "Вот фото вашей посылки", "file": {"name": "parcel.jpg", "mime": "image/jpeg", "data": data}}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let db = app.db();
    let now = app.clock.now_ms();
    supportd::store::messaging::set_phone(&db, customer_id, phone, now).expect("phone");
    let order = Order {
        market: Market::Wb,
        number: format!("77{customer_id:08}"),
        status: OrderStatus::InTransit,
        status_raw: "sorted".into(),
        phone: Some(phone.into()),
        reference: None,
        items: Vec::new(),
        tracking: None,
        pickup_point: None,
        storage_until: None,
        eta: None,
        created_at: now,
        status_at: now,
        synced_at: now,
    };
    supportd::store::orders::upsert(&db, &order, now).expect("order");
    supportd::store::orders::link(&db, customer_id, Market::Wb, &order.number, now).expect("link");
    (customer_id, conv_id)
}

fn zip_entries(bytes: &[u8]) -> (Value, Vec<(String, Vec<u8>)>) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut json = Value::Null;
    let mut files = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        let mut content = Vec::new();
        f.read_to_end(&mut content).expect("read");
        let name = f.name().expect("entry name").into_owned();
        if name == "customer.json" {
            json = serde_json::from_slice(&content).expect("customer.json is JSON");
        }
        files.push((name, content));
    }
    (json, files)
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

fn database_holds(app_db: &Path, needle: &str) -> bool {
    let mut found = false;
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", app_db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            found |= bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        }
    }
    found
}

#[tokio::test]
async fn a_buyers_data_is_exported_then_erased_from_the_api_search_and_the_database_file() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, op_pw) = app.create_user(&admin, "operator@shop.ru", "operator").await;
    let (_, viewer_pw) = app.create_user(&admin, "viewer@shop.ru", "viewer").await;
    let operator = app.login("operator@shop.ru", &op_pw).await;
    let viewer = app.login("viewer@shop.ru", &viewer_pw).await;
    let (id, conv) = buyer(&app, &admin, "zina-1", NAME).await;
    let (other_id, _) = zina_like(&app, &admin, "ivan-2", "Иван", false).await;

    // Viewers see phones and e-mails masked; operators see them.
    let card: Value = app.get(&viewer, &format!("/api/v1/customers/{id}")).await.json().await.expect("json");
    assert_eq!(card["customer"]["phone"], "+7 *** ***-**-33", "{card}");
    assert_eq!(card["orders"][0]["phone"], "+7 *** ***-**-33");
    let thread: Value = app.get(&viewer, &format!("/api/v1/conversations/{conv}")).await.json().await.expect("json");
    let text = thread["messages"][0]["body"].as_str().expect("body");
    assert!(text.contains("+7 *** ***-**-33") && text.contains("z***@mail.ru") && !text.contains(EMAIL), "{text}");
    let card: Value = app.get(&operator, &format!("/api/v1/customers/{id}")).await.json().await.expect("json");
    assert_eq!(card["customer"]["phone"], PHONE);
    let thread: Value = app.get(&operator, &format!("/api/v1/conversations/{conv}")).await.json().await.expect("json");
    assert!(thread["messages"][0]["body"].as_str().expect("body").contains(EMAIL));

    // Admins find the buyer of a request by the phone they give, however typed.
    let resp = app.get(&operator, "/api/v1/customers?q=89165554433").await;
    assert_eq!(error_code(resp, StatusCode::FORBIDDEN).await, "forbidden");
    let found: Value = app.get(&admin, "/api/v1/customers?q=8%20(916)%20555-44-33").await.json().await.expect("json");
    assert_eq!(found.as_array().expect("list").len(), 1, "{found}");
    assert_eq!(found[0]["id"], id);
    let resp = app.get(&admin, "/api/v1/customers?q=x").await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");

    // The export: admins only, everything about the buyer, their file included.
    for token in [&operator, &viewer] {
        let resp = app.get(token, &format!("/api/v1/customers/{id}/export")).await;
        assert_eq!(error_code(resp, StatusCode::FORBIDDEN).await, "forbidden");
    }
    let resp = app.get(&admin, "/api/v1/customers/999999/export").await;
    assert_eq!(error_code(resp, StatusCode::NOT_FOUND).await, "not_found");
    let resp = app.get(&admin, &format!("/api/v1/customers/{id}/export")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let (json, files) = zip_entries(&resp.bytes().await.expect("body"));
    assert_eq!(json["customer"]["phone"], PHONE);
    assert_eq!(json["customer"]["display_name"], NAME);
    assert!(json["conversations"][0]["messages"][0]["body"].as_str().expect("body").contains(MARKER));
    assert!(json["received"][0]["payload"]["text"].as_str().expect("raw").contains(MARKER));
    assert_eq!(json["orders"][0]["phone"], PHONE);
    assert!(json["exported_at"].as_str().expect("time").ends_with('Z'));
    assert!(files.iter().any(|(n, b)| n.starts_with("files/") && b == FILE_BYTES), "their photo is in the zip");
    assert!(files.iter().any(|(n, _)| n == "README.txt"));

    // The CLI gives the same, as a file.
    let out_zip = app.paths.data_dir.parent().expect("tmp").join("export.zip");
    let out = run_cli(
        &app.paths.data_dir,
        &["privacy", "export", &id.to_string(), "--out", out_zip.to_str().expect("p")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (json, _) = zip_entries(&std::fs::read(&out_zip).expect("zip"));
    assert_eq!(json["customer"]["id"], id);
    let out = run_cli(&app.paths.data_dir, &["privacy", "export", "424242"], None);
    assert!(!out.status.success() && stderr(&out).contains("no customer"), "{}", stderr(&out));

    // The erase needs an admin and the id repeated.
    let path = format!("/api/v1/customers/{id}");
    let resp = app.client.delete(app.url(&path)).bearer_auth(&operator).send().await.expect("delete");
    assert_eq!(error_code(resp, StatusCode::FORBIDDEN).await, "forbidden");
    let resp = app.client.delete(app.url(&path)).bearer_auth(&admin).send().await.expect("delete");
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let resp =
        app.client.delete(app.url(&format!("{path}?confirm={other_id}"))).bearer_auth(&admin).send().await.expect("d");
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");
    let photo_files = files_holding(&app.paths.data_dir.join("files"), FILE_BYTES);
    assert_eq!(photo_files.len(), 2, "both buyers' photos are on disk: {photo_files:?}");
    let resp = app.client.delete(app.url(&format!("{path}?confirm={id}"))).bearer_auth(&admin).send().await.expect("d");
    assert_eq!(resp.status(), StatusCode::OK);
    let erased: Value = resp.json().await.expect("json");
    assert_eq!(erased["customers"], 1, "{erased}");
    assert!(erased["messages"].as_i64().expect("n") >= 3);
    assert_eq!(erased["files"].as_array().expect("files").len(), 1);
    assert_eq!(erased["compacted"], true);

    // Nothing of theirs is left in the API…
    let resp = app.get(&admin, &format!("/api/v1/customers/{id}")).await;
    assert_eq!(error_code(resp, StatusCode::NOT_FOUND).await, "not_found");
    let resp = app.get(&admin, &format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(error_code(resp, StatusCode::NOT_FOUND).await, "not_found");
    for q in [MARKER, "555-44-33", "Зинаида", "zina-1"] {
        let found: Value = app.get(&admin, &format!("/api/v1/conversations?q={q}")).await.json().await.expect("json");
        assert!(found.as_array().expect("list").is_empty(), "{q}: {found}");
    }
    // …nor in search…
    let hits: Value = app.get(&admin, &format!("/api/v1/kb/search?q={MARKER}")).await.json().await.expect("json");
    assert!(!hits.to_string().contains(MARKER), "{hits}");
    assert!(files_holding(&app.paths.data_dir.join("kb-index"), MARKER.as_bytes()).is_empty());
    // …nor on disk: their photo is gone (the other buyer's stays), and the database file and
    // its log hold neither their words, nor their phone, nor their name.
    assert_eq!(files_holding(&app.paths.data_dir.join("files"), FILE_BYTES).len(), 1);
    let db_file = app.paths.db();
    for needle in [MARKER, PHONE, "555-44-33", EMAIL, NAME, "zina-1"] {
        assert!(!database_holds(&db_file, needle), "the database file still holds {needle:?}");
    }
    // The other buyer is untouched; the order keeps no phone, even when a sync brings it again.
    assert_eq!(app.get(&admin, &format!("/api/v1/customers/{other_id}")).await.status(), StatusCode::OK);
    let db = app.db();
    let number = format!("77{id:08}");
    let phone: Option<String> =
        db.query_row("SELECT phone FROM orders WHERE number = ?1", [&number], |r| r.get(0)).expect("order");
    assert_eq!(phone, None);
    let mut again = supportd::store::orders::get(&db, Market::Wb, &number).expect("get").expect("order");
    again.phone = Some(PHONE.into());
    supportd::store::orders::upsert(&db, &again, app.clock.now_ms()).expect("sync again");
    let phone: Option<String> =
        db.query_row("SELECT phone FROM orders WHERE number = ?1", [&number], |r| r.get(0)).expect("order");
    assert_eq!(phone, None, "an erased phone does not come back with a sync");
    // The audit log says who erased whom, without the data.
    let audit: Value = app.get(&admin, "/api/v1/audit?action=privacy.erase").await.json().await.expect("json");
    assert_eq!(audit[0]["target"], format!("customer:{id}"));
    assert!(!audit.to_string().contains("555") && !audit.to_string().contains(MARKER), "{audit}");
    let exported: Value = app.get(&admin, "/api/v1/audit?action=privacy.export").await.json().await.expect("json");
    assert_eq!(exported.as_array().expect("list").len(), 2, "API and CLI exports are recorded");
}

#[tokio::test]
async fn the_cli_erase_needs_yes_and_leaves_nothing_in_the_database_file() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (id, _) = buyer(&app, &admin, "olga-3", "Ольга Сидорова").await;
    let dir = app.paths.data_dir.clone();
    app.begin_shutdown().await.expect("join").expect("stop");

    let out = run_cli(&dir, &["privacy", "find", "8 916 555 44 33"], None);
    assert!(out.status.success() && stdout(&out).contains("olga-3"), "{}", stdout(&out));
    let out = run_cli(&dir, &["privacy", "erase", &id.to_string()], None);
    assert!(!out.status.success() && stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(database_holds(&dir.join("supportd.db"), MARKER), "nothing was erased without --yes");
    let out = run_cli(&dir, &["privacy", "erase", "api:olga-3", "--yes"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("erased customer"), "{}", stdout(&out));
    for needle in [MARKER, PHONE, "555-44-33", EMAIL, "Ольга Сидорова", "olga-3"] {
        assert!(!database_holds(&dir.join("supportd.db"), needle), "the database file still holds {needle:?}");
    }
    assert!(files_holding(&dir.join("files"), FILE_BYTES).is_empty());
    let out = run_cli(&dir, &["privacy", "erase", &id.to_string(), "--yes"], None);
    assert!(!out.status.success() && stderr(&out).contains("no customer"), "{}", stderr(&out));
}

#[tokio::test]
async fn retention_deletes_old_files_then_old_conversations() {
    let app = TestApp::spawn_with(|c| {
        c.privacy.keep_files_days = 7;
        c.privacy.keep_conversations_days = 30;
    })
    .await;
    let admin = app.admin_token().await;
    let (id, conv) = buyer(&app, &admin, "petr-4", "Пётр").await;
    let photo = app.paths.data_dir.join("files");
    assert_eq!(files_holding(&photo, FILE_BYTES).len(), 1);

    // Eight days on, the daily job removes the photo; the conversation stays, saying so.
    app.clock.advance(Duration::from_secs(8 * 86_400));
    eventually(20, "the photo's expiry", async || files_holding(&photo, FILE_BYTES).is_empty().then_some(())).await;
    let admin = app.admin_token().await;
    let thread: Value = app.get(&admin, &format!("/api/v1/conversations/{conv}")).await.json().await.expect("json");
    let with_file = thread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["attachments"].as_array().is_some_and(|a| !a.is_empty()))
        .expect("the reply with the photo")
        .clone();
    assert_eq!(with_file["attachments"][0]["error"], "файл удалён по сроку хранения", "{with_file}");
    assert!(with_file["attachments"][0].get("path").is_none());
    let settings: Value = app.get(&admin, "/api/v1/settings/privacy").await.json().await.expect("json");
    assert_eq!(settings["keep_files_days"], 7);
    assert_eq!(settings["last_result"]["files"], 1, "{settings}");

    // After thirty days without a message the conversation and the buyer go.
    app.clock.advance(Duration::from_secs(23 * 86_400));
    let admin = eventually(20, "the conversation's expiry", async || {
        let admin = app.admin_token().await;
        (app.get(&admin, &format!("/api/v1/customers/{id}")).await.status() == StatusCode::NOT_FOUND).then_some(admin)
    })
    .await;
    let resp = app.get(&admin, &format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(error_code(resp, StatusCode::NOT_FOUND).await, "not_found");
    let settings: Value = app.get(&admin, "/api/v1/settings/privacy").await.json().await.expect("json");
    assert_eq!(settings["last_result"]["conversations"], 1, "{settings}");
}
