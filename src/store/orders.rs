//! The marketplace order cache: orders with their status history, and the orders each
//! customer has shown to be theirs.

use rusqlite::{Connection, Row, params};

use super::{Result, optional};
use crate::marketplace::{Market, Order, OrderStatus, Return, ReturnStatus};

const COLUMNS: &str =
    "marketplace, number, status, status_raw, phone, items, tracking, pickup_point, storage_until, eta,
    created_at, status_at, synced_at, ref";

fn order(r: &Row<'_>) -> rusqlite::Result<Order> {
    order_at(r, 0)
}

/// An order from the row's [`COLUMNS`] starting at index `at`.
fn order_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Order> {
    let market: String = r.get(at)?;
    let status: String = r.get(at + 2)?;
    let items: String = r.get(at + 5)?;
    let bad = |i: usize, what: &str| {
        rusqlite::Error::FromSqlConversionFailure(at + i, rusqlite::types::Type::Text, what.to_owned().into())
    };
    Ok(Order {
        market: Market::parse(&market).ok_or_else(|| bad(0, "unknown marketplace"))?,
        number: r.get(at + 1)?,
        status: OrderStatus::parse(&status).ok_or_else(|| bad(2, "unknown order status"))?,
        status_raw: r.get(at + 3)?,
        phone: r.get(at + 4)?,
        reference: r.get(at + 13)?,
        items: serde_json::from_str(&items).map_err(|_| bad(5, "order items are not valid JSON"))?,
        tracking: r.get(at + 6)?,
        pickup_point: r.get(at + 7)?,
        storage_until: r.get(at + 8)?,
        eta: r.get(at + 9)?,
        created_at: r.get(at + 10)?,
        status_at: r.get(at + 11)?,
        synced_at: r.get(at + 12)?,
    })
}

/// Inserts or replaces an order (the marketplace is the source of truth). A status change is
/// appended to the history. Returns the row id and whether the status changed.
///
/// A finished order (delivered, cancelled) is never moved back to an unfinished status: only
/// a stale copy can say so (WB's orders report repeats a sold order's row without its sale).
pub fn upsert(conn: &Connection, o: &Order, now: i64) -> Result<(i64, bool)> {
    let previous: Option<(i64, String, String)> = optional(
        conn.prepare_cached("SELECT id, status_raw, status FROM orders WHERE marketplace = ?1 AND number = ?2")?
            .query_row(params![o.market.as_str(), o.number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))),
    )?;
    if let Some((id, _, status)) = &previous
        && OrderStatus::parse(status).is_some_and(OrderStatus::is_final)
        && !o.status.is_final()
    {
        return Ok((*id, false));
    }
    let items = serde_json::to_string(&o.items).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(&format!(
        "INSERT INTO orders ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (marketplace, number) DO UPDATE SET status = excluded.status, status_raw = excluded.status_raw,
               phone = CASE WHEN phone_erased = 1 THEN NULL ELSE COALESCE(excluded.phone, phone) END, items = excluded.items, tracking = excluded.tracking,
               pickup_point = excluded.pickup_point, storage_until = excluded.storage_until, eta = excluded.eta,
               created_at = excluded.created_at, status_at = excluded.status_at, synced_at = excluded.synced_at,
               ref = COALESCE(excluded.ref, ref)"
    ))?
    .execute(params![
        o.market.as_str(),
        o.number,
        o.status.as_str(),
        o.status_raw,
        o.phone,
        items,
        o.tracking,
        o.pickup_point,
        o.storage_until,
        o.eta,
        o.created_at,
        o.status_at,
        o.synced_at,
        o.reference
    ])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM orders WHERE marketplace = ?1 AND number = ?2")?
        .query_row(params![o.market.as_str(), o.number], |r| r.get(0))?;
    let changed = previous.as_ref().is_none_or(|(_, raw, _)| *raw != o.status_raw);
    if changed {
        conn.prepare_cached(
            "INSERT INTO order_status_history (order_id, status, status_raw, at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            id,
            o.status.as_str(),
            o.status_raw,
            if previous.is_some() { now } else { o.status_at }
        ])?;
    }
    Ok((id, changed && previous.is_some()))
}

pub fn get(conn: &Connection, market: Market, number: &str) -> Result<Option<Order>> {
    optional(
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM orders WHERE marketplace = ?1 AND number = ?2"))?
            .query_row(params![market.as_str(), number], order),
    )
}

/// Names the items the marketplace sent by article only (WB orders carry the seller's article,
/// not the product's name) from the product catalogue, when the product is known.
pub fn name_items(conn: &Connection, o: &mut Order) -> Result<()> {
    for item in &mut o.items {
        if !item.name.is_empty() && item.name != item.article {
            continue;
        }
        let name: Option<String> = optional(
            // Two indexed lookups (the seller's article first, then the marketplace's id): an OR
            // of the two would scan every product of the marketplace for each item.
            conn.prepare_cached(
                "SELECT name FROM products WHERE marketplace = ?1 AND offer_id = ?2
                 UNION ALL SELECT name FROM products WHERE marketplace_id = ?2 AND marketplace = ?1 LIMIT 1",
            )?
            .query_row(params![o.market.as_str(), item.article], |r| r.get(0)),
        )?;
        if let Some(name) = name {
            item.name = name;
        }
    }
    Ok(())
}

