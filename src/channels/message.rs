//! The messages that cross the channel layer: [`Inbound`] (a buyer's message handed to the
//! [`super::Inbox`]) and [`Outbound`] (what the outbox holds for a channel to render).
//!
//! `Outbound` is stored as JSON in `outbox.payload`. Its form is the one earlier versions wrote
//! (`{"text", "buttons"?: [[label]], "file"?: {"path", "name", "mime"}, "contact_button"?: label}`)
//! plus optional fields; [`Outbound::parse`] reads both, so rows queued before an upgrade are
//! delivered as they were meant.

use serde::{Deserialize, Serialize};

use super::ChannelName;

/// A file that came with a buyer's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attachment {
    /// "photo" or "document".
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    pub size: u64,
    /// Where it is stored, relative to the data directory (none when it was not fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why it was not fetched (too large, unreachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A message from a buyer on some channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inbound {
    pub channel: ChannelName,
    /// The channel's own id of this message (a redelivery carries the same id).
    pub message_id: String,
    /// The buyer's id on the channel (where replies go).
    pub customer: String,
    #[serde(default)]
    pub name: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// A phone number the channel proved belongs to the buyer (Telegram contact sharing, a
    /// WhatsApp sender's number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_phone: Option<String>,
    /// Written by the seller in the buyer's chat (Telegram Business): a person handles this
    /// conversation now, and the bot stays silent in it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub from_seller: bool,
}

impl Inbound {
    /// A plain text message.
    pub fn text(channel: ChannelName, message_id: String, customer: String, text: String) -> Self {
        Self {
            channel,
            message_id,
            customer,
            name: String::new(),
            text,
            attachments: Vec::new(),
            verified_phone: None,
            from_seller: false,
        }
    }
}

/// A file sent to a buyer (stored under the data directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutFile {
    /// Relative to the data directory.
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mime: Option<String>,
}

impl OutFile {
    pub fn is_image(&self) -> bool {
        self.mime.as_deref().is_some_and(|m| m.starts_with("image/"))
    }
}

/// What an order status notification is about: a channel that may only send approved
/// templates at this moment (WhatsApp outside the 24-hour window) fills a template from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNotice {
    /// The order (WB order id, Ozon posting number).
    pub order: String,
    /// `OrderStatus` in its snake_case form ("in_transit", "ready_for_pickup", "cancelled").
    pub status: String,
    /// The status as the buyer is told it («в пути»), for a template's parameter.
    #[serde(default)]
    pub status_text: String,
}

/// A message to a buyer as the engine and operators write it; each channel renders it with
/// its own means or degrades it by the rule stated in `channels::registry`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outbound {
    pub text: String,
    /// Quick choices, rows of labels; pressing one sends its label back as the buyer's message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<String>>,
    /// Ask the buyer to share their phone number, with this button label (channels that can
    /// prove the number, Telegram's contact button).
    #[serde(default, rename = "contact_button", skip_serializing_if = "Option::is_none")]
    pub request_phone: Option<String>,
    /// Files to send with the text (the text is the first one's caption when it fits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<OutFile>,
    /// The channel's id of the buyer's message this answers (quoted where the channel can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Set on order status notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<OrderNotice>,
    /// The outbox row this is (set by the dispatcher, never stored): a channel with its own
    /// idempotency key derives it from this (VK's `random_id`).
    #[serde(skip)]
    pub outbox_id: Option<i64>,
    /// Earlier versions' single file (`{"file": {…}}`); read into `attachments`.
    #[serde(default, rename = "file", skip_serializing)]
    legacy_file: Option<OutFile>,
}

impl Outbound {
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }

    pub fn with_buttons(mut self, rows: Vec<Vec<String>>) -> Self {
        self.buttons = rows;
        self
    }

    pub fn with_file(mut self, file: OutFile) -> Self {
        self.attachments.push(file);
        self
    }

    /// Reads an outbox payload, of this version or an earlier one.
    pub fn parse(payload: &str) -> Result<Self, serde_json::Error> {
        let mut o: Outbound = serde_json::from_str(payload)?;
        if let Some(f) = o.legacy_file.take() {
            o.attachments.insert(0, f);
        }
        Ok(o)
    }

    /// The JSON stored in `outbox.payload`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"text\":\"\"}".into())
    }

    /// Labels of every button, in order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.buttons.iter().flatten().map(String::as_str)
    }

    /// The text with the buttons written out as numbered choices (for channels without buttons).
    pub fn text_with_choices(&self) -> String {
        let labels: Vec<&str> = self.labels().collect();
        if labels.is_empty() {
            return self.text.clone();
        }
        let numeric = labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit()));
        if numeric {
            format!("{} ({})", self.text.trim_end(), labels.join(", "))
        } else {
            let list: Vec<String> = labels.iter().map(|l| format!("• {l}")).collect();
            format!("{}\n{}", self.text.trim_end(), list.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_of_the_previous_version_still_read() {
        let old = r#"{"text":"Как вам?","buttons":[["1","2","3"]],"contact_button":"📱 Поделиться номером"}"#;
        let o = Outbound::parse(old).expect("old payload");
        assert_eq!(o.buttons, vec![vec!["1".to_owned(), "2".into(), "3".into()]]);
        assert_eq!(o.request_phone.as_deref(), Some("📱 Поделиться номером"));
        let with_file = r#"{"text":"Этикетка","file":{"path":"files/out/a.jpg","name":"a.jpg","mime":"image/jpeg"}}"#;
        let o = Outbound::parse(with_file).expect("old file payload");
        assert_eq!(o.attachments.len(), 1);
        assert!(o.attachments[0].is_image());
        // Written back, the new form reads the same.
        assert_eq!(Outbound::parse(&o.to_json()).expect("new"), o);
        // A plain text stays the plain JSON it was.
        assert_eq!(Outbound::text("Здравствуйте").to_json(), r#"{"text":"Здравствуйте"}"#);
    }

    #[test]
    fn buttons_degrade_to_written_choices() {
        let rating = Outbound::text("Оцените ответ").with_buttons(vec![vec!["1".into(), "2".into(), "3".into()]]);
        assert_eq!(rating.text_with_choices(), "Оцените ответ (1, 2, 3)");
        let words = Outbound::text("Что дальше?").with_buttons(vec![vec!["Возврат".into()], vec!["Доставка".into()]]);
        assert_eq!(words.text_with_choices(), "Что дальше?\n• Возврат\n• Доставка");
    }
}
