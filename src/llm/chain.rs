//! The fallback chain: providers tried in the configured order, each behind a circuit
//! breaker and a monthly budget, with a response cache in front and a cost record of every
//! call. This is what the conversation engine calls.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Completion, GenerateRequest, LlmError, Provider, TokenSink};
use crate::clock::SharedClock;
use crate::store::{Db, llm as rows};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    /// Rubles per calendar month (UTC); 0: no cap.
    pub monthly_rub: f64,
}

/// Consecutive failures open the breaker for a cool-down; after it one trial call is let
/// through (half-open): success closes it, failure opens it again.
#[derive(Debug)]
struct Breaker {
    failures: u32,
    /// Until when (the clock's ms) the provider is skipped.
    open_until: Option<i64>,
}

pub struct Entry {
    pub provider: Arc<dyn Provider>,
    pub budget: Budget,
    breaker: Mutex<Breaker>,
}

#[derive(Debug, Clone, Copy)]
pub struct ChainSettings {
    pub timeout: Duration,
    pub cache_ttl: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    pub warn_percent: u32,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(86_400),
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(60),
            warn_percent: 80,
        }
    }
}

/// Per-call options of the engine.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Reuse/store the answer in the response cache.
    pub cache: bool,
    pub conversation_id: Option<i64>,
}

