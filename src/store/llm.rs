//! Language-model call records (usage and cost per month) and the response cache.

use rusqlite::{Connection, params};

use super::{Result, optional};

#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub at: i64,
    pub provider: String,
    pub model: String,
    /// "ok", "error" or "cache".
    pub outcome: &'static str,
    pub error: Option<String>,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_rub: f64,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub conversation_id: Option<i64>,
}

/// 'YYYY-MM' (UTC) of a millisecond timestamp.
pub fn month_of(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", t.year(), u8::from(t.month()))
}

/// A month as `YYYY-MM`.
pub fn valid_month(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(m[5..].parse::<u8>(), Ok(1..=12))
}

pub fn record_call(conn: &Connection, r: &CallRecord) -> Result<()> {
    conn.execute(
        "INSERT INTO llm_calls (at, month, provider, model, outcome, error, prompt_tokens, cached_prompt_tokens,
           completion_tokens, cost_rub, latency_ms, ttft_ms, conversation_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            r.at,
            month_of(r.at),
            r.provider,
            r.model,
            r.outcome,
            r.error,
            r.prompt_tokens,
            r.cached_prompt_tokens,
            r.completion_tokens,
            r.cost_rub,
            r.latency_ms,
            r.ttft_ms,
            r.conversation_id
        ],
    )?;
    Ok(())
}

/// Rubles spent on `provider` in `month`.
pub fn month_cost(conn: &Connection, provider: &str, month: &str) -> Result<f64> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(cost_rub), 0) FROM llm_calls WHERE month = ?1 AND provider = ?2",
        params![month, provider],
        |r| r.get(0),
    )?)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub provider: String,
    pub model: String,
    pub calls: i64,
    pub errors: i64,
    pub cache_hits: i64,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_rub: f64,
    pub avg_latency_ms: f64,
}

/// The month's calls grouped by provider and model.
pub fn usage(conn: &Connection, month: &str) -> Result<Vec<UsageRow>> {
    let mut stmt = conn.prepare(
        "SELECT provider, model, COUNT(*), SUM(outcome = 'error'), SUM(outcome = 'cache'), SUM(prompt_tokens),
                SUM(cached_prompt_tokens), SUM(completion_tokens), SUM(cost_rub),
                COALESCE(AVG(CASE WHEN outcome = 'ok' THEN latency_ms END), 0)
         FROM llm_calls WHERE month = ?1 GROUP BY provider, model ORDER BY provider, model",
    )?;
    let rows = stmt
        .query_map([month], |r| {
            Ok(UsageRow {
                provider: r.get(0)?,
                model: r.get(1)?,
                calls: r.get(2)?,
                errors: r.get(3)?,
                cache_hits: r.get(4)?,
                prompt_tokens: r.get(5)?,
                cached_prompt_tokens: r.get(6)?,
                completion_tokens: r.get(7)?,
                cost_rub: r.get(8)?,
                avg_latency_ms: r.get(9)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A cached answer (JSON) for `key` that has not expired; counts the hit.
pub fn cache_get(conn: &Connection, key: &str, now: i64) -> Result<Option<String>> {
    let hit: Option<String> = optional(conn.query_row(
        "UPDATE llm_cache SET hits = hits + 1 WHERE key = ?1 AND expires_at > ?2 RETURNING completion",
        params![key, now],
        |r| r.get(0),
    ))?;
    Ok(hit)
}

pub fn cache_put(conn: &Connection, key: &str, completion_json: &str, now: i64, ttl_ms: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO llm_cache (key, completion, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key) DO UPDATE SET completion = excluded.completion, created_at = excluded.created_at,
           expires_at = excluded.expires_at, hits = 0",
        params![key, completion_json, now, now.saturating_add(ttl_ms)],
    )?;
    Ok(())
}

/// Removes expired cache entries; returns how many.
pub fn cache_prune(conn: &Connection, now: i64) -> Result<usize> {
    Ok(conn.execute("DELETE FROM llm_cache WHERE expires_at <= ?1", [now])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc() {
        assert_eq!(month_of(0), "1970-01");
        // 2026-11-30T23:59:59Z and one second later.
        assert_eq!(month_of(1_796_083_199_000), "2026-11");
        assert_eq!(month_of(1_796_083_200_000), "2026-12");
        assert!(valid_month("2026-11"));
        assert!(!valid_month("2026-13"));
        assert!(!valid_month("2026-1"));
        assert!(!valid_month("26-11-01"));
    }
}
