//! Reports e-mailed on a schedule: daily (yesterday) or weekly (last Monday to Sunday), at an
//! hour of shop time, to chosen addresses, with the PDF attached, through the mailer.
//!
//! Like the marketplace sync and the licence warnings, the schedule lives in the database: each
//! due report gets a `report_runs` row (keyed by schedule and period) before it is mailed and
//! is marked after, so a restart neither repeats a sent report nor skips a due one (only a
//! process killed between the relay's answer and that mark sends it once more). Reports come
//! due only after the schedule was set (the moment is kept in `settings`), so switching one on
//! does not mail old periods. The settings page's values (`settings` key `reports`) override
//! the config file's `[reports]`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::period::{self, Bucket, DAY, HOUR, Period};
use super::{figures, pdf};
use crate::clock::{Millis, SharedClock};
use crate::config::{ReportSchedule, ReportsConfig};
use crate::engine::Engine;
use crate::licence::Licensing;
use crate::mail::Mailer;
use crate::store::{self, Db, analytics as rows, credentials};
use crate::texts::reports as t;

/// The `settings` key of the settings page's report schedule.
pub const SETTINGS_KEY: &str = "reports";
/// The `settings` key of when the schedule in force was first seen.
const SINCE_KEY: &str = "reports_since";
/// Attempts before a report is given up.
const ATTEMPTS: i64 = 5;

/// A report that is due: its key, period and due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub key: String,
    pub from: Millis,
    pub to: Millis,
    pub due_at: Millis,
}