/// `Some(reason)` for a provider that may not be used now (the plan has no cloud models);
/// the chain skips it.
pub type ProviderGate = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub struct Llm {
    entries: Vec<Entry>,
    settings: ChainSettings,
    db: Db,
    clock: SharedClock,
    warned: Mutex<HashSet<(String, String)>>,
    gate: std::sync::OnceLock<ProviderGate>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderState {
    pub name: String,
    pub model: String,
    /// "closed" (working), "open" (paused after failures) or "half-open" (next call is a trial).
    pub breaker: String,
    pub consecutive_failures: u32,
    pub monthly_budget_rub: f64,
}

impl Llm {
    pub fn new(
        providers: Vec<(Arc<dyn Provider>, Budget)>,
        settings: ChainSettings,
        db: Db,
        clock: SharedClock,
    ) -> Self {
        let entries = providers
            .into_iter()
            .map(|(provider, budget)| Entry {
                provider,
                budget,
                breaker: Mutex::new(Breaker { failures: 0, open_until: None }),
            })
            .collect();
        Self { entries, settings, db, clock, warned: Mutex::new(HashSet::new()), gate: std::sync::OnceLock::new() }
    }

    /// Set once, at start: providers the gate refuses are skipped.
    pub fn set_gate(&self, gate: ProviderGate) {
        let _ = self.gate.set(gate);
    }

    /// Token counter of the first provider (the one prompts are fitted for).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.entries.first().map_or_else(|| super::estimate_tokens(text), |e| e.provider.count_tokens(text))
    }

    pub fn states(&self) -> Vec<ProviderState> {
        let now = self.clock.now_ms();
        self.entries
            .iter()
            .map(|e| {
                let b = e.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let breaker = match b.open_until {
                    Some(t) if t > now => "open",
                    Some(_) => "half-open",
                    None => "closed",
                };
                ProviderState {
                    name: e.provider.name().to_owned(),
                    model: e.provider.model(),
                    breaker: breaker.into(),
                    consecutive_failures: b.failures,
                    monthly_budget_rub: e.budget.monthly_rub,
                }
            })
            .collect()
    }

    fn breaker_allows(&self, e: &Entry) -> bool {
        let b = e.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        b.open_until.is_none_or(|t| self.clock.now_ms() >= t)
    }

    fn breaker_result(&self, e: &Entry, ok: bool) {
        let mut b = e.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if ok {
            b.failures = 0;
            b.open_until = None;
        } else {
            b.failures += 1;
            if b.failures >= self.settings.breaker_failures {
                let now = self.clock.now_ms();
                if b.open_until.is_none_or(|t| now >= t) {
                    tracing::warn!(
                        provider = e.provider.name(),
                        failures = b.failures,
                        "provider paused after repeated failures"
                    );
                }
                let cooldown = i64::try_from(self.settings.breaker_cooldown.as_millis()).unwrap_or(i64::MAX);
                b.open_until = Some(now.saturating_add(cooldown));
            }
        }
    }

    /// Answers `req` with the first provider that can; streams into `sink`.
    pub async fn generate(
        &self,
        req: &GenerateRequest,
        sink: &TokenSink,
        opts: &CallOptions,
    ) -> Result<Completion, LlmError> {
        // Dropped with this future (the caller timed out or went away): the provider stops.
        let stop = req.cancel.on_drop();
        let result = self.generate_here(req, sink, opts).await;
        stop.disarm();
        result
    }

    async fn generate_here(
        &self,
        req: &GenerateRequest,
        sink: &TokenSink,
        opts: &CallOptions,
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let key = (opts.cache && !self.settings.cache_ttl.is_zero()).then(|| cache_key(req));
        if let Some(key) = &key
            && let Some(hit) = self.cache_lookup(key, opts).await
        {
            sink.text(&hit.text);
            return Ok(Completion { latency_ms: started.elapsed().as_millis() as u64, ..hit });
        }
        let mut failures: Vec<(String, String)> = Vec::new();
        let mut streamed = false;
        for e in &self.entries {
            let name = e.provider.name().to_owned();
            if req.cancel.is_cancelled() {
                return Err(LlmError::Cancelled);
            }
            if req.past_deadline() {
                failures.push((name, LlmError::Timeout.to_string()));
                break;
            }
            if let Some(why) = self.gate.get().and_then(|g| g(&name)) {
                failures.push((name, why));
                continue;
            }
            if !self.breaker_allows(e) {
                failures.push((name.clone(), LlmError::CircuitOpen(name).to_string()));
                continue;
            }
            if let Some(err) = self.over_budget(e).await {
                failures.push((name, err.to_string()));
                continue;
            }
            let mut attempt = req.clone();
            let cap = Instant::now() + self.settings.timeout;
            attempt.deadline = Some(attempt.deadline.map_or(cap, |d| d.min(cap)));
            if streamed {
                sink.reset();
            }
            // A relay sink notes whether anything was streamed, so a fallback can reset.
            let (relay, mut rx) = TokenSink::new();
            let provider = e.provider.clone();
            let call = provider.generate(&attempt, &relay);
            tokio::pin!(call);
            let result = loop {
                tokio::select! {
                    r = &mut call => break r,
                    Some(ev) = rx.recv() => {
                        if let super::StreamEvent::Text(t) = ev {
                            streamed = true;
                            sink.text(&t);
                        }
                    }
                }
            };
            while let Ok(super::StreamEvent::Text(t)) = rx.try_recv() {
                streamed = true;
                sink.text(&t);
            }
            match result {
                Ok(c) => {
                    self.breaker_result(e, true);
                    self.record(&c, None, opts).await;
                    if let Some(key) = &key {
                        self.cache_store(key, &c).await;
                    }
                    return Ok(c);
                }
                Err(LlmError::Cancelled) => return Err(LlmError::Cancelled),
                Err(err) => {
                    if err.trips_breaker() {
                        self.breaker_result(e, false);
                    }
                    tracing::warn!(provider = %name, error = %err, "provider failed; trying the next one");
                    self.record_failure(e, &err, started, opts).await;
                    failures.push((name, err.to_string()));
                }
            }
        }
        if failures.is_empty() {
            return Err(LlmError::NotConfigured("llm.chain".into(), "no provider is configured".into()));
        }
        Err(LlmError::AllFailed(failures))
    }

    async fn over_budget(&self, e: &Entry) -> Option<LlmError> {
        let cap = e.budget.monthly_rub;
        if cap <= 0.0 {
            return None;
        }
        let name = e.provider.name().to_owned();
        let month = rows::month_of(self.clock.now_ms());
        let (n, m) = (name.clone(), month.clone());
        let spent = self.db.call(move |c| rows::month_cost(c, &n, &m)).await.unwrap_or(0.0);
        if spent >= cap {
            return Some(LlmError::BudgetExhausted(name));
        }
        if spent >= cap * f64::from(self.settings.warn_percent) / 100.0 {
            let mut warned = self.warned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if warned.insert((name.clone(), month)) {
                tracing::warn!(provider = %name, spent_rub = spent, budget_rub = cap, "monthly model budget nearly spent");
            }
        }
        None
    }

    async fn record(&self, c: &Completion, outcome: Option<&'static str>, opts: &CallOptions) {
        let r = rows::CallRecord {
            at: self.clock.now_ms(),
            provider: c.provider.clone(),
            model: c.model.clone(),
            outcome: outcome.unwrap_or("ok"),
            error: None,
            prompt_tokens: i64::from(c.prompt_tokens),
            cached_prompt_tokens: i64::from(c.cached_prompt_tokens),
            completion_tokens: i64::from(c.completion_tokens),
            cost_rub: if outcome == Some("cache") { 0.0 } else { c.cost_rub },
            latency_ms: c.latency_ms as i64,
            ttft_ms: Some(c.ttft_ms as i64),
            conversation_id: opts.conversation_id,
        };
        if let Err(e) = self.db.call(move |conn| rows::record_call(conn, &r)).await {
            tracing::error!(error = %e, "cannot record a model call");
        }
    }

    async fn record_failure(&self, e: &Entry, err: &LlmError, started: Instant, opts: &CallOptions) {
        let r = rows::CallRecord {
            at: self.clock.now_ms(),
            provider: e.provider.name().to_owned(),
            model: e.provider.model(),
            outcome: "error",
            error: Some(err.to_string()),
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            completion_tokens: 0,
            cost_rub: 0.0,
            latency_ms: started.elapsed().as_millis() as i64,
            ttft_ms: None,
            conversation_id: opts.conversation_id,
        };
        if let Err(e) = self.db.call(move |conn| rows::record_call(conn, &r)).await {
            tracing::error!(error = %e, "cannot record a model call");
        }
    }

    async fn cache_lookup(&self, key: &str, opts: &CallOptions) -> Option<Completion> {
        let (k, now) = (key.to_owned(), self.clock.now_ms());
        let json = self.db.call(move |c| rows::cache_get(c, &k, now)).await.ok().flatten()?;
        let mut hit: Completion = serde_json::from_str(&json).ok()?;
        hit.from_cache = true;
        self.record(&hit, Some("cache"), opts).await;
        hit.cost_rub = 0.0;
        Some(hit)
    }

    async fn cache_store(&self, key: &str, c: &Completion) {
        let Ok(json) = serde_json::to_string(c) else { return };
        let (k, now, ttl) = (key.to_owned(), self.clock.now_ms(), self.settings.cache_ttl.as_millis() as i64);
        if let Err(e) = self.db.call(move |conn| rows::cache_put(conn, &k, &json, now, ttl)).await {
            tracing::warn!(error = %e, "cannot store an answer in the cache");
        }
    }
}

