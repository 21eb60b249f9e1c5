//! CSV exports: each table of the report, and one row per conversation. UTF-8 with a byte-order
//! mark so that Excel opens Cyrillic right; codes (channels, reasons, intents) as in the API;
//! times in the shop's time zone (RFC 3339 with its offset). Cells that a spreadsheet would
//! take for a formula (`=`, `+`, `-`, `@` first) are prefixed with `'`.

use super::Table;
use super::figures::Report;
use super::period::{Period, local_rfc3339};
use crate::store::{self, analytics as rows};

pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The per-conversation export's columns.
pub const CONVERSATION_COLUMNS: [&str; 17] = [
    "id",
    "channel",
    "customer",
    "started",
    "first_answer",
    "handoff_reason",
    "operator",
    "rating",
    "resolved",
    "source",
    "intent",
    "first_answer_ms",
    "handed_at",
    "first_human_response_s",
    "buyer_messages",
    "bot_messages",
    "operator_messages",
];

/// A text cell that cannot start a formula.
pub fn safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::from(BOM))
}

fn done(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, csv::Error> {
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The header of the per-conversation export (with the BOM).
pub fn conversations_header() -> Result<Vec<u8>, csv::Error> {
    let mut w = writer();
    w.write_record(CONVERSATION_COLUMNS)?;
    done(w)
}

/// Where a page of the per-conversation export starts: after this (start, conversation id).
pub type Cursor = Option<(i64, i64)>;

/// One page of the per-conversation export (no header): its bytes and where the next page
/// starts, or `None` after the last one.
pub fn conversations_page(
    conn: &rusqlite::Connection,
    p: &Period,
    after: Cursor,
    limit: u32,
) -> store::Result<(Vec<u8>, Cursor)> {
    let lines = rows::conversation_lines(conn, p.from, p.to, after, limit)?;
    let next = (lines.len() as u32 == limit)
        .then(|| lines.last().map(|l| (l.fact.started_at, l.fact.conversation_id)))
        .flatten();
    let mut w = csv::Writer::from_writer(Vec::new());
    let local = |t: Option<i64>| t.map(|t| local_rfc3339(t, p.offset_min)).unwrap_or_default();
    for l in &lines {
        let f = &l.fact;
        let record = [
            f.conversation_id.to_string(),
            l.channel.clone(),
            safe(&l.customer),
            local(Some(f.started_at)),
            local(f.first_reply_at),
            opt(f.handoff_reason.map(|r| r.as_str())),
            safe(&l.operator.clone().unwrap_or_default()),
            opt(f.csat),
            local(f.resolved_at),
            f.source.as_str().to_owned(),
            opt(f.intent.map(|i| i.as_str())),
            opt(f.first_answer_ms),
            local(f.handed_at),
            opt(f.handed_at.zip(f.first_human_at).map(|(h, r)| ((r - h).max(0) as f64 / 100.0).round() / 10.0)),
            f.buyer_msgs.to_string(),
            f.bot_msgs.to_string(),
            f.operator_msgs.to_string(),
        ];
        w.write_record(&record).map_err(|e| store::StoreError::Conflict(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| store::StoreError::Conflict(e.to_string()))?;
    Ok((bytes, next))
}

/// The whole per-conversation export of a period (the command line writes it to a file).
pub fn conversations(conn: &rusqlite::Connection, p: &Period) -> store::Result<Vec<u8>> {
    let mut out = conversations_header().map_err(|e| store::StoreError::Conflict(e.to_string()))?;
    let mut after = None;
    loop {
        let (bytes, next) = conversations_page(conn, p, after, 5_000)?;
        out.extend_from_slice(&bytes);
        match next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// One of the report's tables as CSV.
pub fn table(r: &Report, table: Table) -> Result<Vec<u8>, csv::Error> {
    let mut w = writer();
    match table {
        Table::Conversations => unreachable!("the per-conversation export is paged: csv::conversations"),
        Table::Summary => {
            w.write_record(["metric", "current", "previous", "description"])?;
            let cur = serde_json::to_value(&r.summary).unwrap_or_default();
            let prev = serde_json::to_value(&r.previous).unwrap_or_default();
            let described: std::collections::HashMap<&str, &str> = crate::texts::reports::FIGURES.into_iter().collect();
            if let Some(map) = cur.as_object() {
                for (k, v) in map {
                    let show = |v: &serde_json::Value| match v {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    w.write_record([
                        k.as_str(),
                        &show(v),
                        &show(&prev[k]),
                        described.get(k.as_str()).copied().unwrap_or(""),
                    ])?;
                }
            }
        }
        Table::Trend => {
            w.write_record([
                "start",
                "conversations",
                "settled",
                "automated",
                "automation_rate",
                "handoffs",
                "messages_buyer",
                "messages_bot",
                "messages_operator",
                "bot_answer_ms_avg",
                "csat_avg",
            ])?;
            for t in &r.trend {
                w.write_record([
                    t.start.clone(),
                    t.conversations.to_string(),
                    t.settled.to_string(),
                    t.automated.to_string(),
                    opt(t.automation_rate),
                    t.handoffs.to_string(),
                    t.messages_buyer.to_string(),
                    t.messages_bot.to_string(),
                    t.messages_operator.to_string(),
                    opt(t.bot_answer_ms_avg),
                    opt(t.csat_avg),
                ])?;
            }
        }
        Table::Handoffs => {
            w.write_record(["reason", "conversations", "previous", "description"])?;
            for h in &r.handoffs {
                w.write_record([
                    h.reason.as_str(),
                    &h.conversations.to_string(),
                    &h.previous.to_string(),
                    crate::texts::reports::reason(h.reason),
                ])?;
            }
        }
        Table::Intents => {
            w.write_record(["intent", "conversations", "automated", "handoffs", "previous", "description"])?;
            for i in &r.intents {
                w.write_record([
                    i.intent.as_str(),
                    &i.conversations.to_string(),
                    &i.automated.to_string(),
                    &i.handoffs.to_string(),
                    &i.previous.to_string(),
                    crate::texts::reports::intent(i.intent),
                ])?;
            }
        }
        Table::Gaps => {
            w.write_record(["example", "terms", "count", "not_found", "low_confidence", "taken_over", "last_at"])?;
            for g in &r.gaps {
                w.write_record([
                    safe(&g.example),
                    g.terms.join(" "),
                    g.count.to_string(),
                    g.not_found.to_string(),
                    g.low_confidence.to_string(),
                    g.taken_over.to_string(),
                    g.last_at.clone(),
                ])?;
            }
        }
        Table::Articles => {
            w.write_record([
                "doc",
                "title",
                "conversations",
                "uses",
                "ratings",
                "rated_good",
                "rated_bad",
                "csat_avg",
            ])?;
            for a in &r.articles {
                w.write_record([
                    a.doc.clone(),
                    safe(&a.title),
                    a.conversations.to_string(),
                    a.uses.to_string(),
                    a.ratings.to_string(),
                    a.rated_good.to_string(),
                    a.rated_bad.to_string(),
                    opt(a.csat_avg),
                ])?;
            }
        }
        Table::Operators => {
            w.write_record([
                "user_id",
                "name",
                "email",
                "replies",
                "conversations",
                "first_responses",
                "first_response_s_p50",
            ])?;
            for o in &r.operators {
                w.write_record([
                    opt(o.user_id),
                    safe(&o.name),
                    safe(&o.email),
                    o.replies.to_string(),
                    o.conversations.to_string(),
                    o.first_responses.to_string(),
                    opt(o.first_response_s_p50),
                ])?;
            }
        }
        Table::Channels => {
            w.write_record([
                "source",
                "marketplace",
                "conversations",
                "automated",
                "automation_rate",
                "handoffs",
                "messages_buyer",
                "csat_avg",
                "description",
            ])?;
            for c in &r.channels {
                w.write_record([
                    c.source.as_str().to_owned(),
                    opt(c.marketplace.map(|m| m.as_str())),
                    c.conversations.to_string(),
                    c.automated.to_string(),
                    opt(c.automation_rate),
                    c.handoffs.to_string(),
                    c.messages_buyer.to_string(),
                    opt(c.csat_avg),
                    crate::texts::reports::source(c.source).to_owned(),
                ])?;
            }
        }
        Table::Funnel => {
            w.write_record(["stage", "conversations", "description"])?;
            let f = &r.funnel;
            for ((stage, n), label) in [
                ("inquiries", f.inquiries),
                ("bot_answered", f.bot_answered),
                ("handed", f.handed),
                ("resolved", f.resolved),
            ]
            .into_iter()
            .zip(crate::texts::reports::FUNNEL_STAGES)
            {
                w.write_record([stage, &n.to_string(), label])?;
            }
        }
        Table::Heatmap => {
            let mut header = vec!["weekday".to_owned()];
            header.extend((0..24).map(|h| format!("h{h:02}")));
            w.write_record(&header)?;
            for (d, row) in r.heatmap.cells.iter().enumerate() {
                let mut rec = vec![crate::texts::reports::WEEKDAYS[d].to_owned()];
                rec.extend(row.iter().map(ToString::to_string));
                w.write_record(&rec)?;
            }
        }
        Table::Csat => {
            w.write_record(["rating", "conversations"])?;
            for (i, n) in r.csat.distribution.iter().enumerate() {
                w.write_record([(i + 1).to_string(), n.to_string()])?;
            }
        }
    }
    done(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe("-5"), "'-5");
        assert_eq!(safe("Анна"), "Анна");
    }
}
