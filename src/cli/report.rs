//! `supportd report`: the analytics of a period offline, from the data directory: the summary
//! against the previous period on standard output (or the whole report as JSON), the PDF report
//! and every table as CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::analytics::{Table, csv, figures, pdf, period};
use crate::app::{self, Paths};
use crate::texts::reports as t;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start: a date in the shop's time zone (2026-11-24) or an RFC 3339 time [default: 7 days ago].
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// End: a date (included) or an RFC 3339 time [default: now].
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// A preset instead of --from/--to: today, yesterday, 7d, 30d, 90d, 365d.
    #[arg(long)]
    pub period: Option<String>,
    /// Trend buckets: hour, day, week, month [default: by the period's length].
    #[arg(long)]
    pub bucket: Option<String>,
    /// Also write the PDF report to FILE.
    #[arg(long, value_name = "FILE")]
    pub pdf: Option<PathBuf>,
    /// Also write every table as CSV into DIR (conversations.csv, summary.csv, …).
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Print the whole report as one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(paths: &Paths, a: &ReportArgs, now: i64) -> anyhow::Result<ExitCode> {
    let db = super::open_db(paths, now)?;
    let config = app::assistant_config(&app::load_config(paths)?, &db);
    let offset = config.shop.utc_offset_minutes;
    let p = period::resolve(a.period.as_deref(), a.from.as_deref(), a.to.as_deref(), now, offset)
        .map_err(anyhow::Error::msg)?;
    let bucket = match a.bucket.as_deref() {
        None => p.auto_bucket(),
        Some(b) => period::Bucket::parse(b).context("--bucket: hour, day, week or month")?,
    };
    if bucket == period::Bucket::Hour && p.to - p.from > 7 * period::DAY {
        bail!("--bucket hour: only for periods up to 7 days");
    }
    if a.pdf.is_some() || a.csv.is_some() {
        let licensing = super::licence::open(paths, &db)?;
        if let Err(refusal) = licensing.current().allows_exports() {
            bail!("{}", refusal.0);
        }
    }
    let report = db.with_conn(|c| figures::report(c, &p, bucket, now))?;
    if let Some(file) = &a.pdf {
        let bytes = pdf::render(&report, &config.shop.name)?;
        std::fs::write(file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
    }
    if let Some(dir) = &a.csv {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for table in Table::ALL {
            let bytes = match table {
                Table::Conversations => db.with_conn(|c| csv::conversations(c, &p))?,
                other => csv::table(&report, other)?,
            };
            let file = dir.join(format!("{}.csv", table.as_str()));
            std::fs::write(&file, &bytes).with_context(|| format!("cannot write {}", file.display()))?;
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let day = |ms: i64| period::local_date(ms, offset);
    println!("{} — «{}»", t::TITLE, config.shop.name);
    println!("{}", t::period_line(&day(p.from), &day(p.to - 1), &day(p.previous().from), &day(p.previous().to - 1)));
    println!();
    println!("{:<40} {:>14} {:>14} {:>12}", t::FIGURE, t::CURRENT, t::PREVIOUS, t::CHANGE);
    for (key, label) in t::FIGURES {
        println!(
            "{label:<40} {:>14} {:>14} {:>12}",
            pdf::shown(&report.summary, key),
            pdf::shown(&report.previous, key),
            pdf::change(&report.summary, &report.previous, key)
        );
    }
    if let Some(file) = &a.pdf {
        println!("\nPDF: {}", file.display());
    }
    if let Some(dir) = &a.csv {
        println!("CSV: {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
