//! The knowledge base: API CRUD with versions, morphology and exact codes, imports with line
//! numbers, crash repair, hybrid search with a real (tiny) embedding model, the CLI.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use supportd::clock::{Clock, ManualClock};
use supportd::kb::{Kb, Mode, embed};
use supportd::store::{Db, kb as rows};

use crate::harness::{TestApp, error_code, eventually, run_cli, stderr, stdout, temp_data_dir};

async fn search(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let url = format!("/api/v1/kb/search?q={}&mode=bm25", urlencode(q));
    let body: Value = app.get(token, &url).await.json().await.expect("json");
    body["hits"].as_array().cloned().unwrap_or_default()
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

fn titles(hits: &[Value]) -> Vec<String> {
    hits.iter().map(|h| h["title"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn articles_are_searchable_at_once_and_keep_their_history() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, pw) = app.create_user(&admin, "op@shop.ru", "operator").await;
    let op = app.login("op@shop.ru", &pw).await;
    let (_, vpw) = app.create_user(&admin, "viewer@shop.ru", "viewer").await;
    let viewer = app.login("viewer@shop.ru", &vpw).await;

    let article = json!({ "slug": "returns", "title": "Возврат товара", "category": "returns", "tags": ["возврат"],
        "body": "Вернуть вещь надлежащего качества можно в течение 14 дней." });
    let denied = app.post(&viewer, "/api/v1/kb/articles", &article).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let created = app.post(&op, "/api/v1/kb/articles", &article).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("json");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["version"], 1);
    let dup = app.post(&op, "/api/v1/kb/articles", &article).await;
    assert_eq!(error_code(dup, StatusCode::CONFLICT).await, "conflict");
    let bad = app.post(&op, "/api/v1/kb/articles", &json!({ "slug": "Bad Slug", "title": "x", "body": "y" })).await;
    assert_eq!(error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await, "invalid_body");

    // Different forms of the word meet, and the snippet highlights the match.
    for q in ["как вернуть товар", "возвращу куртку", "ВОЗВРАТ", "вазврат"] {
        let hits = search(&app, &viewer, q).await;
        assert_eq!(titles(&hits).first().map(String::as_str), Some("Возврат товара"), "{q}");
    }
    let hits = search(&app, &viewer, "вернуть").await;
    assert!(hits[0]["snippet_html"].as_str().expect("snippet").contains("<b>Вернуть</b>"), "{}", hits[0]);

    let put =
        |body: Value| app.client.put(app.url(&format!("/api/v1/kb/articles/{id}"))).bearer_auth(&op).json(&body).send();
    let v2 = json!({ "slug": "returns", "title": "Возврат и обмен", "category": "returns",
        "body": "Обменять размер можно через новый заказ." });
    let updated: Value = put(v2.clone()).await.expect("put").json().await.expect("json");
    assert_eq!(updated["version"], 2);
    let same: Value = put(v2).await.expect("put").json().await.expect("json");
    assert_eq!(same["version"], 2, "saving the same content makes no version");
    assert_eq!(titles(&search(&app, &viewer, "обменять").await), vec!["Возврат и обмен".to_owned()]);
    assert!(search(&app, &viewer, "надлежащего качества").await.is_empty(), "the old text is gone from the index");

    let versions: Vec<Value> =
        app.get(&viewer, &format!("/api/v1/kb/articles/{id}/versions")).await.json().await.expect("json");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["author"], "op@shop.ru");
    let restored = app.post(&op, &format!("/api/v1/kb/articles/{id}/versions/1/restore"), &json!({})).await;
    let restored: Value = restored.json().await.expect("json");
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["title"], "Возврат товара");
    assert_eq!(titles(&search(&app, &viewer, "надлежащего качества").await), vec!["Возврат товара".to_owned()]);

    // Drafts are found only when asked for.
    let draft = json!({ "slug": "secret-sale", "title": "Черная пятница", "body": "Скидки до 70%", "status": "draft" });
    assert_eq!(app.post(&op, "/api/v1/kb/articles", &draft).await.status(), StatusCode::CREATED);
    assert!(search(&app, &viewer, "черная пятница").await.is_empty());
    let with_drafts: Value = app
        .get(&viewer, &format!("/api/v1/kb/search?q={}&drafts=true", urlencode("пятница")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(with_drafts["hits"].as_array().map(Vec::len), Some(1));

    let del =
        app.client.delete(app.url(&format!("/api/v1/kb/articles/{id}"))).bearer_auth(&op).send().await.expect("delete");
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert!(search(&app, &viewer, "возврат").await.is_empty());
    let gone = app.get(&viewer, &format!("/api/v1/kb/articles/{id}")).await;
    assert_eq!(error_code(gone, StatusCode::NOT_FOUND).await, "not_found");
}

#[tokio::test]
async fn imports_report_bad_rows_and_products_match_by_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let csv = "marketplace,offer_id,marketplace_id,name,category,description,sizes,composition,color,price_rub,stock\n\
        wb,LD-TS-001,178452391,Футболка женская оверсайз,Футболки,Модель большемерит,XS;S;M;L,хлопок 100%,белый,1290,15\n\
        wb,LD-TS-002,178452392,Футболка мужская,Футболки,Классика,M;L,хлопок 95%,черный,дорого,3\n\
        ozon,,1584726390,Без артикула,Футболки,,,,,990,1\n";
    let resp = app
        .client
        .post(app.url("/api/v1/kb/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.expect("json");
    assert_eq!(report["products_created"], 1, "{report}");
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{report}");
    assert_eq!(errors[0]["line"], 3);
    assert!(errors[0]["message"].as_str().expect("m").contains("price_rub"));
    assert_eq!(errors[1]["line"], 4);

    for q in ["178452391", "размер футболки LD-TS-001?", "ld-ts-001"] {
        let hits = search(&app, &admin, q).await;
        assert_eq!(titles(&hits).first().map(String::as_str), Some("Футболка женская оверсайз"), "{q}");
    }
    let by_code: Vec<Value> = app.get(&admin, "/api/v1/kb/products?code=178452391").await.json().await.expect("json");
    assert_eq!(by_code[0]["attributes"]["sizes"], json!(["XS", "S", "M", "L"]));
    assert_eq!(by_code[0]["price_rub"], 1290.0);

    let json_import = json!({ "articles": [
        { "slug": "care", "title": "Уход за хлопком", "body": "Стирайте при 30 градусах." },
        { "slug": "broken", "title": "", "body": "no title" }
    ]});
    let report: Value = app.post(&admin, "/api/v1/kb/import", &json_import).await.json().await.expect("json");
    assert_eq!(report["articles_created"], 1);
    assert_eq!(report["errors"][0]["line"], 2);
    let again: Value = app.post(&admin, "/api/v1/kb/import", &json_import).await.json().await.expect("json");
    assert_eq!(again["articles_unchanged"], 1, "re-importing the same data changes nothing");

    let export: Value = app.get(&admin, "/api/v1/kb/export").await.json().await.expect("json");
    assert_eq!(export["articles"].as_array().map(Vec::len), Some(1));
    assert_eq!(export["products"][0]["offer_id"], "LD-TS-001");
}

fn open_kb(data: &std::path::Path, clock: &Arc<ManualClock>, embedder: Option<Arc<embed::Embedder>>) -> (Db, Kb) {
    std::fs::create_dir_all(data).expect("mkdir");
    let db = Db::open(&data.join("supportd.db"), 2, clock.now_ms()).expect("db");
    let kb = Kb::open_with(db.clone(), &data.join("kb-index"), clock.clone(), embedder, data.join("none")).expect("kb");
    (db, kb)
}

fn article(slug: &str, title: &str, body: &str) -> rows::ArticleInput {
    rows::ArticleInput {
        slug: slug.into(),
        kind: "article".into(),
        title: title.into(),
        body: body.into(),
        category: None,
        tags: vec![],
        status: "published".into(),
    }
}

#[test]
fn a_crash_between_database_and_index_is_repaired_at_start() {
    let (_d, data) = temp_data_dir();
    let clock = Arc::new(ManualClock::starting_now());
    let (db, kb) = open_kb(&data, &clock, None);
    db.with_conn(|c| {
        rows::create_article(c, &article("a", "Доставка курьером", "Курьер привезёт заказ."), None, "t", 1)
    })
    .expect("create");
    // "Crash": the index never heard of the change.
    drop(kb);
    let (_db, kb) = open_kb(&data, &clock, None);
    let hits = kb.search("курьер", Mode::Bm25, 5, false).expect("search");
    assert_eq!(hits.len(), 1);
    drop(kb);
    // A lost index directory is rebuilt from the database.
    std::fs::remove_dir_all(data.join("kb-index")).expect("rm");
    let (_db, kb) = open_kb(&data, &clock, None);
    assert_eq!(kb.search("курьер", Mode::Bm25, 5, false).expect("search").len(), 1);
    assert!(kb.search("курьер", Mode::Vector, 5, false).is_err(), "no vectors without a model");
}

#[test]
fn an_abbreviation_one_article_defines_finds_the_articles_that_use_it() {
    let (_d, data) = temp_data_dir();
    let clock = Arc::new(ManualClock::starting_now());
    let (db, kb) = open_kb(&data, &clock, None);
    let methods = db
        .with_conn(|c| {
            let m = rows::create_article(
                c,
                &article(
                    "methods",
                    "Способы оплаты",
                    "Оплатить можно картой или через Систему быстрых платежей (СБП).",
                ),
                None,
                "t",
                1,
            )?;
            rows::create_article(
                c,
                &article("limits", "Лимиты", "Лимит перевода по СБП — 1 000 000 ₽ в месяц."),
                None,
                "t",
                1,
            )?;
            rows::create_article(
                c,
                &article("points", "Где забрать", "ПВЗ (пункт выдачи заказов) есть в каждом районе."),
                None,
                "t",
                1,
            )?;
            rows::create_article(c, &article("hours", "Часы", "Пункт выдачи заказов открыт до 21:00."), None, "t", 1)?;
            Ok(m)
        })
        .expect("create");
    kb.sync().expect("sync");
    let docs = |q: &str| -> Vec<String> {
        kb.search(q, Mode::Bm25, 5, false).expect("search").into_iter().map(|h| h.title).collect()
    };
    // The long form finds the article that writes only the abbreviation, and the other way round.
    let long = docs("система быстрых платежей");
    assert!(long.contains(&"Лимиты".to_owned()) && long.contains(&"Способы оплаты".to_owned()), "{long:?}");
    assert!(docs("до скольки работает пвз").contains(&"Часы".to_owned()));
    // Mined again when the defining article goes: the pair goes with it.
    db.with_conn(|c| rows::delete_article(c, methods.id, 2)).expect("delete");
    kb.sync().expect("sync");
    assert_eq!(docs("система быстрых платежей"), Vec::<String>::new());
    // The same after a restart (mined from the stored documents).
    drop(kb);
    let (_db, kb) = open_kb(&data, &clock, None);
    assert!(
        kb.search("до скольки работает пвз", Mode::Bm25, 5, false).expect("search").iter().any(|h| h.title == "Часы")
    );
}

#[test]
fn hybrid_search_with_a_real_tiny_embedding_model() {
    let (_d, data) = temp_data_dir();
    std::fs::create_dir_all(&data).expect("mkdir");
    let model = data.join("tiny-e5.bin");
    embed::write_test_model(&model, &["доставка", "возврат", "курьер"], 3).expect("model");
    let embedder = Arc::new(embed::Embedder::load(&model).expect("load"));
    let clock = Arc::new(ManualClock::starting_now());
    let (db, kb) = open_kb(&data, &clock, Some(embedder.clone()));
    for (slug, title, body) in [
        ("delivery", "Доставка курьером", "Курьер привезёт заказ за 2 дня."),
        ("returns", "Возврат", "Возврат в течение 14 дней."),
    ] {
        db.with_conn(|c| rows::create_article(c, &article(slug, title, body), None, "t", 1)).expect("create");
    }
    assert_eq!(kb.sync().expect("sync"), 2);
    let hybrid = kb.search("курьер доставка", Mode::Hybrid, 5, false).expect("hybrid");
    assert_eq!(hybrid[0].title, "Доставка курьером");
    assert!(hybrid[0].similarity.is_some() && hybrid[0].bm25.is_some());
    assert!(hybrid[0].passage.starts_with("Доставка курьером. "));
    let vector = kb.search("возврат", Mode::Vector, 5, false).expect("vector");
    assert_eq!(vector.len(), 2, "vector search ranks every document");
    let stored: i64 = db
        .with_conn(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM kb_vectors WHERE model = ?1", [embedder.id()], |r| r.get(0))?)
        })
        .expect("count");
    assert_eq!(stored, 2);
    // Each answer unit's embedding is stored when its document is indexed (one unit each here),
    // and each title's (the re-ranker compares the question with it).
    let units = |db: &Db| -> i64 {
        db.with_conn(|c| Ok(c.query_row("SELECT COUNT(*) FROM kb_unit_vectors", [], |r| r.get(0))?)).expect("count")
    };
    assert_eq!(units(&db), 4);
    // Re-ranking reorders places, not scores: they still fall from first to last.
    assert!(hybrid.windows(2).all(|w| w[0].score >= w[1].score), "{hybrid:?}");
    let candidates = kb.rerank_candidates("курьер доставка").expect("features");
    assert_eq!(candidates.len(), 2);
    assert!(candidates.iter().all(|(_, x)| x.iter().all(|v| v.is_finite())), "{candidates:?}");
    assert_eq!(units(&db), 4, "features read the stored vectors");
    // Reopening reuses the stored vectors and gives the same ranking.
    drop(kb);
    let (db, kb) = open_kb(&data, &clock, Some(embedder));
    let again = kb.search("курьер доставка", Mode::Hybrid, 5, false).expect("hybrid");
    assert_eq!(again[0].doc, hybrid[0].doc);
    let r = kb.retrieve("курьер", None, 3).expect("retrieve");
    assert!(!r.passages.is_empty());
    // Composing an answer reads the stored unit vectors: nothing new is embedded.
    let c = kb
        .compose("курьер", &r.passages, &supportd::kb::compose::Hints::default())
        .expect("compose")
        .expect("an answer");
    assert!(c.similarity.is_some(), "the unit's meaning was compared");
    assert_eq!(units(&db), 4);
    let top = r.passages[0].doc.clone();
    kb.record_used(std::slice::from_ref(&top), None).expect("used");
    kb.record_used(std::slice::from_ref(&top), Some(true)).expect("rated");
    let usage = db.with_conn(|c| rows::usage(c, &top)).expect("usage");
    assert_eq!((usage.retrieved, usage.used, usage.rated_good, usage.rated_bad), (1, 1, 1, 0));
}

#[test]
fn the_cli_loads_the_demo_shop_and_searches_it() {
    let (dir, data) = temp_data_dir();
    let init = run_cli(&data, &["init", "--demo"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(
        stdout(&init).contains("articles: 47 created") && stdout(&init).contains("products: 34 created"),
        "{}",
        stdout(&init)
    );

    let found = run_cli(&data, &["kb", "search", "как вернуть товар на вайлдберриз", "--json"], None);
    assert!(found.status.success(), "{}", stderr(&found));
    let hits: Vec<Value> = serde_json::from_str(stdout(&found).trim()).expect("json");
    assert!(hits.iter().take(5).any(|h| h["title"].as_str().unwrap_or("").contains("Wildberries")), "{hits:?}");
    assert!(hits[0]["id"].is_i64() && hits[0]["score"].is_f64());

    let eval = run_cli(&data, &["eval", "retrieval", "--json"], None);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let last: Value = serde_json::from_str(stdout(&eval).lines().last().expect("line")).expect("json");
    for mode in ["bm25", "hybrid"] {
        for metric in ["recall@1", "recall@5", "mrr"] {
            assert!(last[mode][metric].as_f64().is_some(), "{mode} {metric}: {last}");
        }
    }
    assert!(last["bm25"]["recall@5"].as_f64().expect("r") > 0.7, "{last}");

    let bad_dir = dir.path().join("import");
    std::fs::create_dir_all(&bad_dir).expect("mkdir");
    std::fs::write(bad_dir.join("ok.md"), "---\nslug: gift\ntitle: Подарки\n---\nУпакуем в подарок.").expect("write");
    std::fs::write(bad_dir.join("bad.md"), "---\nslug: x\n---\nno title here").expect("write");
    let import = run_cli(&data, &["kb", "import", bad_dir.to_str().expect("utf8")], None);
    assert!(!import.status.success(), "a partial import exits non-zero");
    assert!(stdout(&import).contains("articles: 1 created"));
    assert!(stderr(&import).contains("bad.md:1: no title"), "{}", stderr(&import));

    let export = run_cli(&data, &["kb", "export"], None);
    let all: Value = serde_json::from_str(&stdout(&export)).expect("json");
    assert_eq!(all["articles"].as_array().map(Vec::len), Some(48));
    let doctor = run_cli(&data, &["doctor"], None);
    assert!(stdout(&doctor).contains("search uses BM25 only"), "{}", stdout(&doctor));
}

/// Every knowledge-base and evaluation command works beside a running `supportd serve`, which
/// owns the search index: reads search it, changes are queued for the server to apply.
#[tokio::test]
async fn kb_and_eval_commands_work_beside_a_running_server() {
    use crate::harness::{Server, printed_password};
    let (dir, data) = temp_data_dir();
    let init = run_cli(&data, &["init", "--demo"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let password = printed_password(&stdout(&init)).expect("password");
    let server = Server::start(&data);

    let search = run_cli(&data, &["kb", "search", "как вернуть товар на вб", "--json"], None);
    assert!(search.status.success(), "{}", stderr(&search));
    let hits: Value = serde_json::from_str(stdout(&search).trim()).expect("json");
    assert!(!hits.as_array().expect("hits").is_empty());

    let eval = run_cli(&data, &["eval", "retrieval", "--json"], None);
    assert!(eval.status.success(), "{}", stderr(&eval));

    let chat = run_cli(&data, &["chat", "--extractive"], Some("сколько дней на возврат\n"));
    assert!(chat.status.success(), "{}", stderr(&chat));
    assert!(stdout(&chat).contains("[answer"), "{}", stdout(&chat));

    // An import from the command line becomes searchable in the server.
    let folder = dir.path().join("import");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(
        folder.join("gift-cards.md"),
        "---\nslug: gift-cards-plastic\ntitle: Пластиковые подарочные карты\n---\nПластиковые подарочные карты \
         номиналом до 20000 рублей продаются в шоуруме.\n",
    )
    .expect("write");
    let import = run_cli(&data, &["kb", "import", folder.to_str().expect("utf8")], None);
    assert!(import.status.success(), "{}", stderr(&import));
    let reindex = run_cli(&data, &["kb", "reindex"], None);
    assert!(reindex.status.success(), "{}", stderr(&reindex));

    let client = reqwest::Client::new();
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
    eventually(20, "the server indexing the CLI's import", async || {
        let found: Value = client
            .get(server.url("/api/v1/kb/search?q=пластиковые%20подарочные%20карты"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("json");
        found["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .any(|h| h["title"] == "Пластиковые подарочные карты")
            .then_some(())
    })
    .await;
    // And the command line finds it too, in the server's index.
    let search = run_cli(&data, &["kb", "search", "пластиковые подарочные карты", "--json"], None);
    assert!(
        stdout(&search).contains("gift-cards-plastic") || stdout(&search).contains("Пластиковые"),
        "{}",
        stdout(&search)
    );

    drop(server);
}
