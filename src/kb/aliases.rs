//! Abbreviations a knowledge base defines itself: "Система быстрых платежей (СБП)", "ПВЗ
//! (пункт выдачи заказов)". A buyer who writes the long form finds the passages that use only
//! the abbreviation, and the other way round: the text search's query gets the other form added.
//! Mined from every document's text when it is indexed, so a seller's own articles get the
//! same benefit as the built-in synonyms give the common words.
//!
//! A pair is accepted only when the initials of the long form's words spell the abbreviation
//! (a simplified Schwartz–Hearst rule): "закрывающие документы (УПД)" is not a definition.

use std::collections::HashMap;

use super::analyzer::{normalize, words};
use crate::store::kb::IndexDoc;

/// The longest abbreviation mined, in letters.
const MAX_LETTERS: usize = 6;
/// At most this many pairs per document (a pathological document cannot grow the table).
const MAX_PER_DOC: usize = 32;
/// The longest text inside a definition's brackets, in characters.
const MAX_INSIDE_CHARS: usize = 80;

/// One mined pair: the abbreviation (normalized) and its long form as written (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Alias {
    short: String,
    long: String,
}

/// The pairs a text defines, each once, in the order they appear.
fn mine(text: &str) -> Vec<Alias> {
    let mut out: Vec<Alias> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let before = &rest[..open];
        let after = &rest[open + 1..];
        // A definition is short: look for its closing bracket nearby only (bounded work per
        // bracket, whatever the text).
        let window = super::analyzer::prefix(after, MAX_INSIDE_CHARS);
        let Some(close) = window.find(')') else {
            rest = after;
            continue;
        };
        let inside = after[..close].trim();
        let found = if is_abbreviation(inside) {
            // "Система быстрых платежей (СБП)": the long form ends just before the bracket.
            long_form_before(before, inside)
        } else {
            // "СБП (система быстрых платежей)": the abbreviation ends just before the bracket.
            abbreviation_before(before)
                .filter(|short| initials_match(inside, short))
                .map(|short| (short, inside.to_owned()))
        };
        if let Some((short, long)) = found {
            let a = Alias { short: normalize(&short), long: long.to_lowercase() };
            if !out.contains(&a) {
                out.push(a);
                if out.len() == MAX_PER_DOC {
                    break;
                }
            }
        }
        rest = &after[close + 1..];
    }
    out
}

/// The last word of `before` when it is an abbreviation right before the bracket.
fn abbreviation_before(before: &str) -> Option<String> {
    let last = words(before).last().map(|(_, w)| w)?;
    (before.trim_end().ends_with(last) && is_abbreviation(last)).then(|| last.to_owned())
}

/// 2–6 capital letters (Cyrillic or Latin), nothing else.
fn is_abbreviation(s: &str) -> bool {
    let n = s.chars().count();
    (2..=MAX_LETTERS).contains(&n) && s.chars().all(|c| c.is_alphabetic() && c.is_uppercase())
}

/// The words right before the bracket whose initials spell `short`, joined by spaces.
fn long_form_before(before: &str, short: &str) -> Option<(String, String)> {
    let n = short.chars().count();
    let ws: Vec<&str> = words(before).map(|(_, w)| w).collect();
    if ws.len() < n || !before.trim_end().ends_with(ws.last()?) {
        return None;
    }
    let long = ws[ws.len() - n..].join(" ");
    initials_match(&long, short).then(|| (short.to_owned(), long))
}

/// Whether the words of `long` (as many as `short` has letters) start with its letters.
fn initials_match(long: &str, short: &str) -> bool {
    let ws: Vec<&str> = words(long).map(|(_, w)| w).collect();
    let letters: Vec<char> = short.chars().flat_map(char::to_lowercase).collect();
    ws.len() == letters.len()
        && ws.iter().zip(&letters).all(|(w, l)| w.chars().next().is_some_and(|c| c.to_lowercase().eq([*l])))
        && ws.iter().all(|w| !w.chars().any(|c| c.is_ascii_digit()))
}

/// The mined pairs of every document, kept by document so a changed one is mined again alone.
#[derive(Debug, Default)]
pub struct Aliases {
    /// Each document's pairs, with the long form's words (normalized).
    by_doc: HashMap<String, Vec<(Alias, Vec<String>)>>,
}

impl Aliases {
    /// Replaces the pairs of a document with those its title and body define.
    pub fn set_doc(&mut self, d: &IndexDoc) {
        self.set(&d.doc, &format!("{}\n{}", d.title, d.body));
    }