/// The latest report of `cfg`'s schedule due at `now` (shop offset `offset_min`).
pub fn latest_due(cfg: &ReportsConfig, now: Millis, offset_min: i32) -> Option<Due> {
    let hour = i64::from(cfg.hour.min(23)) * HOUR;
    match cfg.schedule {
        ReportSchedule::Daily => {
            let mut send_day = period::local_midnight(now, offset_min);
            if now < send_day + hour {
                send_day -= DAY;
            }
            Some(Due {
                key: format!("daily:{}", send_day - DAY),
                from: send_day - DAY,
                to: send_day,
                due_at: send_day + hour,
            })
        }
        ReportSchedule::Weekly => {
            let p = Period { from: now, to: now + 1, shift: 1, offset_min };
            let mut week = p.bucket_start(now, Bucket::Week);
            let send = |week: Millis| week + i64::from(cfg.weekday.clamp(1, 7) - 1) * DAY + hour;
            if now < send(week) {
                week -= 7 * DAY;
            }
            Some(Due { key: format!("weekly:{}", week - 7 * DAY), from: week - 7 * DAY, to: week, due_at: send(week) })
        }
        ReportSchedule::Off => None,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Since {
    signature: String,
    since: Millis,
}

/// A scheduled report as the settings page shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub schedule: String,
    pub from: String,
    pub to: String,
    pub due_at: String,
    /// "pending", "sent" or "failed".
    pub state: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub sent_at: Option<String>,
}

impl From<rows::ReportRun> for RunView {
    fn from(r: rows::ReportRun) -> Self {
        Self {
            schedule: r.schedule,
            from: crate::clock::rfc3339(r.period_from),
            to: crate::clock::rfc3339(r.period_to),
            due_at: crate::clock::rfc3339(r.due_at),
            state: r.state,
            attempts: r.attempts,
            error: r.last_error,
            sent_at: r.sent_at.map(crate::clock::rfc3339),
        }
    }
}

pub struct Reports {
    db: Db,
    clock: SharedClock,
    mailer: Option<Mailer>,
    engine: Arc<Engine>,
    licensing: Arc<Licensing>,
    file: ReportsConfig,
    public_url: String,
    ticking: tokio::sync::Mutex<()>,
}

impl Reports {
    pub fn new(
        db: Db,
        clock: SharedClock,
        mailer: Option<Mailer>,
        engine: Arc<Engine>,
        licensing: Arc<Licensing>,
        file: ReportsConfig,
        public_url: &str,
    ) -> Self {
        Self {
            db,
            clock,
            mailer,
            engine,
            licensing,
            file,
            public_url: public_url.trim_end_matches('/').to_owned(),
            ticking: tokio::sync::Mutex::new(()),
        }
    }

    pub fn mail_configured(&self) -> bool {
        self.mailer.is_some()
    }

    /// The schedule in force: the settings page's, else the config file's.
    pub async fn settings(&self) -> store::Result<ReportsConfig> {
        let stored = self.db.call(|c| credentials::setting(c, SETTINGS_KEY)).await?;
        Ok(stored
            .and_then(|v| serde_json::from_value::<ReportsConfig>(v).ok())
            .filter(|c| c.check().is_ok())
            .unwrap_or_else(|| self.file.clone()))
    }

    /// Stores the settings page's schedule (validated by the caller with `ReportsConfig::check`).
    pub async fn set_settings(&self, cfg: &ReportsConfig) -> store::Result<()> {
        let (v, now) = (serde_json::to_value(cfg).unwrap_or_default(), self.clock.now_ms());
        self.db.call(move |c| credentials::set_setting(c, SETTINGS_KEY, &v, now)).await
    }

    pub async fn runs(&self, limit: u32) -> store::Result<Vec<RunView>> {
        Ok(self.db.call(move |c| rows::report_runs(c, limit)).await?.into_iter().map(RunView::from).collect())
    }

    /// Records the report that came due (once) and mails the pending ones.
    pub async fn tick(&self) {
        let _one = self.ticking.lock().await;
        if let Err(e) = self.tick_inner().await {
            tracing::warn!(error = %e, "scheduled reports: cannot read or record the schedule");
        }
    }

    async fn tick_inner(&self) -> store::Result<()> {
        // Keep the knowledge gaps' keys current for the reports and the panel.
        self.db.call(|c| super::gaps::refresh(c, 5_000)).await?;
        let cfg = self.settings().await?;
        let now = self.clock.now_ms();
        let offset = self.engine.settings().utc_offset_minutes;
        let signature = format!("{}:{}:{}", cfg.schedule, cfg.weekday, cfg.hour);
        let since = {
            let signature = signature.clone();
            self.db
                .call(move |c| {
                    let known = credentials::setting(c, SINCE_KEY)?
                        .and_then(|v| serde_json::from_value::<Since>(v).ok())
                        .filter(|s| s.signature == signature);
                    match known {
                        Some(s) => Ok(s.since),
                        None => {
                            let v = serde_json::to_value(Since { signature, since: now }).unwrap_or_default();
                            credentials::set_setting(c, SINCE_KEY, &v, now)?;
                            Ok(now)
                        }
                    }
                })
                .await?
        };
        if self.mailer.is_some()
            && !cfg.recipients.is_empty()
            && let Some(due) = latest_due(&cfg, now, offset).filter(|d| d.due_at > since)
        {
            let schedule = cfg.schedule.as_str();
            self.db
                .call(move |c| rows::insert_report_run(c, &due.key, schedule, (due.from, due.to), due.due_at, now))
                .await?;
        }
        let Some(mailer) = &self.mailer else { return Ok(()) };
        for run in self.db.call(move |c| rows::pending_report_runs(c, now)).await? {
            let outcome = self.mail(mailer, &cfg, &run).await;
            let attempts = run.attempts + 1;
            let (state, error) = match outcome {
                Ok(()) => ("sent", None),
                Err(e) if attempts >= ATTEMPTS => ("failed", Some(e)),
                Err(e) => ("pending", Some(e)),
            };
            if let Some(e) = &error {
                tracing::warn!(report = %run.key, attempts, error = %e, "a scheduled report was not mailed");
            }
            let (key, next) = (run.key.clone(), now + attempts * 10 * 60_000);
            let done = self.clock.now_ms();
            self.db
                .call(move |c| rows::mark_report_run(c, &key, state, error.as_deref(), attempts, next, done))
                .await?;
        }
        Ok(())
    }

    async fn mail(&self, mailer: &Mailer, cfg: &ReportsConfig, run: &rows::ReportRun) -> Result<(), String> {
        if cfg.recipients.is_empty() {
            return Err("no recipients".into());
        }
        self.licensing.current().allows_exports().map_err(|r| r.0)?;
        let p = Period {
            from: run.period_from,
            to: run.period_to,
            shift: run.period_to - run.period_from,
            offset_min: self.engine.settings().utc_offset_minutes,
        };
        let (subject, body, name, bytes) = self.render(&run.schedule, &p).await?;
        mailer.send_with_attachment(&cfg.recipients, &subject, body, &name, "application/pdf", bytes).await
    }

    /// The e-mail of a report of `p`: subject, body, the PDF's file name and bytes.
    async fn render(&self, schedule: &str, p: &Period) -> Result<(String, String, String, Vec<u8>), String> {
        let now = self.clock.now_ms();
        let bucket = if schedule == "daily" { Bucket::Hour } else { Bucket::Day };
        let p2 = *p;
        let report = self
            .db
            .call(move |c| figures::report(c, &p2, bucket, now))
            .await
            .map_err(|e| format!("the report: {e}"))?;
        let shop = self.engine.settings().shop_name.clone();
        let day = |ms: Millis| t::date(ms, p.offset_min);
        let (from, to) = (day(p.from), day(p.to - 1));
        let s = &report.summary;
        let subject = t::email_subject(&shop, schedule, &from, &to);
        let body = t::email_body(
            &shop,
            &from,
            &to,
            s.conversations,
            &pdf::shown(s, "automation_rate"),
            s.handoffs,
            &pdf::shown(s, "first_human_response_s_p50"),
            &pdf::shown(s, "csat_avg"),
            &self.public_url,
        );
        let name = format!(
            "supportd-{}_{}.pdf",
            period::local_date(p.from, p.offset_min),
            period::local_date(p.to - 1, p.offset_min)
        );
        let shop2 = shop.clone();
        let bytes = tokio::task::spawn_blocking(move || pdf::render(&report, &shop2))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok((subject, body, name, bytes))
    }

    /// Mails the last complete period's report now (the settings page's "send now"); not
    /// recorded as a scheduled run.
    pub async fn send_now(&self) -> Result<usize, String> {
        let Some(mailer) = &self.mailer else { return Err("e-mail is not configured ([smtp])".into()) };
        let cfg = self.settings().await.map_err(|e| e.to_string())?;
        if cfg.recipients.is_empty() {
            return Err("no recipients".into());
        }
        self.licensing.current().allows_exports().map_err(|r| r.0)?;
        let schedule =
            if cfg.schedule == ReportSchedule::Daily { ReportSchedule::Daily } else { ReportSchedule::Weekly };
        let probe = ReportsConfig { schedule, hour: 0, weekday: 1, ..cfg.clone() };
        let now = self.clock.now_ms();
        let offset = self.engine.settings().utc_offset_minutes;
        let due = latest_due(&probe, now, offset).ok_or("no schedule")?;
        let p = Period { from: due.from, to: due.to, shift: due.to - due.from, offset_min: offset };
        let (subject, body, name, bytes) = self.render(schedule.as_str(), &p).await?;
        mailer.send_with_attachment(&cfg.recipients, &subject, body, &name, "application/pdf", bytes).await?;
        Ok(cfg.recipients.len())
    }
}

/// The background job: every 30 seconds.
pub async fn run(reports: Arc<Reports>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        tick.tick().await;
        reports.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::period::{local_rfc3339, resolve};

    const MSK: i32 = 180;

    fn at(s: &str) -> Millis {
        resolve(None, Some(s), Some("2027-06-01"), 0, MSK).expect("time").from
    }

    #[test]
    fn daily_reports_cover_yesterday_from_their_hour() {
        let cfg = ReportsConfig { schedule: ReportSchedule::Daily, hour: 9, ..ReportsConfig::default() };
        let before = latest_due(&cfg, at("2026-12-01T08:59:00+03:00"), MSK).expect("due");
        assert_eq!(
            local_rfc3339(before.from, MSK),
            "2026-11-29T00:00:00+03:00",
            "before 09:00: the day before yesterday"
        );
        let after = latest_due(&cfg, at("2026-12-01T09:00:00+03:00"), MSK).expect("due");
        assert_eq!(local_rfc3339(after.from, MSK), "2026-11-30T00:00:00+03:00");
        assert_eq!(local_rfc3339(after.to, MSK), "2026-12-01T00:00:00+03:00");
        assert_eq!(local_rfc3339(after.due_at, MSK), "2026-12-01T09:00:00+03:00");
        assert_ne!(before.key, after.key);
        assert_eq!(latest_due(&ReportsConfig::default(), after.due_at, MSK), None, "off by default");
    }

    #[test]
    fn weekly_reports_cover_last_monday_to_sunday() {
        // 2026-12-03 is a Thursday; reports go out on Tuesdays at 10:00.
        let cfg = ReportsConfig { schedule: ReportSchedule::Weekly, weekday: 2, hour: 10, ..ReportsConfig::default() };
        let d = latest_due(&cfg, at("2026-12-03T12:00:00+03:00"), MSK).expect("due");
        assert_eq!(local_rfc3339(d.from, MSK), "2026-11-23T00:00:00+03:00");
        assert_eq!(local_rfc3339(d.to, MSK), "2026-11-30T00:00:00+03:00");
        assert_eq!(local_rfc3339(d.due_at, MSK), "2026-12-01T10:00:00+03:00");
        let monday = latest_due(&cfg, at("2026-11-30T12:00:00+03:00"), MSK).expect("due");
        assert_eq!(local_rfc3339(monday.from, MSK), "2026-11-16T00:00:00+03:00", "before Tuesday: the week before");
    }
}
