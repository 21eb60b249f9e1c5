//! `[shop]` and `[engine]`: what the settings page may change at run time.

use std::fmt;

use serde::{Deserialize, Serialize};

closed_set! {
    /// How answers are written (`engine.answers`).
    pub enum AnswerMode {
        /// With the model chain when a provider is available, else quoting the knowledge base.
        #[default]
        Auto = "auto",
        /// Always quoting the knowledge base.
        Extractive = "extractive",
    }
}

closed_set! {
    /// How the assistant talks (`engine.tone`).
    pub enum Tone {
        #[default]
        Friendly = "friendly",
        Formal = "formal",
    }
}

closed_set! {
    /// What shows an order is the buyer's (`engine.verify_orders`).
    pub enum VerifyOrders {
        /// Knowing the order number is enough.
        #[default]
        Number = "number",
        /// The buyer must also name an item of the order, its article or the phone's last digits.
        Item = "item",
    }
}

/// Minutes since midnight of "HH:MM".
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5).then_some(h * 60 + m)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ShopConfig {
    /// The shop's name, as the assistant introduces it.
    pub name: String,
    /// The shop's time zone as minutes east of UTC (Moscow: 180).
    pub utc_offset_minutes: i32,
    /// Days people answer, 1 = Monday … 7 = Sunday.
    pub work_days: Vec<u8>,
    /// Hours people answer, "HH:MM" local time; `work_to` before `work_from` runs past midnight.
    pub work_from: String,
    pub work_to: String,
}

impl Default for ShopConfig {
    fn default() -> Self {
        Self {
            name: crate::texts::defaults::SHOP_NAME.into(),
            utc_offset_minutes: 180,
            work_days: vec![1, 2, 3, 4, 5, 6, 7],
            work_from: "09:00".into(),
            work_to: "21:00".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Below this intent confidence (0–1) the assistant asks once, then hands over.
    pub min_confidence: f32,
    /// Intents always handed to a person (e.g. "complaint", "cancel_order").
    pub human_only_intents: Vec<crate::domain::Intent>,
    /// Unanswered messages in a row after which a person takes over.
    pub max_misses: u32,
    /// Earlier messages of the conversation given to the model.
    pub history_messages: usize,
    /// Ask the buyer for a 1–5 rating when a conversation is resolved.
    pub ask_rating: bool,
    /// "auto": write answers with the model chain when a provider is available, else quote the
    /// knowledge base; "extractive": always quote the knowledge base.
    pub answers: AnswerMode,
    /// How the assistant talks: "friendly" or "formal".
    pub tone: Tone,
    /// What shows an order is the buyer's: "number" (knowing the order number is enough) or
    /// "item" (the buyer must also name an item of the order, its article, or the last four
    /// digits of the phone on it, before the order is shown and linked).
    pub verify_orders: VerifyOrders,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            min_confidence: 0.45,
            human_only_intents: Vec::new(),
            max_misses: 2,
            history_messages: 20,
            ask_rating: true,
            answers: AnswerMode::Auto,
            tone: Tone::Friendly,
            verify_orders: VerifyOrders::Number,
        }
    }
}
