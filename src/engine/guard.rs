//! Checks on a reply before it is sent: order numbers, contacts and sums only from the facts
//! or the buyer's own words, and no refunds, compensation or discounts the facts do not give.
//! A model-written reply that fails is replaced by a quote of the facts; the dialog evaluation
//! counts the same findings as policy violations.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::nlu::{EntityKind, entities};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Violation {
    /// An order number nobody gave.
    InventedOrder(String),
    /// A phone or e-mail that is neither the shop's (in the facts) nor the buyer's.
    ForeignContact(String),
    /// A sum of money the facts do not contain.
    InventedSum(String),
    /// A refund, compensation, discount or promo code the facts do not give.
    Promise(String),
    /// A number (days, hours, pieces, percent) the facts do not contain.
    InventedNumber(String),
    /// A "yes, you can" / "no, you cannot" the facts do not say.
    UnsupportedVerdict(String),
    /// A place (a city, a marketplace, a service) the facts and the buyer do not name.
    UnknownPlace(String),
}

impl Violation {
    /// Its kind as the stored provenance names it (`kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Violation::InventedOrder(_) => "invented_order",
            Violation::ForeignContact(_) => "foreign_contact",
            Violation::InventedSum(_) => "invented_sum",
            Violation::Promise(_) => "promise",
            Violation::InventedNumber(_) => "invented_number",
            Violation::UnsupportedVerdict(_) => "unsupported_verdict",
            Violation::UnknownPlace(_) => "unknown_place",
        }
    }
}

static SUM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(\d[\d\s]{0,9}\d|\d)\s*(?:₽|руб\w*|р\.)").expect("a valid built-in pattern"));

static PROMISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(верн\w*\s+(вам\s+|вас\s+|тебе\s+)?(все\s+)?(деньги|средства|оплату|стоимость)|возмест\w*|компенсаци\w*|компенсир\w*|выплат\w*|начисл\w*\s+бонус\w*|промокод\w*\s+[A-ZА-Я0-9]{3,}|скидк\w*\s+(в\s+)?\d+\s*%|бесплатн\w+\s+(доставк|замен|обмен)\w*)",
    )
    .expect("a valid built-in pattern")
});

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Findings in `reply` given what it may rely on: `facts` (order data, knowledge passages)
/// and `buyer` (what the buyer wrote in this conversation).
pub fn check(reply: &str, facts: &[String], buyer: &[String]) -> Vec<Violation> {
    let known_text = facts.iter().chain(buyer).map(|s| s.to_lowercase()).collect::<Vec<_>>().join("\n");
    let known_digits: Vec<String> = facts.iter().chain(buyer).map(|s| digits(s)).collect();
    let known_number = |d: &str| !d.is_empty() && known_digits.iter().any(|k| k.contains(d));
    let mut out = Vec::new();
    for e in entities::extract(reply) {
        match e.kind {
            EntityKind::WbOrder | EntityKind::OzonPosting if !known_number(&digits(&e.normalized)) => {
                out.push(Violation::InventedOrder(e.value));
            }
            EntityKind::Phone if !known_number(&digits(&e.normalized)[1..]) => {
                out.push(Violation::ForeignContact(e.value));
            }
            EntityKind::Email if !known_text.contains(&e.normalized) => out.push(Violation::ForeignContact(e.value)),
            _ => {}
        }
    }
    for m in SUM.captures_iter(reply) {
        let amount = digits(&m[1]);
        if !known_number(&amount) {
            out.push(Violation::InventedSum(m[0].trim().to_owned()));
        }
    }
    for m in PROMISE.find_iter(reply) {
        let stem: String = m.as_str().to_lowercase().chars().take(6).collect();
        if !known_text.contains(&stem) {
            out.push(Violation::Promise(m.as_str().to_owned()));
        }
    }
    out
}

static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+").expect("a valid built-in pattern"));

static VERDICT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[\s,.!?—–-])(да|нет)[,!.]?\s+(можно|нельзя|можете|не\s+можете|получится|не\s+получится)|(^|[\s,.!?])(можно|нельзя|разрешено|запрещено|не\s+принимаем|принимаем)($|[\s,.!?])")
        .expect("a valid built-in pattern")
});

/// Names of places and services a small model likes to add ("в Москве", "на Ozon", "СДЭК").
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(москв\w*|петербург\w*|спб|питер\w*|казан\w*|новосибирск\w*|екатеринбург\w*|росси\w*|казахстан\w*|беларус\w*|сдэк\w*|cdek|почт\w+\s+росси\w*|boxberry|wildberries|вайлдберриз|ozon|озон\w*|яндекс\w*|авито|telegram|телеграм\w*|whatsapp|ватсап\w*)")
        .expect("a valid built-in pattern")
});

/// Words by which the facts allow something, and by which they refuse it.
const YES: &[&str] = &["можно", "можете", "принимаем", "разрешен", "доступн", "возможн"];
const NO: &[&str] = &[
    "нельзя",
    "не подлеж",
    "не принима",
    "не возвраща",
    "не можем",
    "запрещ",
    "невозможн",
    "не получится",
    "не меняем",
];

/// What the per-sentence check did to a model-written answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The sentences that passed, in order.
    pub kept: Vec<String>,
    /// The sentences dropped, each with what was wrong.
    pub dropped: Vec<(String, Vec<Violation>)>,
}

