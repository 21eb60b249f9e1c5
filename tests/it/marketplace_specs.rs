//! The fake marketplaces against the official documents themselves: the documents load, the
//! prose rules the fakes enforce are still written there, invalid and unknown requests are
//! caught, and the client's own tables (token scopes, request limits per token kind, text
//! limits) say what the documents say.

use std::collections::HashMap;

use crate::fakes::marketplace::{self, FakeMarketplace, OZON_API_KEY, OZON_CLIENT_ID, WB_TOKEN};
use crate::fakes::spec;

#[test]
fn prose_rules_are_still_in_the_documents() {
    let Some(specs) = spec::specs() else { return };
    assert!(specs.ozon.operations.len() > 250, "Ozon: {} operations", specs.ozon.operations.len());
    assert!(specs.wb.operations.len() > 250, "WB: {} operations", specs.wb.operations.len());
    let missing = specs.check_prose(marketplace::PROSE);
    assert!(missing.is_empty(), "{missing:#?}");
    // The wrong-key answer the Ozon fake gives is one the document lists.
    let errors = serde_json::to_string(&specs.ozon.docs["seller-api.swagger.json"]["tags"]).expect("tags");
    assert!(errors.contains(marketplace::OZON_WRONG_KEY));
}

#[test]
fn token_bits_and_categories_come_from_the_documents() {
    let Some(specs) = spec::specs() else { return };
    let bits = marketplace::token_bits(specs);
    assert_eq!(bits.get("Content"), Some(&1));
    assert_eq!(bits.get("Marketplace"), Some(&4));
    assert_eq!(bits.get("Statistics"), Some(&5));
    assert_eq!(bits.get("Buyers returns"), Some(&11));
    // Every x-category of the documents is known to the fake (and so to the scope check).
    let mut categories: Vec<&str> = specs.wb.operations.iter().filter_map(|o| o.category.as_deref()).collect();
    categories.sort();
    categories.dedup();
    for c in categories {
        assert!(
            matches!(c, "all" | "commonapi")
                || marketplace::CATEGORIES.iter().any(|(x, n)| *x == c && bits.contains_key(*n)),
            "x-category {c} has no token bit"
        );
    }
    // The client's own table of scopes agrees.
    for (category, bit) in supportd::marketplace::wb::SCOPE_BITS {
        let name = marketplace::CATEGORIES.iter().find(|(c, _)| c == category).map(|(_, n)| *n).expect("category");
        assert_eq!(bits.get(name), Some(bit), "{category}");
    }
    let info = supportd::marketplace::wb::token_info(WB_TOKEN).expect("the test token decodes");
    assert_eq!(info.kind, supportd::marketplace::wb::TokenKind::Personal);
}

/// The WB operations the adapter uses, with the limit it applies for each token kind, are the
/// ones the documents state.
#[test]
fn the_wb_client_limits_are_the_documented_ones() {
    let Some(specs) = spec::specs() else { return };
    use supportd::marketplace::wb::{self, TokenKind};
    for ep in wb::ENDPOINTS {
        let (op, _) = specs
            .wb
            .find(Some(ep.group.host().trim_start_matches("https://")), ep.method, ep.path)
            .unwrap_or_else(|e| panic!("{e}"));
        for (kind, doc_kind) in [
            (TokenKind::Personal, spec::Kind::Personal),
            (TokenKind::Service, spec::Kind::Service),
            (TokenKind::Base, spec::Kind::Base),
        ] {
            let client = ep.bucket.limit(kind);
            let documented = if op.template == "/ping" {
                Some(spec::Limit { period_ms: 30_000.0, limit: 3.0, interval_ms: 10_000.0, burst: 3.0 })
            } else {
                op.limit_for(doc_kind)
            };
            let documented = documented.unwrap_or_else(|| panic!("{} {}: no documented limit", ep.method, ep.path));
            assert!(
                (client.per_second - documented.rate()).abs() < 1e-9 && f64::from(client.burst) == documented.burst,
                "{} {} ({kind:?}): the client uses {client:?}, the document says {documented:?}",
                ep.method,
                ep.path
            );
        }
        // And the scope it needs is the operation's category.
        assert_eq!(Some(ep.group.category()), op.category.as_deref(), "{} {}", ep.method, ep.path);
    }
}

