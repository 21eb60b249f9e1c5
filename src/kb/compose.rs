//! Answers composed from the units that hold the fact asked for: the documents retrieval
//! found are cut into units ([`super::units`]), each unit is scored against the question
//! (its distinctive words, its meaning, what kind of fact is asked, the marketplace named), and
//! the answer is the best unit with what it needs around it (a list's introduction, a short
//! following sentence), one to four sentences — never an article's opening by default.

use std::collections::HashSet;

use serde::Serialize;

use super::units::{self, Unit, UnitKind};
use super::{Kb, Result, SearchHit, rows};

/// What the question says beyond its words, for choosing between units.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// The marketplace the buyer named or is talking about.
    pub marketplace: Option<Marketplace>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Marketplace {
    Wb,
    Ozon,
}

impl Marketplace {
    /// The marketplace a text names ("вб", "вайлдберриз", "ozon", "озон"), if exactly one.
    pub fn named_in(text: &str) -> Option<Self> {
        let low = text.to_lowercase();
        let named: Vec<Self> = super::analyzer::words(&low).filter_map(|(_, w)| Self::of_word(w)).collect();
        match (named.contains(&Self::Wb), named.contains(&Self::Ozon)) {
            (true, false) => Some(Self::Wb),
            (false, true) => Some(Self::Ozon),
            _ => None,
        }
    }

    pub fn market(self) -> crate::marketplace::Market {
        match self {
            Self::Wb => crate::marketplace::Market::Wb,
            Self::Ozon => crate::marketplace::Market::Ozon,
        }
    }

    pub fn of_market(m: crate::marketplace::Market) -> Self {
        match m {
            crate::marketplace::Market::Wb => Self::Wb,
            crate::marketplace::Market::Ozon => Self::Ozon,
        }
    }

    /// The marketplace one lower-case word names.
    fn of_word(w: &str) -> Option<Self> {
        let wb = matches!(
            w,
            "вб" | "wb" | "wildberries" | "вайлдберриз" | "валдберис" | "вайлдбериз" | "валберис" | "вайлд"
        ) || ["wildberr", "вайлдбер", "валдбер", "вилдбер", "валбер"].iter().any(|p| w.starts_with(p));
        if wb {
            Some(Self::Wb)
        } else if w.starts_with("ozon") || w.starts_with("озон") {
            Some(Self::Ozon)
        } else {
            None
        }
    }

