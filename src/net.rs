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
                rate: rate.max(0.001),
                burst: f64::from(burst.max(1)),
                tokens: f64::from(burst.max(1)),
                last: Instant::now(),
            })
        });
        Self { client, policy, bucket }
    }

    async fn acquire(&self) {
        let Some(bucket) = &self.bucket else { return };
        loop {
            let wait = {
                let mut b = bucket.lock().await;
                let now = Instant::now();
                b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * b.rate).min(b.burst);
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.tokens) / b.rate)
            };
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.acquire().await;
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
            let wait = match &err {
                HttpError::Status { retry_after: Some(r), .. } => (*r).max(backoff).min(self.policy.max_delay.max(*r)),
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

/// The human-readable part of an error body: `error.message`, `message`, or the text.
pub fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        [&v["error"]["message"], &v["message"], &v["error"], &v["description"]]
            .into_iter()
            .find_map(|m| m.as_str().map(str::to_owned))
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
