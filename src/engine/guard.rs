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
}

static SUM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(\d[\d\s]{0,9}\d|\d)\s*(?:₽|руб\w*|р\.)").expect("a valid built-in pattern"));

static PROMISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(верн[её]м\s+(вам\s+)?(деньги|средства|оплату|стоимость)|верну\s+деньги|возмест\w*|компенсаци\w*|компенсир\w*|выплат\w*|начисл\w*\s+бонус\w*|промокод\w*\s+[A-ZА-Я0-9]{3,}|скидк\w*\s+(в\s+)?\d+\s*%|бесплатн\w+\s+(доставк|замен|обмен)\w*)",
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
