//! The demo shop's orders and returns (`assets/demo/orders.json`), loaded into the order cache by
//! `supportd init --demo` and by the dialog evaluation, so the assistant can be tried without
//! marketplace keys. Times in the file are relative to the moment of loading.

use serde::Deserialize;

use super::{Market, Order, OrderItem, OrderStatus, Return, ReturnStatus};

const DAY: i64 = 86_400_000;

#[derive(Deserialize)]
struct File {
    orders: Vec<DemoOrder>,
    #[serde(default)]
    returns: Vec<DemoReturn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoReturn {
    marketplace: String,
    id: String,
    order: String,
    status: String,
    status_text: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    product: Option<String>,
    created_days_ago: i64,
}

fn parse() -> Result<File, String> {
    let file = crate::assets::Assets::get("demo/orders.json").ok_or("the demo orders are missing from the build")?;
    serde_json::from_slice(&file.data).map_err(|e| format!("demo/orders.json: {e}"))
}

/// The demo returns as of `now`.
pub fn returns(now: i64) -> Result<Vec<Return>, String> {
    parse()?
        .returns
        .into_iter()
        .map(|d| {
            Ok(Return {
                market: Market::parse(&d.marketplace).ok_or(format!("{}: unknown marketplace", d.id))?,
                status: ReturnStatus::parse(&d.status).ok_or(format!("{}: unknown return status", d.id))?,
                id: d.id,
                order_ref: d.order,
                status_text: d.status_text,
                reason: d.reason,
                product: d.product,
                created_at: now - d.created_days_ago * DAY,
                updated_at: now - d.created_days_ago * DAY,
            })
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoOrder {
    marketplace: String,
    number: String,
    status: String,
    status_raw: String,
    created_days_ago: i64,
    #[serde(default)]
    eta_in_days: Option<i64>,
    #[serde(default)]
    delivered_days_ago: Option<i64>,
    #[serde(default)]
    storage_days_left: Option<i64>,
    #[serde(default)]
    phone: Option<String>,
    items: Vec<OrderItem>,
    #[serde(default)]
    tracking: Option<String>,
    #[serde(default)]
    pickup_point: Option<String>,
}

/// The demo orders as of `now`.
pub fn orders(now: i64) -> Result<Vec<Order>, String> {
    parse()?
        .orders
        .into_iter()
        .map(|d| {
            let market = Market::parse(&d.marketplace).ok_or(format!("{}: unknown marketplace", d.number))?;
            let status = OrderStatus::parse(&d.status).ok_or(format!("{}: unknown status", d.number))?;
            let created_at = now - d.created_days_ago * DAY;
            let status_at = d.delivered_days_ago.map_or(now - DAY / 4, |n| now - n * DAY).max(created_at);
            Ok(Order {
                market,
                number: d.number,
                status,
                status_raw: d.status_raw,
                phone: d.phone,
                reference: None,
                items: d.items,
                tracking: d.tracking,
                pickup_point: d.pickup_point,
                storage_until: d.storage_days_left.map(|n| now + n * DAY),
                eta: d.eta_in_days.map(|n| now + n * DAY),
                created_at,
                status_at,
                synced_at: now,
            })
        })
        .collect()
}

/// Loads the demo orders and their returns into the cache; returns how many orders.
pub fn load(conn: &rusqlite::Connection, now: i64) -> anyhow::Result<usize> {
    let orders = orders(now).map_err(anyhow::Error::msg)?;
    for o in &orders {
        crate::store::orders::upsert(conn, o, now)?;
    }
    for r in returns(now).map_err(anyhow::Error::msg)? {
        crate::store::orders::upsert_return(conn, &r, now)?;
    }
    Ok(orders.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_orders_parse() {
        let orders = super::orders(1_000 * super::DAY).expect("valid demo orders");
        assert!(orders.len() >= 12);
        assert!(orders.iter().any(|o| o.market == super::Market::Ozon));
        let returns = super::returns(1_000 * super::DAY).expect("valid demo returns");
        assert!(returns.iter().all(|r| orders.iter().any(|o| o.number == r.order_ref)), "each return has its order");
    }
}