#[tokio::test]
async fn invalid_and_unknown_requests_are_caught() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let http = reqwest::Client::new();
    // Ozon: `/v3/posting/fbs/list` without filter.since and filter.to.
    let r = http
        .post(format!("{}/v3/posting/fbs/list", market.url()))
        .header("Client-Id", OZON_CLIENT_ID)
        .header("Api-Key", OZON_API_KEY)
        .json(&serde_json::json!({"filter": {"last_changed_status_date": {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}}, "limit": 1000, "offset": 0}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v = market.take_violations();
    assert!(v.iter().any(|e| e.contains("\"since\" is a required property")), "{v:#?}");
    assert!(v.iter().any(|e| e.contains("\"to\" is a required property")), "{v:#?}");
    // WB: 90 days of FBS orders in one request.
    let hosts = market.wb_hosts();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("t").as_secs();
    let r = http
        .get(format!("{}/api/v3/orders", hosts["https://marketplace-api.wildberries.ru"]))
        .header("Authorization", WB_TOKEN)
        .query(&[("limit", "1000".to_owned()), ("next", "0".into()), ("dateFrom", (now - 80 * 86_400).to_string())])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert!(market.take_violations().iter().any(|e| e.contains("30 календарных дней")));
    // A path on the wrong host group, and a path nobody documents.
    let r = http
        .get(format!("{}/api/v3/orders", hosts["https://statistics-api.wildberries.ru"]))
        .header("Authorization", WB_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let r = http.get(format!("{}/api/v1/supplier/stocks", market.url())).header("Authorization", WB_TOKEN).send().await;
    assert_eq!(r.expect("send").status(), 404);
    let v = market.take_violations();
    assert!(v.iter().any(|e| e.contains("not served by statistics-api")), "{v:#?}");
    assert!(v.iter().any(|e| e.contains("/api/v1/supplier/stocks is in none")), "{v:#?}");
    // A required parameter missing and a wrong type.
    let r = http
        .get(format!("{}/api/v1/claims", hosts["https://returns-api.wildberries.ru"]))
        .header("Authorization", WB_TOKEN)
        .query(&[("limit", "many")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v = market.take_violations();
    assert!(v.iter().any(|e| e.contains("`is_archive` is missing")), "{v:#?}");
    assert!(v.iter().any(|e| e.contains("`many` is not an integer")), "{v:#?}");
    // A body over a documented maxLength (the chat message: 1000).
    let form = reqwest::multipart::Form::new().text("replySign", "x").text("message", "я".repeat(1001));
    let r = http
        .post(format!("{}/api/v1/seller/message", hosts["https://buyer-chat-api.wildberries.ru"]))
        .header("Authorization", WB_TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert!(market.take_violations().iter().any(|e| e.contains("message")));
    market.assert_valid();
}

#[tokio::test]
async fn the_fake_enforces_scopes_and_token_kinds() {
    let Some(market) = FakeMarketplace::start().await else { return };
    let http = reqwest::Client::new();
    let hosts: HashMap<String, String> = market.wb_hosts();
    let no_stats = marketplace::wb_token(marketplace::TokenKind::Personal, &["Marketplace"], false);
    let r = http
        .get(format!("{}/api/v1/supplier/orders", hosts["https://statistics-api.wildberries.ru"]))
        .header("Authorization", &no_stats)
        .query(&[("dateFrom", "2026-11-01")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert!(r.text().await.expect("body").contains("token scope not allowed"));
    // The WB-warehouse stock report is not for base tokens.
    let base = marketplace::wb_token(marketplace::TokenKind::Base, &["Analytics"], false);
    let r = http
        .post(format!(
            "{}/api/analytics/v1/stocks-report/wb-warehouses",
            hosts["https://seller-analytics-api.wildberries.ru"]
        ))
        .header("Authorization", &base)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    market.assert_valid();
}

/// Every schema of every operation compiles (so no check is silently skipped).
#[test]
fn every_documented_schema_compiles() {
    let Some(specs) = spec::specs() else { return };
    let mut failed = Vec::new();
    for s in [&specs.wb, &specs.ozon] {
        failed.extend(s.compile_all());
    }
    assert!(failed.is_empty(), "{} schemas do not compile:\n{}", failed.len(), failed.join("\n"));
}
