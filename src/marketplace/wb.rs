//! Wildberries seller API: the token goes in the `Authorization` header; each API group has
//! its own host (`marketplace-api.wildberries.ru` for FBS orders), all of which one override
//! base URL can replace. Errors are `{"title", "detail", "code", "status", …}`.
//!
//! FBS orders have no "get by id": the order itself comes from the sync (list of orders), and a
//! live lookup asks `POST /api/v3/orders/status` for its current supplier and WB statuses.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Market, MarketError, MarketplaceApi, Order, OrderStatus};
use crate::BoxFuture;
use crate::net::{HttpClient, HttpError, KeyRef, RetryPolicy};

/// The FBS orders host; `marketplaces.wb.base_url` replaces every WB host at once.
pub const DEFAULT_BASE_URL: &str = "https://marketplace-api.wildberries.ru";
/// Name of the stored credential.
pub const TOKEN: &str = "wb.token";

pub struct Wb {
    http: HttpClient,
    base_url: String,
    token: KeyRef,
}

impl Wb {
    pub fn new(base_url: &str, token: KeyRef) -> Self {
        // FBS orders: 300 requests per minute, bursts of 20 (the group's documented limit).
        let http = HttpClient::new(Duration::from_secs(15), RetryPolicy::default(), Some((5.0, 20)));
        Self { http, base_url: base_url.trim_end_matches('/').to_owned(), token }
    }

    async fn post(&self, path: &str, body: &Value, deadline: Option<Instant>) -> Result<Value, HttpError> {
        let token = self.token.get().await;
        let url = format!("{}{path}", self.base_url);
        let resp =
            self.http.send(|c| c.post(&url).header("Authorization", token.expose()).json(body), deadline).await?;
        resp.json::<Value>().await.map_err(|e| HttpError::Transport(format!("unreadable answer: {e}")))
    }

    async fn status_of(
        &self,
        number: &str,
        cached: Option<&Order>,
        deadline: Instant,
    ) -> Result<Option<Order>, MarketError> {
        let Ok(id) = number.parse::<i64>() else { return Ok(None) };
        let v = self.post("/api/v3/orders/status", &json!({"orders": [id]}), Some(deadline)).await?;
        let list = v["orders"].as_array().ok_or_else(|| MarketError::Shape("status answer without orders".into()))?;
        let Some(found) = list.iter().find(|o| o["id"].as_i64() == Some(id)) else { return Ok(None) };
        let supplier = found["supplierStatus"].as_str().unwrap_or("");
        let wb = found["wbStatus"].as_str().unwrap_or("");
        if supplier.is_empty() && wb.is_empty() {
            return Err(MarketError::Shape("order status without supplierStatus and wbStatus".into()));
        }
        let raw = format!("{supplier}/{wb}");
        let status = status(supplier, wb);
        let mut order = cached.cloned().unwrap_or_else(|| Order {
            market: Market::Wb,
            number: number.to_owned(),
            status,
            status_raw: raw.clone(),
            phone: None,
            items: Vec::new(),
            tracking: None,
            pickup_point: None,
            storage_until: None,
            eta: None,
            created_at: 0,
            status_at: 0,
            synced_at: 0,
        });
        if order.status_raw != raw {
            order.status_at = 0;
        }
        order.status = status;
        order.status_raw = raw;
        Ok(Some(order))
    }
}

impl MarketplaceApi for Wb {
    fn market(&self) -> Market {
        Market::Wb
    }

    fn order<'a>(
        &'a self,
        number: &'a str,
        cached: Option<&'a Order>,
        deadline: Instant,
    ) -> BoxFuture<'a, Result<Option<Order>, MarketError>> {
        Box::pin(self.status_of(number, cached, deadline))
    }
}

/// An FBS order's supplier status and WB status in our terms.
pub fn status(supplier: &str, wb: &str) -> OrderStatus {
    match (supplier, wb) {
        (_, "sold") => OrderStatus::Delivered,
        ("cancel", _) | (_, "canceled" | "canceled_by_client" | "declined_by_client") => OrderStatus::Cancelled,
        (_, "ready_for_pickup") => OrderStatus::ReadyForPickup,
        (_, "sorted" | "accepted_by_carrier" | "sent_to_carrier" | "postponed_delivery") => OrderStatus::InTransit,
        ("complete", "waiting" | "") => OrderStatus::Assembled,
        ("new" | "confirm", "waiting" | "") => OrderStatus::New,
        _ => OrderStatus::Problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map() {
        assert_eq!(status("new", "waiting"), OrderStatus::New);
        assert_eq!(status("complete", "waiting"), OrderStatus::Assembled);
        assert_eq!(status("complete", "sorted"), OrderStatus::InTransit);
        assert_eq!(status("complete", "ready_for_pickup"), OrderStatus::ReadyForPickup);
        assert_eq!(status("complete", "sold"), OrderStatus::Delivered);
        assert_eq!(status("cancel", "waiting"), OrderStatus::Cancelled);
        assert_eq!(status("complete", "defect"), OrderStatus::Problem);
    }
}
