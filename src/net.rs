//! The one HTTP client layer for external services (cloud models now; marketplaces and
//! messengers plug into the same): per-service timeouts, a token-bucket rate limit, retries
//! with exponential backoff that honour `Retry-After`, and errors classified once.
//!
//! Request bodies, headers and URLs with secrets are never logged here.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::config::Secret;
use crate::crypto::Cipher;
use crate::store::{Db, credentials};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String, retry_after: Option<Duration> },
    #[error("no answer in time")]
    Timeout,
    #[error("connection failed: {0}")]
    Transport(String),
}

impl HttpError {
    fn retryable(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Transport(_) => true,
            HttpError::Timeout => false,
        }
    }
}

/// Where a service's key comes from: the config/environment, or the encrypted store (read
/// at each call, so a key set from the panel works without a restart).
#[derive(Clone)]
pub enum KeyRef {
    Fixed(Secret),
    Stored { db: Db, cipher: Cipher, name: &'static str },
}

impl KeyRef {
    pub async fn get(&self) -> Secret {
        match self {
            KeyRef::Fixed(s) => s.clone(),
            KeyRef::Stored { db, cipher, name } => {
                let (cipher, name) = (cipher.clone(), *name);
                match db.call(move |c| credentials::get(c, &cipher, name)).await {
                    Ok(Some(v)) => Secret::new(v),
                    Ok(None) => Secret::default(),
                    Err(e) => {
                        tracing::error!(credential = name, error = %e, "cannot read a stored key");
                        Secret::default()
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all (1: no retry).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) }
    }
}

/// Token bucket: `rate` requests per second on average, bursts of `burst`.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

/// A request rate: `per_second` on average, bursts of `burst` (a token bucket).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// How one request may wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOptions {
    /// Give up at this instant (each attempt's timeout is cut to it).
    pub deadline: Option<Instant>,
    /// The rate this request is limited by, when it differs from the client's own (a WB
    /// token's kind decides it, and the token may change at run time).
    pub rate: Option<Rate>,
    /// The longest wait for the rate limit, or for a 429's retry time, before the request
    /// gives up with a 429 of its own (whose `retry_after` says when to come back). `None`:
    /// up to the retry policy's `max_delay`.
    pub max_wait: Option<Duration>,
}

/// The message of a request that was not sent because its rate limit would have made it wait
/// longer than allowed (a 429 without asking, with the time to come back).
pub const THROTTLED: &str = "not sent: the documented request limit allows the next one later";

pub struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    bucket: Option<Mutex<Bucket>>,
}

impl HttpClient {
    /// `timeout` bounds each attempt; `rate_per_s` of `None` means no client-side limit.
    pub fn new(timeout: Duration, policy: RetryPolicy, rate_per_s: Option<(f64, u32)>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("supportd/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let bucket = rate_per_s.map(|(rate, burst)| {
            Mutex::new(Bucket {
                rate: rate.max(1e-9),
                burst: f64::from(burst.max(1)),
                tokens: f64::from(burst.max(1)),
                last: Instant::now(),
            })
        });
        Self { client, policy, bucket }
    }

    /// Takes a token, waiting for it as long as it takes.
    async fn acquire(&self) {
        let _ = self.acquire_within(None, None).await;
    }

    /// Takes a token, waiting for it unless that would take longer than `max_wait` (then the
    /// wait is returned and nothing is taken). `rate` replaces the bucket's rate when given.
    async fn acquire_within(&self, rate: Option<Rate>, max_wait: Option<Duration>) -> Result<(), Duration> {
        let Some(bucket) = &self.bucket else { return Ok(()) };
        loop {
            let wait = {
                let mut b = bucket.lock().await;
                if let Some(r) = rate {
                    b.rate = r.per_second.max(1e-9);
                    b.burst = f64::from(r.burst.max(1));
                }
                let now = Instant::now();
                b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * b.rate).min(b.burst);
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return Ok(());
                }
                Duration::from_secs_f64((1.0 - b.tokens) / b.rate)
            };
            if max_wait.is_some_and(|m| wait > m) {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends the request `build` makes (called again for each retry) and returns a response
    /// with a 2xx status. Retries 429, 5xx and connection failures while the deadline allows.
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        deadline: Option<Instant>,
    ) -> Result<reqwest::Response, HttpError> {
        self.send_with(build, SendOptions { deadline, ..SendOptions::default() }).await
    }

    /// [`HttpClient::send`] with a rate of its own and a bound on waiting: a rate limit or a
    /// 429 that would keep it waiting past `max_wait` (or the policy's `max_delay`) ends it at
    /// once with a 429 whose `retry_after` says when to try again, rather than sleeping for it.
    pub async fn send_with(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        options: SendOptions,
    ) -> Result<reqwest::Response, HttpError> {
        let deadline = options.deadline;
        let max_wait = options.max_wait.unwrap_or(self.policy.max_delay);
        let mut attempt = 0;
        // A retry the server timed (its 429's retry header) is the same request, not a new one
        // for the client's own limit.
        let mut server_timed = false;
        loop {
            attempt += 1;
            let bound = deadline.map_or(max_wait, |d| max_wait.min(d.saturating_duration_since(Instant::now())));
            if !server_timed && let Err(wait) = self.acquire_within(options.rate, Some(bound)).await {
                return Err(HttpError::Status { status: 429, message: THROTTLED.into(), retry_after: Some(wait) });
            }
            let mut req = build(&self.client);
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(HttpError::Timeout);
                }
                req = req.timeout(left);
            }
            let err = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => status_error(resp).await,
                Err(e) if e.is_timeout() => HttpError::Timeout,
                Err(e) => HttpError::Transport(describe(&e)),
            };
            if attempt >= self.policy.attempts || !err.retryable() {
                return Err(err);
            }
            let backoff = self.policy.base_delay.saturating_mul(1 << (attempt - 1).min(16)).min(self.policy.max_delay);
            server_timed = matches!(err, HttpError::Status { status: 429, retry_after: Some(_), .. });
            let wait = match &err {
                // A retry time past what this request may wait (an hour-long limit of a basic
                // token) is the caller's to schedule, not a sleep here.
                HttpError::Status { retry_after: Some(r), .. } if *r > max_wait => return Err(err),
                HttpError::Status { retry_after: Some(r), .. } => (*r).max(backoff),
                _ => backoff,
            };
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Err(err);
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

