//! Dialog-level evaluation (`supportd eval dialogs`): scripted multi-turn conversations with
//! the demo shop (knowledge base + demo orders in the order cache) run through the real
//! engine; each turn's action, facts and sources are checked, and every reply is scanned for
//! policy violations (invented or foreign order data, invented sums and contacts, promises).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::provenance::{ModelOutcome, ModelRecord};
use super::{Action, Engine, Inbound};
use crate::nlu::Intent;
use crate::nlu::{EntityKind, entities};
use crate::store::{Db, kb as kb_rows, messaging as msgs, orders as order_rows};

/// The scripted dialogs compiled in (the default of `supportd eval dialogs`).
pub const DIALOGS: &str = include_str!("../../tests/data/dialogs.jsonl");

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn allows(&self, a: &str) -> bool {
        match self {
            OneOrMany::One(s) => s == a,
            OneOrMany::Many(v) => v.iter().any(|s| s == a),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub action: OneOrMany,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub contains: Vec<String>,
    #[serde(default)]
    pub any: Vec<String>,
    #[serde(default)]
    pub not_contains: Vec<String>,
    /// Article slugs; at least one must be cited.
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnSpec {
    pub buyer: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialog {
    pub id: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub linked_orders: Vec<String>,
    pub turns: Vec<TurnSpec>,
    /// "automated" or "handoff".
    pub outcome: String,
}

/// The dialogs of a JSONL file; a line that does not parse (an unknown key among them, so a
/// misspelt expectation is not silently ignored) is an error naming the line.
pub fn parse(jsonl: &str) -> Result<Vec<Dialog>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub dialog: String,
    pub turn: usize,
    pub problem: String,
    pub reply: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub n: usize,
    pub turns: usize,
    /// Dialogs the assistant finished without handing over to a person.
    pub automation_rate: f64,
    /// Dialogs whose every turn met its expectations.
    pub pass_rate: f64,
    /// Turns whose expectations were met.
    pub turn_accuracy: f64,
    /// Dialogs that ended handed over, or not, as the script says.
    pub outcome_accuracy: f64,
    /// Policy violations: invented/foreign order data, invented sums or contacts, promises
    /// beyond the facts, and missed handoffs.
    pub violations: usize,
    pub violation_kinds: BTreeMap<String, usize>,
    pub p95_turn_ms: u64,
    /// What the model did with the knowledge answers it was asked to write.
    pub model: ModelCounts,
    pub failures: Vec<Finding>,
    pub violation_list: Vec<Finding>,
}

/// Model-written knowledge answers: kept as written, kept with sentences the guard dropped,
/// rejected by the guard (the composed units were sent instead), or not written (an error or
/// a time-out), with the guard's reasons.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelCounts {
    pub written: usize,
    pub guard_changed: usize,
    pub guard_rejected: usize,
    pub failed: usize,
    /// Guard findings in dropped sentences, by kind.
    pub reasons: BTreeMap<String, usize>,
}

impl ModelCounts {
    fn count(&mut self, model: Option<&ModelRecord>) {
        let Some(model) = model else { return };
        match model.outcome {
            ModelOutcome::Written => self.written += 1,
            ModelOutcome::Changed => self.guard_changed += 1,
            ModelOutcome::Rejected => self.guard_rejected += 1,
            ModelOutcome::Failed => self.failed += 1,
        }
        for r in model.call.iter().flat_map(|c| &c.reasons) {
            *self.reasons.entry(r.kind().to_owned()).or_insert(0) += 1;
        }
    }
}

/// Runs every dialog as a new buyer on the `eval` channel.
pub async fn run(engine: &Engine, db: &Db, dialogs: &[Dialog]) -> Result<Report, super::EngineError> {
    let slugs: BTreeMap<String, String> = db
        .call(|c| kb_rows::list_articles(c, &kb_rows::ArticleFilter::default()))
        .await?
        .into_iter()
        .map(|a| (format!("a:{}", a.id), a.slug))
        .collect();
    let mut failures = Vec::new();
    let mut violations = Vec::new();
    let (mut automated, mut passed, mut turns_ok, mut turns, mut outcome_ok) = (0, 0, 0, 0, 0);
    let mut latencies = Vec::new();
    let mut model = ModelCounts::default();
    for d in dialogs {
        let customer = format!("eval-{}", d.id);
        let (c2, linked, now) = (customer.clone(), d.linked_orders.clone(), engine.clock.now_ms());
        db.call(move |c| {
            let id = msgs::upsert_customer(c, "eval", &c2, "", now)?;
            for n in &linked {
                order_rows::link(c, id, crate::marketplace::Market::of_number(n), n, now)?;
            }
            Ok(())
        })
        .await?;
        let mut buyer_said: Vec<String> = d.linked_orders.clone();
        let mut handed = false;
        let mut all_ok = true;
        for (i, t) in d.turns.iter().enumerate() {
            turns += 1;
            buyer_said.push(t.buyer.clone());
            let started = std::time::Instant::now();
            let turn = engine
                .handle(&Inbound {
                    channel: crate::channels::ChannelName::Eval,
                    message_id: format!("{}#{i}", d.id),
                    customer: customer.clone(),
                    name: String::new(),
                    text: t.buyer.clone(),
                    attachments: Vec::new(),
                    verified_phone: None,
                    from_seller: false,
                })
                .await?;
            latencies.push(started.elapsed().as_millis() as u64);
            model.count(turn.provenance.model.as_ref());
            let reply = turn.reply.clone().unwrap_or_default();
            let low = reply.to_lowercase();
            let finding = |problem: String| Finding { dialog: d.id.clone(), turn: i, problem, reply: reply.clone() };
            let handed_before = handed;
            handed |= turn.action == Action::Handoff;
            let mut problems = Vec::new();
            if !t.expect.action.allows(turn.action.as_str()) {
                problems.push(format!("action {} (expected {:?})", turn.action.as_str(), t.expect.action));
            }
            if let Some(intent) = &t.expect.intent {
                let got = turn.provenance.intent().map_or("", Intent::as_str);
                if got != intent && turn.action != Action::Silent {
                    problems.push(format!("intent {got} (expected {intent})"));
                }
            }
            for s in &t.expect.contains {
                if !low.contains(&s.to_lowercase()) {
                    problems.push(format!("reply lacks {s:?}"));
                }
            }
            if !t.expect.any.is_empty() && !t.expect.any.iter().any(|s| low.contains(&s.to_lowercase())) {
                problems.push(format!("reply has none of {:?}", t.expect.any));
            }
            for s in &t.expect.not_contains {
                if low.contains(&s.to_lowercase()) {
                    problems.push(format!("reply has {s:?}"));
                }
            }
            if !t.expect.sources.is_empty() {
                let cited: Vec<&str> =
                    turn.provenance.sources.iter().filter_map(|s| slugs.get(&s.doc)).map(String::as_str).collect();
                if !t.expect.sources.iter().any(|s| cited.contains(&s.as_str())) {
                    problems.push(format!("cited {cited:?} (expected one of {:?})", t.expect.sources));
                }
            }
            // Violations, whatever the script expected.
            let mut found: Vec<String> = super::guard::check(&reply, &turn.facts, &buyer_said)
                .into_iter()
                .map(|v| {
                    serde_json::to_value(&v).map(|j| j["kind"].as_str().unwrap_or("").to_owned()).unwrap_or_default()
                })
                .collect();
            let allowed: HashSet<String> =
                buyer_said.iter().flat_map(|s| entities::extract(s)).map(|e| e.normalized).collect();
            for e in entities::extract(&reply) {
                if matches!(e.kind, EntityKind::WbOrder | EntityKind::OzonPosting)
                    && !allowed.contains(&e.normalized)
                    && !d.linked_orders.contains(&e.normalized)
                {
                    found.push("foreign_order".into());
                }
            }
            // A conversation already with a person is not handed over again: silence is right.
            if t.expect.action.allows("handoff")
                && !t.expect.action.allows("clarify")
                && turn.action != Action::Handoff
                && !handed_before
            {
                found.push("missed_handoff".into());
            }
            for v in found {
                violations.push(finding(v));
            }
            if problems.is_empty() {
                turns_ok += 1;
            } else {
                all_ok = false;
                for p in problems {
                    failures.push(finding(p));
                }
            }
        }
        if !handed {
            automated += 1;
        }
        if handed == (d.outcome == "handoff") {
            outcome_ok += 1;
        }
        if all_ok {
            passed += 1;
        }
    }
    latencies.sort_unstable();
    let p95 = latencies.get((latencies.len() * 95 / 100).min(latencies.len().saturating_sub(1))).copied().unwrap_or(0);
    let n = dialogs.len().max(1) as f64;
    let mut kinds = BTreeMap::new();
    for v in &violations {
        *kinds.entry(v.problem.clone()).or_insert(0) += 1;
    }
    Ok(Report {
        n: dialogs.len(),
        turns,
        automation_rate: f64::from(automated) / n,
        pass_rate: f64::from(passed) / n,
        turn_accuracy: f64::from(turns_ok) / turns.max(1) as f64,
        outcome_accuracy: f64::from(outcome_ok) / n,
        violations: violations.len(),
        violation_kinds: kinds,
        p95_turn_ms: p95,
        model,
        failures,
        violation_list: violations,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unknown_key_is_an_error_naming_line_and_key() {
        let ok =
            r#"{"id": "a", "turns": [{"buyer": "привет", "expect": {"action": "answer"}}], "outcome": "automated"}"#;
        assert_eq!(super::parse(ok).expect("valid").len(), 1);
        let typo = ok.replace(r#""action": "answer""#, r#""action": "answer", "contain": ["x"]"#);
        let e = super::parse(&format!("{ok}\n\n{typo}")).expect_err("a misspelt key");
        assert!(e.starts_with("line 3:") && e.contains("unknown field `contain`"), "{e}");
        let top = ok.replace(r#""outcome""#, r#""outcom""#);
        assert!(super::parse(&top).expect_err("top level").contains("`outcom`"));
    }

    #[test]
    fn the_dialogs_parse() {
        let d = super::parse(super::DIALOGS).expect("valid dialogs");
        assert!(d.len() >= 50);
        assert!(d.iter().all(|d| !d.turns.is_empty() && ["automated", "handoff"].contains(&d.outcome.as_str())));
    }
}
