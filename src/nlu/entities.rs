//! Entities in buyer messages: Wildberries order / assembly numbers, Ozon posting numbers,
//! product articles (nmID, SKU, seller codes), phones, e-mails, dates and sizes. Robust to the
//! ways people type them: spaces inside numbers, brackets and dashes in phones, "44-46",
//! "на рост 170", "вчера", "12 марта", "05.11".

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    WbOrder,
    OzonPosting,
    Article,
    Phone,
    Email,
    Date,
    Size,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::WbOrder,
        EntityKind::OzonPosting,
        EntityKind::Article,
        EntityKind::Phone,
        EntityKind::Email,
        EntityKind::Date,
        EntityKind::Size,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::WbOrder => "wb_order",
            EntityKind::OzonPosting => "ozon_posting",
            EntityKind::Article => "article",
            EntityKind::Phone => "phone",
            EntityKind::Email => "email",
            EntityKind::Date => "date",
            EntityKind::Size => "size",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    pub kind: EntityKind,
    /// As written in the message.
    pub value: String,
    /// The value in a canonical form (digits only for numbers, lower-case e-mail, +7… phone).
    pub normalized: String,
    #[serde(skip)]
    pub start: usize,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("a valid built-in pattern")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b"));
/// Ozon posting numbers: three digit groups joined by dashes or spaces ("57195475 0050 3").
static OZON: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{5,12}(?:\s?-\s?|\s)\d{4}(?:\s?-\s?|\s)\d{1,2}\b"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:\+7|\b8|\b7)[\s\-]?\(?\d{3}\)?[\s\-]?\d{3}[\s\-]?\d{2}[\s\-]?\d{2}\b"));
static SELLER_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{1,5}-\d{2,6}(?:-[A-Z0-9]{1,5})?\b"));
/// Digit runs, allowing single spaces between groups ("2345 678 901").
static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d{2,12}(?: \d{2,6}){0,4}\b"));
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?ix)
        \b(?:(?:с|до|к|ко|по|в|во|на)\s+)?(?:эт[ауоий]+\s+|следующ[а-я]+\s+|прошл[а-я]+\s+)?(?:понедельник[а-я]*|вторник[а-я]*|сред[уаые]|четверг[а-я]*|пятниц[а-я]*|суббот[а-я]*|воскресень[а-я]*)\b
      | \b(?:к\s+|до\s+|с\s+)?\d{1,2}\s+(?:января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря|янв|фев|мар|апр|июн|июл|авг|сен|сент|окт|ноя|дек)\b\.?
      | \b(?:\d{1,2}|пару|два|две|три|пять)?\s*(?:дня|дней|день|недели|недель|неделю|месяца|месяцев|месяц|год)\s+назад\b
      | \b\d{1,2}\s+(?:dnei|dnej|dnya|den)\s+nazad\b
      | \b\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?\b
      | \b(?:позавчера|вчера|сегодня|завтра|послезавтра|segodnya|vchera|zavtra)\b
      | \b(?:на\s+)?(?:прошлой|этой|следующей)\s+неделе\b
    ")
});
static SIZE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?x)
        (?i:\b(?:размер[а-я]*|р-р)\s?[2-6]\d\s?[-–/]\s?[2-6]\d\b)
      | \b(?:[2-6]\d)\s?[-–/]\s?(?:[2-6]\d)\b
      | \b(?:[2-5]?XL|XXS|XS|XXL|XXXL|S|M|L)\b
      | (?i:\bна\s+рост\s+\d{3}(?:\s*см)?\b|\bрост\s+\d{3}(?:\s*см)?\b)
      | (?i:\b(?:[2-6]\d)\s?(?:-?го\s+|-?ой\s+|-?й\s+)?(?:размер[а-я]*|р-р|р\.)(?:\b|\s|$))
      | (?i:\b(?:размер[а-я]*|р-р)\s?[2-6]\d(?:\s?[-–/]\s?[2-6]\d)?\b)
      | (?i:\b(?:[2-5]?xl|xxs|xs|xxl|xxxl)\b)
    ")
});

/// Words that say a nearby number is an order (before it).
const ORDER_CUES: &[&str] = &["заказ", "zakaz", "order", "сборочн", "задани", "отправлени", "посылк", "трек"];
const PHONE_CUES: &[&str] =
    &["тел", "звон", "whatsapp", "ватсап", "вотсап", "telegram", "связ", "номер для", "мой номер"];
