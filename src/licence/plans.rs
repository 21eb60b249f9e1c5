//! Plans and their limits, as data: the one table every check reads.
//!
//! A licence carries its own limits (the vendor may sell a custom deal); the table gives each
//! plan's defaults for `supportd licence issue`, the built-in trial and free tier, and the
//! plan a refusal suggests ("on «Бизнес» up to 10 operators").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::channels::ChannelName;

/// How many accounts that answer buyers (admins and operators) may be active. Viewers only
/// read and are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seats {
    UpTo(u32),
    Unlimited,
}

impl Seats {
    /// Whether `n` active seats fit.
    pub fn allows(self, n: u32) -> bool {
        match self {
            Seats::UpTo(max) => n <= max,
            Seats::Unlimited => true,
        }
    }
}

impl Serialize for Seats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Seats::UpTo(n) => s.serialize_u32(*n),
            Seats::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for Seats {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(Seats::UpTo(n)),
            Raw::Word(w) if w == "unlimited" => Ok(Seats::Unlimited),
            Raw::Word(w) => {
                Err(serde::de::Error::custom(format!("seats: {w:?} is neither a number nor \"unlimited\"")))
            }
        }
    }
}

impl std::str::FromStr for Seats {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "unlimited" => Ok(Seats::Unlimited),
            n => n.parse().map(Seats::UpTo).map_err(|_| format!("{n:?} is neither a number nor \"unlimited\"")),
        }
    }
}

/// A buyer-facing channel a plan may include. Marketplace questions and chats are counted
/// under `marketplaces`, not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Telegram,
    /// The chat widget on the seller's site.
    Widget,
    /// `POST /api/v1/inbound`: messages fed from another system.
    Api,
    /// WhatsApp Business (Cloud API).
    #[serde(rename = "whatsapp")]
    WhatsApp,
    /// VK community messages.
    Vk,
    /// A channel a newer supportd knows (a licence issued for it still installs here); it is
    /// dropped when the licence is read.
    #[serde(other)]
    Other,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] =
        [ChannelKind::Telegram, ChannelKind::Widget, ChannelKind::Api, ChannelKind::WhatsApp, ChannelKind::Vk];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Telegram => ChannelName::Telegram.as_str(),
            ChannelKind::Widget => ChannelName::Widget.as_str(),
            ChannelKind::Api => ChannelName::Api.as_str(),
            ChannelKind::WhatsApp => ChannelName::WhatsApp.as_str(),
            ChannelKind::Vk => ChannelName::Vk.as_str(),
            ChannelKind::Other => "other",
        }
    }

    /// The plan kind of a channel; `None` for channels plans do not govern here (marketplace
    /// sources, the terminal chat, evaluations). Telegram Business counts as Telegram.
    pub fn of_channel(name: ChannelName) -> Option<Self> {
        match name {
            ChannelName::Telegram | ChannelName::TelegramBusiness => Some(ChannelKind::Telegram),
            ChannelName::Widget => Some(ChannelKind::Widget),
            ChannelName::Api => Some(ChannelKind::Api),
            ChannelName::WhatsApp => Some(ChannelKind::WhatsApp),
            ChannelName::Vk => Some(ChannelKind::Vk),
            ChannelName::WbQuestions | ChannelName::OzonChat | ChannelName::Cli | ChannelName::Eval => None,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s.trim())
    }
}

/// Which language models the assistant may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelAccess {
    /// The model on the seller's own CPU only.
    Local,
    /// The local model and cloud providers (YandexGPT, OpenAI-compatible).
    Cloud,
}

impl ModelAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelAccess::Local => "local",
            ModelAccess::Cloud => "cloud",
        }
    }
}

/// What a plan allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Limits {
    /// Active admins and operators: a number, or "unlimited".
    #[schema(value_type = Object)]
    pub seats: Seats,
    /// Buyer channels that may be enabled.
    pub channels: Vec<ChannelKind>,
    /// Marketplace accounts (Wildberries, Ozon) whose orders, questions and chats are synced.
    pub marketplaces: u32,
    pub models: ModelAccess,
    /// Analytics exports (the monthly usage statement as CSV).
    pub exports: bool,
}

impl Limits {
    pub fn has_channel(&self, c: ChannelKind) -> bool {
        self.channels.contains(&c)
    }

    /// Sorted, without duplicates or channels this build does not know.
    pub fn normalized(mut self) -> Self {
        self.channels.retain(|c| *c != ChannelKind::Other);
        self.channels.sort();
        self.channels.dedup();
        self
    }
}

/// One row of the plan table.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub id: &'static str,
    pub seats: Seats,
    pub channels: &'static [ChannelKind],
    pub marketplaces: u32,
    pub models: ModelAccess,
    pub exports: bool,
    /// Sold as a licence (`supportd licence issue --plan`); the free tier and the trial are built in.
    pub issuable: bool,
}

impl Plan {
    pub fn limits(&self) -> Limits {
        Limits {
            seats: self.seats,
            channels: self.channels.to_vec(),
            marketplaces: self.marketplaces,
            models: self.models,
            exports: self.exports,
        }
        .normalized()
    }
}

use ChannelKind::{Api, Telegram, Vk, WhatsApp, Widget};

