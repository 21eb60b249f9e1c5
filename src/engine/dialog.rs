//! Dialog state kept with each conversation (`conversations.state`, JSON): what the assistant
//! is waiting for, how often in a row it could not help, and the order being discussed.

use serde::{Deserialize, Serialize};

use crate::nlu::Intent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Awaiting {
    /// Asked "which order?": the next number answers the pending question.
    OrderNumber,
    /// Asked for a 1–5 rating.
    Rating,
    /// Asked the buyer to show that the order in `State::verify` is theirs.
    Verification,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub awaiting: Option<Awaiting>,
    /// The question to answer once the awaited slot is filled.
    #[serde(default)]
    pub pending_intent: Option<Intent>,
    /// A question about the rules asked beside an order question while the order number was
    /// asked for ("где посылка и можно ли её вернуть?"): answered with the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_question: Option<String>,
    /// Messages in a row the assistant could not help with.
    #[serde(default)]
    pub misses: u32,
    /// Answers given since the last rating (a "thanks" after none asks for no rating).
    #[serde(default)]
    pub answered: u32,
    /// The order discussed last ("а когда он придёт?").
    #[serde(default)]
    pub last_order: Option<String>,
    /// What the buyer's previous message was read as (a follow-up is read with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_intent: Option<Intent>,
    /// The question the last knowledge answer answered, with the one it followed up
    /// ("промокод есть? а от какой суммы?"): what a next follow-up goes on with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_question: Option<String>,
    /// Knowledge-base documents the last answer used (rated with the conversation).
    #[serde(default)]
    pub last_sources: Vec<String>,
    /// The number the buyer gave that the marketplaces did not find (a second insistence on
    /// it goes to a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
    /// The order number waiting for the buyer's proof that it is theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<String>,
}

impl State {
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// A 1–5 rating in a short reply: "5", "оценка 4", "5 звёзд", "⭐⭐⭐⭐".
pub fn parse_rating(text: &str) -> Option<u8> {
    let t = text.trim();
    let stars = t.chars().filter(|&c| c == '⭐' || c == '★').count();
    if stars > 0 {
        return u8::try_from(stars.min(5)).ok();
    }
    if t.chars().count() > 24 {
        return None;
    }
    let digits: Vec<char> = t.chars().filter(char::is_ascii_digit).collect();
    match digits.as_slice() {
        [d] if ('1'..='5').contains(d) => Some(*d as u8 - b'0'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings() {
        assert_eq!(parse_rating("5"), Some(5));
        assert_eq!(parse_rating("оценка 4"), Some(4));
        assert_eq!(parse_rating("5 звёзд"), Some(5));
        assert_eq!(parse_rating("⭐⭐⭐"), Some(3));
        assert_eq!(parse_rating("7"), None);
        assert_eq!(parse_rating("4102938475"), None);
        assert_eq!(parse_rating("где мой заказ, жду уже 5 дней, когда будет"), None);
    }

    #[test]
    fn state_round_trips_and_tolerates_junk() {
        let s = State { awaiting: Some(Awaiting::OrderNumber), misses: 1, ..Default::default() };
        assert_eq!(State::parse(&s.to_json()), s);
        assert_eq!(State::parse("not json"), State::default());
    }
}
