//! A big WB account through the fake that validates every request and response against the
//! official documents (`../shared/specs/`, the same fake as `tests/it/`): 10,000 FBS orders
//! placed over 90 days, listed by a full sync in windows of at most 30 days, plus 1,000 product
//! cards, once with a personal token and once with a basic one, at the documented request
//! limits as they are (or `--scale K` times faster). For each token kind it reports the wall
//! time, the requests per limit group, the least time the documented limits allow for those
//! requests, the 429s the fake had to give (the client must keep to the limits: none), and
//! the parts a limit put off to the next run.
//!
//! `cargo bench --bench marketplace -- [--orders N] [--cards N] [--days D] [--scale K]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use supportd::clock::{SharedClock, SystemClock};
use supportd::config::Secret;
use supportd::marketplace::sync::{Kind, PartStatus, Syncer};
use supportd::marketplace::wb::Wb;
use supportd::marketplace::wb::endpoints::{ENDPOINTS, Endpoint};
use supportd::marketplace::wb::token::TokenKind;
use supportd::net::KeyRef;

#[allow(dead_code)]
#[path = "../tests/it/fakes/mod.rs"]
mod fakes;

use fakes::marketplace::{FakeMarketplace, TokenKind as FakeKind, wb_token};

const DAY: i64 = 86_400_000;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

struct Run {
    seconds: f64,
    orders: usize,
    cards: usize,
    requests: usize,
    /// Limit group → (requests, least seconds the documented limit allows).
    groups: BTreeMap<String, (usize, f64)>,
    too_many: usize,
    put_off: Vec<String>,
}

async fn run(kind: FakeKind, orders: usize, cards: usize, days: i64, scale: f64) -> Option<Run> {
    let market = FakeMarketplace::start().await?;
    market.set_scale(scale);
    let now = now_ms();
    // Orders placed evenly over `days` (the newest a minute ago).
    let step = (days * DAY - 60_000) / orders.max(1) as i64;
    market.add_wb_orders_every(8_000_000_000, orders, now - days * DAY + 30_000, step);
    market.add_wb_cards(cards);
    let categories = [
        "Marketplace",
        "Content",
        "Analytics",
        "Statistics",
        "Feedbacks and Questions",
        "Buyers chat",
        "Buyers returns",
    ];
    let token = wb_token(kind, &categories, false);
    let api = Wb::new("", KeyRef::Fixed(Secret::new(&token))).with_hosts(market.wb_hosts()).with_limit_scale(scale);
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: SharedClock = Arc::new(SystemClock);
    let db = supportd::store::Db::open(&dir.path().join("b.db"), 2, now).expect("db");
    let syncer = Syncer::new(db, clock, u32::try_from(days).unwrap_or(90), None);

    let started = Instant::now();
    let report = syncer.run(&api, Kind::Full).await.expect("full sync");
    let cards_synced = match syncer.products(&api).await {
        Ok((changed, same)) => changed + same,
        Err(e) => {
            eprintln!("products: {e}");
            0
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    market.assert_valid();

    let kind_of = match kind {
        FakeKind::Base => TokenKind::Base,
        FakeKind::Personal => TokenKind::Personal,
        FakeKind::Service => TokenKind::Service,
    };
    let log = market.log();
    let mut groups: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    let mut per_bucket: BTreeMap<String, (usize, Option<&Endpoint>)> = BTreeMap::new();
    for l in &log {
        let ep = ENDPOINTS.iter().find(|e| e.method == l.method && e.path == l.template);
        let key = ep.map_or_else(|| format!("{} {}", l.method, l.template), |e| format!("{:?}", e.bucket));
        let entry = per_bucket.entry(key).or_insert((0, ep));
        entry.0 += 1;
    }
    for (name, (n, ep)) in per_bucket {
        // The least time n requests take at one every `interval` after a burst of `burst`.
        let least = ep.map_or(0.0, |e| {
            let rate = e.bucket.limit(kind_of);
            (n.saturating_sub(rate.burst as usize)) as f64 / rate.per_second
        });
        groups.insert(name, (n, least));
    }
    let put_off = report
        .parts
        .iter()
        .filter(|p| p.status != PartStatus::Done)
        .map(|p| format!("{} {}", p.part.as_str(), p.status.as_str()))
        .collect();
    Some(Run {
        seconds,
        orders: report.orders,
        cards: cards_synced,
        requests: log.len(),
        groups,
        too_many: market.too_many(),
        put_off,
    })
}

#[tokio::main]
async fn main() {
    let orders = arg("--orders", 10_000.0) as usize;
    let cards = arg("--cards", 1_000.0) as usize;
    let days = arg("--days", 90.0) as i64;
    let scale = arg("--scale", 1.0);
    println!(
        "WB account: {orders} FBS orders over {days} days, {cards} product cards; documented limits{}",
        if scale == 1.0 { " as they are".to_owned() } else { format!(" {scale}× faster") }
    );
    for (kind, name) in [(FakeKind::Personal, "personal"), (FakeKind::Base, "basic")] {
        let Some(r) = run(kind, orders, cards, days, scale).await else {
            eprintln!("the official documents are missing (../shared/specs/): nothing measured");
            std::process::exit(2);
        };
        println!(
            "{name} token: full sync {} orders + {} cards in {:.1} s, {} requests, {} answered 429, put off: {}",
            r.orders,
            r.cards,
            r.seconds,
            r.requests,
            r.too_many,
            if r.put_off.is_empty() { "nothing".to_owned() } else { r.put_off.join(", ") }
        );
        for (group, (n, least)) in &r.groups {
            println!("  {group:<18} {n:>4} requests, the documented limit allows them in ≥ {least:.1} s");
        }
    }
}
