//! Answer deadlines of marketplace threads, from the buyer's message time by the marketplace:
//! - Ozon chats: 48 hours after the buyer's last message — "вы можете только отвечать на
//!   сообщения в течение 48 часов с момента получения последнего сообщения от покупателя"
//!   (`seller-api.swagger.json`, `/v1/chat/send/message`; the 72 hours after delivery in which a
//!   seller may also write first do not shorten a reply window);
//! - WB reviews: 30 days after they are written — a review without an answer "в течение 30
//!   дней" is archived (`09-communications.yaml`, `GET /api/v1/feedbacks/archive`);
//! - everything else (WB questions and chats, Ozon reviews and questions: the documents set no
//!   window): the shop's own target, `marketplaces.reply_target_hours`.

use serde::{Deserialize, Serialize};

use super::{Market, ThreadKind};

const HOUR: i64 = 3_600_000;

/// Which rule set a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueRule {
    /// Ozon: replies within 48 hours of the buyer's last message.
    #[serde(rename = "ozon_chat_48h")]
    OzonChat48h,
    /// WB: a review unanswered for 30 days is archived.
    #[serde(rename = "wb_review_30d")]
    WbReview30d,
    /// The shop's own target (`marketplaces.reply_target_hours`).
    ShopTarget,
}

impl DueRule {
    pub fn as_str(self) -> &'static str {
        match self {
            DueRule::OzonChat48h => "ozon_chat_48h",
            DueRule::WbReview30d => "wb_review_30d",
            DueRule::ShopTarget => "shop_target",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DueRule::OzonChat48h, DueRule::WbReview30d, DueRule::ShopTarget].into_iter().find(|r| r.as_str() == s)
    }
}

/// A thread's open answer deadline as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReplyDue {
    /// When the answer is due (RFC 3339).
    pub due_at: String,
    pub rule: DueRule,
    /// Seconds until then; negative once it has passed.
    pub seconds_left: i64,
    pub overdue: bool,
}

impl ReplyDue {
    /// The view of a stored deadline at `now`; none once the thread is answered.
    pub fn of(d: &crate::store::marketplace::Deadline, now: i64) -> Option<Self> {
        (!d.answered).then(|| Self {
            due_at: crate::clock::rfc3339(d.due_at),
            rule: d.rule,
            seconds_left: (d.due_at - now).div_euclid(1000),
            overdue: d.due_at <= now,
        })
    }
}

/// When the answer to a message written at `written_at` is due.
pub fn due(market: Market, kind: ThreadKind, written_at: i64, target_hours: u32) -> (i64, DueRule) {
    match (market, kind) {
        (Market::Ozon, ThreadKind::Chat) => (written_at + 48 * HOUR, DueRule::OzonChat48h),
        (Market::Wb, ThreadKind::Review) => (written_at + 30 * 24 * HOUR, DueRule::WbReview30d),
        _ => (written_at + i64::from(target_hours.max(1)) * HOUR, DueRule::ShopTarget),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_by_marketplace_and_kind() {
        assert_eq!(due(Market::Ozon, ThreadKind::Chat, 0, 24), (48 * HOUR, DueRule::OzonChat48h));
        assert_eq!(due(Market::Wb, ThreadKind::Review, 0, 24), (720 * HOUR, DueRule::WbReview30d));
        assert_eq!(due(Market::Wb, ThreadKind::Question, 0, 6), (6 * HOUR, DueRule::ShopTarget));
        assert_eq!(due(Market::Ozon, ThreadKind::Review, HOUR, 24), (25 * HOUR, DueRule::ShopTarget));
        // The JSON names are the stored ones.
        for r in [DueRule::OzonChat48h, DueRule::WbReview30d, DueRule::ShopTarget] {
            assert_eq!(serde_json::to_value(r).expect("json"), serde_json::json!(r.as_str()));
        }
    }
}
