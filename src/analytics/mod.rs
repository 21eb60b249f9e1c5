//! Analytics: what the assistant does for the shop, in numbers. Every figure has one
//! definition, in [`figures`], computed from the summaries that `store/analytics.rs` keeps
//! (triggers maintain them in the same transaction as each conversation, message and event).
//!
//! - [`period`]: today, 7/30/90 days, custom ranges (RFC 3339 or dates in the shop's zone), the
//!   previous period, hourly/daily/weekly/monthly buckets;
//! - [`figures`]: the summary and the whole report of a period;
//! - [`gaps`]: knowledge gaps grouped by similar text (the knowledge base's own analyzer);
//! - [`csv`], [`pdf`]: exports (CSV in UTF-8 with a BOM; a PDF with an embedded Cyrillic font);
//! - [`schedule`]: reports e-mailed daily or weekly, scheduled in the database;
//! - [`metrics`]: business metrics for Prometheus.

pub mod csv;
pub mod figures;
pub mod gaps;
pub mod metrics;
pub mod pdf;
pub mod period;
pub mod schedule;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a conversation came from: the channel, and for the marketplaces what kind of thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Telegram,
    /// The seller's own Telegram account, through Telegram Business.
    TelegramBusiness,
    #[serde(rename = "whatsapp")]
    WhatsApp,
    Vk,
    Widget,
    Api,
    WbQuestion,
    WbReview,
    WbChat,
    OzonChat,
    OzonReview,
    OzonQuestion,
    /// The terminal chat and evaluations: not buyers, left out of every figure.
    Test,
    Other,
}

impl Source {
    pub const ALL: [Source; 14] = [
        Source::Telegram,
        Source::TelegramBusiness,
        Source::WhatsApp,
        Source::Vk,
        Source::Widget,
        Source::Api,
        Source::WbQuestion,
        Source::WbReview,
        Source::WbChat,
        Source::OzonChat,
        Source::OzonReview,
        Source::OzonQuestion,
        Source::Test,
        Source::Other,
    ];

    /// The messengers' sources are spelled as their channels.
    pub fn as_str(self) -> &'static str {
        use crate::channels::ChannelName;
        match self {
            Source::Telegram => ChannelName::Telegram.as_str(),
            Source::TelegramBusiness => ChannelName::TelegramBusiness.as_str(),
            Source::WhatsApp => ChannelName::WhatsApp.as_str(),
            Source::Vk => ChannelName::Vk.as_str(),
            Source::Widget => ChannelName::Widget.as_str(),
            Source::Api => ChannelName::Api.as_str(),
            Source::WbQuestion => "wb_question",
            Source::WbReview => "wb_review",
            Source::WbChat => "wb_chat",
            Source::OzonChat => ChannelName::OzonChat.as_str(),
            Source::OzonReview => "ozon_review",
            Source::OzonQuestion => "ozon_question",
            Source::Test => "test",
            Source::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Source {
        Source::ALL.into_iter().find(|x| x.as_str() == s).unwrap_or(Source::Other)
    }

    /// The marketplace a thread lives on, if any.
    pub fn marketplace(self) -> Option<crate::marketplace::Market> {
        use crate::marketplace::Market;
        match self {
            Source::WbQuestion | Source::WbReview | Source::WbChat => Some(Market::Wb),
            Source::OzonChat | Source::OzonReview | Source::OzonQuestion => Some(Market::Ozon),
            _ => None,
        }
    }
}

/// Why a person became involved in a conversation (the first time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The buyer asked for a person.
    Requested,
    Negative,
    HumanOnly,
    RepeatedFailure,
    OrderProblem,
    /// The buyer disputes what the marketplace says (not received although delivered, …).
    Dispute,
    ProcessingFailed,
    Licence,
    /// An operator took over (or replied) on their own.
    Takeover,
    /// A marketplace answer kept as a draft for a person to approve.
    Approval,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 11] = [
        Reason::Requested,
        Reason::Negative,
        Reason::HumanOnly,
        Reason::RepeatedFailure,
        Reason::OrderProblem,
        Reason::Dispute,
        Reason::ProcessingFailed,
        Reason::Licence,
        Reason::Takeover,
        Reason::Approval,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Requested => "requested",
            Reason::Negative => "negative",
            Reason::HumanOnly => "human_only",
            Reason::RepeatedFailure => "repeated_failure",
            Reason::OrderProblem => "order_problem",
            Reason::Dispute => "dispute",
            Reason::ProcessingFailed => "processing_failed",
            Reason::Licence => "licence",
            Reason::Takeover => "takeover",
            Reason::Approval => "approval",
            Reason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Reason {
        Reason::ALL.into_iter().find(|x| x.as_str() == s).unwrap_or(Reason::Other)
    }
}

/// Why a buyer's question counts as a knowledge gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The knowledge base had nothing relevant.
    NotFound,
    /// The assistant did not understand the question.
    LowConfidence,
    /// A person took the conversation over after it.
    TakenOver,
}

impl GapKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::NotFound => "not_found",
            GapKind::LowConfidence => "low_confidence",
            GapKind::TakenOver => "taken_over",
        }
    }

    pub fn parse(s: &str) -> Option<GapKind> {
        [GapKind::NotFound, GapKind::LowConfidence, GapKind::TakenOver].into_iter().find(|k| k.as_str() == s)
    }
}

/// The export tables (`GET /api/v1/stats/export.csv?table=`, `supportd report --csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// One row per conversation.
    Conversations,
    /// The summary of the period and of the previous one.
    Summary,
    /// The figures per bucket (day, week, month).
    Trend,
    Handoffs,
    Intents,
    Gaps,
    Articles,
    Operators,
    Channels,
    Funnel,
    Heatmap,
    Csat,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::Conversations,
        Table::Summary,
        Table::Trend,
        Table::Handoffs,
        Table::Intents,
        Table::Gaps,
        Table::Articles,
        Table::Operators,
        Table::Channels,
        Table::Funnel,
        Table::Heatmap,
        Table::Csat,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Table::Conversations => "conversations",
            Table::Summary => "summary",
            Table::Trend => "trend",
            Table::Handoffs => "handoffs",
            Table::Intents => "intents",
            Table::Gaps => "gaps",
            Table::Articles => "articles",
            Table::Operators => "operators",
            Table::Channels => "channels",
            Table::Funnel => "funnel",
            Table::Heatmap => "heatmap",
            Table::Csat => "csat",
        }
    }

    pub fn parse(s: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_sets_round_trip_through_their_names() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), r);
            assert_eq!(serde_json::to_value(r).expect("json"), serde_json::json!(r.as_str()));
        }
        for t in Table::ALL {
            assert_eq!(Table::parse(t.as_str()), Some(t));
        }
        use crate::engine::policy::HandoffReason as H;
        for h in [
            H::Requested,
            H::Negative,
            H::HumanOnly,
            H::RepeatedFailure,
            H::OrderProblem,
            H::Dispute,
            H::ProcessingFailed,
            H::Licence,
        ] {
            assert_ne!(Reason::parse(h.as_str()), Reason::Other, "{h:?} has no analytics reason");
        }
        assert_eq!(Source::parse("eval"), Source::Other);
    }
}
