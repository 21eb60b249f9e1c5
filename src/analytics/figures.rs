//! The one definition of each figure. Conversation figures belong to the period in which the
//! conversation started; message figures to the period in which the message was written.
//! Conversations from the terminal chat and evaluations (`Source::Test`) are not buyers and are
//! left out everywhere.
//!
//! - **conversations**: conversations with a buyer message that started in the period.
//! - **settled**: those with an outcome: closed, rated or resolved, handed to a person, or
//!   whose buyer's last message the bot has answered (nobody owes the buyer a reply).
//! - **automated**: settled without a person. A person is involved once the bot hands over, an
//!   operator takes over or replies, a draft waits for approval or the bot is paused; «Вернуть
//!   боту» does not undo that.
//! - **automation_rate** = automated ÷ settled (7 conversations of which 3 went to a person:
//!   4/7).
//! - **handoffs**: conversations a person took part in, and **by reason** the first reason.
//! - **bot_answer_ms** (p50, p90): the bot's first answer in each conversation, from the buyer's
//!   message being received to the reply being stored (waiting in the queue + processing);
//!   **bot_answer_ms_avg** averages every bot answer.
//! - **first_human_response_s** (p50, p90): a person first involved → the first operator reply.
//! - **resolution_s** (p50, p90): the first buyer message → closed, rated or resolved.
//! - **csat**: the 1–5 ratings of the period's conversations, their distribution and average.
//! - **messages** total and by buyers, the bot and operators (service messages count in the
//!   total only; internal notes nowhere).
//! - percentiles are nearest-rank: p50 of 1, 2, 3, 4 is 2.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::period::{Bucket, Period, local_rfc3339};
use super::{Reason, Source, gaps};
use crate::clock::{Millis, rfc3339};
use crate::marketplace::Market;
use crate::nlu::Intent;
use crate::store::{self, analytics as rows};

/// The headline figures of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// The period: `from` inclusive, `to` exclusive (RFC 3339).
    pub from: String,
    pub to: String,
    pub conversations: i64,
    pub settled: i64,
    pub automated: i64,
    /// automated ÷ settled; null without settled conversations.
    pub automation_rate: Option<f64>,
    pub handoffs: i64,
    pub resolved: i64,
    pub messages_total: i64,
    pub messages_buyer: i64,
    pub messages_bot: i64,
    pub messages_operator: i64,
    pub bot_answer_ms_p50: Option<i64>,
    pub bot_answer_ms_p90: Option<i64>,
    pub bot_answer_ms_avg: Option<i64>,
    pub first_human_response_s_p50: Option<f64>,
    pub first_human_response_s_p90: Option<f64>,
    pub resolution_s_p50: Option<f64>,
    pub resolution_s_p90: Option<f64>,
    pub csat_avg: Option<f64>,
    pub ratings: i64,
}

/// What one conversation adds to the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub counted: bool,
    pub settled: bool,
    pub person: bool,
    pub automated: bool,
    pub resolved: bool,
}

/// The definitions of a conversation's outcome.
pub fn outcome(f: &rows::Fact) -> Outcome {
    let counted = f.source != Source::Test && f.buyer_msgs > 0;
    let person = f.handed_at.is_some();
    let resolved = f.resolved_at.is_some();
    let settled = counted && (person || resolved || (!f.waiting && f.bot_msgs > 0));
    Outcome {
        counted,
        settled,
        person: counted && person,
        automated: settled && !person,
        resolved: counted && resolved,
    }
}

/// Nearest-rank percentile of `v` (sorted in place).
pub fn percentile(v: &mut [i64], q: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    let (_, x, _) = v.select_nth_unstable(rank - 1);
    Some(*x)
}

/// a ÷ b, unrounded (4 of 7 is 0.5714285714285714).
fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn secs(ms: Option<i64>) -> Option<f64> {
    ms.map(|m| (m as f64 / 100.0).round() / 10.0)
}

/// Accumulates conversation facts into figures.
#[derive(Debug, Default)]
struct Acc {
    conversations: i64,
    settled: i64,
    automated: i64,
    handoffs: i64,
    resolved: i64,
    first_answers: Vec<i64>,
    answer_sum: i64,
    answers: i64,
    human: Vec<i64>,
    resolution: Vec<i64>,
    csat: [i64; 5],
}

