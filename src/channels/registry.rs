//! What each channel can do, as data: the engine asks it (may this channel request a phone?),
//! the dispatcher takes its send rate from it, README prints it as the capability table, and
//! every adapter renders an [`super::Outbound`] within it or degrades by the rule stated here.
//!
//! Degrade rules:
//! - buttons beyond what a channel shows become written choices (`Outbound::text_with_choices`);
//!   a channel without buttons (marketplaces) sends the text only;
//! - a phone request where the channel cannot prove a number is left out (the text around it
//!   still asks for the order number);
//! - an attachment a channel cannot send goes as its file name under the text;
//! - text longer than `max_text` is split at paragraph, line or word ends (`split_text`);
//! - outside a reply window (WhatsApp: 24 hours after the buyer's last message) only an
//!   approved template may go: an order notice becomes its template, anything else waits for
//!   the buyer's next message (parked with the reason, shown in the inbox).

use std::time::Duration;

use serde::Serialize;

use super::ChannelName;

/// Media kinds a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    Photo,
    Document,
}

/// How a channel shows quick choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Buttons {
    /// Most buttons in one message (beyond: written choices).
    pub max: usize,
    /// Longest label, characters (beyond: written choices).
    pub max_label: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Capabilities {
    pub channel: ChannelName,
    /// `None`: no buttons (the text only).
    pub buttons: Option<Buttons>,
    /// Files buyers can send in.
    #[schema(value_type = Vec<Media>)]
    pub media_in: &'static [Media],
    /// Files the channel sends out.
    #[schema(value_type = Vec<Media>)]
    pub media_out: &'static [Media],
    /// Largest file sent out, bytes (0: none).
    pub max_file_bytes: u64,
    /// A reply can be shown while it is being written.
    pub streaming: bool,
    /// "typing…" can be shown.
    pub typing: bool,
    /// The buyer can be asked to prove a phone number with a button.
    pub phone_request: bool,
    /// Every message carries a phone number the channel verified (WhatsApp).
    pub phone_verified: bool,
    /// Longest message, characters.
    pub max_text: usize,
    /// Default sends per second overall.
    pub per_second: f64,
    /// Least time between two sends to one recipient, ms.
    pub per_recipient_ms: u64,
    /// Free-form replies only within this long after the buyer's last message, seconds.
    pub reply_window_secs: Option<u64>,
}

impl Capabilities {
    pub fn per_recipient(&self) -> Duration {
        Duration::from_millis(self.per_recipient_ms)
    }

    pub fn reply_window(&self) -> Option<Duration> {
        self.reply_window_secs.map(Duration::from_secs)
    }

    /// Whether `rows` of labels fit the channel's buttons as they are.
    pub fn fits_buttons(&self, rows: &[Vec<String>]) -> bool {
        let Some(b) = self.buttons else { return false };
        let n: usize = rows.iter().map(Vec::len).sum();
        n <= b.max && rows.iter().flatten().all(|l| l.chars().count() <= b.max_label)
    }

    pub fn sends(&self, m: Media) -> bool {
        self.media_out.contains(&m)
    }
}

const PHOTO_DOC: &[Media] = &[Media::Photo, Media::Document];
const NONE: &[Media] = &[];

const fn base(channel: ChannelName) -> Capabilities {
    Capabilities {
        channel,
        buttons: None,
        media_in: NONE,
        media_out: NONE,
        max_file_bytes: 0,
        streaming: false,
        typing: false,
        phone_request: false,
        phone_verified: false,
        max_text: 4096,
        per_second: 2.0,
        per_recipient_ms: 0,
        reply_window_secs: None,
    }
}

/// Telegram bots: inline keyboards (the Bot API allows 100 buttons, callback data 64 bytes:
/// 32 Cyrillic letters), photos and documents both ways (getFile serves up to 20 MB, uploads
/// up to 50 MB), typing, the contact button, 4096 characters, about 30 messages a second and
/// one a second per chat; a reply is previewed while it is written (`sendMessageDraft`, in
/// private chats).
const TELEGRAM: Capabilities = Capabilities {
    buttons: Some(Buttons { max: 100, max_label: 32 }),
    streaming: true,
    media_in: PHOTO_DOC,
    media_out: PHOTO_DOC,
    max_file_bytes: 50 * 1024 * 1024,
    typing: true,
    phone_request: true,
    per_second: 30.0,
    per_recipient_ms: 1000,
    ..base(ChannelName::Telegram)
};

/// The seller's own account through Telegram Business: the same messages, no contact button
/// (it is the seller's chat, not the bot's), replies only while the connection may reply.
const TELEGRAM_BUSINESS: Capabilities =
    Capabilities { phone_request: false, streaming: false, channel: ChannelName::TelegramBusiness, ..TELEGRAM };