/// Inserts or updates a return (the marketplace is the source of truth).
pub fn upsert_return(conn: &Connection, r: &Return, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO returns (marketplace, return_id, order_ref, status, status_text, reason, product,
                              created_at, updated_at, synced_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (marketplace, return_id) DO UPDATE SET order_ref = excluded.order_ref,
           status = excluded.status, status_text = excluded.status_text, reason = excluded.reason,
           product = excluded.product, created_at = excluded.created_at, updated_at = excluded.updated_at,
           synced_at = excluded.synced_at",
    )?
    .execute(params![
        r.market.as_str(),
        r.id,
        r.order_ref,
        r.status.as_str(),
        r.status_text,
        r.reason,
        r.product,
        r.created_at,
        r.updated_at,
        now
    ])?;
    Ok(())
}

/// Returns of `order` (by its number or its WB `srid`), newest first.
pub fn returns_of(conn: &Connection, order: &Order) -> Result<Vec<Return>> {
    let mut stmt = conn.prepare_cached(
        "SELECT marketplace, return_id, order_ref, status, status_text, reason, product, created_at, updated_at
         FROM returns WHERE marketplace = ?1 AND order_ref IN (?2, ?3) ORDER BY created_at DESC, return_id",
    )?;
    let reference = order.reference.as_deref().unwrap_or(&order.number);
    let rows = stmt
        .query_map(params![order.market.as_str(), order.number, reference], |r| {
            let bad = |i: usize| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, "unknown value".into())
            };
            Ok(Return {
                market: Market::parse(&r.get::<_, String>(0)?).ok_or_else(|| bad(0))?,
                id: r.get(1)?,
                order_ref: r.get(2)?,
                status: ReturnStatus::parse(&r.get::<_, String>(3)?).ok_or_else(|| bad(3))?,
                status_text: r.get(4)?,
                reason: r.get(5)?,
                product: r.get(6)?,
                created_at: r.get(7)?,
                updated_at: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Remembers that `customer_id` showed `order` to be theirs.
pub fn link(conn: &Connection, customer_id: i64, market: Market, number: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO customer_orders (customer_id, order_id, linked_at)
         SELECT ?1, id, ?4 FROM orders WHERE marketplace = ?2 AND number = ?3
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![customer_id, market.as_str(), number, now])?;
    Ok(())
}

/// Links every order placed with `phone` (a number the channel verified) to the customer.
pub fn link_by_phone(conn: &Connection, customer_id: i64, phone: &str, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO customer_orders (customer_id, order_id, linked_at)
             SELECT ?1, id, ?3 FROM orders WHERE phone = ?2 ON CONFLICT DO NOTHING",
        )?
        .execute(params![customer_id, phone, now])?)
}

