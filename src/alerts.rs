//! Alerts to each operator who asked for them (the «Профиль» page): by Telegram, from the
//! shop's own bot to the operator's own chat, and by e-mail, for conversations handed to people,
//! marketplace questions waiting longer than the operator's limit, and replies that could not be
//! delivered; never in the operator's quiet hours.
//!
//! `tick` reads the event feed and the outbox from stored cursors (the first run starts at the
//! newest rows: nothing from before is announced). Each alert has one `alerts_sent` row, written
//! before it goes out; a restart neither repeats nor skips one (a process killed between the
//! send and its mark leaves it `pending`, never sent twice). An alert in quiet hours is recorded
//! as `quiet` and not sent later.

use std::time::Duration;

use crate::http::AppState;
use crate::store::panel::{self as rows, AlertPrefs, AlertSubject};
use crate::texts::panel as t;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Handoff,
    Overdue,
    Failed,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Handoff => "handoff",
            AlertKind::Overdue => "overdue",
            AlertKind::Failed => "failed",
        }
    }

    fn wanted(self, p: &AlertPrefs) -> bool {
        match self {
            AlertKind::Handoff => p.on_handoff,
            AlertKind::Overdue => p.on_overdue,
            AlertKind::Failed => p.on_failed,
        }
    }
}

/// How an alert travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    Telegram,
    Email,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            // The shop's own Telegram bot carries it.
            Route::Telegram => crate::channels::ChannelName::Telegram.as_str(),
            Route::Email => "email",
        }
    }
}

const HANDOFFS: &str = "handoffs";
const FAILED: &str = "failed";
/// Rows read per tick from each source.
const BATCH: u32 = 200;

/// "HH:MM" → minutes after midnight.
pub fn minutes_of(hhmm: &str) -> Option<i64> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && hhmm.len() == 5).then_some(h * 60 + m)
}

/// Whether `now` falls in the quiet hours (shop time; the span may wrap past midnight).
pub fn is_quiet(p: &AlertPrefs, now_ms: i64, utc_offset_minutes: i32) -> bool {
    let Some(q) = &p.quiet else { return false };
    let (Some(from), Some(to)) = (minutes_of(&q.from), minutes_of(&q.to)) else { return false };
    let local = (now_ms.div_euclid(60_000) + i64::from(utc_offset_minutes)).rem_euclid(1440);
    if from <= to { (from..to).contains(&local) } else { local >= from || local < to }
}

fn routes(p: &AlertPrefs) -> Vec<Route> {
    let mut out = Vec::new();
    if p.telegram_chat_id.as_deref().is_some_and(|c| !c.trim().is_empty()) {
        out.push(Route::Telegram);
    }
    if p.email.as_deref().is_some_and(|e| !e.trim().is_empty()) {
        out.push(Route::Email);
    }
    out
}

/// Sends one alert by one route; the error is a Russian sentence for the profile page.
pub async fn deliver(state: &AppState, route: Route, p: &AlertPrefs, subject: &str, body: &str) -> Result<(), String> {
    match route {
        Route::Telegram => {
            use teloxide::prelude::Requester;
            let chat: i64 =
                p.telegram_chat_id.as_deref().unwrap_or("").trim().parse().map_err(|_| t::ALERT_BAD_CHAT.to_owned())?;
            let Some(tg) = &state.telegram else { return Err(t::ALERT_NO_BOT.into()) };
            let Some(bot) = tg.bot().await else { return Err(t::ALERT_NO_BOT.into()) };
            let text = format!("{subject}\n\n{body}");
            // Error texts may carry the request URL, and with it the token: redacted.
            bot.send_message(teloxide::types::ChatId(chat), text)
                .await
                .map(|_| ())
                .map_err(|e| crate::channels::telegram::redact(&e.to_string()))
        }
        Route::Email => {
            let Some(mailer) = &state.mailer else { return Err(t::ALERT_NO_SMTP.into()) };
            mailer.send(p.email.as_deref().unwrap_or("").trim(), subject, body.to_owned()).await
        }
    }
}

fn link(state: &AppState, s: &AlertSubject) -> String {
    let base = state.config.server.public_url.trim_end_matches('/');
    match s.conversation_id {
        Some(id) => format!("{base}/#/inbox/{id}"),
        None => format!("{base}/#/inbox"),
    }
}

fn compose(state: &AppState, kind: AlertKind, s: &AlertSubject, now: i64) -> (String, String) {
    let buyer = t::buyer_name(&s.customer_name, &s.channel, s.customer_id);
    let link = link(state, s);
    match kind {
        AlertKind::Handoff => t::alert_handoff(&buyer, &s.channel, &s.detail, &s.preview, &link),
        AlertKind::Overdue => t::alert_overdue(&buyer, &s.channel, (now - s.at) / 60_000, &s.preview, &link),
        AlertKind::Failed => t::alert_failed(&buyer, &s.channel, &s.detail, &s.preview, &link),
    }
}