    /// Replaces the pairs of `doc` with those `text` defines.
    fn set(&mut self, doc: &str, text: &str) {
        let found: Vec<(Alias, Vec<String>)> = mine(text)
            .into_iter()
            .map(|a| {
                let long = words(&a.long).map(|(_, w)| normalize(w)).collect();
                (a, long)
            })
            .collect();
        if found.is_empty() {
            self.by_doc.remove(doc);
        } else {
            self.by_doc.insert(doc.to_owned(), found);
        }
    }

    pub fn remove(&mut self, doc: &str) {
        self.by_doc.remove(doc);
    }

    /// `query` with the other form of each abbreviation or long form it uses appended (each
    /// addition once); `None` when it uses none.
    pub fn expand(&self, query: &str) -> Option<String> {
        let q_words: Vec<String> = words(query).map(|(_, w)| normalize(w)).collect();
        let mut extra: Vec<&str> = Vec::new();
        for (a, long) in self.by_doc.values().flatten() {
            let add = if q_words.contains(&a.short) {
                Some(a.long.as_str())
            } else {
                let named = long.iter().all(|l| q_words.iter().any(|w| same_word(l, w)));
                (!long.is_empty() && named).then_some(a.short.as_str())
            };
            if let Some(text) = add
                && !extra.contains(&text)
            {
                extra.push(text);
            }
        }
        (!extra.is_empty()).then(|| format!("{query} {}", extra.join(" ")))
    }
}

/// Two forms of one word: equal when short, else sharing a start of at least four letters
/// that leaves at most three of the longer: "система" and "систему", "платежей" and
/// "платежа", not "систематически".
fn same_word(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let shorter = a.len().min(b.len());
    if shorter < 4 {
        return a == b;
    }
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    common >= 4 && common + 3 >= a.len().max(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        mine(text).into_iter().map(|a| (a.short, a.long)).collect()
    }

    #[test]
    fn definitions_in_either_order_are_mined() {
        assert_eq!(
            pairs("- Система быстрых платежей (СБП) — без комиссии."),
            [("сбп".to_owned(), "система быстрых платежей".to_owned())]
        );
        assert_eq!(
            pairs("Заберите заказ в ПВЗ (пункт выдачи заказов) рядом с домом."),
            [("пвз".to_owned(), "пункт выдачи заказов".to_owned())]
        );
        assert_eq!(
            pairs("Измерьте обхват груди (ОГ) и обхват бёдер (ОБ)."),
            [("ог".to_owned(), "обхват груди".to_owned()), ("об".to_owned(), "обхват бёдер".to_owned())]
        );
    }

    #[test]
    fn brackets_that_define_nothing_are_left() {
        for text in [
            "передаёт закрывающие документы (УПД)",
            "«Ладья» (LADYA)",
            "на Wildberries (WB)",
            "утюг до 150 °C (режим «две точки»)",
            "размер (L32)",
            "незакрытая скобка (СБП",
            "(СБП) в начале",
        ] {
            assert!(mine(text).is_empty(), "{text}: {:?}", mine(text));
        }
    }

    #[test]
    fn a_query_gets_the_other_form() {
        let mut aliases = Aliases::default();
        aliases.set("a:1", "Оплата через Систему быстрых платежей (СБП).");
        assert_eq!(
            aliases.expand("есть комиссия по сбп?").as_deref(),
            Some("есть комиссия по сбп? систему быстрых платежей")
        );
        assert_eq!(
            aliases.expand("можно через систему быстрых платежей").as_deref(),
            Some("можно через систему быстрых платежей сбп")
        );
        assert_eq!(
            aliases.expand("Система Быстрых Платежей").as_deref(),
            Some("Система Быстрых Платежей сбп"),
            "any case form of the long form"
        );
        assert_eq!(aliases.expand("быстрые платежи"), None, "the whole long form, not a part");
        assert_eq!(aliases.expand("систематически быстрые платежи"), None, "not another word of the same start");
        assert_eq!(aliases.expand("можно картой"), None);
        aliases.remove("a:1");
        assert_eq!(aliases.expand("есть комиссия по сбп?"), None);
    }

    #[test]
    fn a_long_or_strange_text_is_mined_within_bounds() {
        let text = "Система быстрых платежей (СБП) ".repeat(10_000) + &"(((АБ) ".repeat(5_000);
        assert!(mine(&text).len() <= MAX_PER_DOC);
        let many: String = (0..100).map(|i| format!("Альфа{i} бета (АБ) ")).collect();
        assert!(mine(&many).len() <= MAX_PER_DOC);
    }
}
