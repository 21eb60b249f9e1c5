//! Business metrics for Prometheus, beside the HTTP ones on `/metrics`. Counters come from
//! `metric_totals` (kept by the triggers of migration 0012, so they survive restarts and count
//! every process's work: the server's and the command line's); gauges from the queues now.
//! Every label takes values from a closed set (channels, answer kinds, handoff reasons,
//! providers, outcomes, marketplaces), so the series stay few.

use std::fmt::Write as _;

use crate::clock::Millis;
use crate::store::{self, analytics as rows};

fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The exposition text of the business metrics at `now`.
pub fn render(conn: &rusqlite::Connection, now: Millis) -> store::Result<String> {
    let totals = rows::metric_totals(conn)?;
    let of = |metric: &'static str| totals.iter().filter(move |(m, _, _, _)| m == metric);
    let mut out = String::new();

    head(
        &mut out,
        "supportd_messages_total",
        "counter",
        "Messages to and from buyers by channel and direction (in: buyers; out: the bot, people, service messages).",
    );
    for (_, channel, direction, v) in of("messages") {
        let _ = writeln!(
            out,
            "supportd_messages_total{{channel=\"{}\",direction=\"{}\"}} {v}",
            label(channel),
            label(direction)
        );
    }
    head(
        &mut out,
        "supportd_bot_answers_total",
        "counter",
        "Bot replies by kind: answer, clarify, handoff, close (asked for a rating), rated.",
    );
    for (_, kind, _, v) in of("bot_answers") {
        let _ = writeln!(out, "supportd_bot_answers_total{{kind=\"{}\"}} {v}", label(kind));
    }
    head(&mut out, "supportd_handoffs_total", "counter", "Conversations handed to a person, by reason.");
    for (_, reason, _, v) in of("handoffs") {
        let _ = writeln!(out, "supportd_handoffs_total{{reason=\"{}\"}} {v}", label(reason));
    }
    head(
        &mut out,
        "supportd_model_calls_total",
        "counter",
        "Language-model calls by provider and outcome (ok, error, cache).",
    );
    for (_, provider, outcome, v) in of("model_calls") {
        let _ = writeln!(
            out,
            "supportd_model_calls_total{{provider=\"{}\",outcome=\"{}\"}} {v}",
            label(provider),
            label(outcome)
        );
    }
    head(&mut out, "supportd_model_call_duration_seconds", "histogram", "Language-model call latency by provider.");
    let mut providers: Vec<&str> = of("model_calls").map(|(_, p, _, _)| p.as_str()).collect();
    providers.dedup();
    for p in providers {
        let mut buckets: Vec<(f64, &str, f64)> = of("model_latency_le")
            .filter(|(_, pp, _, _)| pp == p)
            .map(|(_, _, le, v)| (le.parse::<f64>().unwrap_or(f64::MAX), le.as_str(), *v))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let count: f64 = of("model_calls").filter(|(_, pp, _, _)| pp == p).map(|(_, _, _, v)| v).sum();
        let sum: f64 = of("model_latency_sum").filter(|(_, pp, _, _)| pp == p).map(|(_, _, _, v)| v).sum();
        let p = label(p);
        for (_, le, v) in buckets {
            let _ = writeln!(out, "supportd_model_call_duration_seconds_bucket{{provider=\"{p}\",le=\"{le}\"}} {v}");
        }
        let _ = writeln!(out, "supportd_model_call_duration_seconds_bucket{{provider=\"{p}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "supportd_model_call_duration_seconds_sum{{provider=\"{p}\"}} {sum}");
        let _ = writeln!(out, "supportd_model_call_duration_seconds_count{{provider=\"{p}\"}} {count}");
    }
    head(
        &mut out,
        "supportd_sync_runs_total",
        "counter",
        "Marketplace sync runs by marketplace, kind (full, incremental) and outcome (ok, failed).",
    );
    for (_, which, outcome, v) in of("sync_runs") {
        let (market, kind) = which.split_once(':').unwrap_or((which.as_str(), ""));
        let _ = writeln!(
            out,
            "supportd_sync_runs_total{{marketplace=\"{}\",kind=\"{}\",outcome=\"{}\"}} {v}",
            label(market),
            label(kind),
            label(outcome)
        );
    }

    let q = rows::queues(conn)?;
    let age = |t: Option<i64>| t.map_or(0.0, |t| ((now - t).max(0)) as f64 / 1000.0);
    head(
        &mut out,
        "supportd_outbox_queued",
        "gauge",
        "Outbound messages waiting to be sent (queued or being sent), by channel.",
    );
    for (channel, queued, _, _) in &q.outbox {
        let _ = writeln!(out, "supportd_outbox_queued{{channel=\"{}\"}} {queued}", label(channel));
    }
    head(
        &mut out,
        "supportd_outbox_oldest_age_seconds",
        "gauge",
        "Age of the oldest outbound message still waiting, by channel.",
    );
    for (channel, _, _, oldest) in &q.outbox {
        let _ = writeln!(out, "supportd_outbox_oldest_age_seconds{{channel=\"{}\"}} {}", label(channel), age(*oldest));
    }
    head(&mut out, "supportd_outbox_failed", "gauge", "Outbound messages given up (never delivered), by channel.");
    for (channel, _, failed, _) in &q.outbox {
        let _ = writeln!(out, "supportd_outbox_failed{{channel=\"{}\"}} {failed}", label(channel));
    }
    head(&mut out, "supportd_inbox_backlog", "gauge", "Buyer messages stored and not yet processed.");
    let _ = writeln!(out, "supportd_inbox_backlog {}", q.inbox_pending);
    head(&mut out, "supportd_inbox_oldest_age_seconds", "gauge", "Age of the oldest unprocessed buyer message.");
    let _ = writeln!(out, "supportd_inbox_oldest_age_seconds {}", age(q.inbox_oldest));
    head(&mut out, "supportd_inbox_failed", "gauge", "Buyer messages that could not be processed and went to people.");
    let _ = writeln!(out, "supportd_inbox_failed {}", q.inbox_failed);
    head(&mut out, "supportd_conversations_waiting", "gauge", "Conversations waiting for a person now.");
    let _ = writeln!(out, "supportd_conversations_waiting {}", q.waiting_for_person);
    head(
        &mut out,
        "supportd_sync_last_success_timestamp_seconds",
        "gauge",
        "When each marketplace sync last finished (Unix time).",
    );
    for (market, kind, _, finished, _) in &q.sync {
        let t = finished.map_or(0.0, |t| t as f64 / 1000.0);
        let _ = writeln!(
            out,
            "supportd_sync_last_success_timestamp_seconds{{marketplace=\"{}\",kind=\"{}\"}} {t}",
            label(market),
            label(kind)
        );
    }
    head(&mut out, "supportd_sync_failing", "gauge", "1 while a marketplace sync's last run failed.");
    for (market, kind, status, _, error) in &q.sync {
        let failing = i32::from(status == "failed" || *error);
        let _ = writeln!(
            out,
            "supportd_sync_failing{{marketplace=\"{}\",kind=\"{}\"}} {failing}",
            label(market),
            label(kind)
        );
    }
    Ok(out)
}
