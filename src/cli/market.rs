//! `supportd sync` and `supportd orders show`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, Subcommand};

use crate::app::{self, Paths};
use crate::clock::{SharedClock, SystemClock};
use crate::crypto::Cipher;
use crate::marketplace::sync::{Kind, Syncer};
use crate::marketplace::{Market, MarketError};
use crate::store::{Db, orders as rows};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// "wb" or "ozon" [default: every connected marketplace].
    #[arg(value_parser = ["wb", "ozon"])]
    pub market: Option<String>,
    /// Everything in `marketplaces.full_sync_days`, not only what changed since the last sync.
    #[arg(long)]
    pub full: bool,
    /// Print one JSON object per marketplace.
    #[arg(long)]
    pub json: bool,
    /// Also copy product cards (names, descriptions, attributes, prices, stocks) into the
    /// knowledge base's products.
    #[arg(long)]
    pub products: bool,
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// One order (WB order id or Ozon posting number): the marketplace's data, asked live when
    /// the cached copy is old, with its status history.
    Show {
        number: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn sync(paths: &Paths, db: &Db, args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = app::load_config(paths)?;
    let cipher = Cipher::load_or_create(&paths.secret_key())?;
    let clock: SharedClock = Arc::new(SystemClock);
    let licensing = Arc::new(crate::licence::Licensing::open(db.clone(), clock.clone(), &config)?);
    let orders = crate::licence::gate::marketplaces(
        crate::marketplace::setup(&config, db.clone(), cipher, clock.clone()),
        &licensing,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut apis = runtime.block_on(orders.connected_apis());
    // Keys set, but the plan does not sync that marketplace: say which plan does.
    for m in runtime.block_on(licensing.connected_markets()) {
        let wanted = args.market.as_deref().and_then(Market::parse).is_none_or(|w| w == m);
        if wanted
            && !apis.iter().any(|a| a.market() == m)
            && let Some(refusal) = runtime.block_on(licensing.sync_refusal(m))
        {
            if apis.is_empty() {
                bail!("{refusal}");
            }
            eprintln!("{}: {refusal}", m.title());
        }
    }
    if let Some(m) = args.market.as_deref().and_then(Market::parse) {
        apis.retain(|a| a.market() == m);
        if apis.is_empty() {
            bail!(
                "{} is not connected: set its key (marketplaces.{} in the config or the settings page)",
                m.title(),
                m.as_str()
            );
        }
    }
    if apis.is_empty() {
        bail!("no marketplace is connected: set a Wildberries token or Ozon Client-Id and Api-Key first");
    }
    let notifier = crate::licence::gate::notifier(
        crate::engine::notify::notifier(&config.notifications, config.shop.utc_offset_minutes),
        licensing.clone(),
    );
    let syncer = Syncer::new(db.clone(), clock, config.marketplaces.full_sync_days, notifier);
    let kind = if args.full { Kind::Full } else { Kind::Incremental };
    let mut failed = false;
    let mut products_changed = 0;
    for api in apis {
        let market = api.market();
        let span = crate::marketplace::sync::span(market, kind, "cli");
        match runtime.block_on(tracing::Instrument::instrument(syncer.run(api.as_ref(), kind), span)) {
            Ok(r) if args.json => println!("{}", serde_json::json!({"market": market, "kind": kind, "report": r})),
            Ok(r) => {
                println!(
                    "{}: {} sync{}: {} orders in {} pages, {} changed status, {} buyers notified, {} returns ({:.1} s, {:.0} orders/s)",
                    market.title(),
                    kind.as_str(),
                    if r.resumed { " (resumed)" } else { "" },
                    r.orders,
                    r.pages,
                    r.changed,
                    r.notified,
                    r.returns,
                    r.seconds,
                    r.orders as f64 / r.seconds.max(1e-9)
                );
                for p in r.parts.iter().filter(|p| p.status != crate::marketplace::sync::PartStatus::Done) {
                    let what = match p.status {
                        crate::marketplace::sync::PartStatus::Skipped => "skipped (no access)",
                        crate::marketplace::sync::PartStatus::Deferred => "put off to the next run (request limit)",
                        _ => "not synced",
                    };
                    eprintln!(
                        "warning: {}: {}: {what}: {}",
                        market.title(),
                        p.part.as_str(),
                        p.message.as_deref().unwrap_or("")
                    );
                }
            }
            Err(e) => {
                failed = true;
                let hint = match e {
                    MarketError::Unauthorized => " — the token is wrong or revoked; set a new one",
                    MarketError::Forbidden(_) => " — the token lacks access to orders; issue one with that scope",
                    _ => " — the next run continues from where this one stopped",
                };
                eprintln!("error: {}: {e}{hint}", market.title());
            }
        }
        if args.products && !failed {
            match runtime.block_on(syncer.products(api.as_ref())) {
                Ok((changed, same)) => {
                    products_changed += changed;
                    println!("{}: products: {changed} created or updated, {same} unchanged", market.title());
                }
                Err(MarketError::Forbidden(m)) => {
                    eprintln!("warning: {}: products: skipped (no access): {m}", market.title());
                }
                Err(e) => {
                    failed = true;
                    eprintln!("error: {}: products: {e}", market.title());
                }
            }
        }
    }
    if products_changed > 0 {
        // Index the new cards so the assistant can answer from them at once.
        super::kb::open(paths, db)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub fn orders(paths: &Paths, db: &Db, cmd: OrdersCommand) -> anyhow::Result<ExitCode> {
    let OrdersCommand::Show { number, json } = cmd;
    let config = app::load_config(paths)?;
    let cipher = Cipher::load_or_create(&paths.secret_key())?;
    let clock: SharedClock = Arc::new(SystemClock);
    let orders = crate::marketplace::setup(&config, db.clone(), cipher, clock.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let Some(found) = runtime.block_on(orders.find(&number))? else {
        bail!("no order {number} in the cache or at the marketplace");
    };
    let o = &found.order;
    let history = db.with_conn(|c| rows::history(c, o.market, &o.number))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"order": o, "source": found.source, "stale_since": found.stale_since, "returns": found.returns,
            "history": history.iter().map(|(s, r, at)| serde_json::json!({"status": s, "raw": r, "at": crate::clock::rfc3339(*at)})).collect::<Vec<_>>()})
        );
        return Ok(ExitCode::SUCCESS);
    }
    let offset = config.shop.utc_offset_minutes;
    println!("{}", crate::engine::answer::order(o, found.stale_since, clock.now_ms(), offset));
    println!("source: {} (synced {})", found.source.as_str(), crate::engine::answer::date_time(o.synced_at, offset));
    println!("marketplace status: {}", o.status_raw);
    if let Some(p) = &o.phone {
        println!("buyer phone: {p}");
    }
    for (status, raw, at) in history {
        println!("  {}  {status} ({raw})", crate::engine::answer::date_time(at, offset));
    }
    for r in &found.returns {
        let reason = r.reason.as_deref().map(|x| format!(", «{x}»")).unwrap_or_default();
        println!("return {}: {} ({}{reason})", r.id, r.status.as_str(), r.status_text);
    }
    Ok(ExitCode::SUCCESS)
}