/// One round: what happened since the last round, to everyone who asked. Returns the number
/// of alerts sent.
pub async fn tick(state: &AppState) -> anyhow::Result<usize> {
    let now = state.now();
    let marketplaces: Vec<&'static str> =
        [crate::channels::ChannelName::WbQuestions, crate::channels::ChannelName::OzonChat]
            .into_iter()
            .map(crate::channels::ChannelName::as_str)
            .collect();
    let (subscribers, handoffs, failed, overdue) = state
        .db
        .call(move |c| {
            let (events_head, failed_head) = rows::alert_heads(c)?;
            let after_events = match rows::cursor(c, HANDOFFS)? {
                Some(v) => v,
                None => {
                    rows::set_cursor(c, HANDOFFS, events_head)?;
                    events_head
                }
            };
            let after_failed = match rows::cursor(c, FAILED)? {
                Some(v) => v,
                None => {
                    rows::set_cursor(c, FAILED, failed_head)?;
                    failed_head
                }
            };
            let subscribers = rows::alert_subscribers(c)?;
            let shortest = subscribers.iter().map(|(_, p)| p.overdue_minutes).min().unwrap_or(60);
            let overdue = if subscribers.iter().any(|(_, p)| p.on_overdue) {
                rows::overdue_marketplace(c, &marketplaces, now - shortest * 60_000, BATCH)?
            } else {
                Vec::new()
            };
            Ok((
                subscribers,
                rows::handoffs_after(c, after_events, BATCH)?,
                rows::failed_after(c, after_failed, BATCH)?,
                overdue,
            ))
        })
        .await?;
    let offset = state.engine.settings().utc_offset_minutes;
    let mut sent = 0;
    let batches = [(AlertKind::Handoff, &handoffs), (AlertKind::Failed, &failed), (AlertKind::Overdue, &overdue)];
    for (user, prefs) in &subscribers {
        let quiet = is_quiet(prefs, now, offset);
        for (kind, list) in batches {
            if !kind.wanted(prefs) {
                continue;
            }
            for s in list {
                if kind == AlertKind::Overdue && now - s.at < prefs.overdue_minutes * 60_000 {
                    continue;
                }
                for route in routes(prefs) {
                    let (user, subject, status) = (*user, s.subject.clone(), if quiet { "quiet" } else { "pending" });
                    let fresh = state
                        .db
                        .call(move |c| {
                            rows::record_alert(c, user, kind.as_str(), &subject, route.as_str(), status, now)
                        })
                        .await?;
                    if !fresh || quiet {
                        continue;
                    }
                    let (title, body) = compose(state, kind, s, now);
                    let result = deliver(state, route, prefs, &title, &body).await;
                    if let Err(e) = &result {
                        tracing::warn!(user, kind = kind.as_str(), route = route.as_str(), error = %e, "an alert was not delivered");
                    } else {
                        sent += 1;
                    }
                    let (subject, error, done) = (s.subject.clone(), result.err(), state.now());
                    state
                        .db
                        .call(move |c| {
                            rows::finish_alert(c, user, kind.as_str(), &subject, route.as_str(), error.as_deref(), done)
                        })
                        .await?;
                }
            }
        }
    }
    let (last_event, last_failed) = (handoffs.last().map(|s| s.position), failed.last().map(|s| s.position));
    state
        .db
        .call(move |c| {
            if let Some(v) = last_event {
                rows::set_cursor(c, HANDOFFS, v)?;
            }
            if let Some(v) = last_failed {
                rows::set_cursor(c, FAILED, v)?;
            }
            Ok(())
        })
        .await?;
    Ok(sent)
}

/// The server's alert loop: a round every 10 seconds until the server stops.
pub async fn schedule(state: AppState) {
    let mut stopping = state.stopping.clone();
    loop {
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "alerts round failed");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
            _ = stopping.changed() => return,
        }
        if *stopping.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_follow_the_shop_clock_and_wrap_past_midnight() {
        let quiet = |from: &str, to: &str| Some(crate::store::panel::QuietHours { from: from.into(), to: to.into() });
        let p = AlertPrefs { quiet: quiet("22:00", "08:00"), ..AlertPrefs::default() };
        let at = |h: i64, m: i64| (h * 60 + m) * 60_000; // UTC
        // Moscow is UTC+3: 20:00 UTC is 23:00 there.
        assert!(is_quiet(&p, at(20, 0), 180));
        assert!(!is_quiet(&p, at(18, 59), 180));
        assert!(is_quiet(&p, at(4, 59), 180));
        assert!(!is_quiet(&p, at(5, 0), 180));
        let day = AlertPrefs { quiet: quiet("13:00", "14:00"), ..AlertPrefs::default() };
        assert!(is_quiet(&day, at(13, 30), 0));
        assert!(!is_quiet(&day, at(14, 0), 0));
        assert!(!is_quiet(&AlertPrefs::default(), at(3, 0), 0));
        assert_eq!(minutes_of("09:30"), Some(570));
        assert_eq!(minutes_of("24:00"), None);
        assert_eq!(minutes_of("9:30"), None);
    }
}
