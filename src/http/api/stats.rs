//! Analytics (any signed-in role): the summary of a period against the previous one, the whole
//! report, each of its figures, the CSV exports and the PDF report. Periods: `period` (today,
//! yesterday, 7d, 30d, 90d, 365d) or `from` / `to` (RFC 3339 or dates in the shop's time zone;
//! a date as `to` includes that day); trends in `bucket`s (hour, day, week, month; by default
//! what suits the period's length). Exports follow the plan's `exports` limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::analytics::figures::{
    self, ArticleLine, ChannelLine, Compared, Csat, Funnel, Heatmap, IntentLine, IntentSeries, OperatorLine,
    ReasonLine, Report, TrendPoint,
};
use crate::analytics::gaps::Gap;
use crate::analytics::period::{self, Bucket, Period};
use crate::analytics::{Table, csv, pdf};
use crate::app::AppState;
use crate::auth::{Auth, Viewer};
use crate::http::error::{ApiError, ErrorBody};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// A preset: today, yesterday, 7d, 30d, 90d or 365d (instead of from/to).
    pub period: Option<String>,
    /// Start: RFC 3339 (2026-11-24T00:00:00+03:00) or a date in the shop's time zone (2026-11-24).
    pub from: Option<String>,
    /// End (exclusive for a time; a date includes that day) [default: now].
    pub to: Option<String>,
    /// Trend buckets: hour, day, week or month [default: by the period's length].
    pub bucket: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// conversations, summary, trend, handoffs, intents, gaps, articles, operators, channels,
    /// funnel, heatmap or csat.
    pub table: Option<String>,
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub bucket: Option<String>,
}

/// The period a request names, in the shop's time zone as the settings page has it now.
pub fn period_of(
    state: &AppState,
    preset: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Period, ApiError> {
    let offset = state.engine.settings().utc_offset_minutes;
    period::resolve(preset, from, to, state.now(), offset).map_err(ApiError::invalid)
}

fn bucket_of(p: &Period, bucket: Option<&str>) -> Result<Bucket, ApiError> {
    let b = match bucket.filter(|s| !s.is_empty()) {
        None => return Ok(p.auto_bucket()),
        Some(s) => Bucket::parse(s).ok_or_else(|| ApiError::invalid("bucket: hour, day, week or month"))?,
    };
    if b == Bucket::Hour && p.to - p.from > 7 * period::DAY {
        return Err(ApiError::invalid("bucket: hours only for periods up to 7 days"));
    }
    Ok(b)
}

async fn report_of(state: &AppState, q: &PeriodQuery) -> Result<Report, ApiError> {
    let p = period_of(state, q.period.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let bucket = bucket_of(&p, q.bucket.as_deref())?;
    let now = state.now();
    Ok(state.db.call(move |c| figures::report(c, &p, bucket, now)).await?)
}

/// The headline figures of a period (automation rate, conversations, handoffs, answer and
/// response times, ratings, messages) and the same for the previous period (`previous`).
#[utoipa::path(get, path = "/api/v1/stats/summary", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Compared), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn summary(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Compared>, ApiError> {
    let p = period_of(&state, q.period.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    Ok(Json(state.db.call(move |c| figures::compared(c, &p)).await?))
}

/// Every figure of a period: the summary and the previous period's, trends, handoffs by reason,
/// ratings, intents and their trend, knowledge gaps, articles, operators, channels, the funnel
/// and the activity heatmap.
#[utoipa::path(get, path = "/api/v1/stats/report", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Report), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(report_of(&state, &q).await?))
}

/// The figures per bucket (conversations, automated, handoffs, messages, answer time, rating).
#[utoipa::path(get, path = "/api/v1/stats/trend", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<TrendPoint>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn trend(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<TrendPoint>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.trend))
}

/// Conversations handed to people, by the first reason, with the previous period's counts.
#[utoipa::path(get, path = "/api/v1/stats/handoffs", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<ReasonLine>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn handoffs(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<ReasonLine>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.handoffs))
}

#[derive(Serialize, ToSchema)]
pub struct Intents {
    pub intents: Vec<IntentLine>,
    /// The top five intents per bucket.
    pub trend: Vec<IntentSeries>,
    /// The buckets' starts (RFC 3339 with the shop's offset).
    pub buckets: Vec<String>,
}

/// What buyers came for: conversations per intent (automated, handed over, the previous
/// period) and the top intents' trend.
#[utoipa::path(get, path = "/api/v1/stats/intents", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Intents), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn intents(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Intents>, ApiError> {
    let r = report_of(&state, &q).await?;
    Ok(Json(Intents {
        intents: r.intents,
        trend: r.intent_trend,
        buckets: r.trend.into_iter().map(|t| t.start).collect(),
    }))
}

