//! `[smtp]` and `[reports]`: e-mail and the reports it carries.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Mail relay host; empty disables e-mail (reset links are then printed by the CLI).
    pub host: String,
    pub port: u16,
    /// "starttls", "tls" (implicit, port 465) or "none" (local relays only).
    pub tls: SmtpTls,
    pub username: String,
    pub password: Secret,
    /// Sender address, e.g. "Магазин <support@example.ru>".
    pub from: String,
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: String::new(),
            timeout_secs: 15,
        }
    }
}

impl SmtpConfig {
    pub fn enabled(&self) -> bool {
        !self.host.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

closed_set! {
    /// When reports are mailed (`reports.schedule`).
    pub enum ReportSchedule {
        #[default]
        Off = "off",
        /// Yesterday's report.
        Daily = "daily",
        /// Last Monday–Sunday's.
        Weekly = "weekly",
    }
}

/// Reports e-mailed on a schedule (the settings page may override these).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// "off", "daily" (yesterday's report) or "weekly" (last Monday–Sunday's).
    pub schedule: ReportSchedule,
    /// Who gets them (e-mail addresses).
    pub recipients: Vec<String>,
    /// The day a weekly report is sent, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// The hour it is sent, shop time (0–23).
    pub hour: u8,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self { schedule: ReportSchedule::Off, recipients: Vec::new(), weekday: 1, hour: 9 }
    }
}

impl ReportsConfig {
    /// The first problem with these settings, as (key, message).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.recipients.len() > 20 {
            return Err(("reports.recipients", "at most 20 addresses".into()));
        }
        for r in &self.recipients {
            if crate::domain::Email::parse(r).is_err() {
                return Err(("reports.recipients", format!("{r:?} is not an e-mail address")));
            }
        }
        if !(1..=7).contains(&self.weekday) {
            return Err(("reports.weekday", "1 (Monday) to 7 (Sunday)".into()));
        }
        if self.hour > 23 {
            return Err(("reports.hour", "0 to 23".into()));
        }
        Ok(())
    }
}