/// Case, spacing and punctuation at the ends do not make a question different.
pub fn normalize(text: &str) -> String {
    let lower = text.to_lowercase().replace('ё', "е");
    let words: Vec<&str> = lower.split_whitespace().collect();
    words.join(" ").trim_matches(|c: char| c.is_ascii_punctuation() || c == '…').to_owned()
}

/// The cache key: every message normalized, plus the answer limit and sampling.
pub fn cache_key(req: &GenerateRequest) -> String {
    let mut h = Sha256::new();
    for m in &req.messages {
        h.update(m.role.as_str().as_bytes());
        h.update([0]);
        h.update(normalize(&m.content).as_bytes());
        h.update([0]);
    }
    h.update(format!("{}|{}|{:?}", req.max_tokens, req.sampling.temperature, req.stop).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatMessage;

    #[test]
    fn equivalent_questions_share_a_key() {
        let q =
            |s: &str| GenerateRequest::new(vec![ChatMessage::system("Факты: доставка 3 дня"), ChatMessage::user(s)]);
        assert_eq!(cache_key(&q("Где мой заказ?")), cache_key(&q("  где   мой заказ ")));
        assert_eq!(cache_key(&q("Ещё вопрос")), cache_key(&q("еще вопрос")));
        assert_ne!(cache_key(&q("Где мой заказ?")), cache_key(&q("Где мой возврат?")));
        let mut other_facts = q("Где мой заказ?");
        other_facts.messages[0].content = "Факты: доставка 5 дней".into();
        assert_ne!(cache_key(&q("Где мой заказ?")), cache_key(&other_facts));
    }
}

/// One provider's month: spend against its budget, and calls by model.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderUsage {
    pub provider: String,
    pub spent_rub: f64,
    /// 0: no cap.
    pub monthly_budget_rub: f64,
    pub used_percent: Option<f64>,
    /// Past the warning share of the budget.
    pub warning: bool,
    /// Budget spent: the provider is skipped until the month ends.
    pub capped: bool,
    pub models: Vec<rows::UsageRow>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    pub month: String,
    pub total_cost_rub: f64,
    pub calls: i64,
    pub cache_hits: i64,
    pub providers: Vec<ProviderUsage>,
}

