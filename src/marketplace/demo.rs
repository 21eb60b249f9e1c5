//! The demo shop's orders (`assets/demo/orders.json`), loaded into the order cache by
//! `supportd init --demo` and by the dialog evaluation, so the assistant can be tried without
//! marketplace keys. Times in the file are relative to the moment of loading.

use serde::Deserialize;

use super::{Market, Order, OrderItem, OrderStatus};

const DAY: i64 = 86_400_000;

#[derive(Deserialize)]
struct File {
    orders: Vec<DemoOrder>,
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
    let file = crate::http::Assets::get("demo/orders.json").ok_or("the demo orders are missing from the build")?;
    let parsed: File = serde_json::from_slice(&file.data).map_err(|e| format!("demo/orders.json: {e}"))?;
    parsed
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

/// Loads the demo orders into the cache; returns how many.
pub fn load(conn: &rusqlite::Connection, now: i64) -> anyhow::Result<usize> {
    let orders = orders(now).map_err(anyhow::Error::msg)?;
    for o in &orders {
        crate::store::orders::upsert(conn, o, now)?;
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
    }
}