impl HttpClient {
    /// One exchange: the response whatever its status (for APIs whose error bodies carry the
    /// codes an adapter classifies itself, or that answer errors with 200), within the rate
    /// limit and the timeout. Transport failures are errors; nothing is retried here.
    pub async fn exchange(
        &self,
        req: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, HttpError> {
        self.acquire().await;
        match req(&self.client).send().await {
            Ok(resp) => Ok(resp),
            Err(e) if e.is_timeout() => Err(HttpError::Timeout),
            Err(e) => Err(HttpError::Transport(describe(&e))),
        }
    }
}

/// A transport error without the URL (it may carry a key in its query).
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_connect() { "cannot connect".to_owned() } else { "request failed".to_owned() };
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

async fn status_error(resp: reqwest::Response) -> HttpError {
    let status = resp.status().as_u16();
    // Retry-After (HTTP), or X-Ratelimit-Retry (Wildberries' seconds until the next try).
    let retry_after = [reqwest::header::RETRY_AFTER.as_str(), "x-ratelimit-retry"]
        .iter()
        .find_map(|h| resp.headers().get(*h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    let body = resp.text().await.unwrap_or_default();
    HttpError::Status { status, message: error_message(&body), retry_after }
}

/// The human-readable part of an error body, whichever shape the service uses:
/// `error.message` (OpenAI), `message` (Ozon, WB's marketplace group), `title` and `detail`
/// (WB's problem bodies), `errorText` and `additionalErrors` (WB's questions and feedbacks),
/// `errors` (WB's statistics and chats), `error`, `description`; else the text itself.
pub fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        let text = |x: &serde_json::Value| x.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let list = |x: &serde_json::Value| {
            let items: Vec<String> =
                x.as_array()?.iter().filter_map(|e| text(e).or_else(|| text(&e["message"]))).collect();
            (!items.is_empty()).then(|| items.join("; "))
        };
        let problem = match (text(&v["title"]), text(&v["detail"])) {
            (Some(t), Some(d)) if !d.contains(&t) => Some(format!("{t}: {d}")),
            (t, d) => d.or(t),
        };
        text(&v["error"]["message"])
            .or_else(|| {
                text(&v["errorText"])
                    .map(|t| list(&v["additionalErrors"]).map_or(t.clone(), |more| format!("{t} ({more})")))
            })
            .or_else(|| text(&v["message"]))
            .or(problem)
            .or_else(|| list(&v["errors"]))
            .or_else(|| text(&v["error"]))
            .or_else(|| text(&v["description"]))
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_owned());
    let mut out: String = text.chars().take(300).collect();
    if out.is_empty() {
        out = "no details".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_extracted_and_bounded() {
        assert_eq!(error_message(r#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_message(r#"{"message":"quota"}"#), "quota");
        assert_eq!(error_message("  gateway down "), "gateway down");
        assert_eq!(error_message(""), "no details");
        assert_eq!(error_message(&"x".repeat(1000)).len(), 300);
        // Wildberries' shapes, one per API group.
        let problem =
            r#"{"title":"unauthorized","detail":"token scope not allowed","code":"07e4","requestId":"r","status":401}"#;
        assert_eq!(error_message(problem), "unauthorized: token scope not allowed");
        let fq = r#"{"data":null,"error":true,"errorText":"Неверный id","additionalErrors":["Something went wrong"]}"#;
        assert_eq!(error_message(fq), "Неверный id (Something went wrong)");
        assert_eq!(error_message(r#"{"errors":["dateFrom: field required"]}"#), "dateFrom: field required");
        assert_eq!(
            error_message(r#"{"code":"IncorrectParameter","message":"Передан некорректный параметр"}"#),
            "Передан некорректный параметр"
        );
    }

    #[tokio::test]
    async fn a_long_wait_for_the_limit_is_not_slept() {
        // One request an hour (a WB basic token's questions): the second one is not sent.
        let c = HttpClient::new(Duration::from_secs(1), RetryPolicy::default(), Some((1.0 / 3600.0, 1)));
        c.acquire().await;
        let t = Instant::now();
        let r = c
            .send_with(
                |cl| cl.get("http://127.0.0.1:9"),
                SendOptions { max_wait: Some(Duration::from_secs(5)), ..SendOptions::default() },
            )
            .await;
        assert!(t.elapsed() < Duration::from_secs(1));
        match r {
            Err(HttpError::Status { status: 429, retry_after: Some(wait), message }) => {
                assert!(wait > Duration::from_secs(3000), "{wait:?}");
                assert_eq!(message, THROTTLED);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_bucket_spaces_requests() {
        let c = HttpClient::new(Duration::from_secs(1), RetryPolicy::default(), Some((20.0, 1)));
        let t = Instant::now();
        for _ in 0..4 {
            c.acquire().await;
        }
        // One from the burst, three at 50 ms each.
        assert!(t.elapsed() >= Duration::from_millis(140), "{:?}", t.elapsed());
    }
}