/// Words that make bare numbers in a message sizes ("обменяйте 46 на 48").
static SIZE_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)размер|razmer|р-р|мал[оаы]?\b|маломер|большемер|велик|ношу|noshu|обмен|обменя|поменя|pomen|obmen|сетк|setk|в плечах|в груди|рост|садится|мерит|взяла|взял|прислали|бирк|обычно|брать|взять|в наличии|есть в|поступлени|футболк|замер|\bна\s+\d{2,3}\b",
    )
});
/// Units after a number that make it something else than a size.
static NOT_SIZE_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^\s*(?:руб|р\.?\b|₽|тыс|%|шт|дн|день|дня|час|мин|лет|год|см|кг|см|раз|km|км|штук|процент|градус)")
});
static BARE_SIZE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(?:[2-6]\d|[89]\d|1[0-7]\d)\b"));
static LETTER_SIZE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[\s,(])((?:[2-5]?[xX][lLsS])|[xX]{2,3}[lLsS]|[SML]|М|Л)(?:$|[\s,.?!)])"));
const ARTICLE_CUES: &[&str] =
    &["артикул", "арт", "art", "nmid", "nm", "sku", "ску", "код товара", "товар", "карточк", "модел", "позици"];

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The closest cue before `start` (within 40 characters): true for an article cue.
fn article_context(text: &str, start: usize) -> Option<bool> {
    let mut from = start.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let before = text[from..start].to_lowercase();
    let last = |cues: &[&str]| cues.iter().filter_map(|c| before.rfind(c)).max();
    match (last(ORDER_CUES), last(ARTICLE_CUES)) {
        (Some(o), Some(a)) => Some(a > o),
        (Some(_), None) => Some(false),
        (None, Some(_)) => Some(true),
        (None, None) => None,
    }
}

fn overlaps(taken: &[(usize, usize)], s: usize, e: usize) -> bool {
    taken.iter().any(|&(a, b)| s < b && a < e)
}

/// "размер 46", "46-го размера", "р-р 46" → "46"; "на рост 170" → "рост 170".
pub fn size_core(v: &str) -> String {
    static NOISE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)размер[а-я]*|р-р|р\.|-?го\b|-?ой\b|^на\s+"));
    NOISE.replace_all(&v.to_lowercase(), "").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "к 20 декабря", "до пятницы", "в эту субботу" → the date without the preposition.
pub fn date_core(v: &str) -> String {
    static PREP: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)^(?:с|до|к|ко|по|в|во|на)\s+"));
    PREP.replace(&v.to_lowercase(), "").trim().to_owned()
}

