//! Order status notifications: what a buyer linked to an order is told when the sync sees it
//! shipped, waiting at the pick-up point or cancelled — the seller's templates, once per status,
//! through the buyer's channel (and into the conversation, so operators see it).

use serde_json::json;

use super::answer;
use super::provenance::{OrderRef, Provenance};
use crate::config::NotificationsConfig;
use crate::marketplace::sync::Notifier;
use crate::marketplace::{Order, OrderStatus};
use crate::store::messaging::{self as msgs, Author, Delivery, NewMessage, OutboxKey};
use crate::store::orders as order_rows;

/// The text for `order` from `template`: {number}, {marketplace}, {items}, {eta},
/// {pickup_point}, {storage_until} (each empty when unknown).
pub fn render(template: &str, o: &Order, offset: i32) -> String {
    let items: Vec<&str> = o.items.iter().map(|i| i.name.as_str()).collect();
    template
        .replace("{number}", &o.number)
        .replace("{marketplace}", o.market.title())
        .replace("{items}", &items.join(", "))
        .replace("{eta}", &o.eta.map(|t| answer::date(t, offset)).unwrap_or_default())
        .replace("{pickup_point}", o.pickup_point.as_deref().unwrap_or(""))
        .replace("{storage_until}", &o.storage_until.map(|t| answer::date(t, offset)).unwrap_or_default())
        .replace("  ", " ")
}

pub fn notifier(config: &NotificationsConfig, offset: i32) -> Option<Notifier> {
    if !config.enabled {
        return None;
    }
    let c = config.clone();
    Some(std::sync::Arc::new(move |conn: &rusqlite::Connection, order_id: i64, o: &Order, now: i64| {
        let template = match o.status {
            OrderStatus::InTransit => &c.in_transit,
            OrderStatus::ReadyForPickup => &c.ready_for_pickup,
            OrderStatus::Cancelled => &c.cancelled,
            _ => return Ok(0),
        };
        let text = render(template, o, offset);
        let mut sent = 0;
        for (customer, channel, recipient) in order_rows::subscribers(conn, order_id)? {
            let key = format!("notify:{order_id}:{}:{customer}", o.status.as_str());
            let conv = msgs::open_conversation(conn, customer, &channel, now)?;
            let provenance = Provenance {
                orders: vec![OrderRef {
                    market: Some(o.market),
                    number: o.number.clone(),
                    status: o.status,
                    source: None,
                    stale_since: None,
                }],
                ..Provenance::of(super::Action::Notify)
            }
            .to_json();
            let m = NewMessage {
                conversation_id: conv,
                author: Author::Bot,
                author_user_id: None,
                body: &text,
                attachments: "[]",
                provenance: Some(&provenance),
                inbox_id: None,
            };
            if msgs::outbox_has_key(conn, &key)? {
                continue;
            }
            let mut payload = crate::channels::Outbound::text(text.clone());
            payload.notice = Some(crate::channels::OrderNotice {
                order: o.number.clone(),
                status: o.status.as_str().to_owned(),
                status_text: crate::texts::bot::order_status(o.status).to_owned(),
            });
            let payload = payload.to_json();
            let delivery =
                Delivery { channel: &channel, recipient: &recipient, payload: &payload, key: OutboxKey::Named(&key) };
            let event = json!({"order": o.number, "status": o.status});
            msgs::post_message(conn, &m, Some(&delivery), Some(("notify", &event)), now)?;
            sent += 1;
        }
        Ok(sent)
    }))
}
