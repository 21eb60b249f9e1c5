//! `[marketplaces]`: the WB and Ozon connections and their pollers.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Secret;

closed_set! {
    /// What the assistant does with a marketplace's buyer questions or chats
    /// (`marketplaces.wb.questions`, `marketplaces.ozon.chats`).
    pub enum QaMode {
        /// Not fetched.
        Off = "off",
        /// The bot drafts, a person publishes.
        #[default]
        Draft = "draft",
        /// The bot answers.
        Auto = "auto",
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketplacesConfig {
    /// A cached order younger than this is answered from the cache, seconds.
    pub order_fresh_secs: u64,
    /// Incremental sync period, minutes (a full sync runs nightly after 03:00 shop time).
    pub sync_every_minutes: u64,
    /// How far back a full sync reaches, days.
    pub full_sync_days: u32,
    /// How often buyers' marketplace questions and chats are fetched, seconds.
    pub questions_every_secs: u64,
    /// Longest wait for a live order lookup before answering from the cache, milliseconds.
    pub lookup_timeout_ms: u64,
    /// The shop's own answer deadline for marketplace threads whose marketplace sets none
    /// (WB questions and chats, Ozon reviews and questions), hours.
    pub reply_target_hours: u32,
    pub wb: WbConfig,
    pub ozon: OzonConfig,
}

impl Default for MarketplacesConfig {
    fn default() -> Self {
        Self {
            order_fresh_secs: 600,
            sync_every_minutes: 15,
            full_sync_days: 90,
            questions_every_secs: 60,
            lookup_timeout_ms: 2000,
            reply_target_hours: 24,
            wb: WbConfig::default(),
            ozon: OzonConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WbConfig {
    /// Sends every WB API group to this host (tests, proxies); empty: each group's real host.
    pub base_url: String,
    pub token: Secret,
    /// Buyers' questions on WB: "off", "draft" (the bot drafts, a person publishes) or "auto".
    pub questions: QaMode,
}

impl Default for WbConfig {
    fn default() -> Self {
        Self { base_url: String::new(), token: Secret::default(), questions: QaMode::Draft }
    }
}

/// The Ozon Seller API's real host.
pub const OZON_API_URL: &str = "https://api-seller.ozon.ru";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OzonConfig {
    pub base_url: String,
    pub client_id: Secret,
    pub api_key: Secret,
    /// Buyers' chats on Ozon: "off", "draft" (the bot drafts, a person sends) or "auto".
    pub chats: QaMode,
}

impl Default for OzonConfig {
    fn default() -> Self {
        Self {
            base_url: OZON_API_URL.into(),
            client_id: Secret::default(),
            api_key: Secret::default(),
            chats: QaMode::Draft,
        }
    }
}