/// All entities of `text`, in order of appearance.
pub fn extract(text: &str) -> Vec<Entity> {
    let mut out: Vec<Entity> = Vec::new();
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let push = |out: &mut Vec<Entity>, taken: &mut Vec<(usize, usize)>, kind, s: usize, e: usize, norm: String| {
        if !overlaps(taken, s, e) {
            taken.push((s, e));
            out.push(Entity { kind, value: text[s..e].trim().to_owned(), normalized: norm, start: s });
        }
    };
    for m in EMAIL.find_iter(text) {
        push(&mut out, &mut taken, EntityKind::Email, m.start(), m.end(), m.as_str().to_lowercase());
    }
    for m in OZON.find_iter(text) {
        let groups: Vec<&str> = m.as_str().split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
        push(&mut out, &mut taken, EntityKind::OzonPosting, m.start(), m.end(), groups.join("-"));
    }
    for m in PHONE.find_iter(text) {
        let d = digits(m.as_str());
        let plain = m.as_str().chars().all(|c| c.is_ascii_digit());
        let before = text[..m.start()].to_lowercase();
        let phone_cue = PHONE_CUES.iter().any(|c| before.contains(c));
        // An unformatted 11-digit number after "заказ" is an order, not a phone.
        if d.len() == 11 && !(plain && !phone_cue && article_context(text, m.start()).is_some()) {
            push(&mut out, &mut taken, EntityKind::Phone, m.start(), m.end(), format!("+7{}", &d[1..]));
        }
    }
    for m in DATE.find_iter(text) {
        push(&mut out, &mut taken, EntityKind::Date, m.start(), m.end(), date_core(m.as_str()));
    }
    for m in SELLER_CODE.find_iter(text) {
        if !SIZE.is_match(m.as_str()) || m.as_str().contains('-') {
            push(&mut out, &mut taken, EntityKind::Article, m.start(), m.end(), m.as_str().to_owned());
        }
    }
    for m in NUMBER.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        if overlaps(&taken, s, e) {
            continue;
        }
        let d = digits(m.as_str());
        let kind = match (article_context(text, s), d.len()) {
            (Some(true), 5..=12) => Some(EntityKind::Article),
            (Some(false), 6..=12) => Some(EntityKind::WbOrder),
            (None, 8..=12) => Some(EntityKind::WbOrder),
            _ => None,
        };
        if let Some(kind) = kind {
            push(&mut out, &mut taken, kind, s, e, d);
        }
    }
    let size_context = SIZE_CONTEXT.is_match(text);
    for m in SIZE.find_iter(text) {
        let v = m.as_str().trim_end();
        // A lone Latin letter counts only with size words around, not inside English text.
        let lone = v.len() <= 3 && v.chars().all(|c| c.is_ascii_uppercase());
        if lone && !size_context {
            continue;
        }
        push(&mut out, &mut taken, EntityKind::Size, m.start(), m.start() + v.len(), size_core(v));
    }
    if size_context {
        for m in LETTER_SIZE.captures_iter(text).filter_map(|c| c.get(1)) {
            push(&mut out, &mut taken, EntityKind::Size, m.start(), m.end(), m.as_str().to_lowercase());
        }
        for m in BARE_SIZE.find_iter(text) {
            let before = text[..m.start()].to_lowercase();
            let measure = ["вес", "грудь", "груди", "талия", "талии", "бедра", "обхват", "при", "ves"]
                .iter()
                .any(|w| before.trim_end().ends_with(w));
            if !measure && !NOT_SIZE_AFTER.is_match(&text[m.end()..]) {
                push(&mut out, &mut taken, EntityKind::Size, m.start(), m.end(), m.as_str().to_owned());
            }
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(EntityKind, String)> {
        extract(text).into_iter().map(|e| (e.kind, e.value)).collect()
    }

    #[test]
    fn order_numbers_in_their_many_forms() {
        use EntityKind::*;
        assert_eq!(kinds("где мой заказ 2345678901?"), vec![(WbOrder, "2345678901".into())]);
        assert_eq!(kinds("заказ 2345 678 901 не пришел"), vec![(WbOrder, "2345 678 901".into())]);
        assert_eq!(kinds("отправление 87654321-0042-3 где"), vec![(OzonPosting, "87654321-0042-3".into())]);
        let spaced = extract("57195475 0050 3 где едет");
        assert_eq!((spaced[0].kind, spaced[0].normalized.as_str()), (OzonPosting, "57195475-0050-3"));
        assert_eq!(
            kinds("артикул 183456789 есть в 48 размере?"),
            vec![(Article, "183456789".into()), (Size, "48 размере".into())]
        );
        assert_eq!(kinds("KR-2041-BLK в наличии?"), vec![(Article, "KR-2041-BLK".into())]);
    }

    #[test]
    fn phones_mails_dates_sizes() {
        use EntityKind::*;
        let e = extract("мой номер +7 (912) 345-67-89, почта Anna.K@mail.ru, заказывала 12 марта");
        let got: Vec<_> = e.iter().map(|e| (e.kind, e.normalized.as_str())).collect();
        assert_eq!(got, vec![(Phone, "+79123456789"), (Email, "anna.k@mail.ru"), (Date, "12 марта")]);
        assert_eq!(kinds("89123456789"), vec![(Phone, "89123456789".into())]);
        assert_eq!(kinds("вчера заказала"), vec![(Date, "вчера".into())]);
        assert_eq!(kinds("есть размер M?"), vec![(Size, "M".into())]);
        assert_eq!(kinds("подойдет на рост 170?"), vec![(Size, "на рост 170".into())]);
        assert_eq!(kinds("ношу 44-46"), vec![(Size, "44-46".into())]);
        assert_eq!(kinds("у меня 42 размер"), vec![(Size, "42 размер".into())]);
        assert!(kinds("привет как дела").is_empty());
    }
}