/// Knowledge gaps: questions the knowledge base had no answer for, the assistant did not
/// understand, or a person took over, grouped by similar text, largest first.
#[utoipa::path(get, path = "/api/v1/stats/gaps", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<Gap>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn gaps(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<Gap>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.gaps))
}

/// Articles and products used in the bot's answers, with the ratings of those conversations.
#[utoipa::path(get, path = "/api/v1/stats/articles", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<ArticleLine>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn articles(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<ArticleLine>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.articles))
}

/// Operators' workload: replies, conversations, first responses and their median time.
#[utoipa::path(get, path = "/api/v1/stats/operators", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<OperatorLine>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn operators(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<OperatorLine>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.operators))
}

/// Per channel and marketplace source (Telegram, the widget, WB questions, reviews and chats,
/// Ozon chats, reviews and questions).
#[utoipa::path(get, path = "/api/v1/stats/channels", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Vec<ChannelLine>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn channels(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Vec<ChannelLine>>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.channels))
}

/// Inquiry → bot answer → handoff → resolved.
#[utoipa::path(get, path = "/api/v1/stats/funnel", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Funnel), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn funnel(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Funnel>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.funnel))
}

/// Buyer messages by weekday (Monday first) × hour in the shop's time zone.
#[utoipa::path(get, path = "/api/v1/stats/heatmap", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Heatmap), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn heatmap(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Heatmap>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.heatmap))
}

/// The ratings' distribution (1–5) and average.
#[utoipa::path(get, path = "/api/v1/stats/csat", tag = "stats", params(PeriodQuery),
    responses((status = 200, body = Csat), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn csat(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<Csat>, ApiError> {
    Ok(Json(report_of(&state, &q).await?.csat))
}

/// Chunks of the per-conversation export, written by a blocking task page by page.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

fn attachment(mut resp: Response, mime: &'static str, name: &str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn file_stem(p: &Period) -> String {
    format!("supportd-{}_{}", period::local_date(p.from, p.offset_min), period::local_date(p.to - 1, p.offset_min))
}

/// A table as CSV (UTF-8 with a byte-order mark, for spreadsheets): `table=conversations` is
/// one row per conversation (id, channel, customer, started, first answer, handoff reason,
/// operator, rating, resolved, …), the others are the report's tables. Plans without
/// analytics exports answer 402 `plan_limit`.
#[utoipa::path(get, path = "/api/v1/stats/export.csv", tag = "stats", params(ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 401, body = ErrorBody), (status = 402, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_csv(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let names: Vec<&str> = Table::ALL.iter().map(|t| t.as_str()).collect();
    let table = match q.table.as_deref() {
        None | Some("") => Table::Conversations,
        Some(t) => Table::parse(t).ok_or_else(|| ApiError::invalid(format!("table: one of {}", names.join(", "))))?,
    };
    let p = period_of(&state, q.period.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let bucket = bucket_of(&p, q.bucket.as_deref())?;
    state.licensing.current().allows_exports()?;
    let name = format!("{}-{}.csv", file_stem(&p), table.as_str());
    if table != Table::Conversations {
        let now = state.now();
        let r = state.db.call(move |c| figures::report(c, &p, bucket, now)).await?;
        let body = csv::table(&r, table).map_err(|e| {
            tracing::error!(error = %e, "cannot write a CSV export");
            ApiError::internal()
        })?;
        return Ok(attachment(body.into_response(), "text/csv; charset=utf-8", &name));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let db = state.db.clone();
    tokio::task::spawn_blocking(move || {
        let send = |b: Result<Vec<u8>, std::io::Error>| tx.blocking_send(b.map(Bytes::from)).is_ok();
        let header = csv::conversations_header().map_err(std::io::Error::other);
        if !send(header) {
            return;
        }
        let mut after = None;
        loop {
            let page = db.with_conn(|c| csv::conversations_page(c, &p, after, 2_000));
            match page {
                Ok((bytes, next)) => {
                    if !send(Ok(bytes)) {
                        return;
                    }
                    match next {
                        Some(n) => after = Some(n),
                        None => return,
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "the conversations export stopped");
                    let _ = send(Err(std::io::Error::other("the export stopped; see the server log")));
                    return;
                }
            }
        }
    });
    Ok(attachment(Body::from_stream(Chunks(rx)).into_response(), "text/csv; charset=utf-8", &name))
}

/// The PDF report of a period (summary against the previous period, charts and tables, in
/// Russian). Plans without analytics exports answer 402 `plan_limit`.
#[utoipa::path(get, path = "/api/v1/stats/report.pdf", tag = "stats", params(PeriodQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
              (status = 401, body = ErrorBody), (status = 402, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report_pdf(
    State(state): State<AppState>,
    _auth: Auth<Viewer>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let p = period_of(&state, q.period.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let bucket = bucket_of(&p, q.bucket.as_deref())?;
    state.licensing.current().allows_exports()?;
    let (now, shop) = (state.now(), state.engine.settings().shop_name.clone());
    let r = state.db.call(move |c| figures::report(c, &p, bucket, now)).await?;
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&r, &shop))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot render the PDF report");
            ApiError::internal()
        })?;
    Ok(attachment(bytes.into_response(), "application/pdf", &format!("{}.pdf", file_stem(&p))))
}

/// The dashboard: today so far (in the shop's time zone) against yesterday until the same
/// time, and the conversations waiting for a person now.
#[derive(Serialize, ToSchema)]
pub struct Dashboard {
    #[serde(flatten)]
    pub today: Compared,
    /// Conversations waiting for a person now.
    pub waiting: i64,
}

pub async fn dashboard(state: &AppState) -> Result<Dashboard, ApiError> {
    let p = period_of(state, Some("today"), None, None)?;
    Ok(state
        .db
        .call(move |c| {
            Ok(Dashboard { today: figures::compared(c, &p)?, waiting: crate::store::analytics::waiting_now(c)? })
        })
        .await?)
}

#[derive(Serialize, ToSchema)]
pub struct ReportSettings {
    /// The schedule in force (the settings page's, else the config file's `[reports]`).
    pub settings: crate::config::ReportsConfig,
    /// Whether e-mail can be sent (`[smtp]` is configured).
    pub mail_configured: bool,
    /// Whether the plan includes analytics exports (scheduled reports are one).
    pub exports_allowed: bool,
    /// The last scheduled reports, newest first.
    pub runs: Vec<crate::analytics::schedule::RunView>,
}

async fn report_settings_view(state: &AppState) -> Result<ReportSettings, ApiError> {
    Ok(ReportSettings {
        settings: state.reports.settings().await?,
        mail_configured: state.reports.mail_configured(),
        exports_allowed: state.licensing.current().allows_exports().is_ok(),
        runs: state.reports.runs(10).await?,
    })
}

/// Reports by e-mail (admin): the schedule, whether mail works, the last reports sent.
#[utoipa::path(get, path = "/api/v1/settings/reports", tag = "stats",
    responses((status = 200, body = ReportSettings), (status = 403, body = ErrorBody)))]