    /// The text without the words that name a marketplace ("сколько лежит в пвз вб" →
    /// "сколько лежит в пвз"), for a question asked again about the other one.
    pub fn without(text: &str) -> String {
        let low = text.to_lowercase();
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for (at, w) in super::analyzer::words(&low) {
            if Self::of_word(w).is_some() {
                out.push_str(low.get(from..at).unwrap_or(""));
                from = at + w.len();
            }
        }
        out.push_str(low.get(from..).unwrap_or(""));
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// An answer built from one document's units.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Composition {
    pub doc: String,
    pub title: String,
    /// The reply text: the chosen units, in the document's order.
    pub text: String,
    /// The chosen units' positions in the document.
    pub units: Vec<usize>,
    /// The best unit's score (0–1.5 or so; comparable within one question).
    pub score: f32,
    /// How much of the question's distinctive words the best unit covers (0–1).
    pub coverage: f32,
    /// The best unit's similarity of meaning with the question, when the model is installed.
    pub similarity: Option<f32>,
}

/// Documents considered (the best of retrieval).
const CANDIDATES: usize = 4;
/// How much retrieval's ranking of the documents counts against a unit's own evidence: its
/// score relative to the best (flat for rank fusion), and a step per rank (0.04–0.18 tried on
/// the development sets: 0.12 is as good as any there; never tuned on the held-out set).
const PRIOR: f32 = 0.5;
const RANK_STEP: f32 = 0.12;
/// What a size table's row that fits the buyer's measurements adds: enough to beat a row or
/// sentence that only shares words with the question (an age, the word «размер»).
const FIT: f32 = 0.35;
/// What a unit telling the stock adds for a stock question, and a product card's field for a
/// question asking for it.
const STOCK: f32 = 0.15;
const FIELD: f32 = 0.3;
/// What a unit telling the kind of number asked for (money, days) adds.
const KIND: f32 = 0.08;
/// The longest composed answer, in characters.
const MAX_CHARS: usize = 480;
/// How much below the best unit another block's best unit may score and still be added.
const RUNNER_UP: f32 = 0.1;

/// Whether the question asks for a number: an amount, a duration or another quantity (how
/// many, how often, which temperature).
fn asks_number(q: &str) -> bool {
    const WORDS: &[&str] = &[
        // Amounts.
        "стоимост",
        "цена",
        "цену",
        "платн",
        "комисс",
        "удерж",
        "руб",
        "₽",
        "процент",
        "скидк",
        "сумм",
        // Durations.
        "когда",
        "срок",
        "как долго",
        "долго ли",
        "часов",
        "недел",
        // Quantities ("сколько стоит", "через сколько", "до скольки" too).
        "скольк",
        "скока",
        "скоко",
        "как часто",
        "температур",
        "градус",
    ];
    mentions_any(q, WORDS)
}

/// Whether the question asks for an amount of money ("за возврат деньги берут?", "доставка
/// платная?", "бесплатно?" by its «платн»), and whether it asks for a duration ("через скок вернут", "сколько дней есть").
fn asks_amount(q: &str) -> bool {
    mentions_any(
        q,
        &[
            "стоимост",
            "стоит",
            "цена",
            "цену",
            "платн",
            "комисс",
            "удерж",
            "рубл",
            "руб.",
            "₽",
            "сумм",
            "берут",
            "берете",
            "берёте",
            "возьмут",
        ],
    )
}

fn asks_duration(q: &str) -> bool {
    mentions_any(
        q,
        &[
            "когда",
            "срок",
            "как долго",
            "долго ли",
            "дней",
            " дня",
            "недел",
            "месяц",
            "через скольк",
            "через скок",
            "через скока",
            "за скольк",
            "за скок",
            "быстро",
        ],
    )
}

/// Whether a unit tells an amount of money, and whether it tells a duration.
fn tells_amount(text: &str) -> bool {
    mentions_any(text, &["₽", "рубл", "руб.", "платн"])
}

fn tells_duration(text: &str) -> bool {
    mentions_any(text, &[" дн", " дня", " дней", "недел", "месяц", " часа", " часов", " час ", "сутк", "сразу"])
}

/// Whether the lower-cased text contains any of the word stems.
fn mentions_any(text: &str, stems: &[&str]) -> bool {
    let low = text.to_lowercase();
    stems.iter().any(|w| low.contains(w))
}

/// Whether the question asks whether something is in stock or when it will be ("есть M?",
/// "остались?", "когда пополните?").
fn asks_stock(q: &str) -> bool {
    const WORDS: &[&str] = &[
        "есть ли",
        "есть сейчас",
        "сейчас есть",
        "есть щас",
        "щас есть",
        "вообще есть",
        "купить сейчас",
        "купить его сейчас",
        "купить её сейчас",
        "купить ее сейчас",
        "есть в ",
        "наличи",
        "остал",
        "закончил",
        "в продаже",
        "пополн",
        "поступ",
    ];
    mentions_any(q, WORDS)
}

/// The fields of a product card that the question asks for ([`crate::texts::product`]).
fn asked_fields(q: &str) -> Vec<&'static str> {
    use crate::texts::product as f;
    let any = |ws: &[&str]| mentions_any(q, ws);
    let mut out = Vec::new();
    if asks_stock(q) {
        out.extend([f::IN_STOCK, f::OUT_OF_STOCK]);
    }
    // A fibre named ("скок кашемира?", "это хлопок?") asks what the product is made of.
    const FIBRES: &[&str] =
        &["хлоп", "шерст", "кашемир", "мерино", "эластан", "вискоз", "полиэстер", "полиамид", "лён", "льн", "синтет"];
    if any(&["из чего", "состав", "ткань", "ткани", "материал", "процент"]) || any(FIBRES)
    {
        out.push(f::COMPOSITION);
    }
    if any(&["сколько стоит", "скока стоит", "цена", "цену", "почём", "почем", "стоимость"])
    {
        out.push(f::PRICE);
    }
    if any(&["какие размеры", "какие есть размеры", "размерный ряд", "размерная линейка", "до какого размера"])
    {
        out.push(f::SIZES);
    }
    if any(&["цвет", "цвета"]) {
        out.push(f::COLOR);
    }
    out
}