impl Acc {
    fn add(&mut self, f: &rows::Fact) -> Outcome {
        let o = outcome(f);
        if !o.counted {
            return o;
        }
        self.conversations += 1;
        self.settled += i64::from(o.settled);
        self.automated += i64::from(o.automated);
        self.handoffs += i64::from(o.person);
        self.resolved += i64::from(o.resolved);
        if let Some(ms) = f.first_answer_ms {
            self.first_answers.push(ms);
        }
        self.answer_sum += f.answer_ms_sum;
        self.answers += f.answers;
        if let (Some(h), Some(r)) = (f.handed_at, f.first_human_at) {
            self.human.push((r - h).max(0));
        }
        if let Some(r) = f.resolved_at {
            self.resolution.push((r - f.first_buyer_at.unwrap_or(f.started_at)).max(0));
        }
        if let Some(c) = f.csat.filter(|c| (1..=5).contains(c)) {
            self.csat[(c - 1) as usize] += 1;
        }
        o
    }

    fn ratings(&self) -> i64 {
        self.csat.iter().sum()
    }

    fn csat_avg(&self) -> Option<f64> {
        let n = self.ratings();
        let sum: i64 = self.csat.iter().enumerate().map(|(i, c)| (i as i64 + 1) * c).sum();
        (n > 0).then(|| (sum as f64 / n as f64 * 100.0).round() / 100.0)
    }

