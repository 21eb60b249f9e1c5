//! The order types the engine answers from: an order and its items, where it is, and a
//! buyer's return, in one marketplace-neutral shape (each adapter maps its statuses onto these).

use serde::{Deserialize, Serialize};

use super::Market;

/// Where an order is, in the words the engine answers with (each marketplace's own statuses
/// map onto these in its adapter; the raw status is kept beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, waiting to be packed.
    New,
    /// Packed, waiting to be handed to delivery.
    Assembled,
    InTransit,
    ReadyForPickup,
    Delivered,
    Cancelled,
    /// Disputed, lost, damaged: a person must look at it.
    Problem,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::New,
        OrderStatus::Assembled,
        OrderStatus::InTransit,
        OrderStatus::ReadyForPickup,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Problem,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::Assembled => "assembled",
            OrderStatus::InTransit => "in_transit",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Problem => "problem",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Finished orders change no more (a fresh cached copy of them never expires).
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Cancelled)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    /// Seller's article, nmID or SKU.
    pub article: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    pub quantity: u32,
    pub price_rub: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    pub market: Market,
    /// WB order id or Ozon posting number.
    pub number: String,
    pub status: OrderStatus,
    /// The marketplace's own status name.
    pub status_raw: String,
    /// The buyer's phone (+7…), when the marketplace gives it. Never shown to anyone but staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// WB's `srid` (an FBS order's `rid`): claims and reports name the order by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub items: Vec<OrderItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_point: Option<String>,
    /// Last day at the pick-up point (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_until: Option<i64>,
    /// Expected delivery (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<i64>,
    pub created_at: i64,
    /// Current status since (ms).
    pub status_at: i64,
    /// When the marketplace last confirmed this data (ms).
    pub synced_at: i64,
}

/// Where a buyer's return (WB claim, Ozon return) stands, in the words the engine answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Waiting for the seller's or the marketplace's decision.
    Review,
    Approved,
    Rejected,
    /// The item is on its way back.
    InTransit,
    /// Finished: the item is back with the seller, or the money is returned.
    Done,
    Cancelled,
}

impl ReturnStatus {
    pub const ALL: [ReturnStatus; 6] = [
        ReturnStatus::Review,
        ReturnStatus::Approved,
        ReturnStatus::Rejected,
        ReturnStatus::InTransit,
        ReturnStatus::Done,
        ReturnStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Review => "review",
            ReturnStatus::Approved => "approved",
            ReturnStatus::Rejected => "rejected",
            ReturnStatus::InTransit => "in_transit",
            ReturnStatus::Done => "done",
            ReturnStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A buyer's return request as the marketplace reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Return {
    pub market: Market,
    /// WB claim id, Ozon return id.
    pub id: String,
    /// The order it belongs to: Ozon posting number, WB `srid`.
    pub order_ref: String,
    pub status: ReturnStatus,
    /// The marketplace's own words for the status.
    pub status_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub created_at: i64,
    /// The marketplace's last change (ms).
    pub updated_at: i64,
}

/// One page of returns and the cursor of the next one.
pub type ReturnPage = (Vec<Return>, Option<String>);
