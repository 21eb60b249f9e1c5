//! Size questions answered from size tables: a buyer who gives a body measurement ("рост 107",
//! "грудь 88", "талия 82 см", "сыну 4 года") and asks which size to take gets the table row
//! whose column for that measurement holds the value — or, between two rows, the larger one,
//! the usual advice of size charts. The columns are found by their headers, so any seller's
//! size tables work, not only the demo shop's.

use std::sync::LazyLock;

use regex::Regex;

use super::units::{Unit, UnitKind};

/// A body measurement a buyer can give, and a size table's column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Height,
    Chest,
    Waist,
    Hips,
    /// A child's age in years: the size by age when no height is given.
    Age,
}

impl Measure {
    /// The measure a column header names ("Обхват груди, см", "Размер (рост), см").
    fn of_header(header: &str) -> Option<Self> {
        let h = header.to_lowercase().replace('ё', "е");
        if h.contains("рост") {
            Some(Self::Height)
        } else if h.contains("груд") {
            Some(Self::Chest)
        } else if h.contains("тали") {
            Some(Self::Waist)
        } else if h.contains("бедр") || h.contains("бедер") {
            Some(Self::Hips)
        } else if h.contains("возраст") {
            Some(Self::Age)
        } else {
            None
        }
    }
}

/// A measurement given in a question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Given {
    pub measure: Measure,
    pub value: f32,
}

/// A measure's word (or the marketplaces' short forms ОГ and ОБ; not ОТ, which is also
/// «от»), then at most two short words ("у меня", "примерно"), then the value.
static GIVEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \b(?P<word>рост\w*|обхват\s+груд\w*|груд\w*|ог|обхват\s+тали\w*|тали\w*|обхват\s+б[её]д\w*|б[её]др\w*|об)
        (?:\s*[:\-—=]?\s*(?:[а-яё]{1,8}\s+){0,2}?)
        (?P<value>\d{2,3}(?:[.,]\d)?)\b",
    )
    .expect("a valid built-in pattern")
});
/// A value before its measure: "107 см рост", "88 грудь".
static GIVEN_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<value>\d{2,3}(?:[.,]\d)?)\s*(?:см\s*)?(?P<word>рост\w*|груд\w*|тали\w*|б[её]др\w*)")
        .expect("a valid built-in pattern")
});
/// A child's age: "4 года", "5 лет", "3 годика".
static AGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?P<value>1[0-7]|[1-9])\s*(?:год|года|годик\w*|лет)\b").expect("a valid pattern"));
/// The question asks which size to take.
static ASKS_SIZE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"размер|брать|взять|беру|возьм|подойд|подбер|выбрат|подход").expect("a valid built-in pattern")
});

fn measure_of_word(word: &str) -> Option<Measure> {
    let w = word.replace('ё', "е");
    match w.as_str() {
        "ог" => Some(Measure::Chest),
        "об" => Some(Measure::Hips),
        _ => Measure::of_header(&w),
    }
}

fn number(s: &str) -> Option<f32> {
    s.replace(',', ".").parse().ok()
}

/// The measurements a size question gives (none when it does not ask which size to take).
pub fn given(query: &str) -> Vec<Given> {
    let low = query.to_lowercase();
    if !ASKS_SIZE.is_match(&low) {
        return Vec::new();
    }
    let mut out: Vec<Given> = Vec::new();
    let mut add = |measure: Measure, value: Option<f32>| {
        if let Some(value) = value
            && !out.iter().any(|g| g.measure == measure)
        {
            out.push(Given { measure, value });
        }
    };
    for c in GIVEN.captures_iter(&low).chain(GIVEN_AFTER.captures_iter(&low)) {
        if let Some(m) = measure_of_word(&c["word"]) {
            add(m, number(&c["value"]));
        }
    }
    if let Some(c) = AGE.captures(&low) {
        add(Measure::Age, number(&c["value"]));
    }
    // A height tells a child's size better than an age.
    if out.iter().any(|g| g.measure == Measure::Height) {
        out.retain(|g| g.measure != Measure::Age);
    }
    out
}

/// The numbers of a cell as a range: "82–85" → (82, 85), "104" → (104, 104),
/// "1–1,5 года" → (1, 1.5).
fn range(cell: &str) -> Option<(f32, f32)> {
    let mut nums = cell
        .split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .filter(|s| s.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|s| number(s.trim_matches(['.', ','])));
    let lo = nums.next()?;
    let hi = nums.next().unwrap_or(lo);
    Some((lo.min(hi), lo.max(hi)))
}

