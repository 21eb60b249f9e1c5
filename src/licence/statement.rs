//! The monthly usage statement: conversations, messages by buyers, the bot and people, model
//! calls and rubles by provider, the operators who answered, the channels used. What the vendor
//! bills usage-based plans from, and what the seller checks the bill against. Months are UTC,
//! like the model budgets.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Entitlement, Status};
use crate::clock::{Millis, rfc3339};
use crate::store::{self, llm as calls, statement as counts};
use crate::texts::licence as texts;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatementPlan {
    pub plan: String,
    pub status: Status,
    pub licence_id: Option<String>,
    pub customer: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageCounts {
    pub buyers: i64,
    pub bot: i64,
    /// Operators' replies.
    pub people: i64,
    /// Service messages (the rating question and "back to the bot" after a person's release).
    pub system: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderLine {
    pub provider: String,
    pub calls: i64,
    pub errors: i64,
    pub cache_hits: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_rub: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorLine {
    /// None for an account that no longer exists.
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    pub replies: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelLine {
    pub channel: String,
    pub conversations: i64,
    pub buyer_messages: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Statement {
    /// "YYYY-MM" (UTC).
    pub month: String,
    /// The period: `from` inclusive, `to` exclusive (RFC 3339).
    pub from: String,
    pub to: String,
    pub generated_at: String,
    pub plan: StatementPlan,
    /// Conversations with at least one buyer message in the month.
    pub conversations: i64,
    pub messages: MessageCounts,
    pub model_calls: i64,
    pub model_cost_rub: f64,
    pub models: Vec<ProviderLine>,
    /// People who replied to buyers in the month.
    pub active_operators: i64,
    pub operators: Vec<OperatorLine>,
    /// Channels with buyer messages in the month.
    pub channels: Vec<ChannelLine>,
}

/// `[first millisecond of the month, first of the next)` for "YYYY-MM"; `None` if it is not a month.
pub fn month_range(month: &str) -> Option<(Millis, Millis)> {
    if !calls::valid_month(month) {
        return None;
    }
    let year: i32 = month[..4].parse().ok()?;
    let m: u8 = month[5..].parse().ok()?;
    let start = |y: i32, m: u8| -> Option<Millis> {
        let date = time::Date::from_calendar_date(y, time::Month::try_from(m).ok()?, 1).ok()?;
        Some(date.midnight().assume_utc().unix_timestamp() * 1000)
    };
    let (ny, nm) = if m == 12 { (year + 1, 1) } else { (year, m + 1) };
    Some((start(year, m)?, start(ny, nm)?))
}

/// The statement for `month` (validated by the caller with [`month_range`]).
pub fn build(conn: &rusqlite::Connection, month: &str, plan: &Entitlement, now: Millis) -> store::Result<Statement> {
    let (from, to) =
        month_range(month).ok_or_else(|| store::StoreError::Conflict(format!("{month:?} is not a month")))?;
    let mut messages = MessageCounts::default();
    for (author, n) in counts::messages_by_author(conn, from, to)? {
        match author.as_str() {
            "buyer" => messages.buyers = n,
            "bot" => messages.bot = n,
            "operator" => messages.people = n,
            _ => messages.system += n,
        }
    }
    let channels: Vec<ChannelLine> = counts::channels(conn, from, to)?
        .into_iter()
        .map(|c| ChannelLine { channel: c.channel, conversations: c.conversations, buyer_messages: c.buyer_messages })
        .collect();
    let operators: Vec<OperatorLine> = counts::operators(conn, from, to)?
        .into_iter()
        .map(|o| OperatorLine { user_id: o.user_id, name: o.name, email: o.email, replies: o.replies })
        .collect();
    let mut models: Vec<ProviderLine> = Vec::new();
    for r in calls::usage(conn, month)? {
        let line = match models.iter_mut().find(|l| l.provider == r.provider) {
            Some(l) => l,
            None => {
                models.push(ProviderLine {
                    provider: r.provider.clone(),
                    calls: 0,
                    errors: 0,
                    cache_hits: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    cost_rub: 0.0,
                });
                models.last_mut().ok_or(store::StoreError::NotFound)?
            }
        };
        line.calls += r.calls;
        line.errors += r.errors;
        line.cache_hits += r.cache_hits;
        line.prompt_tokens += r.prompt_tokens;
        line.completion_tokens += r.completion_tokens;
        line.cost_rub += r.cost_rub;
    }
    for l in &mut models {
        l.cost_rub = round4(l.cost_rub);
    }
    Ok(Statement {
        month: month.to_owned(),
        from: rfc3339(from),
        to: rfc3339(to),
        generated_at: rfc3339(now),
        plan: StatementPlan {
            plan: plan.plan.clone(),
            status: plan.status,
            licence_id: plan.licence.as_ref().map(|l| l.id.clone()),
            customer: plan.licence.as_ref().map(|l| l.customer.clone()),
        },
        conversations: channels.iter().map(|c| c.conversations).sum(),
        messages,
        model_calls: models.iter().map(|m| m.calls).sum(),
        model_cost_rub: round4(models.iter().map(|m| m.cost_rub).sum()),
        models,
        active_operators: operators.len() as i64,
        operators,
        channels,
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The statement as CSV for spreadsheets: UTF-8 with a byte-order mark, one row per figure
/// (`month,metric,dimension,value,description`), the description in Russian.
pub fn csv(s: &Statement) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::from(&b"\xEF\xBB\xBF"[..]));
    w.write_record(["month", "metric", "dimension", "value", "description"])?;
    let mut row = |metric: &str, dimension: &str, value: String| {
        w.write_record([s.month.as_str(), metric, dimension, value.as_str(), texts::metric(metric)])
    };
    let status =
        serde_json::to_value(s.plan.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    row("plan", &s.plan.plan, status)?;
    row("conversations", "", s.conversations.to_string())?;
    for (who, n) in [
        ("buyer", s.messages.buyers),
        ("bot", s.messages.bot),
        ("operator", s.messages.people),
        ("system", s.messages.system),
    ] {
        row("messages", who, n.to_string())?;
    }
    for m in &s.models {
        row("model_calls", &m.provider, m.calls.to_string())?;
        row("model_errors", &m.provider, m.errors.to_string())?;
        row("model_cache_hits", &m.provider, m.cache_hits.to_string())?;
        row("model_prompt_tokens", &m.provider, m.prompt_tokens.to_string())?;
        row("model_completion_tokens", &m.provider, m.completion_tokens.to_string())?;
        row("model_cost_rub", &m.provider, format!("{:.4}", m.cost_rub))?;
    }
    row("active_operators", "", s.active_operators.to_string())?;
    for o in &s.operators {
        let who = if o.email.is_empty() { "deleted account".to_owned() } else { o.email.clone() };
        row("operator_replies", &who, o.replies.to_string())?;
    }
    for c in &s.channels {
        row("channel_conversations", &c.channel, c.conversations.to_string())?;
        row("channel_buyer_messages", &c.channel, c.buyer_messages.to_string())?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        // 2026-11-01T00:00:00Z and 2026-12-01T00:00:00Z.
        assert_eq!(month_range("2026-11"), Some((1_793_491_200_000, 1_796_083_200_000)));
        let (_, end) = month_range("2026-12").expect("december");
        assert_eq!(end, 1_798_761_600_000, "the year turns");
        assert_eq!(month_range("2026-13"), None);
        assert_eq!(month_range("2026-1"), None);
    }
}