pub async fn get_report_settings(
    State(state): State<AppState>,
    _auth: Auth<crate::auth::Admin>,
) -> Result<Json<ReportSettings>, ApiError> {
    Ok(Json(report_settings_view(&state).await?))
}

/// Sets the reports' schedule (admin): `schedule` off, daily or weekly, `recipients`, the
/// `weekday` (1 = Monday) and `hour` (shop time) it is sent. In force at once.
#[utoipa::path(put, path = "/api/v1/settings/reports", tag = "stats", request_body = crate::config::ReportsConfig,
    responses((status = 200, body = ReportSettings), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_report_settings(
    State(state): State<AppState>,
    auth: Auth<crate::auth::Admin>,
    crate::http::error::ApiJson(cfg): crate::http::error::ApiJson<crate::config::ReportsConfig>,
) -> Result<Json<ReportSettings>, ApiError> {
    let cfg = crate::config::ReportsConfig {
        recipients: cfg.recipients.iter().map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
        ..cfg
    };
    cfg.check()
        .map_err(|(key, message)| ApiError::invalid(format!("{}: {message}", key.trim_start_matches("reports."))))?;
    state.reports.set_settings(&cfg).await?;
    let details = serde_json::json!({"schedule": cfg.schedule, "recipients": cfg.recipients.len()});
    let (actor, now) = (auth.actor(), state.now());
    state.db.call(move |c| crate::store::audit::record(c, &actor, "settings.reports", None, details, now)).await?;
    Ok(Json(report_settings_view(&state).await?))
}

#[derive(Serialize, ToSchema)]
pub struct SentReport {
    pub recipients: usize,
}

/// Mails the last complete period's report to the recipients now (admin), e.g. to check the
/// settings. 503 `email_not_configured` without `[smtp]`; 402 without exports in the plan.
#[utoipa::path(post, path = "/api/v1/settings/reports/send", tag = "stats",
    responses((status = 200, body = SentReport), (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn send_report_now(
    State(state): State<AppState>,
    _auth: Auth<crate::auth::Admin>,
) -> Result<Json<SentReport>, ApiError> {
    if !state.reports.mail_configured() {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "email_not_configured",
            "e-mail is not configured: set [smtp] in the config",
        ));
    }
    state.licensing.current().allows_exports()?;
    match state.reports.send_now().await {
        Ok(recipients) => Ok(Json(SentReport { recipients })),
        Err(e) if e == "no recipients" => Err(ApiError::invalid("recipients: add at least one address first")),
        Err(e) => {
            tracing::warn!(error = %e, "the report could not be mailed");
            Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "email_failed",
                format!("the mail relay refused: {e}"),
            ))
        }
    }
}