/// [`check`] sentence by sentence, plus what small models invent in Russian: numbers (days,
/// hours, percent) the facts lack, a "да, можно" / "нельзя" the facts do not say, places and
/// services nobody named. A failing sentence is dropped; the rest stands.
pub fn check_sentences(reply: &str, facts: &[String], buyer: &[String]) -> Checked {
    let known = facts.iter().chain(buyer).map(|s| s.to_lowercase()).collect::<Vec<_>>().join("\n");
    let known_numbers: std::collections::HashSet<&str> = NUMBER.find_iter(&known).map(|m| m.as_str()).collect();
    // A verdict must come from the facts: the buyer's "можно?" is the question, not the answer.
    let facts_low = facts.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>().join("\n");
    let mut out = Checked::default();
    for sentence in crate::kb::units::sentences(reply) {
        let mut found = check(&sentence, facts, buyer);
        let low = sentence.to_lowercase();
        for m in NUMBER.find_iter(&low) {
            if !known_numbers.contains(m.as_str()) && !found.iter().any(|v| matches!(v, Violation::InventedSum(_))) {
                found.push(Violation::InventedNumber(m.as_str().to_owned()));
            }
        }
        for c in VERDICT.captures_iter(&low) {
            let verdict = c[0].trim().to_owned();
            let negative = ["нельзя", "не ", "нет", "запрещ"].iter().any(|w| verdict.contains(w));
            // The facts must say it with the same polarity: a "можно" the facts do not give is
            // the invention that costs a seller most.
            let markers: &[&str] = if negative { NO } else { YES };
            if !markers.iter().any(|w| facts_low.contains(w)) {
                found.push(Violation::UnsupportedVerdict(verdict));
            }
        }
        for m in PLACE.find_iter(&low) {
            let stem: String = m.as_str().chars().take(4).collect();
            if !known.contains(&stem) {
                found.push(Violation::UnknownPlace(m.as_str().to_owned()));
            }
        }
        if found.is_empty() {
            out.kept.push(sentence);
        } else {
            out.dropped.push((sentence, found));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_that_invents_is_dropped_and_the_rest_stands() {
        let facts = vec![
            "Вернуть товар надлежащего качества можно в течение 14 дней. Бельё и носки возврату не подлежат."
                .to_owned(),
        ];
        let buyer = vec!["можно вернуть футболку?".to_owned()];
        let c = check_sentences("Да, можно вернуть в течение 14 дней. Деньги придут за 3 дня.", &facts, &buyer);
        assert_eq!(c.kept, vec!["Да, можно вернуть в течение 14 дней."]);
        assert!(matches!(c.dropped[0].1[..], [Violation::InventedNumber(_)]), "{c:?}");
        let c = check_sentences("Вернуть можно в пункте выдачи в Москве.", &facts, &buyer);
        assert!(matches!(c.dropped[0].1[..], [Violation::UnknownPlace(_)]), "{c:?}");
        let no = vec!["Нижнее бельё возврату не подлежит.".to_owned()];
        let c = check_sentences("Да, можно вернуть.", &no, &buyer);
        assert!(c.kept.is_empty(), "a yes over a fact that says no: {c:?}");
        let c = check_sentences("Нет, вернуть нельзя: бельё возврату не подлежит.", &no, &buyer);
        assert_eq!(c.kept.len(), 1, "{c:?}");
        let c = check_sentences("Вернуть товар можно в течение 14 дней.", &facts, &[]);
        assert!(c.dropped.is_empty(), "{c:?}");
    }

    #[test]
    fn invented_facts_are_found() {
        let facts = vec!["Заказ 4102938475 (Wildberries) в пути. Телефон поддержки 8 800 301-47-12.".to_owned()];
        let buyer = vec!["где заказ 4102938475, мой номер +7 916 111-22-33".to_owned()];
        assert!(check("Заказ 4102938475 в пути, звоните 8 800 301-47-12.", &facts, &buyer).is_empty());
        assert_eq!(
            check("Ваш заказ 4102938999 доставлен", &facts, &buyer),
            vec![Violation::InventedOrder("4102938999".into())]
        );
        assert!(matches!(check("Напишите на +7 999 888-77-66", &facts, &buyer)[..], [Violation::ForeignContact(_)]));
        assert!(matches!(
            check("Мы вернём вам деньги — 5000 ₽", &facts, &buyer)[..],
            [Violation::InventedSum(_), Violation::Promise(_)]
        ));
        assert!(matches!(check("Держите промокод FREE100", &facts, &buyer)[..], [Violation::Promise(_)]));
        let policy = vec!["Деньги вернём в течение 10 дней; компенсация доставки не предусмотрена.".to_owned()];
        assert!(check("Компенсация доставки не предусмотрена.", &policy, &[]).is_empty());
        // A refund promised in any form of "вернуть" (and misspelt, as small models write it) is
        // a promise unless the facts say it.
        for promise in [
            "Я верну вам деньги сегодня же.",
            "Мы вернём вам все деньги.",
            "Хорошо, вернем средства на карту.",
            "Я верную вам деньги прямо сейчас!",
        ] {
            assert!(matches!(check(promise, &facts, &[])[..], [Violation::Promise(_)]), "{promise}");
        }
        let refund = vec!["Маркетплейс вернут деньги в течение 10 дней после приёмки.".to_owned()];
        assert!(check("Вам вернут деньги в течение 10 дней после приёмки.", &refund, &[]).is_empty());
    }
}