/// The month's usage by provider, with budgets (`(provider, monthly rubles)`) applied.
pub fn usage_report(
    conn: &rusqlite::Connection,
    month: &str,
    budgets: &[(String, f64)],
    warn_percent: u32,
) -> crate::store::Result<UsageReport> {
    let all = rows::usage(conn, month)?;
    let mut names: Vec<String> = budgets.iter().map(|(n, _)| n.clone()).collect();
    for r in &all {
        if !names.contains(&r.provider) {
            names.push(r.provider.clone());
        }
    }
    let providers: Vec<ProviderUsage> = names
        .into_iter()
        .map(|name| {
            let models: Vec<rows::UsageRow> = all.iter().filter(|r| r.provider == name).cloned().collect();
            let spent: f64 = models.iter().map(|r| r.cost_rub).sum();
            let budget = budgets.iter().find(|(n, _)| *n == name).map_or(0.0, |(_, b)| *b);
            let used = (budget > 0.0).then(|| (spent / budget * 1000.0).round() / 10.0);
            ProviderUsage {
                provider: name,
                spent_rub: (spent * 10_000.0).round() / 10_000.0,
                monthly_budget_rub: budget,
                used_percent: used,
                warning: used.is_some_and(|u| u >= f64::from(warn_percent)),
                capped: budget > 0.0 && spent >= budget,
                models,
            }
        })
        .collect();
    Ok(UsageReport {
        month: month.to_owned(),
        total_cost_rub: (providers.iter().map(|p| p.spent_rub).sum::<f64>() * 10_000.0).round() / 10_000.0,
        calls: all.iter().map(|r| r.calls).sum(),
        cache_hits: all.iter().map(|r| r.cache_hits).sum(),
        providers,
    })
}

/// `(provider, monthly budget)` of every provider with a price, from the config.
/// In chain order.
pub fn budgets(config: &crate::config::Config) -> Vec<(String, f64)> {
    config
        .llm
        .chain
        .iter()
        .map(|n| {
            use crate::config::LlmProvider;
            let budget = match n {
                LlmProvider::YandexGpt => config.llm.yandexgpt.monthly_budget_rub,
                LlmProvider::OpenAi => config.llm.openai.monthly_budget_rub,
                LlmProvider::Local => 0.0,
            };
            (n.as_str().to_owned(), budget)
        })
        .collect()
}
