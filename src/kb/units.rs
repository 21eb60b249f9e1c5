//! A document as the units an answer is built from: sentences of prose, list items, table
//! rows, each with the heading it stands under (a Markdown heading or a paragraph's bold
//! lead-in like "**Сколько стоит.**"). Search embeds each unit with its title and heading, so
//! the unit that holds the fact asked for can be found, not only the document; answers quote
//! the unit (and what it needs around it) instead of the article's opening.

/// One unit of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Plain text (Markdown emphasis removed), one sentence, list item or table row.
    pub text: String,
    /// The heading or bold lead-in it stands under, if any.
    pub heading: Option<String>,
    /// The block (paragraph, list or table) it belongs to: units of one block are adjacent.
    pub block: usize,
    pub kind: UnitKind,
    /// A table row's (column header, value) pairs; empty for other units.
    pub cells: Vec<(String, String)>,
}

impl Unit {
    /// A unit that is not a table row (no cells).
    fn new(text: String, heading: Option<String>, block: usize, kind: UnitKind) -> Self {
        Self { text, heading, block, kind, cells: Vec::new() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Sentence,
    /// An item of a list; the block's first unit is the sentence that introduces the list,
    /// when there is one.
    ListItem,
    TableRow,
}

/// The longest unit, in characters (a run-on sentence is cut at a clause end).
const MAX_UNIT_CHARS: usize = 400;

/// Splits a Markdown body into units, in order.
pub fn units(body: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    let mut block = 0;
    // A paragraph ending in ":" introduces the list that follows: they share a block.
    let mut intro = false;
    for para in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        let lines: Vec<&str> = para.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let is_list = lines.first().is_some_and(|l| list_item(l).is_some());
        if !(intro && is_list) {
            block += 1;
        }
        intro = false;
        if lines.iter().all(|l| l.starts_with('|')) {
            table(&lines, heading.as_deref(), block, &mut out);
            continue;
        }
        let mut prose = String::new();
        let mut local_heading = heading.clone();
        for line in &lines {
            if let Some(h) = line.strip_prefix('#') {
                heading = Some(plain(h.trim_start_matches('#')));
                local_heading = heading.clone();
            } else if let Some(item) = list_item(line) {
                flush(&mut prose, local_heading.as_deref(), block, &mut out);
                push(&mut out, Unit::new(plain(item), local_heading.clone(), block, UnitKind::ListItem));
            } else if lines.len() > 1 && is_field(line) {
                // "Состав: хлопок 100%" on a line of its own (product cards) is one unit.
                flush(&mut prose, local_heading.as_deref(), block, &mut out);
                push(&mut out, Unit::new(plain(line), local_heading.clone(), block, UnitKind::Sentence));
            } else {
                if !prose.is_empty() {
                    prose.push(' ');
                }
                prose.push_str(line);
            }
        }
        // A paragraph that is only a bold line is a heading for what follows.
        if let Some(h) = whole_bold(&prose) {
            heading = Some(h);
            continue;
        }
        // A bold lead-in ("**Сколько стоит.** …") heads its own paragraph.
        let (lead, rest) = lead_in(&prose);
        if let Some(l) = lead {
            local_heading = Some(l);
        }
        intro = rest.trim_end().ends_with(':');
        let mut rest = rest.to_owned();
        flush(&mut rest, local_heading.as_deref(), block, &mut out);
    }
    out
}

fn push(out: &mut Vec<Unit>, u: Unit) {
    if !u.text.is_empty() {
        out.push(u);
    }
}

/// Prose into sentence units.
fn flush(prose: &mut String, heading: Option<&str>, block: usize, out: &mut Vec<Unit>) {
    let text = plain(prose);
    for s in sentences(&text) {
        for piece in cut(&s, MAX_UNIT_CHARS) {
            push(out, Unit::new(piece, heading.map(str::to_owned), block, UnitKind::Sentence));
        }
    }
    prose.clear();
}

/// A Markdown table: each data row becomes "Header — value; Header — value".
fn table(lines: &[&str], heading: Option<&str>, block: usize, out: &mut Vec<Unit>) {
    let cells = |l: &str| -> Vec<String> { l.trim_matches('|').split('|').map(|c| plain(c.trim())).collect() };
    let rule = |l: &str| l.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
    let Some(head) = lines.first().map(|l| cells(l)) else { return };
    for line in lines.iter().skip(1).filter(|l| !rule(l)) {
        let row: Vec<(String, String)> = head.iter().cloned().zip(cells(line)).filter(|(_, v)| !v.is_empty()).collect();
        let text = row
            .iter()
            .map(|(h, v)| if h.is_empty() { v.clone() } else { format!("{h} — {v}") })
            .collect::<Vec<_>>()
            .join("; ");
        push(out, Unit { text, heading: heading.map(str::to_owned), block, kind: UnitKind::TableRow, cells: row });
    }
}

/// Whether a unit's text is a card's field or its stock line ("Состав: …", "Нет в наличии").
pub fn is_field_text(text: &str) -> bool {
    is_field(text) || text == crate::texts::product::OUT_OF_STOCK
}

/// "Name: value" with a short name.
fn is_field(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(name, value)| {
        !name.is_empty() && name.chars().count() <= 30 && !name.contains(['.', '!', '?']) && !value.trim().is_empty()
    })
}

