//! Scheduled jobs whose timing lives in the database (`store::ops` `jobs` rows), like the
//! marketplace sync: a restart neither repeats a run that happened nor skips one that is due.
//!
//! A job runs every `period`, measured from the start of its last successful run. A new job
//! first runs `min(period, FIRST_DELAY)` after it was first scheduled; a failed or interrupted
//! run is retried `min(period, RETRY)` after it began. Time comes from the [`Clock`]; the loop
//! looks at it every second, so a test's `ManualClock` moving on is noticed at once.

use std::future::Future;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::store::{self, Db};

/// How long after it is first scheduled a job first runs (at most its period).
pub const FIRST_DELAY_MS: i64 = 3_600_000;
/// How long after a failed or interrupted run the job is tried again (at most its period).
pub const RETRY_MS: i64 = 3_600_000;

/// When the job is due next.
pub fn next_due(state: &store::ops::JobState, period_ms: i64) -> i64 {
    let period_ms = period_ms.max(1);
    match state.last_started_at {
        None => state.created_at + period_ms.min(FIRST_DELAY_MS),
        Some(started) if state.interrupted() || state.last_error.is_some() => started + period_ms.min(RETRY_MS),
        Some(started) => started + period_ms,
    }
}

/// Runs `work` recording it in the job's row: started, then finished with `summary` of its
/// result or its error.
pub async fn tracked<T, F>(
    db: &Db,
    clock: &SharedClock,
    name: &'static str,
    work: F,
    summary: impl FnOnce(&T) -> serde_json::Value,
) -> Result<T, String>
where
    F: Future<Output = Result<T, String>>,
{
    let started = clock.now_ms();
    if let Err(e) = db.call(move |c| store::ops::job_started(c, name, started)).await {
        return Err(format!("cannot record the job's start: {e}"));
    }
    let outcome = work.await;
    let now = clock.now_ms();
    let recorded = match &outcome {
        Ok(v) => {
            let summary = summary(v).to_string();
            db.call(move |c| store::ops::job_finished(c, name, started, now, Ok(&summary))).await
        }
        Err(e) => {
            let e = e.clone();
            db.call(move |c| store::ops::job_finished(c, name, started, now, Err(&e))).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(job = name, error = %e, "cannot record the job's outcome");
    }
    outcome
}

/// Runs `work` every `period` for as long as the task lives (see the module docs).
pub async fn schedule<W, F>(db: Db, clock: SharedClock, name: &'static str, period: Duration, mut work: W)
where
    W: FnMut() -> F + Send,
    F: Future<Output = Result<serde_json::Value, String>> + Send,
{
    let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX / 2).max(1);
    loop {
        let now = clock.now_ms();
        let state = match db.call(move |c| store::ops::job_ensure(c, name, now)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "cannot read the job's schedule");
                tokio::time::sleep(Duration::from_secs(60)).await;
                continue;
            }
        };
        let due = next_due(&state, period_ms);
        if clock.now_ms() < due {
            // Wait for the due time; the row is read again then (a run started by hand, e.g.
            // "back up now", moves the next one).
            while clock.now_ms() < due {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            continue;
        }
        match tracked(&db, &clock, name, work(), Clone::clone).await {
            Ok(summary) => tracing::info!(job = name, %summary, "scheduled job done"),
            Err(e) => tracing::warn!(job = name, error = %e, "scheduled job failed; it is retried later"),
        }
    }
}

/// The server's scheduled jobs: backups and retention (each only when configured).
pub fn start(state: &crate::http::AppState) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(state.backups.clone().schedule()),
        tokio::spawn(crate::privacy::schedule(
            state.db.clone(),
            state.clock.clone(),
            state.paths.data_dir.clone(),
            state.config.privacy.clone(),
        )),
        tokio::spawn(crate::alerts::schedule(state.clone())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ops::JobState;

    fn state(created: i64, started: Option<i64>, finished: Option<i64>, error: Option<&str>) -> JobState {
        JobState {
            name: "backup".into(),
            created_at: created,
            last_started_at: started,
            last_finished_at: finished,
            last_ok_at: None,
            last_error: error.map(str::to_owned),
            last_result: None,
        }
    }

    #[test]
    fn due_times_survive_restarts() {
        let h = 3_600_000;
        // New: an hour after it was first scheduled (or the period, when shorter).
        assert_eq!(next_due(&state(0, None, None, None), 24 * h), h);
        assert_eq!(next_due(&state(0, None, None, None), 60_000), 60_000);
        // Done: a period after it began, whatever happened since (a restart reads the same row).
        assert_eq!(next_due(&state(0, Some(5 * h), Some(5 * h + 10), None), 24 * h), 29 * h);
        // Failed or interrupted (began, never ended): retried within the hour.
        assert_eq!(next_due(&state(0, Some(5 * h), Some(5 * h + 10), Some("disk full")), 24 * h), 6 * h);
        assert_eq!(next_due(&state(0, Some(5 * h), None, None), 24 * h), 6 * h);
        assert_eq!(next_due(&state(0, Some(5 * h), Some(4 * h), None), 24 * h), 6 * h);
    }
}