/// For the units of one document, how well each fits the measurements `given`: for each
/// table, per measurement with a column there, the row whose range holds the value (or the
/// next larger row when the value falls between two); a row's fit is the share of the
/// table's applicable measurements it fits (0 for units outside tables).
pub fn fit(units: &[Unit], given: &[Given]) -> Vec<f32> {
    let mut out = vec![0.0; units.len()];
    if given.is_empty() {
        return out;
    }
    let mut blocks: Vec<usize> = units.iter().filter(|u| u.kind == UnitKind::TableRow).map(|u| u.block).collect();
    blocks.dedup();
    for block in blocks {
        let rows: Vec<usize> =
            (0..units.len()).filter(|&k| units[k].block == block && units[k].kind == UnitKind::TableRow).collect();
        let mut applicable = 0usize;
        let mut hits = vec![0usize; rows.len()];
        for g in given {
            let column: Vec<(usize, (f32, f32))> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, &k)| {
                    let cell = units[k].cells.iter().find(|(h, _)| Measure::of_header(h) == Some(g.measure))?;
                    range(&cell.1).map(|r| (i, r))
                })
                .collect();
            if column.len() < 2 {
                continue;
            }
            applicable += 1;
            let min = column.iter().map(|(_, r)| r.0).fold(f32::INFINITY, f32::min);
            if g.value < min * 0.8 {
                continue;
            }
            let holds = column.iter().find(|(_, (lo, hi))| *lo <= g.value && g.value <= *hi);
            let larger = || column.iter().filter(|(_, (lo, _))| *lo > g.value).min_by(|a, b| a.1.0.total_cmp(&b.1.0));
            if let Some((i, _)) = holds.or_else(larger) {
                hits[*i] += 1;
            }
        }
        if applicable == 0 {
            continue;
        }
        for (i, &k) in rows.iter().enumerate() {
            out[k] = hits[i] as f32 / applicable as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::units;

    const KIDS: &str = "Размер соответствует росту.\n\n| Размер (рост), см | Примерный возраст | Обхват груди, см |\n|---|---|---|\n| 98 | 3 года | 56 |\n| 104 | 4 года | 58 |\n| 110 | 5 лет | 60 |\n| 116 | 6 лет | 62 |";
    const WOMEN: &str = "**Платья**\n\n| Размер RU | Обхват груди, см | Обхват бёдер, см |\n|---|---|---|\n| 42 | 82–85 | 90–93 |\n| 44 | 86–89 | 94–97 |\n| 46 | 90–93 | 98–101 |";

    fn row(body: &str, q: &str) -> String {
        best(body, q).unwrap_or_else(|| panic!("no row for {q}"))
    }

    fn best(body: &str, q: &str) -> Option<String> {
        let us = units::units(body);
        let f = fit(&us, &given(q));
        let (k, score) = f.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        (*score > 0.0).then(|| us[k].text.clone())
    }

    #[test]
    fn a_measurement_finds_its_row_or_the_next_larger() {
        assert_eq!(
            given("сыну 4 года рост 107 см, какой размер брать"),
            vec![Given { measure: Measure::Height, value: 107.0 }],
            "the height, not the age"
        );
        assert!(row(KIDS, "сыну 4 года рост 107 см, какой размер брать").contains("— 110;"));
        assert!(row(KIDS, "ребенку 5 лет, какой размер подойдет?").contains("— 110;"));
        assert!(row(KIDS, "рост у дочки 104, какой размер взять").contains("— 104;"));
        assert!(row(WOMEN, "обхват груди 87, какой размер брать").starts_with("Размер RU — 44"));
        assert!(row(WOMEN, "грудь 85,5 какой размер?").starts_with("Размер RU — 44"), "between: larger");
        assert!(row(WOMEN, "ог 91 об 99 подскажите размер").starts_with("Размер RU — 46"));
        assert!(row(WOMEN, "98 бедра какой размер").starts_with("Размер RU — 46"));
        assert!(row(WOMEN, "обхват бёдер 95 какой размер").starts_with("Размер RU — 44"));
    }

    #[test]
    fn no_size_question_or_no_fitting_column_picks_nothing() {
        assert_eq!(best(KIDS, "рост 107, рукав какой длины?"), None, "not a question of which size");
        assert_eq!(best(WOMEN, "рост 165 какой размер брать"), None, "no height column");
        assert_eq!(best(WOMEN, "грудь 130 какой размер"), None, "beyond the table");
        assert_eq!(best("Просто текст. Без таблиц.", "рост 107 какой размер"), None);
        assert!(given("какой размер брать").is_empty());
    }
}