/// Whether a unit tells what is in stock or when it comes back (a card's «Нет в наличии», a
/// restock table's row).
fn tells_stock(text: &str) -> bool {
    mentions_any(text, &["наличи", "пополн", "поступ"])
}

fn unit_mentions(text: &str) -> (bool, bool) {
    let low = text.to_lowercase();
    let wb = low.contains("wildberries") || low.contains(" wb") || low.starts_with("wb") || low.contains("вб");
    let ozon = low.contains("ozon") || low.contains("озон");
    (wb, ozon)
}

fn has_number(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        || ["один", "два", "две", "три", "пять", "десят", "недел", "сутк", "месяц"]
            .iter()
            .any(|w| text.to_lowercase().contains(w))
}

impl Kb {
    /// The best answer to `query` from the documents of `hits` (best first), or `None` when
    /// none of their units shares anything with the question.
    pub fn compose(&self, query: &str, hits: &[SearchHit], hints: &Hints) -> Result<Option<Composition>> {
        let query = super::analyzer::prefix(query, super::MAX_QUERY_CHARS);
        let q_terms: HashSet<String> = self.analyzer.query_terms(query).into_iter().map(|t| t.text).collect();
        let docs: Vec<(usize, &SearchHit, rows::IndexDoc)> = hits
            .iter()
            .take(CANDIDATES)
            .enumerate()
            .filter_map(|(rank, h)| {
                self.db.with_conn(|c| rows::load_doc(c, &h.doc)).ok().flatten().map(|d| (rank, h, d))
            })
            .collect();
        if docs.is_empty() {
            return Ok(None);
        }
        // The units of the candidate documents, and how many of them each term occurs in: a
        // word in every unit ("возврат" in the returns articles) tells nothing about which
        // unit answers; a rare one ("удерживает", "кошелёк") does.
        let mut all: Vec<(usize, Vec<Unit>, Vec<HashSet<String>>)> = Vec::new();
        let mut rarity = units::Rarity::default();
        for (i, (_, _, d)) in docs.iter().enumerate() {
            let us = units::units(&d.body);
            // Every field of a product card is about the product: its name counts in each.
            let about = if d.kind == "product" { d.title.as_str() } else { "" };
            let terms: Vec<HashSet<String>> = us
                .iter()
                .map(|u| {
                    let t = format!("{about} {} {}", u.heading.as_deref().unwrap_or(""), u.text);
                    self.analyzer.analyze(&t).into_iter().map(|t| t.text).collect()
                })
                .collect();
            for ts in &terms {
                rarity.count(ts.iter().filter(|t| q_terms.contains(*t)));
            }
            all.push((i, us, terms));
        }
        let q_weight = rarity.weight(&q_terms).max(1e-3);
        let q_vec = match &self.embedder {
            Some(e) => Some(self.embed_query(e, query)?),
            None => None,
        };
        let wants_number = asks_number(query);
        let wants_stock = asks_stock(query);
        // "когда завезёте?" of a product is answered by its own restock row, whatever its unit.
        let (wants_amount, wants_duration) = (asks_amount(query), asks_duration(query) && !wants_stock);
        let fields = asked_fields(query);
        let measured = super::measure::given(query);
        let top_score = docs.first().map_or(1.0, |(_, h, _)| h.score.max(1e-6));
        let mut best: Option<(f32, f32, Option<f32>, usize, usize)> = None; // score, coverage, sim, doc i, unit j
        let mut scores: Vec<Vec<f32>> = Vec::new();
        for (i, us, terms) in &all {
            let (rank, hit, d) = &docs[*i];
            let prior = PRIOR * (hit.score / top_score).clamp(0.0, 1.0) - RANK_STEP * *rank as f32;
            let mut doc_scores = Vec::with_capacity(us.len());
            let fits = super::measure::fit(us, &measured);
            let card = d.kind == "product";
            for (j, u) in us.iter().enumerate() {
                let covered = rarity.weight(terms[j].iter().filter(|t| q_terms.contains(*t)));
                let coverage = covered / q_weight;
                let sim = match (&q_vec, &self.embedder) {
                    (Some(q), Some(_)) => Some(super::dot(q, &self.unit_vector(&d.title, u)?)),
                    _ => None,
                };
                let meaning = sim.map_or(0.0, |s| ((s - 0.78) / 0.12).clamp(0.0, 1.0));
                let mut score = prior + 0.55 * coverage + if sim.is_some() { 0.45 * meaning } else { 0.0 };
                if wants_number && has_number(&u.text) {
                    score += 0.08;
                }
                // The kind of number asked for: a fee, or a number of days (in a unit that
                // shares something with the question: the kind alone answers nothing).
                let kind = (wants_amount && tells_amount(&u.text)) || (wants_duration && tells_duration(&u.text));
                if kind && coverage > 0.0 {
                    score += KIND;
                }
                // The card's field asked for ("есть M?" → «Нет в наличии») answers, more than
                // the fields whose words only name the product (its colour, a size).
                if card && fields.iter().any(|f| u.text.starts_with(f)) {
                    score += FIELD;
                } else if card && units::is_field_text(&u.text) {
                    // A field not asked for: its words only name the product ("белая" → «Цвет:
                    // белый»); the description's advice answers.
                    score -= FIELD / 2.0;
                } else if wants_stock && tells_stock(&u.text) {
                    score += STOCK;
                }
                if let Some(m) = hints.marketplace {
                    let (wb, ozon) = unit_mentions(&u.text);
                    let (this, other) = match m {
                        Marketplace::Wb => (wb, ozon),
                        Marketplace::Ozon => (ozon, wb),
                    };
                    if this {
                        score += 0.08;
                    } else if other {
                        score -= 0.15;
                    }
                }
                // A size question with measurements: the size table's row they fit.
                score += FIT * fits[j];
                // A question is rarely answered by a bare introduction ending in ":".
                if u.text.ends_with(':') {
                    score -= 0.05;
                }
                doc_scores.push(score);
                if best.is_none_or(|b| score > b.0) {
                    best = Some((score, coverage, sim, *i, j));
                }
            }
            scores.push(doc_scores);
        }
        let Some((score, coverage, similarity, i, j)) = best else { return Ok(None) };
        let (_, hit, d) = &docs[i];
        let us = &all[i].1;
        // A card's field asked for ("а оно вообще есть щас?" of the card the talk is about)
        // answers without sharing a word with the question.
        let asked_field = d.kind == "product" && fields.iter().any(|f| us[j].text.starts_with(f));
        if coverage <= 0.0 && similarity.is_none_or(|s| s < 0.84) && !asked_field {
            return Ok(None);
        }
        let chosen = with_runner_up(us, &scores[i], j, around(us, &scores[i], j));
        let mut text = join(us, &chosen);
        // A card's field alone ("Нет в наличии") does not say what it is about.
        if d.kind == "product" && units::is_field_text(&us[chosen[0]].text) {
            text = format!("{} — {}", d.title, lower_first(&text));
        }
        Ok(Some(Composition {
            doc: hit.doc.clone(),
            title: d.title.clone(),
            text,
            units: chosen,
            score,
            coverage,
            similarity,
        }))
    }