fn list_item(line: &str) -> Option<&str> {
    if let Some(rest) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
        return Some(rest);
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 3 {
        let rest = &line[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r);
        }
    }
    None
}

/// `**Текст**` alone.
fn whole_bold(s: &str) -> Option<String> {
    let t = s.trim();
    let inner = t.strip_prefix("**")?.strip_suffix("**")?;
    (!inner.contains("**")).then(|| plain(inner))
}

/// A paragraph's bold lead-in and the rest.
fn lead_in(s: &str) -> (Option<String>, &str) {
    let t = s.trim_start();
    if let Some(rest) = t.strip_prefix("**")
        && let Some(end) = rest.find("**")
    {
        let lead = plain(&rest[..end]);
        let lead = lead.trim_end_matches(['.', ':']).trim().to_owned();
        return (Some(lead), rest[end + 2..].trim_start());
    }
    (None, t)
}

/// Markdown emphasis and links as plain text.
pub fn plain(s: &str) -> String {
    let mut out = s.replace("**", "").replace("__", "");
    // [text](url) → text
    while let Some(open) = out.find('[') {
        let Some(mid) = out[open..].find("](").map(|i| open + i) else { break };
        let Some(close) = out[mid..].find(')').map(|i| mid + i) else { break };
        let text = out[open + 1..mid].to_owned();
        out.replace_range(open..=close, &text);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Abbreviations after which a period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "т",
    "д",
    "е",
    "п",
    "г",
    "гг",
    "ул",
    "руб",
    "коп",
    "др",
    "пр",
    "см",
    "стр",
    "напр",
    "им",
    "тыс",
    "млн",
    "шт",
    "мин",
    "сек",
    "рис",
    "табл",
    "обл",
    "кв",
    "пос",
    "просп",
    "пл",
    "тел",
    "ок",
    "max",
    "min",
    "etc",
    "vs",
];

/// Splits prose into sentences: at `.`, `!`, `?` or `…` followed by a space and a capital
/// letter, a digit or an opening quote — not after an abbreviation or an initial.
pub fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?' | '…') {
            continue;
        }
        let Some(&(_, next)) = chars.get(k + 1) else { continue };
        if !next.is_whitespace() {
            continue;
        }
        let Some(&(_, after)) = chars.iter().skip(k + 2).find(|(_, ch)| !ch.is_whitespace()) else { continue };
        if !(after.is_uppercase() || after.is_ascii_digit() || matches!(after, '«' | '"' | '(' | '—' | '–')) {
            continue;
        }
        if c == '.' {
            let word: String = text[start..i]
                .chars()
                .rev()
                .take_while(|ch| ch.is_alphabetic())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let lower = word.to_lowercase();
            if ABBREVIATIONS.contains(&lower.as_str())
                || (word.chars().count() == 1 && word.chars().all(char::is_uppercase))
            {
                continue;
            }
        }
        let end = i + c.len_utf8();
        let s = text[start..end].trim();
        if !s.is_empty() {
            out.push(s.to_owned());
        }
        start = end;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// A sentence longer than `max` characters in pieces at clause ends ("; ", ", ", " — ").
