//! Order sync throughput and order lookup latency: a full sync of N WB orders from a minimal
//! FBS orders API on loopback (`GET /api/v3/orders`, `POST /api/v3/orders/status`, official
//! shapes; the FBO statistics reports and the claims list answer empty) into a real SQLite
//! cache, then random order lookups answered from the cache.
//!
//! `cargo bench --bench sync -- [--orders N] [--lookups L]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use supportd::clock::{SharedClock, SystemClock};
use supportd::marketplace::sync::{Kind, Syncer};
use supportd::marketplace::{Orders, wb::Wb};
use supportd::net::KeyRef;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

const FIRST: i64 = 6_000_000_000;

async fn orders(
    State(n): State<Arc<usize>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let next: i64 = q.get("next").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: i64 = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let start = next.max(FIRST - 1) + 1;
    let end = (start + limit).min(FIRST + *n as i64);
    let list: Vec<Value> = (start..end)
        .map(|id| {
            json!({"id": id, "rid": format!("r{id}"), "createdAt": "2026-11-20T10:00:00Z", "warehouseId": 1,
            "nmId": 178452391, "chrtId": 1, "article": "LD-TS-001", "price": 129000, "convertedPrice": 129000,
            "currencyCode": 643, "skus": ["2000000000001"], "offices": ["Москва"], "deliveryType": "fbs"})
        })
        .collect();
    axum::Json(json!({"next": end - 1, "orders": list}))
}

async fn statuses(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    let list: Vec<Value> = body["orders"]
        .as_array()
        .map(|ids| ids.iter().map(|id| json!({"id": id, "supplierStatus": "complete", "wbStatus": "sorted"})).collect())
        .unwrap_or_default();
    axum::Json(json!({"orders": list}))
}

#[tokio::main]
async fn main() {
    let (n, lookups) = (arg("--orders", 20_000), arg("--lookups", 5_000));
    let app = Router::new()
        .route("/api/v3/orders", get(orders))
        .route("/api/v3/orders/status", post(statuses))
        .route("/api/v1/supplier/{report}", get(|| async { axum::Json(json!([])) }))
        .route("/api/v1/claims", get(|| async { axum::Json(json!({"claims": [], "total": 0})) }))
        .with_state(Arc::new(n));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let dir = tempfile::tempdir().expect("tempdir");
    let clock: SharedClock = Arc::new(SystemClock);
    let db = supportd::store::Db::open(&dir.path().join("b.db"), 4, 0).expect("db");
    let api = Wb::new(&url, KeyRef::Fixed(supportd::config::Secret::new("t")));
    let syncer = Syncer::new(db.clone(), clock.clone(), 365, None);
    let started = Instant::now();
    let report = syncer.run(&api, Kind::Full).await.expect("sync");
    let sync_s = started.elapsed().as_secs_f64();

    let orders = Orders::new(db, clock, Duration::from_secs(3600), Duration::from_secs(2));
    let mut times = Vec::with_capacity(lookups);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..lookups {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = FIRST + (x % n as u64) as i64;
        let t = Instant::now();
        let found = orders.find(&id.to_string()).await.expect("lookup");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(found.is_some());
    }
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{}",
        json!({"orders": report.orders, "pages": report.pages, "sync_seconds": sync_s,
            "sync_orders_per_s": (report.orders as f64 / sync_s).round(), "lookups": lookups,
            "lookup_p50_ms": p(0.5), "lookup_p95_ms": p(0.95), "lookup_max_ms": p(1.0)})
    );
}