    /// The embedding of one unit (in its document's context): stored when the document was
    /// indexed.
    fn unit_vector(&self, title: &str, u: &Unit) -> Result<Vec<f32>> {
        self.unit_vector_of(&units::context_text(title, u))
    }
}

/// The best unit `j` with what it needs: the introduction of its list (and the list's other
/// items that score nearly as well), a previous sentence it depends on, a short next sentence
/// that continues it — up to [`MAX_CHARS`].
fn around(us: &[Unit], scores: &[f32], j: usize) -> Vec<usize> {
    let u = &us[j];
    let same_block: Vec<usize> = (0..us.len()).filter(|&k| us[k].block == u.block).collect();
    let mut chosen = vec![j];
    let len = |ks: &[usize]| ks.iter().map(|&k| us[k].text.chars().count() + 1).sum::<usize>();
    match u.kind {
        UnitKind::ListItem => {
            if let Some(&intro) = same_block.first()
                && us[intro].kind == UnitKind::Sentence
                && us[intro].text.ends_with(':')
            {
                chosen.push(intro);
            }
            // A procedure ("1. … 2. …") or a short list answers as a whole.
            let items: Vec<usize> = same_block.iter().copied().filter(|&k| us[k].kind == UnitKind::ListItem).collect();
            for &k in &items {
                if k != j && (scores[k] >= scores[j] * 0.85 || items.len() <= 3) {
                    chosen.push(k);
                }
            }
        }
        UnitKind::TableRow => {}
        UnitKind::Sentence => {
            let first = u.text.split_whitespace().next().unwrap_or("").to_lowercase();
            let depends = u.text.chars().next().is_some_and(char::is_lowercase)
                || matches!(
                    first.as_str(),
                    "это"
                        | "она"
                        | "он"
                        | "они"
                        | "оно"
                        | "так"
                        | "такой"
                        | "такая"
                        | "там"
                        | "тогда"
                        | "поэтому"
                        | "но"
                );
            if depends && j > 0 && us[j - 1].block == u.block {
                chosen.push(j - 1);
            }
            if u.text.ends_with(':') {
                // An introduction: what it introduces.
                for k in same_block.iter().copied().filter(|&k| k > j).take(4) {
                    chosen.push(k);
                }
            } else if let Some(&next) = same_block.iter().find(|&&k| k == j + 1) {
                let short = us[next].text.chars().count() <= 140;
                if short && scores[next] >= scores[j] * 0.7 {
                    chosen.push(next);
                }
            }
        }
    }
    chosen.sort_unstable();
    chosen.dedup();
    // Keep within the length, dropping from the far end but never the best unit.
    while chosen.len() > 1 && len(&chosen) > MAX_CHARS {
        let far = *chosen.iter().filter(|&&k| k != j).max_by_key(|&&k| k.abs_diff(j)).unwrap_or(&j);
        chosen.retain(|&k| k != far);
    }
    chosen
}