/// The plan without a licence.
pub const FREE: &str = "free";
/// The first 14 days of an installation.
pub const TRIAL: &str = "trial";

/// Every plan, smallest first (refusals suggest the first sold plan that allows the request).
pub const PLANS: &[Plan] = &[
    Plan {
        id: FREE,
        seats: Seats::UpTo(1),
        channels: &[Telegram, Widget],
        marketplaces: 0,
        models: ModelAccess::Local,
        exports: false,
        issuable: false,
    },
    Plan {
        id: "start",
        seats: Seats::UpTo(3),
        channels: &[Telegram, Widget, Vk],
        marketplaces: 1,
        models: ModelAccess::Local,
        exports: true,
        issuable: true,
    },
    Plan {
        id: "business",
        seats: Seats::UpTo(10),
        channels: &[Telegram, Widget, Api, WhatsApp, Vk],
        marketplaces: 2,
        models: ModelAccess::Cloud,
        exports: true,
        issuable: true,
    },
    Plan {
        id: "pro",
        seats: Seats::Unlimited,
        channels: &[Telegram, Widget, Api, WhatsApp, Vk],
        marketplaces: 2,
        models: ModelAccess::Cloud,
        exports: true,
        issuable: true,
    },
    Plan {
        id: TRIAL,
        seats: Seats::Unlimited,
        channels: &[Telegram, Widget, Api, WhatsApp, Vk],
        marketplaces: 2,
        models: ModelAccess::Cloud,
        exports: true,
        issuable: false,
    },
];

pub fn find(id: &str) -> Option<&'static Plan> {
    PLANS.iter().find(|p| p.id == id)
}

pub fn free() -> Limits {
    find(FREE).map(Plan::limits).unwrap_or_else(unreachable_limits)
}

pub fn trial() -> Limits {
    find(TRIAL).map(Plan::limits).unwrap_or_else(unreachable_limits)
}

/// The smallest limits (the table always has both rows; this only keeps the code panic-free).
fn unreachable_limits() -> Limits {
    Limits { seats: Seats::UpTo(1), channels: vec![], marketplaces: 0, models: ModelAccess::Local, exports: false }
}

/// The smallest plan for sale whose limits satisfy `wanted`.
pub fn smallest_allowing(wanted: impl Fn(&Limits) -> bool) -> Option<&'static Plan> {
    PLANS.iter().filter(|p| p.issuable).find(|p| wanted(&p.limits()))
}

/// A plan or licence id: 1–64 ASCII letters, digits, '-', '_' or '.'.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_the_built_in_plans_and_grows_in_order() {
        assert_eq!(free().seats, Seats::UpTo(1));
        assert_eq!(free().channels, vec![Telegram, Widget]);
        assert_eq!(free().marketplaces, 0);
        assert_eq!(trial().seats, Seats::Unlimited);
        assert_eq!(trial().channels, ChannelKind::ALL.to_vec());
        assert_eq!(trial().models, ModelAccess::Cloud);
        let sold: Vec<&Plan> = PLANS.iter().filter(|p| p.issuable).collect();
        for pair in sold.windows(2) {
            let (a, b) = (pair[0].limits(), pair[1].limits());
            assert!(a.marketplaces <= b.marketplaces && a.channels.len() <= b.channels.len(), "{pair:?}");
            assert!(match (a.seats, b.seats) {
                (Seats::UpTo(x), Seats::UpTo(y)) => x <= y,
                (_, Seats::Unlimited) => true,
                (Seats::Unlimited, Seats::UpTo(_)) => false,
            });
        }
        assert_eq!(smallest_allowing(|l| l.seats.allows(4)).map(|p| p.id), Some("business"));
        assert_eq!(smallest_allowing(|l| l.marketplaces >= 1).map(|p| p.id), Some("start"));
        assert_eq!(smallest_allowing(|l| l.has_channel(Api)).map(|p| p.id), Some("business"));
        assert_eq!(smallest_allowing(|l| l.seats.allows(1000)).map(|p| p.id), Some("pro"));
    }

    #[test]
    fn seats_are_a_number_or_unlimited() {
        assert_eq!(serde_json::to_string(&Seats::UpTo(3)).expect("json"), "3");
        assert_eq!(serde_json::to_string(&Seats::Unlimited).expect("json"), "\"unlimited\"");
        assert_eq!(serde_json::from_str::<Seats>("10").expect("n"), Seats::UpTo(10));
        assert_eq!(serde_json::from_str::<Seats>("\"unlimited\"").expect("u"), Seats::Unlimited);
        assert!(serde_json::from_str::<Seats>("\"many\"").is_err());
        assert!(serde_json::from_str::<Seats>("-1").is_err());
        assert!(Seats::UpTo(2).allows(2) && !Seats::UpTo(2).allows(3) && Seats::Unlimited.allows(u32::MAX));
    }

    #[test]
    fn unknown_channels_are_dropped_not_refused() {
        let l: Limits = serde_json::from_str(
            r#"{"seats": 2, "channels": ["widget", "icq", "telegram", "widget"], "marketplaces": 1, "models": "local", "exports": false}"#,
        )
        .expect("parses");
        assert_eq!(l.normalized().channels, vec![Telegram, Widget]);
    }
}
