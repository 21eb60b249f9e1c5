//! The closed set of channel names: what the inbox, outbox, conversations and customers store
//! in their `channel` column, and the one place those strings are spelled.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelName {
    /// A Telegram bot's private chats.
    Telegram,
    /// Buyers' chats with the seller's own Telegram account, through Telegram Business.
    TelegramBusiness,
    /// WhatsApp Business (Cloud API).
    #[serde(rename = "whatsapp")]
    WhatsApp,
    /// VK community messages.
    Vk,
    /// The chat widget on the seller's site.
    Widget,
    /// `POST /api/v1/inbound`: messages fed by another system, replies fetched by it.
    Api,
    /// Wildberries product questions.
    WbQuestions,
    /// Ozon buyer chats.
    OzonChat,
    /// `supportd chat` in a terminal (nothing is delivered).
    Cli,
    /// `supportd eval dialogs` (nothing is delivered).
    Eval,
}

impl ChannelName {
    pub const ALL: [ChannelName; 10] = [
        ChannelName::Telegram,
        ChannelName::TelegramBusiness,
        ChannelName::WhatsApp,
        ChannelName::Vk,
        ChannelName::Widget,
        ChannelName::Api,
        ChannelName::WbQuestions,
        ChannelName::OzonChat,
        ChannelName::Cli,
        ChannelName::Eval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelName::Telegram => "telegram",
            ChannelName::TelegramBusiness => "telegram_business",
            ChannelName::WhatsApp => "whatsapp",
            ChannelName::Vk => "vk",
            ChannelName::Widget => "widget",
            ChannelName::Api => "api",
            ChannelName::WbQuestions => "wb_questions",
            ChannelName::OzonChat => "ozon_chat",
            ChannelName::Cli => "cli",
            ChannelName::Eval => "eval",
        }
    }

    /// The name stored in the database, back to the type (`None` for a name this build does
    /// not know).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Answers here are published on a marketplace (public: no contacts, links or personal data).
    pub fn is_marketplace(self) -> bool {
        matches!(self, ChannelName::WbQuestions | ChannelName::OzonChat)
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ChannelName;

    #[test]
    fn names_round_trip_as_stored_and_as_json() {
        for c in ChannelName::ALL {
            assert_eq!(ChannelName::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).expect("json"), serde_json::json!(c.as_str()));
        }
        assert_eq!(ChannelName::parse("icq"), None);
    }
}