/// `chosen` (around the best unit `j`) and a second fact the question may be after: the best
/// unit of another block of the same document, when it scores within [`RUNNER_UP`] of `j` and
/// the answer stays within [`MAX_CHARS`]. In the document's order.
fn with_runner_up(us: &[Unit], scores: &[f32], j: usize, mut chosen: Vec<usize>) -> Vec<usize> {
    let runner_up = (0..us.len())
        .filter(|k| !chosen.contains(k) && us[*k].block != us[j].block)
        .max_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    if let Some(k) = runner_up
        && scores[k] >= scores[j] - RUNNER_UP
        && chosen.iter().chain([&k]).map(|&c| us[c].text.chars().count() + 1).sum::<usize>() <= MAX_CHARS
    {
        chosen.push(k);
        chosen.sort_unstable();
    }
    chosen
}

fn lower_first(s: &str) -> String {
    let mut cs = s.chars();
    cs.next().map(|c| c.to_lowercase().chain(cs).collect()).unwrap_or_default()
}

/// The chosen units as chat text: sentences joined by spaces, list items on their own lines.
fn join(us: &[Unit], chosen: &[usize]) -> String {
    let mut out = String::new();
    for &k in chosen {
        let u = &us[k];
        if !out.is_empty() {
            out.push(if matches!(u.kind, UnitKind::ListItem | UnitKind::TableRow) { '\n' } else { ' ' });
        }
        if u.kind == UnitKind::ListItem {
            out.push_str("• ");
        }
        out.push_str(&u.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marketplace_a_buyer_names() {
        assert_eq!(Marketplace::named_in("как вернуть на вб"), Some(Marketplace::Wb));
        assert_eq!(Marketplace::named_in("заказ на Wildberries"), Some(Marketplace::Wb));
        assert_eq!(Marketplace::named_in("с озона"), Some(Marketplace::Ozon));
        assert_eq!(Marketplace::named_in("вб или озон"), None);
        assert_eq!(Marketplace::named_in("как вернуть"), None);
        assert_eq!(Marketplace::without("Скок дней лежит в пвз ВБ?"), "скок дней лежит в пвз ?");
        assert_eq!(Marketplace::without("а на озоне и wildberries"), "а на и");
    }

    #[test]
    fn a_question_for_a_quantity_wants_a_unit_with_a_number() {
        for q in [
            "на озоне можно продлить хранение? и на сколько",
            "кардиган можно гладить? на какой температуре",
            "как часто пополняете?",
            "скока пар в наборе",
        ] {
            assert!(asks_number(q), "{q}");
        }
        assert!(!asks_number("можно вернуть носки?"));
        assert!(asks_stock("а платье в рубчик оливковое в M есть сейчас?"));
        assert!(asks_stock("футболки белые ещё остались?"));
        assert!(!asks_stock("есть курьерская доставка?"));
        use crate::texts::product as f;
        assert_eq!(asked_fields("свитер из чего сделан? сколько стоит"), vec![f::COMPOSITION, f::PRICE]);
        assert_eq!(asked_fields("платье в M есть сейчас?"), vec![f::IN_STOCK, f::OUT_OF_STOCK]);
        assert_eq!(asked_fields("в кардигане серый меланж скок кашемира?"), vec![f::COMPOSITION]);
        assert!(asked_fields("как стирать пуховик").is_empty());
        assert!(has_number("Продлить можно один раз, на 7 дней."));
        assert!(!has_number("Продлить можно в приложении."));
    }

    #[test]
    fn the_kind_of_number_asked_for_is_money_or_days() {
        assert!(asks_amount("за возврат на вб деньги берут?"));
        assert!(asks_amount("доставка в пвз платная у вас?"));
        assert!(asks_amount("возврат бесплатный?") && tells_amount("Возврат брака бесплатный."));
        assert!(!asks_amount("через скок вернут деньги за возврат"));
        assert!(asks_duration("через скок вернут деньги за возврат"));
        assert!(asks_duration("сколько дней есть чтобы вернуть футболку с браком"));
        assert!(!asks_duration("можно сегодня забрать?"), "«сегодня» is no number of days");
        assert!(tells_amount("При возврате после получения WB удерживает 100 ₽."));
        assert!(!asks_amount("из чего водолазка в рубчик?"), "«рубчик» is no rouble");
        assert!(!tells_amount("платье в рубчик LD-DR-024"));
        assert!(tells_duration("Деньги приходят за 3–5 дней."));
        assert!(!tells_duration("Оплата частями доступна на обеих площадках."), "«частями» is no hour");
    }

    #[test]
    fn a_list_item_comes_with_its_introduction() {
        let us = units::units(
            "Чтобы сэкономить:\n\n- выбирайте ПВЗ;\n- объединяйте заказы;\n- следите за акциями;\n- платите картой.\n\nДругое.",
        );
        let scores = vec![0.1, 0.9, 0.2, 0.1, 0.1, 0.0];
        let chosen = around(&us, &scores, 1);
        assert_eq!(chosen, vec![0, 1]);
        assert_eq!(join(&us, &chosen), "Чтобы сэкономить:\n• выбирайте ПВЗ;");
    }

    #[test]
    fn a_nearly_as_good_unit_of_another_block_comes_too() {
        let us = units::units("Продлить можно один раз.\n\nДругое.\n\nСрок — ещё 7 дней.");
        let chosen = with_runner_up(&us, &[0.9, 0.1, 0.85], 0, vec![0]);
        assert_eq!(join(&us, &chosen), "Продлить можно один раз. Срок — ещё 7 дней.");
        let far = with_runner_up(&us, &[0.9, 0.1, 0.7], 0, vec![0]);
        assert_eq!(far, vec![0], "a unit scoring well below the best stays out");
        let long = units::units(&format!("{0}.\n\n{0}.", "слово ".repeat(45).trim_end()));
        assert_eq!(long.len(), 2);
        assert_eq!(with_runner_up(&long, &[0.9, 0.9], 0, vec![0]), vec![0], "the answer stays short");
    }

    #[test]
    fn a_dependent_sentence_brings_the_one_before() {
        let us = units::units("Деньги вернутся на карту. Это занимает 3–5 дней. Другое предложение здесь.");
        let chosen = around(&us, &[0.2, 0.9, 0.1], 1);
        assert_eq!(join(&us, &chosen), "Деньги вернутся на карту. Это занимает 3–5 дней.");
    }
}