/// The customer's linked orders, newest first.
pub fn of_customer(conn: &Connection, customer_id: i64) -> Result<Vec<Order>> {
    let cols: String = COLUMNS.split(',').map(|c| format!("o.{}", c.trim())).collect::<Vec<_>>().join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT {cols} FROM customer_orders co JOIN orders o ON o.id = co.order_id
         WHERE co.customer_id = ?1 ORDER BY o.created_at DESC, o.id DESC"
    ))?;
    let rows = stmt.query_map([customer_id], order)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Customers who showed `order_id` to be theirs and want notifications: (customer id,
/// channel, their id on it).
pub fn subscribers(conn: &Connection, order_id: i64) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT cu.id, cu.channel, cu.external_id FROM customer_orders co JOIN customers cu ON cu.id = co.customer_id
         WHERE co.order_id = ?1 AND cu.notify_opt_out = 0 ORDER BY cu.id",
    )?;
    let rows =
        stmt.query_map([order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn set_opt_out(conn: &Connection, customer_id: i64, opt_out: bool) -> Result<()> {
    conn.prepare_cached("UPDATE customers SET notify_opt_out = ?2 WHERE id = ?1")?
        .execute(params![customer_id, opt_out])?;
    Ok(())
}

/// Orders not finished yet, by row id after `after` (for status refreshes in batches).
pub fn unfinished(conn: &Connection, market: Market, after: i64, limit: u32) -> Result<Vec<(i64, Order)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, {COLUMNS} FROM orders WHERE marketplace = ?1 AND id > ?2
           AND status NOT IN ('delivered', 'cancelled') ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![market.as_str(), after, limit], |r| Ok((r.get(0)?, order_at(r, 1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn count(conn: &Connection, market: Option<Market>) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM orders WHERE ?1 IS NULL OR marketplace = ?1")?
        .query_row([market.map(Market::as_str)], |r| r.get(0))?)
}

/// The status history of an order, oldest first: (status, raw status, at).
pub fn history(conn: &Connection, market: Market, number: &str) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT h.status, h.status_raw, h.at FROM order_status_history h JOIN orders o ON o.id = h.order_id
         WHERE o.marketplace = ?1 AND o.number = ?2 ORDER BY h.at, h.rowid",
    )?;
    let rows = stmt
        .query_map(params![market.as_str(), number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// A sync's position and outcome, per marketplace and kind ("full", "incremental").
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SyncState {
    pub status: String,
    pub cursor: Option<String>,
    pub window_from: Option<i64>,
    pub window_to: Option<i64>,
    pub fetched: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

pub fn sync_state(conn: &Connection, market: Market, kind: &str) -> Result<SyncState> {
    Ok(optional(
        conn.prepare_cached(
            "SELECT status, cursor, window_from, window_to, fetched, started_at, finished_at, error FROM sync_state
         WHERE marketplace = ?1 AND kind = ?2",
        )?
        .query_row(params![market.as_str(), kind], |r| {
            Ok(SyncState {
                status: r.get(0)?,
                cursor: r.get(1)?,
                window_from: r.get(2)?,
                window_to: r.get(3)?,
                fetched: r.get(4)?,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                error: r.get(7)?,
            })
        }),
    )?
    .unwrap_or_else(|| SyncState { status: "idle".into(), ..SyncState::default() }))
}

/// Starts a run over [from, to] from the first page.
pub fn sync_begin(conn: &Connection, market: Market, kind: &str, from: i64, to: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (marketplace, kind, status, cursor, window_from, window_to, fetched, started_at, error)
         VALUES (?1, ?2, 'running', NULL, ?3, ?4, 0, ?5, NULL)
         ON CONFLICT (marketplace, kind) DO UPDATE SET status = 'running', cursor = NULL, window_from = ?3,
           window_to = ?4, fetched = 0, started_at = ?5, error = NULL",
    )?
    .execute(params![market.as_str(), kind, from, to, now])?;
    Ok(())
}

/// Records a committed page: where the next one starts.
pub fn sync_progress(
    conn: &Connection,
    market: Market,
    kind: &str,
    cursor: Option<&str>,
    fetched: usize,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sync_state SET cursor = ?3, fetched = fetched + ?4, status = 'running', error = NULL
         WHERE marketplace = ?1 AND kind = ?2",
    )?
    .execute(params![market.as_str(), kind, cursor, fetched as i64])?;
    Ok(())
}

pub fn sync_finish(conn: &Connection, market: Market, kind: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE sync_state SET status = 'idle', cursor = NULL, finished_at = ?3, error = NULL WHERE marketplace = ?1 AND kind = ?2",
    )?
    .execute(params![market.as_str(), kind, now])?;
    Ok(())
}

/// A run that stopped: it resumes from its cursor next time.
pub fn sync_fail(conn: &Connection, market: Market, kind: &str, error: &str) -> Result<()> {
    conn.prepare_cached("UPDATE sync_state SET status = 'failed', error = ?3 WHERE marketplace = ?1 AND kind = ?2")?
        .execute(params![market.as_str(), kind, error])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketplace::OrderItem;
    use crate::store::Db;

    fn sample(status: OrderStatus, raw: &str, at: i64) -> Order {
        Order {
            market: Market::Ozon,
            number: "57195475-0050-3".into(),
            status,
            status_raw: raw.into(),
            phone: Some("+79121234567".into()),
            reference: None,
            items: vec![OrderItem {
                article: "LD-TS-001".into(),
                name: "Футболка".into(),
                size: Some("S".into()),
                quantity: 1,
                price_rub: 1290.0,
            }],
            tracking: None,
            pickup_point: None,
            storage_until: None,
            eta: Some(at + 1000),
            created_at: 1,
            status_at: at,
            synced_at: at,
        }
    }

    #[test]
    fn upsert_keeps_history_and_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("s.db"), 1, 1).expect("open");
        db.with_conn(|c| {
            let (id, changed) = upsert(c, &sample(OrderStatus::New, "awaiting_packaging", 10), 10)?;
            assert!(!changed, "a new order is not a status change");
            let (same, changed) = upsert(c, &sample(OrderStatus::New, "awaiting_packaging", 10), 20)?;
            assert_eq!((same, changed), (id, false));
            let (_, changed) = upsert(c, &sample(OrderStatus::InTransit, "delivering", 30), 30)?;
            assert!(changed);
            let history: i64 =
                c.prepare_cached("SELECT COUNT(*) FROM order_status_history")?.query_row([], |r| r.get(0))?;
            assert_eq!(history, 2);
            let got = get(c, Market::Ozon, "57195475-0050-3")?.expect("cached");
            assert_eq!(got.status, OrderStatus::InTransit);
            assert_eq!(got.items[0].size.as_deref(), Some("S"));
            let cust = crate::store::messaging::upsert_customer(c, "telegram", "1", "", 1)?;
            link(c, cust, Market::Ozon, "57195475-0050-3", 40)?;
            link(c, cust, Market::Ozon, "57195475-0050-3", 41)?;
            link(c, cust, Market::Ozon, "00000000-0000-0", 41)?;
            assert_eq!(of_customer(c, cust)?.len(), 1);
            Ok(())
        })
        .expect("checks");
    }
}