/// WhatsApp Cloud API: interactive reply buttons (at most 3, titles up to 20 characters) or a
/// list (at most 10 rows of 24), images (5 MB) and documents (100 MB) both ways, the sender's
/// number verified on every message, 4096 characters of text, 80 messages a second per number
/// (Meta's default throughput), a 24-hour customer-service window.
const WHATSAPP: Capabilities = Capabilities {
    buttons: Some(Buttons { max: 10, max_label: 24 }),
    media_in: PHOTO_DOC,
    media_out: PHOTO_DOC,
    max_file_bytes: 100 * 1024 * 1024,
    typing: false,
    phone_verified: true,
    per_second: 80.0,
    per_recipient_ms: 1000,
    reply_window_secs: Some(24 * 3600),
    ..base(ChannelName::WhatsApp)
};

/// VK community messages: inline keyboards (at most 10 buttons, labels up to 40 characters),
/// photos and documents in (out: the file's name, as VK's uploads need a user token's
/// upload servers), typing (`messages.setActivity`), 4096 characters, 20 calls a second
/// (a community token's limit).
const VK: Capabilities = Capabilities {
    buttons: Some(Buttons { max: 10, max_label: 40 }),
    media_in: PHOTO_DOC,
    typing: true,
    per_second: 20.0,
    ..base(ChannelName::Vk)
};

/// The widget shows any buttons and a sent file's name, and a reply while it is written
/// (`draft` frames); no typing, no files in.
const WIDGET: Capabilities = Capabilities {
    buttons: Some(Buttons { max: 100, max_label: 64 }),
    streaming: true,
    max_text: 4000,
    per_second: 2000.0,
    ..base(ChannelName::Widget)
};

/// The inbound API hands the payload over as it is (the caller renders it).
const API: Capabilities = Capabilities {
    buttons: Some(Buttons { max: 100, max_label: 64 }),
    max_text: 100_000,
    per_second: 2000.0,
    ..base(ChannelName::Api)
};

/// Marketplace answers are published text: no buttons, no files.
const WB_QUESTIONS: Capabilities = Capabilities { max_text: 5000, ..base(ChannelName::WbQuestions) };
const OZON_CHAT: Capabilities = Capabilities { max_text: 1000, ..base(ChannelName::OzonChat) };
const CLI: Capabilities = Capabilities { max_text: 100_000, ..base(ChannelName::Cli) };
const EVAL: Capabilities = Capabilities { max_text: 100_000, ..base(ChannelName::Eval) };

/// The capabilities of `channel`.
pub fn of(channel: ChannelName) -> &'static Capabilities {
    match channel {
        ChannelName::Telegram => &TELEGRAM,
        ChannelName::TelegramBusiness => &TELEGRAM_BUSINESS,
        ChannelName::WhatsApp => &WHATSAPP,
        ChannelName::Vk => &VK,
        ChannelName::Widget => &WIDGET,
        ChannelName::Api => &API,
        ChannelName::WbQuestions => &WB_QUESTIONS,
        ChannelName::OzonChat => &OZON_CHAT,
        ChannelName::Cli => &CLI,
        ChannelName::Eval => &EVAL,
    }
}

/// Every channel's capabilities (`GET /api/v1/channels` and README's table).
pub fn all() -> Vec<&'static Capabilities> {
    ChannelName::ALL.into_iter().map(of).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_keyed_by_its_own_names() {
        for c in ChannelName::ALL {
            assert_eq!(of(c).channel, c);
            assert!(of(c).per_second > 0.0 && of(c).max_text >= 1000);
        }
        // Only Telegram's bot proves a phone by a button; WhatsApp proves it on every message.
        let asks: Vec<_> = all().into_iter().filter(|c| c.phone_request).map(|c| c.channel).collect();
        assert_eq!(asks, vec![ChannelName::Telegram]);
        // Answers are previewed while written only where the buyer's client shows drafts;
        // marketplaces and the rest get the final text only.
        let previews: Vec<_> = all().into_iter().filter(|c| c.streaming).map(|c| c.channel).collect();
        assert_eq!(previews, vec![ChannelName::Telegram, ChannelName::Widget]);
        assert!(of(ChannelName::WhatsApp).phone_verified && of(ChannelName::WhatsApp).reply_window().is_some());
        let rating = vec![vec!["1".to_owned(), "2".into(), "3".into(), "4".into(), "5".into()]];
        assert!(of(ChannelName::WhatsApp).fits_buttons(&rating) && !of(ChannelName::OzonChat).fits_buttons(&rating));
    }
}
