//! `[telegram]`, `[whatsapp]`, `[vk]`, `[widget]` and `[notifications]`: the buyers' channels.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Secret;

closed_set! {
    /// How Telegram updates arrive (`telegram.mode`; the panel can switch it at run time).
    pub enum TelegramMode {
        /// Long polling: no public address needed.
        #[default]
        Polling = "polling",
        /// Telegram posts updates to the webhook.
        Webhook = "webhook",
    }
}

closed_set! {
    /// How VK community events arrive (`vk.mode`).
    pub enum VkMode {
        /// VK posts events to /vk/callback (needs a public address).
        #[default]
        Callback = "callback",
        /// Bots Long Poll.
        LongPoll = "longpoll",
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// The Bot API server (another one for tests or a local Bot API server).
    pub api_url: String,
    /// "polling" (no public address needed) or "webhook"; the panel can switch it at run time.
    pub mode: TelegramMode,
    /// Prefer the encrypted store: `supportd channel telegram set-token`.
    pub token: Secret,
    /// Where Telegram posts updates in webhook mode [default: server.public_url + /telegram/webhook].
    pub webhook_url: String,
    /// Largest photo or document fetched from buyers, bytes (the Bot API serves up to 20 MB).
    pub max_file_bytes: u64,
    /// Messages per second to Telegram overall (the Bot API allows about 30; one per second per
    /// chat always applies).
    pub messages_per_second: f64,
}

/// The Bot API's real host.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            api_url: TELEGRAM_API_URL.into(),
            mode: TelegramMode::Polling,
            token: Secret::default(),
            webhook_url: String::new(),
            max_file_bytes: 10 * 1024 * 1024,
            messages_per_second: 30.0,
        }
    }
}

/// WhatsApp Business (Cloud API). Secrets are better stored encrypted from the settings page.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsAppConfig {
    /// The Graph API server (a test double in tests).
    pub api_url: String,
    /// A system user's access token with whatsapp_business_messaging.
    pub token: Secret,
    /// The business phone number's id (not the number itself).
    pub phone_number_id: String,
    /// The WhatsApp Business Account id, for syncing the approved templates.
    pub business_account_id: String,
    /// What Meta sends back when the webhook is verified.
    pub verify_token: Secret,
    /// The Meta app's secret: every webhook POST is signed with it (X-Hub-Signature-256).
    pub app_secret: Secret,
    /// Largest image or document fetched from buyers, bytes.
    pub max_file_bytes: u64,
}

/// The Graph API's real host.
pub const WHATSAPP_API_URL: &str = "https://graph.facebook.com";

impl Default for WhatsAppConfig {
    fn default() -> Self {
        Self {
            api_url: WHATSAPP_API_URL.into(),
            token: Secret::default(),
            phone_number_id: String::new(),
            business_account_id: String::new(),
            verify_token: Secret::default(),
            app_secret: Secret::default(),
            max_file_bytes: 10 * 1024 * 1024,
        }
    }
}

/// VK community messages (Callback API or Bots Long Poll).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VkConfig {
    /// The VK API server.
    pub api_url: String,
    /// The community's access token (messages allowed).
    pub token: Secret,
    /// The community's id (digits, without the minus).
    pub group_id: u64,
    /// The string the Callback API expects back from the `confirmation` event.
    pub confirmation: String,
    /// The secret key set in the Callback API settings: every event carries it.
    pub secret: Secret,
    /// "callback" (VK posts events to /vk/callback; needs a public address) or "longpoll".
    pub mode: VkMode,
    /// Largest photo or document fetched from buyers, bytes.
    pub max_file_bytes: u64,
}

/// The VK API's real host.
pub const VK_API_URL: &str = "https://api.vk.com";

impl Default for VkConfig {
    fn default() -> Self {
        Self {
            api_url: VK_API_URL.into(),
            token: Secret::default(),
            group_id: 0,
            confirmation: String::new(),
            secret: Secret::default(),
            mode: VkMode::Callback,
            max_file_bytes: 10 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Tell linked buyers when their order ships, reaches the pick-up point or is cancelled.
    pub enabled: bool,
    /// Templates: {number}, {marketplace}, {items}, {eta}, {pickup_point}, {storage_until}.
    pub in_transit: String,
    pub ready_for_pickup: String,
    pub cancelled: String,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            in_transit: crate::texts::defaults::NOTIFY_IN_TRANSIT.into(),
            ready_for_pickup: crate::texts::defaults::NOTIFY_READY_FOR_PICKUP.into(),
            cancelled: crate::texts::defaults::NOTIFY_CANCELLED.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetConfig {
    /// Sites allowed to embed the chat widget ("https://shop.ru"); the panel's own origin
    /// always is. "*" allows any site.
    pub allowed_origins: Vec<String>,
}