fn cut(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let head = &rest[..limit];
        let at = ["; ", ": ", " — ", ", "]
            .iter()
            .find_map(|sep| head.rfind(sep).filter(|&i| i > max / 3).map(|i| i + sep.len()))
            .unwrap_or(limit);
        out.push(rest[..at].trim_end().to_owned());
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// The text a unit is embedded and matched with: title, heading, unit.
/// How rare each question term is among a set of units (the candidates of one answer): a word
/// in every unit ("возврат" in the returns articles) tells nothing about which unit answers;
/// a rare one ("удерживает", "кошелёк") does.
#[derive(Debug, Default)]
pub struct Rarity {
    df: std::collections::HashMap<String, usize>,
    units: usize,
}

impl Rarity {
    /// Counts one unit with the question terms it shares.
    pub fn count<I: IntoIterator<Item: AsRef<str>>>(&mut self, shared: I) {
        self.units += 1;
        for t in shared {
            *self.df.entry(t.as_ref().to_owned()).or_insert(0) += 1;
        }
    }

    pub fn idf(&self, t: &str) -> f32 {
        let n = self.units.max(1) as f32;
        (1.0 + n / (1.0 + self.df.get(t).copied().unwrap_or(0) as f32)).ln()
    }

    /// The summed rarity of `terms`.
    pub fn weight<I: IntoIterator<Item: AsRef<str>>>(&self, terms: I) -> f32 {
        terms.into_iter().map(|t| self.idf(t.as_ref())).sum()
    }
}

pub fn context_text(title: &str, u: &Unit) -> String {
    match &u.heading {
        Some(h) if !h.is_empty() => format!("{title}. {h}. {}", u.text),
        _ => format!("{title}. {}", u.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_not_at_abbreviations() {
        let s = sentences(
            "Деньги придут за 3–5 дней. Максимум — 10 дн. с момента приёмки. См. ул. Ленина, д. 5. «Ладья» ответит!",
        );
        assert_eq!(
            s,
            vec![
                "Деньги придут за 3–5 дней.",
                "Максимум — 10 дн. с момента приёмки.",
                "См. ул. Ленина, д. 5.",
                "«Ладья» ответит!"
            ]
        );
        assert_eq!(sentences("Один. два."), vec!["Один. два."]);
    }

    #[test]
    fn a_markdown_article_becomes_units_under_their_headings() {
        let body = "Вступление одно. Вступление два.\n\n**Сколько стоит.** За возврат удерживают 100 ₽. Брак — бесплатно.\n\n\
                    Чтобы сэкономить:\n\n- выбирайте ПВЗ;\n- объединяйте заказы.\n\n**Таблица**\n\n| Размер | Грудь |\n|---|---|\n| 42 | 82–85 |\n| 44 | 86–89 |";
        let u = units(body);
        let texts: Vec<&str> = u.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Вступление одно.",
                "Вступление два.",
                "За возврат удерживают 100 ₽.",
                "Брак — бесплатно.",
                "Чтобы сэкономить:",
                "выбирайте ПВЗ;",
                "объединяйте заказы.",
                "Размер — 42; Грудь — 82–85",
                "Размер — 44; Грудь — 86–89",
            ]
        );
        assert_eq!(u[2].heading.as_deref(), Some("Сколько стоит"));
        assert_eq!(u[0].heading, None);
        assert_eq!(u[5].kind, UnitKind::ListItem);
        assert_eq!(u[7].heading.as_deref(), Some("Таблица"));
        assert_eq!(u[7].kind, UnitKind::TableRow);
        assert_eq!(u[2].block, u[3].block);
        assert_eq!(u[4].block, u[5].block, "a list shares its introduction's block");
        assert!(context_text("Возврат", &u[2]).starts_with("Возврат. Сколько стоит. За возврат"));
    }

    #[test]
    fn product_fields_are_units() {
        let u = units("Свободная футболка. Большемерит.\nРазмеры: XS, S\nСостав: хлопок 100%\nЦена: 1290 ₽");
        let texts: Vec<&str> = u.iter().map(|u| u.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["Свободная футболка.", "Большемерит.", "Размеры: XS, S", "Состав: хлопок 100%", "Цена: 1290 ₽"]
        );
    }

    #[test]
    fn long_sentences_are_cut_at_clause_ends() {
        let long = format!("{}; {}", "слово ".repeat(60).trim(), "ещё ".repeat(60).trim());
        let pieces = cut(&long, 400);
        assert_eq!(pieces.len(), 2);
        assert!(pieces.iter().all(|p| p.chars().count() <= 400));
    }
}