    fn figures(&mut self, p: &Period, messages: &Messages) -> Figures {
        Figures {
            from: rfc3339(p.from),
            to: rfc3339(p.to),
            conversations: self.conversations,
            settled: self.settled,
            automated: self.automated,
            automation_rate: ratio(self.automated, self.settled),
            handoffs: self.handoffs,
            resolved: self.resolved,
            messages_total: messages.total,
            messages_buyer: messages.buyer,
            messages_bot: messages.bot,
            messages_operator: messages.operator,
            bot_answer_ms_p50: percentile(&mut self.first_answers, 0.5),
            bot_answer_ms_p90: percentile(&mut self.first_answers, 0.9),
            bot_answer_ms_avg: (self.answers > 0).then(|| self.answer_sum / self.answers),
            first_human_response_s_p50: secs(percentile(&mut self.human, 0.5)),
            first_human_response_s_p90: secs(percentile(&mut self.human, 0.9)),
            resolution_s_p50: secs(percentile(&mut self.resolution, 0.5)),
            resolution_s_p90: secs(percentile(&mut self.resolution, 0.9)),
            csat_avg: self.csat_avg(),
            ratings: self.ratings(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Messages {
    total: i64,
    buyer: i64,
    bot: i64,
    operator: i64,
}

impl Messages {
    fn add(&mut self, author: &str, n: i64) {
        self.total += n;
        match author {
            "buyer" => self.buyer += n,
            "bot" => self.bot += n,
            "operator" => self.operator += n,
            _ => {}
        }
    }
}

fn messages_of(counts: &[rows::HourCount]) -> Messages {
    let mut m = Messages::default();
    for c in counts.iter().filter(|c| c.source != Source::Test) {
        m.add(&c.author, c.n);
    }
    m
}

/// The summary of `p` (conversation figures and messages).
pub fn summary(conn: &rusqlite::Connection, p: &Period) -> store::Result<Figures> {
    let mut acc = Acc::default();
    rows::facts(conn, p.from, p.to, &mut |f| {
        acc.add(&f);
    })?;
    let messages = messages_of(&rows::message_counts(conn, p.from, p.to)?);
    Ok(acc.figures(p, &messages))
}

/// The summary of a period next to the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Compared {
    #[serde(flatten)]
    pub current: Figures,
    pub previous: Figures,
}

pub fn compared(conn: &rusqlite::Connection, p: &Period) -> store::Result<Compared> {
    Ok(Compared { current: summary(conn, p)?, previous: summary(conn, &p.previous())? })
}

/// The period as the report states it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodView {
    pub from: String,
    pub to: String,
    pub previous_from: String,
    pub previous_to: String,
    pub bucket: Bucket,
    pub utc_offset_minutes: i32,
}

/// One bucket of the trend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct TrendPoint {
    /// The bucket's start in the shop's time zone (RFC 3339 with its offset).
    pub start: String,
    pub conversations: i64,
    pub settled: i64,
    pub automated: i64,
    pub automation_rate: Option<f64>,
    pub handoffs: i64,
    pub messages_buyer: i64,
    pub messages_bot: i64,
    pub messages_operator: i64,
    pub bot_answer_ms_avg: Option<i64>,
    pub csat_avg: Option<f64>,
    #[serde(skip)]
    answer_sum: i64,
    #[serde(skip)]
    answers: i64,
    #[serde(skip)]
    csat_sum: i64,
    #[serde(skip)]
    ratings: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReasonLine {
    pub reason: Reason,
    pub conversations: i64,
    pub previous: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IntentLine {
    pub intent: Intent,
    pub conversations: i64,
    pub automated: i64,
    pub handoffs: i64,
    /// Conversations with this intent in the previous period.
    pub previous: i64,
}

/// An intent's conversations per bucket (the trend of the top intents).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IntentSeries {
    pub intent: Intent,
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Csat {
    /// Ratings of 1, 2, 3, 4 and 5.
    pub distribution: Vec<i64>,
    pub average: Option<f64>,
    pub ratings: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ArticleLine {
    /// "a:<id>" (an article) or "p:<id>" (a product).
    pub doc: String,
    pub title: String,
    /// Conversations whose bot answers used it.
    pub conversations: i64,
    pub uses: i64,
    pub ratings: i64,
    pub rated_good: i64,
    pub rated_bad: i64,
    pub csat_avg: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OperatorLine {
    pub user_id: Option<i64>,
    pub name: String,
    pub email: String,
    /// Replies to buyers written in the period.
    pub replies: i64,
    /// Conversations they replied in.
    pub conversations: i64,
    /// The period's conversations in which they answered first after a person was called in.
    pub first_responses: i64,
    pub first_response_s_p50: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChannelLine {
    pub source: Source,
    #[schema(value_type = Option<String>)]
    pub marketplace: Option<Market>,
    pub conversations: i64,
    pub automated: i64,
    pub automation_rate: Option<f64>,
    pub handoffs: i64,
    pub messages_buyer: i64,
    pub csat_avg: Option<f64>,
}

/// Inquiry → bot answer → handoff → resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Funnel {
    pub inquiries: i64,
    pub bot_answered: i64,
    pub handed: i64,
    pub resolved: i64,
    /// Settled without a person.
    pub automated: i64,
}

/// Buyer messages by weekday (Monday first) and hour in the shop's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Heatmap {
    pub cells: Vec<Vec<i64>>,
    pub max: i64,
}

/// Every figure of a period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Report {
    pub period: PeriodView,
    pub summary: Figures,
    pub previous: Figures,
    pub trend: Vec<TrendPoint>,
    pub handoffs: Vec<ReasonLine>,
    pub csat: Csat,
    pub intents: Vec<IntentLine>,
    pub intent_trend: Vec<IntentSeries>,
    pub gaps: Vec<gaps::Gap>,
    pub articles: Vec<ArticleLine>,
    pub operators: Vec<OperatorLine>,
    pub channels: Vec<ChannelLine>,
    pub funnel: Funnel,
    pub heatmap: Heatmap,
    pub generated_at: String,
}

#[derive(Default)]
struct PerSource {
    conversations: i64,
    automated: i64,
    settled: i64,
    handoffs: i64,
    csat_sum: i64,
    ratings: i64,
}

/// The whole report of `p`, with trends in `bucket`s. Gaps not yet keyed are keyed first
/// (up to a bound; the background job keeps up with the rest).
pub fn report(conn: &mut rusqlite::Connection, p: &Period, bucket: Bucket, now: Millis) -> store::Result<Report> {
    gaps::refresh(conn, 2_000)?;
    let conn: &rusqlite::Connection = conn;
    let starts = p.buckets(bucket);
    let mut trend: Vec<TrendPoint> =
        starts.iter().map(|s| TrendPoint { start: local_rfc3339(*s, p.offset_min), ..TrendPoint::default() }).collect();
    let mut acc = Acc::default();
    let mut funnel = Funnel::default();
    let mut reasons: HashMap<Reason, (i64, i64)> = HashMap::new();
    let mut intents: HashMap<Intent, IntentLine> = HashMap::new();
    let mut intent_buckets: HashMap<Intent, Vec<i64>> = HashMap::new();
    let mut sources: HashMap<Source, PerSource> = HashMap::new();
    let mut first_by_operator: HashMap<i64, Vec<i64>> = HashMap::new();
    rows::facts(conn, p.from, p.to, &mut |f| {
        let o = acc.add(&f);
        if !o.counted {
            return;
        }
        funnel.inquiries += 1;
        funnel.bot_answered += i64::from(f.bot_msgs > 0);
        funnel.handed += i64::from(o.person);
        funnel.resolved += i64::from(o.resolved);
        funnel.automated += i64::from(o.automated);
        if let Some(i) = p.bucket_index(&starts, f.started_at) {
            let t = &mut trend[i];
            t.conversations += 1;
            t.settled += i64::from(o.settled);
            t.automated += i64::from(o.automated);
            t.handoffs += i64::from(o.person);
            t.answer_sum += f.answer_ms_sum;
            t.answers += f.answers;
            if let Some(c) = f.csat {
                t.csat_sum += c;
                t.ratings += 1;
            }
        }
        if o.person {
            reasons.entry(f.handoff_reason.unwrap_or(Reason::Other)).or_default().0 += 1;
        }
        let intent = f.intent.unwrap_or(Intent::Other);
        let line = intents.entry(intent).or_insert(IntentLine {
            intent,
            conversations: 0,
            automated: 0,
            handoffs: 0,
            previous: 0,
        });
        line.conversations += 1;
        line.automated += i64::from(o.automated);
        line.handoffs += i64::from(o.person);
        if let Some(i) = p.bucket_index(&starts, f.started_at) {
            intent_buckets.entry(intent).or_insert_with(|| vec![0; starts.len()])[i] += 1;
        }
        let s = sources.entry(f.source).or_default();
        s.conversations += 1;
        s.automated += i64::from(o.automated);
        s.settled += i64::from(o.settled);
        s.handoffs += i64::from(o.person);
        if let Some(c) = f.csat {
            s.csat_sum += c;
            s.ratings += 1;
        }
        if let (Some(op), Some(h), Some(r)) = (f.first_operator_id, f.handed_at, f.first_human_at) {
            first_by_operator.entry(op).or_default().push((r - h).max(0));
        }
    })?;
    let counts = rows::message_counts(conn, p.from, p.to)?;
    let messages = messages_of(&counts);
    let mut heat = vec![vec![0i64; 24]; 7];
    let mut buyer_by_source: HashMap<Source, i64> = HashMap::new();
    for c in counts.iter().filter(|c| c.source != Source::Test) {
        let at = c.hour.max(p.from);
        if let Some(i) = p.bucket_index(&starts, at) {
            match c.author.as_str() {
                "buyer" => trend[i].messages_buyer += c.n,
                "bot" => trend[i].messages_bot += c.n,
                "operator" => trend[i].messages_operator += c.n,
                _ => {}
            }
        }
        if c.author == "buyer" {
            let (d, h) = p.weekday_hour(at);
            heat[d][h] += c.n;
            *buyer_by_source.entry(c.source).or_default() += c.n;
        }
    }
    for t in &mut trend {
        t.automation_rate = ratio(t.automated, t.settled);
        t.bot_answer_ms_avg = (t.answers > 0).then(|| t.answer_sum / t.answers);
        t.csat_avg = (t.ratings > 0).then(|| (t.csat_sum as f64 / t.ratings as f64 * 100.0).round() / 100.0);
    }
    let summary = acc.figures(p, &messages);
    let csat = Csat { distribution: acc.csat.to_vec(), average: acc.csat_avg(), ratings: acc.ratings() };

    // The previous period: its summary, and its counts per reason and intent.
    let prev = p.previous();
    let mut prev_acc = Acc::default();
    rows::facts(conn, prev.from, prev.to, &mut |f| {
        let o = prev_acc.add(&f);
        if !o.counted {
            return;
        }
        if o.person {
            reasons.entry(f.handoff_reason.unwrap_or(Reason::Other)).or_default().1 += 1;
        }
        if let Some(line) = intents.get_mut(&f.intent.unwrap_or(Intent::Other)) {
            line.previous += 1;
        }
    })?;
    let previous = prev_acc.figures(&prev, &messages_of(&rows::message_counts(conn, prev.from, prev.to)?));

    let mut handoffs: Vec<ReasonLine> = reasons
        .into_iter()
        .map(|(reason, (conversations, previous))| ReasonLine { reason, conversations, previous })
        .filter(|r| r.conversations > 0 || r.previous > 0)
        .collect();
    handoffs.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.reason.cmp(&b.reason)));
    let mut intents: Vec<IntentLine> = intents.into_values().collect();
    intents.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.intent.cmp(&b.intent)));
    let intent_trend: Vec<IntentSeries> = intents
        .iter()
        .take(5)
        .map(|l| IntentSeries {
            intent: l.intent,
            values: intent_buckets.remove(&l.intent).unwrap_or_else(|| vec![0; starts.len()]),
        })
        .collect();
    let mut channels: Vec<ChannelLine> = sources
        .into_iter()
        .map(|(source, s)| ChannelLine {
            source,
            marketplace: source.marketplace(),
            conversations: s.conversations,
            automated: s.automated,
            automation_rate: ratio(s.automated, s.settled),
            handoffs: s.handoffs,
            messages_buyer: buyer_by_source.get(&source).copied().unwrap_or(0),
            csat_avg: (s.ratings > 0).then(|| (s.csat_sum as f64 / s.ratings as f64 * 100.0).round() / 100.0),
        })
        .collect();
    channels.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.source.cmp(&b.source)));

    let mut operators: Vec<OperatorLine> = rows::operator_replies(conn, p.from, p.to)?
        .into_iter()
        .map(|o| {
            let mut times = o.user_id.and_then(|id| first_by_operator.remove(&id)).unwrap_or_default();
            OperatorLine {
                user_id: o.user_id,
                name: o.name,
                email: o.email,
                replies: o.replies,
                conversations: o.conversations,
                first_responses: times.len() as i64,
                first_response_s_p50: secs(percentile(&mut times, 0.5)),
            }
        })
        .collect();
    // First responders of the period's conversations whose replies fell after it.
    let rest: Vec<i64> = first_by_operator.keys().copied().collect();
    for (id, name, email) in rows::user_names(conn, &rest)? {
        let mut times = first_by_operator.remove(&id).unwrap_or_default();
        operators.push(OperatorLine {
            user_id: Some(id),
            name,
            email,
            replies: 0,
            conversations: 0,
            first_responses: times.len() as i64,
            first_response_s_p50: secs(percentile(&mut times, 0.5)),
        });
    }

    let articles = rows::documents(conn, p.from, p.to, 20)?
        .into_iter()
        .map(|d| ArticleLine {
            csat_avg: (d.ratings > 0).then(|| (d.csat_sum as f64 / d.ratings as f64 * 100.0).round() / 100.0),
            doc: d.doc,
            title: d.title,
            conversations: d.conversations,
            uses: d.uses,
            ratings: d.ratings,
            rated_good: d.good,
            rated_bad: d.bad,
        })
        .collect();
    let max = heat.iter().flatten().copied().max().unwrap_or(0);
    Ok(Report {
        period: PeriodView {
            from: rfc3339(p.from),
            to: rfc3339(p.to),
            previous_from: rfc3339(prev.from),
            previous_to: rfc3339(prev.to),
            bucket,
            utc_offset_minutes: p.offset_min,
        },
        summary,
        previous,
        trend,
        handoffs,
        csat,
        intents,
        intent_trend,
        gaps: gaps::groups(conn, p.from, p.to, 15)?,
        articles,
        operators,
        channels,
        funnel,
        heatmap: Heatmap { cells: heat, max },
        generated_at: rfc3339(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact() -> rows::Fact {
        rows::Fact {
            conversation_id: 1,
            started_at: 0,
            source: Source::Api,
            buyer_msgs: 1,
            bot_msgs: 1,
            operator_msgs: 0,
            first_buyer_at: Some(0),
            first_reply_at: Some(10),
            waiting: false,
            first_answer_ms: Some(10),
            answer_ms_sum: 10,
            answers: 1,
            intent: None,
            handed_at: None,
            handoff_reason: None,
            first_human_at: None,
            first_operator_id: None,
            resolved_at: None,
            csat: None,
        }
    }

    #[test]
    fn outcomes_follow_the_definitions() {
        let answered = outcome(&fact());
        assert!(answered.settled && answered.automated && !answered.person);
        let waiting = outcome(&rows::Fact { waiting: true, ..fact() });
        assert!(!waiting.settled, "the buyer still waits for the bot");
        let handed = outcome(&rows::Fact { handed_at: Some(5), waiting: true, ..fact() });
        assert!(handed.settled && handed.person && !handed.automated, "a handoff settles it: a person was needed");
        let test = outcome(&rows::Fact { source: Source::Test, ..fact() });
        assert!(!test.counted && !test.settled);
        let mut acc = Acc::default();
        for i in 0..7 {
            acc.add(&rows::Fact { handed_at: (i < 3).then_some(5), ..fact() });
        }
        let p = Period { from: 0, to: 1, shift: 1, offset_min: 0 };
        let f = acc.figures(&p, &Messages::default());
        assert_eq!((f.automated, f.settled, f.handoffs), (4, 7, 3));
        assert_eq!(f.automation_rate, Some(4.0 / 7.0));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&mut [4, 1, 3, 2], 0.5), Some(2));
        assert_eq!(percentile(&mut [4, 1, 3, 2], 0.9), Some(4));
        assert_eq!(percentile(&mut [7], 0.5), Some(7));
        assert_eq!(percentile(&mut [], 0.5), None);
    }
}
